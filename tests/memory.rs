//! A subscriber costs its queue (capacity × slot size, allocated once when it subscribes) plus a
//! fixed overhead that does not grow with the capacity.
//!
//! A global allocator tracks the bytes each test's thread holds while a flag is set. This file
//! holds only these tests: the global allocator is per test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use fanout::{topic, Bus, Event, Overflow, Topic, Topics};

struct Tracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread allocated minus bytes it freed while tracking (per thread: the tests of
    /// this binary run in parallel).
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn change(delta: isize) {
    // `try_with`: during thread teardown the slots may be gone; that thread is not tracking.
    if TRACKING.try_with(Cell::get).unwrap_or(false) {
        let _ = LIVE.try_with(|live| live.set(live.get() + delta));
    }
}

fn add(bytes: usize) {
    change(bytes as isize);
}

fn sub(bytes: usize) {
    change(-(bytes as isize));
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: forwarded unchanged to the system allocator, with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        sub(layout.size());
        add(new_size);
        // SAFETY: as in `alloc`; `ptr` and `layout` come from this allocator, i.e. from System.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: `ptr` was allocated by System with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Net bytes this thread allocated while `f` ran (and still holds).
fn retained_by<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let before = LIVE.with(Cell::get);
    TRACKING.with(|t| t.set(true));
    let value = f();
    TRACKING.with(|t| t.set(false));
    (value, LIVE.with(Cell::get) - before)
}

/// The 48-byte event of the benchmarks.
#[derive(Clone, Copy)]
struct Small {
    _payload: [u64; 6],
}

impl Event for Small {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

/// What one subscriber may hold beyond its slots: its shared state (a few cache-padded counters),
/// the queue's own header (cache-padded head and tail, wakers), its row in the subscriber table
/// and in the published snapshot. Independent of the capacity.
const FIXED_OVERHEAD: isize = 4096;

#[test]
fn a_subscriber_holds_its_slots_and_a_fixed_overhead() {
    // One slot: the event and the queue's 8-byte stamp.
    let slot = (std::mem::size_of::<Small>() + 8) as isize;
    let bus = Bus::<Small>::new();
    // Keep one subscriber alive first, so the measured one does not pay for the table's first
    // allocation.
    let _first = bus.subscribe(Topics::ALL);
    let mut overheads = Vec::new();
    for capacity in [64usize, 1024, 16_384] {
        for overflow in [Overflow::Block, Overflow::DropOldest] {
            let (sub, bytes) = retained_by(|| {
                bus.subscriber()
                    .capacity(capacity)
                    .overflow(overflow)
                    .build()
                    .expect("valid subscriber")
            });
            let slots = capacity as isize * slot;
            let overhead = bytes - slots;
            println!(
                "capacity {capacity:>6} {overflow:?}: {bytes} bytes = {capacity} x {slot} + {overhead}"
            );
            assert!(
                overhead >= 0,
                "capacity {capacity} {overflow:?}: {bytes} bytes do not hold {capacity} slots of {slot}"
            );
            assert!(
                overhead <= FIXED_OVERHEAD,
                "capacity {capacity} {overflow:?}: {overhead} bytes beyond the slots"
            );
            overheads.push(overhead);
            drop(sub);
        }
    }
    // The overhead is a constant, not a fraction of the capacity.
    let (min, max) = (overheads.iter().min(), overheads.iter().max());
    assert!(
        max.unwrap() - min.unwrap() <= 512,
        "overhead varies with capacity: {overheads:?}"
    );
}

#[test]
fn unsubscribing_gives_the_queue_back() {
    let bus = Bus::<Small>::new();
    let _first = bus.subscribe(Topics::ALL);
    let ((), bytes) = retained_by(|| {
        let sub = bus.subscriber().capacity(16_384).build().expect("valid");
        drop(sub);
    });
    // The snapshot and table may keep a little slack, never the queue.
    assert!(
        bytes < 4096,
        "a dropped subscriber left {bytes} bytes behind (its queue was {} bytes)",
        16_384 * (std::mem::size_of::<Small>() + 8)
    );
}

/// A keyed subscriber costs what an unkeyed one does, plus its rows in the key index (its group
/// and the index's slot for its key, in the table and in the published snapshot). Measured over
/// 1,000 idle subscribers of one key each, against 1,000 unkeyed ones (`--nocapture` prints it;
/// BENCHMARKS.md quotes it).
#[test]
fn an_idle_keyed_subscriber_costs_a_bounded_amount_more_than_an_unkeyed_one() {
    const N: usize = 1_000;
    const CAPACITY: usize = 16;
    let slot = (std::mem::size_of::<Small>() + 8) as isize;
    let per_subscriber = |keyed: bool| {
        let bus = Bus::<Small>::new();
        let (subs, bytes) = retained_by(|| {
            (0..N as u64)
                .map(|k| {
                    let builder = bus
                        .subscriber()
                        .capacity(CAPACITY)
                        .overflow(Overflow::Block);
                    let builder = if keyed { builder.key(k) } else { builder };
                    builder.build().expect("valid subscriber")
                })
                .collect::<Vec<_>>()
        });
        // The handles themselves are the caller's, not the bus's.
        let handles = (subs.capacity() * std::mem::size_of::<fanout::Subscriber<Small>>()) as isize;
        drop(subs);
        (bytes - handles) / N as isize
    };
    let unkeyed = per_subscriber(false);
    let keyed = per_subscriber(true);
    let slots = CAPACITY as isize * slot;
    println!(
        "per idle subscriber, capacity {CAPACITY} ({slots} bytes of slots): unkeyed {unkeyed} bytes, keyed {keyed} bytes (+{})",
        keyed - unkeyed
    );
    assert!(
        keyed - slots <= FIXED_OVERHEAD,
        "keyed overhead {}",
        keyed - slots
    );
    assert!(
        keyed >= unkeyed - 64,
        "a keyed subscriber is not cheaper: {keyed} vs {unkeyed}"
    );
}
