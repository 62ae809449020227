//! What every handle of one bus shares: [`Inner`] (the subscriber registry, the subscribers'
//! defaults, the publish counters) and the counting of publishing handles that closes the bus
//! when the last one goes.
//!
//! `Bus`, `Publisher` and `Subscriber` each hold an `Arc<Inner>`; they depend on this module and
//! never on each other's internals.

use crossbeam_utils::CachePadded;

use crate::capacity::MAX_CAPACITY;
use crate::error::BuildError;
use crate::registry::Registry;
use crate::sync::{Arc, AtomicU64, AtomicUsize, Mutex, Ordering};
use crate::{Overflow, WaitStrategy};

/// What every subscriber of a bus gets unless its builder says otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Defaults {
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    pub(crate) wait: WaitStrategy,
}

/// What `Bus`, `Publisher` and `Subscriber` handles share.
pub(crate) struct Inner<E> {
    pub(crate) registry: Registry<E>,
    pub(crate) defaults: Defaults,
    /// Live `Bus` and `Publisher` handles; the bus closes itself when the last one goes.
    handles: AtomicUsize,
    /// Live [`WeakBus`](crate::bus::WeakBus) handles: they keep this memory, never the bus, open.
    weak_handles: AtomicUsize,
    next_id: AtomicU64,
    /// Every publishing handle's own counter of the publishes it made, plus the sum of the
    /// counters of handles that are gone. Locked only when a handle is made or dropped and by
    /// `stats()`, never by a publish.
    counters: Mutex<Counters>,
    /// Events handed to `EventSink::emit` after close, which has no way to hand them back.
    pub(crate) rejected: AtomicU64,
    /// The taps this bus owns (detached from their handles), joined by `shutdown`.
    #[cfg(not(loom))]
    pub(crate) taps: std::sync::Arc<crate::tap::OwnedTaps>,
}

impl<E> Inner<E> {
    pub(crate) fn new(defaults: Defaults) -> Arc<Self> {
        Arc::new(Inner {
            registry: Registry::new(),
            defaults,
            handles: AtomicUsize::new(1),
            weak_handles: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            counters: Mutex::new(Counters {
                live: Vec::new(),
                retired: 0,
            }),
            rejected: AtomicU64::new(0),
            #[cfg(not(loom))]
            taps: Default::default(),
        })
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers one more publishing handle; returns the bus and the handle's own counter.
    pub(crate) fn acquire_handle(this: &Arc<Self>) -> (Arc<Self>, Arc<PublishCounter>) {
        this.handles.fetch_add(1, Ordering::Relaxed);
        (Arc::clone(this), this.new_counter())
    }

    /// Registers one more publishing handle if one is still alive (a weak handle's upgrade);
    /// `None` once the last one is gone, so a bus closed by its last handle is never reopened.
    pub(crate) fn try_acquire_handle(this: &Arc<Self>) -> Option<(Arc<Self>, Arc<PublishCounter>)> {
        let mut handles = this.handles.load(Ordering::Relaxed);
        loop {
            if handles == 0 {
                return None;
            }
            // Never from zero: the handle that took the count to zero has closed (or is closing)
            // the bus, and an upgrade racing it must not hand out a publisher of a bus whose
            // subscribers are being told `Disconnected`. Relaxed as `acquire_handle`: the new
            // handle synchronises with nothing (its publishes go through the snapshot).
            match this.handles.compare_exchange_weak(
                handles,
                handles + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some((Arc::clone(this), this.new_counter())),
                Err(now) => handles = now,
            }
        }
    }

    /// Live `Bus` and `Publisher` handles.
    pub(crate) fn handle_count(&self) -> usize {
        self.handles.load(Ordering::Relaxed)
    }

    /// Counts a new weak handle.
    pub(crate) fn acquire_weak(this: &Arc<Self>) -> Arc<Self> {
        this.weak_handles.fetch_add(1, Ordering::Relaxed);
        Arc::clone(this)
    }

    /// Counts a weak handle gone.
    pub(crate) fn release_weak(&self) {
        self.weak_handles.fetch_sub(1, Ordering::Relaxed);
    }

    /// Live weak handles.
    pub(crate) fn weak_count(&self) -> usize {
        self.weak_handles.load(Ordering::Relaxed)
    }

    /// A counter for a new publishing handle.
    pub(crate) fn new_counter(&self) -> Arc<PublishCounter> {
        let counter = Arc::new(PublishCounter::default());
        self.counters.lock().live.push(Arc::clone(&counter));
        counter
    }

    /// Folds a departing handle's counter into the total.
    fn retire_counter(&self, counter: &Arc<PublishCounter>) {
        let mut counters = self.counters.lock();
        counters.retired += counter.get();
        counters.live.retain(|live| !Arc::ptr_eq(live, counter));
    }

    /// Publishes (whose topic some subscriber wanted) made through every handle so far.
    pub(crate) fn published(&self) -> u64 {
        let counters = self.counters.lock();
        counters.retired + counters.live.iter().map(|c| c.get()).sum::<u64>()
    }

    /// Drops a publishing handle; the last one closes the bus.
    pub(crate) fn release_handle(&self, counter: &Arc<PublishCounter>) {
        self.retire_counter(counter);
        // AcqRel: every publish made through any handle happens-before the close below.
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.registry.close();
        }
    }
}

/// One publishing handle's count of its publishes (those some subscriber's topic wanted; an
/// idle publish is one load and is not counted). Each handle writes only its own cache line, so
/// publishers on different threads never contend on a shared counter.
#[derive(Default)]
pub(crate) struct PublishCounter {
    count: CachePadded<AtomicU64>,
}

impl PublishCounter {
    /// Counts `n` publishes. Only the owning handle writes (a `&Publisher` shared between threads
    /// is the exception, hence an atomic add rather than a load and a store).
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

struct Counters {
    live: Vec<Arc<PublishCounter>>,
    retired: u64,
}

/// Checks a queue capacity asked for by a builder.
/// Reserves room for `n` values of `T`, or says that the allocator refused: a queue or a history
/// is allocated up front, and a refusal must be a [`BuildError`], never an abort of the process.
/// (An allocator that overcommits may grant what it cannot back and fail only when the memory is
/// touched; that is the system's policy, beyond what a program can see.)
pub(crate) fn reserve<T>(n: usize) -> Result<Vec<T>, BuildError> {
    let mut room = Vec::new();
    room.try_reserve_exact(n)
        .map_err(|_| BuildError::OutOfMemory {
            bytes: n.saturating_mul(std::mem::size_of::<T>()),
        })?;
    Ok(room)
}

pub(crate) fn check_capacity(capacity: usize) -> Result<(), BuildError> {
    match capacity {
        0 => Err(BuildError::ZeroCapacity),
        n if n > MAX_CAPACITY => Err(BuildError::CapacityTooLarge { requested: n }),
        _ => Ok(()),
    }
}
