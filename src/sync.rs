//! The concurrency primitives the bus is built from, in one place so that `--cfg loom` can swap
//! every one of them for loom's model-checked version.
//!
//! Everything concurrent in this crate takes its atomics, `Arc`, lock, snapshot cell and spin hint
//! from here, and its per-subscriber queue from [`crate::queue`]. Under `cfg(loom)` (set by the
//! `loom-tests/` crate, which builds this library without `cfg(test)`) they come from loom.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

/// A mutual-exclusion lock with `parking_lot`'s non-poisoning `lock()`; used only off the publish
/// path (registry mutations, recording sinks).
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
        #[cfg(loom)]
        {
            // A loom mutex is poisoned only if a model thread panicked, which already fails the model.
            self.inner.lock().unwrap()
        }
    }
}

/// A condition variable for [`Mutex`]: `parking_lot`'s, or loom's under `cfg(loom)`.
pub(crate) struct Condvar {
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
    #[cfg(loom)]
    inner: loom::sync::Condvar,
}

impl Condvar {
    pub(crate) fn new() -> Self {
        Condvar {
            #[cfg(not(loom))]
            inner: parking_lot::Condvar::new(),
            #[cfg(loom)]
            inner: loom::sync::Condvar::new(),
        }
    }

    /// Releases `guard`, sleeps until notified (or spuriously) or until `deadline` (none: no
    /// limit), and locks again. Returns the guard and whether the deadline passed.
    pub(crate) fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<std::time::Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            let timed_out = match deadline {
                None => {
                    self.inner.wait(&mut guard);
                    false
                }
                Some(deadline) => self.inner.wait_until(&mut guard, deadline).timed_out(),
            };
            (guard, timed_out)
        }
        #[cfg(loom)]
        {
            // Loom has no time: a timed wait is modelled as one that waits.
            let _ = deadline;
            (self.inner.wait(guard).unwrap(), false)
        }
    }

    /// Wakes every sleeper.
    pub(crate) fn notify_all(&self) {
        self.inner.notify_all();
    }
}

/// An atomically replaceable `Arc<T>` whose reads take no lock and allocate nothing.
///
/// This is the subscriber table's publication point: writers (under the registry lock) build a
/// new table and `store` it; publishers `load` whichever table is current. A loaded table stays
/// alive until the guard drops, so a publisher never touches freed memory, and the queues' senders
/// it holds are released when the last reader of an old table is done.
///
/// Outside loom this is `arc_swap::ArcSwap`. Under loom it is a loom mutex around an `Arc`, which
/// has the property the bus relies on (every load returns the most recently stored value, and
/// loads and stores are linearizable) while letting loom explore every interleaving around it.
pub(crate) struct SnapshotCell<T> {
    #[cfg(not(loom))]
    inner: arc_swap::ArcSwap<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<Arc<T>>,
}

#[cfg(not(loom))]
pub(crate) type SnapshotGuard<T> = arc_swap::Guard<Arc<T>>;
#[cfg(loom)]
pub(crate) type SnapshotGuard<T> = Arc<T>;

impl<T> SnapshotCell<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        SnapshotCell {
            #[cfg(not(loom))]
            inner: arc_swap::ArcSwap::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    pub(crate) fn load(&self) -> SnapshotGuard<T> {
        #[cfg(not(loom))]
        {
            self.inner.load()
        }
        #[cfg(loom)]
        {
            Arc::clone(&self.inner.lock().unwrap())
        }
    }

    /// Loads the current value as an owned `Arc` (one reference count more than [`load`]), for a
    /// holder that keeps it across `.await`s.
    ///
    /// [`load`]: SnapshotCell::load
    pub(crate) fn load_full(&self) -> Arc<T> {
        #[cfg(not(loom))]
        {
            self.inner.load_full()
        }
        #[cfg(loom)]
        {
            Arc::clone(&self.inner.lock().unwrap())
        }
    }

    /// Replaces the value and returns the previous one (whose drop the caller may postpone, e.g.
    /// until it has released a lock).
    pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
        #[cfg(not(loom))]
        {
            self.inner.swap(value)
        }
        #[cfg(loom)]
        {
            std::mem::replace(&mut *self.inner.lock().unwrap(), value)
        }
    }
}

/// One step of a busy wait: a CPU spin hint, or under loom a yield so the model can make progress.
#[inline]
pub(crate) fn spin_step() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Gives the rest of this time slice to another thread (busy-spin waits call it now and then so
/// they do not starve the publisher on an oversubscribed machine).
#[inline]
pub(crate) fn yield_now() {
    #[cfg(not(loom))]
    std::thread::yield_now();
    #[cfg(loom)]
    loom::thread::yield_now();
}
