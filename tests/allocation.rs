//! The publish hot path makes no heap allocation in steady state, from every publishing handle
//! (a bus with history too), and a replay allocates a fixed number of times, whatever its length.
//!
//! A counting global allocator counts the allocations (and bytes) made on the test's own thread
//! while a flag is set, in counters of that thread, so tests running in parallel do not count each
//! other's. The global allocator is per test binary: keep unrelated tests out of this file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use fanout::{topic, Bus, Event, EventSink, Overflow, Subscriber, Topic};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    // Per thread, so that tests running in parallel do not count each other's allocations.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn counting_here() -> bool {
    // `try_with`: during thread teardown the slot may be gone; that thread is not counting.
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

/// Counts one allocation of `bytes` on this thread.
fn count(bytes: usize) {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = BYTES.try_with(|n| n.set(n.get() + bytes));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting_here() {
            count(layout.size());
        }
        // SAFETY: forwarded unchanged to the system allocator, with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting_here() {
            count(layout.size());
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting_here() {
            count(new_size);
        }
        // SAFETY: as in `alloc`; `ptr` and `layout` come from this allocator, i.e. from System.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by System with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations_in(f: impl FnOnce()) -> usize {
    allocated_in(f).0
}

/// Allocations and bytes allocated on this thread while `f` runs.
fn allocated_in(f: impl FnOnce()) -> (usize, usize) {
    let (before, bytes) = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    (
        ALLOCATIONS.with(Cell::get) - before,
        BYTES.with(Cell::get) - bytes,
    )
}

/// An event whose `Clone` does not allocate.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tick {
    topic: u8,
    seq: u64,
}

impl Event for Tick {
    fn topic(&self) -> Topic {
        Topic::new(self.topic).unwrap()
    }
}

struct Consumers {
    drained: Vec<Subscriber<Tick>>,
}

impl Consumers {
    /// Empties the queues that must not stay full (`Block`, and the lossless ones).
    fn drain(&mut self) -> u64 {
        let mut n = 0;
        for sub in &mut self.drained {
            while let Ok(_) | Err(fanout::error::TryRecvError::Lagged(_)) = sub.try_recv() {
                n += 1;
            }
        }
        n
    }
}

/// A subscriber to topic 0 with the given capacity and overflow policy.
fn on_topic_0(bus: &Bus<Tick>, capacity: usize, overflow: Overflow) -> Subscriber<Tick> {
    bus.subscriber()
        .topics(topic!(0))
        .capacity(capacity)
        .overflow(overflow)
        .build()
        .unwrap()
}

#[test]
fn publishing_allocates_nothing_in_steady_state() {
    const N: u64 = 20_000;
    let bus = Bus::new();
    // Kept full: every publish evicts (DropOldest) or refuses (DropNewest).
    let full_oldest = on_topic_0(&bus, 4, Overflow::DropOldest);
    let full_newest = on_topic_0(&bus, 4, Overflow::DropNewest);
    // Drained as it goes.
    let block = on_topic_0(&bus, 64, Overflow::Block);
    let filtered = bus
        .subscriber()
        .topics(topic!(0))
        .capacity(64)
        .filter(|t: &Tick| t.seq % 2 == 0)
        .build()
        .unwrap();
    let disconnect = on_topic_0(&bus, 64, Overflow::Disconnect);
    // Interested in other topics only.
    let _elsewhere = bus.subscribe(topic!(5));
    let mut consumers = Consumers {
        drained: vec![block, filtered, disconnect],
    };

    let publisher = bus.publisher();
    let bus_sink: &dyn EventSink<Tick> = &bus;
    let publisher_sink: &dyn EventSink<Tick> = &publisher;
    let ev = |seq| Tick { topic: 0, seq };

    let round = |seq: u64, consumers: &mut Consumers| {
        bus.publish(ev(seq)).unwrap();
        publisher.publish(ev(seq)).unwrap();
        bus_sink.emit(ev(seq));
        publisher_sink.emit(ev(seq));
        bus.publish_with(topic!(0), || ev(seq)).unwrap();
        publisher
            .publish_timeout(ev(seq), Duration::from_secs(10))
            .unwrap();
        // Nobody wants topic 9: the idle path.
        bus.publish(Tick { topic: 9, seq }).unwrap();
        publisher
            .publish_with(topic!(9), || Tick { topic: 9, seq })
            .unwrap();
        if seq % 8 == 0 {
            consumers.drain();
        }
    };

    // Warm-up: first-use allocations (thread-local registrations in the snapshot cell, lazily
    // allocated queue blocks) happen here, not in steady state.
    for seq in 0..1_000 {
        round(seq, &mut consumers);
    }
    consumers.drain();

    let allocations = allocations_in(|| {
        for seq in 1_000..1_000 + N {
            round(seq, &mut consumers);
        }
    });
    assert_eq!(
        allocations, 0,
        "{allocations} heap allocations in {N} rounds of publishes"
    );

    // The steady state really included eviction, refusal, filtering and the idle path.
    assert!(full_oldest.lost() > N, "DropOldest was not kept full");
    assert!(full_newest.lost() > N, "DropNewest was not kept full");
    assert_eq!(full_oldest.len(), 4);
    let stats = bus.stats();
    assert_eq!(stats.subscribers.len(), 6, "nobody was cut off");
    assert!(stats.subscribers.iter().all(|s| !s.overflowed));
    assert_eq!(stats.published, 6 * (1_000 + N));

    // The receive side, for the record: taking events out does not allocate either.
    consumers.drain();
    for seq in 0..32 {
        bus.publish(ev(seq)).unwrap();
    }
    let mut received = 0;
    let receive_allocations = allocations_in(|| received = consumers.drain());
    assert!(received > 0);
    assert_eq!(receive_allocations, 0, "try_recv allocated");

    // The counter itself works: an allocation on this thread is seen.
    let seen = allocations_in(|| drop(std::hint::black_box(vec![1u8; 16])));
    assert!(seen >= 1, "the counting allocator counts nothing");
}

#[test]
fn history_publish_allocates_nothing_in_steady_state_and_replay_a_fixed_number_of_times() {
    let bus: fanout::HistoryBus<Tick> = fanout::HistoryBus::builder(10_000).build().unwrap();
    let mut sub = bus.subscriber().capacity(64).build().unwrap();
    let publisher = bus.publisher();
    // Fill the ring (it is allocated up front) and warm the queue up.
    for seq in 0..10_000 {
        bus.publish(Tick {
            topic: (seq % 8) as u8,
            seq,
        })
        .unwrap();
        while sub.try_recv().is_ok() {}
    }
    let publishing = allocations_in(|| {
        for seq in 0..1_000 {
            bus.publish(Tick {
                topic: (seq % 8) as u8,
                seq,
            })
            .unwrap();
            publisher.publish(Tick { topic: 0, seq }).unwrap();
            while sub.try_recv().is_ok() {}
        }
    });
    assert_eq!(publishing, 0, "a publish on a full history allocated");
    // A replay of the whole history allocates what a subscribe does plus the list of what to
    // copy: a fixed number of allocations, whatever the replay's length (the queue's slots are
    // one allocation).
    for replayed in [10, 10_000] {
        let mut late = None;
        let (allocations, bytes) = allocated_in(|| {
            late = Some(
                bus.subscriber()
                    .capacity(10_000)
                    .replay(fanout::history::Replay::Tail(replayed))
                    .build()
                    .unwrap(),
            );
        });
        // Dropped (and its queue freed) outside the count.
        assert_eq!(late.take().map(|late| late.len()), Some(replayed));
        println!("replay of {replayed}: {allocations} allocations, {bytes} bytes");
        assert!(
            allocations <= 16,
            "replay of {replayed}: {allocations} allocations"
        );
    }
}
