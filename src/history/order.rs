//! [`OrderLock`]: the turn a history publish holds for its whole fan-out, taken by a thread
//! (which sleeps for it) or by a task (which awaits it without blocking its executor).
//!
//! A history bus serialises its publishes (see [`crate::history`], "Two locks"), and a publish
//! may hold its turn while it waits for room in a full `Overflow::Block` queue. A synchronous
//! publish sleeps for its turn; `publish_async` must instead suspend, and must be able to hold the
//! turn across `.await`s on any executor thread (a `parking_lot` guard cannot move to another
//! thread). So the turn is one word of its own:
//!
//! - `HELD`: some publish has the turn. Taken with a compare-and-swap, released with a swap to
//!   zero by its [`OrderGuard`]. With nobody waiting that is all a publish pays: one
//!   read-modify-write each way, as for a mutex.
//! - `WAITING`: a thread or a task found the turn taken and waits for it. The release that
//!   swaps it out wakes every waiter (threads on a condition variable, tasks in a
//!   [`WakerList`]); each tries again and, finding the turn taken again, raises `WAITING` again
//!   before it waits. A waiter that takes the turn leaves `WAITING` as it is (others may be
//!   waiting), so a release may wake nobody: harmless.
//!
//! Why no waiter is left asleep, all read-modify-writes being `SeqCst`:
//!
//! - A thread raises `WAITING` while it holds `sleep`, and holds it until the condition variable
//!   releases it as it starts waiting. A release that swapped out `WAITING` takes `sleep` before
//!   it notifies, so it notifies after the thread sleeps. A release whose swap came before the
//!   raise makes the raise fail (it expected `HELD`), and the thread tries the turn again.
//! - A task stores its waker (raising the list's flag), then raises `WAITING`, then tries the turn
//!   once more before it returns `Pending`. If the release's swap reads that `WAITING`, the swap
//!   synchronises with the raise, so the release's `wake_strict` sees the stored waker. If the
//!   swap came first, the raise finds `HELD` gone and the task's last try sees the turn free (or
//!   taken by another publish, on top of whose `HELD` its `WAITING` now sits, for that release).
//!
//! `loom-tests/tests/loom_history_async.rs` checks both. No user code runs under `sleep`: wakers
//! are woken after it is released, and cloned in [`WakerList::register`], outside any lock.

use std::task::{Context, Poll};
use std::time::Instant;

use crate::notify::WakerList;
use crate::sync::{AtomicUsize, Condvar, Mutex, Ordering};

/// A publish has the turn.
const HELD: usize = 1;
/// A thread or a task waits for the turn.
const WAITING: usize = 2;

/// One publish at a time (see the module docs).
pub(crate) struct OrderLock {
    state: AtomicUsize,
    /// Taken only by waiting threads and by a release that found `WAITING`.
    sleep: Mutex<()>,
    threads: Condvar,
    tasks: WakerList,
}

/// The turn, held until dropped. `Send`: an async publish may resume on another thread.
#[must_use = "the turn is released as soon as the guard is dropped"]
pub(crate) struct OrderGuard<'a> {
    lock: &'a OrderLock,
}

impl OrderLock {
    pub(crate) fn new() -> Self {
        OrderLock {
            state: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            threads: Condvar::new(),
            tasks: WakerList::new(),
        }
    }

    /// Waits (the thread sleeps) for the turn.
    pub(crate) fn lock(&self) -> OrderGuard<'_> {
        self.lock_until(None)
            .expect("an untimed wait for the turn does not give up")
    }

    /// Waits (the thread sleeps) for the turn until `deadline` at the latest (none: no limit);
    /// `None` if it did not come by then.
    #[inline]
    pub(crate) fn lock_until(&self, deadline: Option<Instant>) -> Option<OrderGuard<'_>> {
        match self.try_lock() {
            Some(guard) => Some(guard),
            None => self.sleep_until(deadline),
        }
    }

    #[cold]
    fn sleep_until(&self, deadline: Option<Instant>) -> Option<OrderGuard<'_>> {
        let mut sleep = self.sleep.lock();
        loop {
            let state = self.state.load(Ordering::SeqCst);
            if state & HELD == 0 {
                if self.take(state) {
                    return Some(OrderGuard { lock: self });
                }
                continue;
            }
            if state & WAITING == 0 && !self.raise(state) {
                continue;
            }
            let (again, timed_out) = self.threads.wait_until(sleep, deadline);
            sleep = again;
            if timed_out {
                return self.try_lock();
            }
        }
    }

    /// Takes the turn if it is free.
    #[inline]
    fn try_lock(&self) -> Option<OrderGuard<'_>> {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & HELD == 0 {
            match self.state.compare_exchange(
                state,
                state | HELD,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(OrderGuard { lock: self }),
                Err(now) => state = now,
            }
        }
        None
    }

    /// Takes the free turn if the word still reads `state`.
    fn take(&self, state: usize) -> bool {
        self.state
            .compare_exchange(state, state | HELD, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Raises `WAITING` if the word still reads `state` (the turn taken).
    fn raise(&self, state: usize) -> bool {
        self.state
            .compare_exchange(state, state | WAITING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Takes the turn, or registers the task to be woken when it is released.
    pub(crate) fn poll_lock(&self, cx: &mut Context<'_>) -> Poll<OrderGuard<'_>> {
        if let Some(guard) = self.try_lock() {
            return Poll::Ready(guard);
        }
        self.tasks.register(cx.waker());
        self.state.fetch_or(WAITING, Ordering::SeqCst);
        // Look again: a release before the raise did not wake us.
        match self.try_lock() {
            Some(guard) => Poll::Ready(guard),
            None => Poll::Pending,
        }
    }

    /// Wakes every waiting thread and task, after a release that found `WAITING`.
    #[cold]
    fn wake_waiters(&self) {
        // A thread that raised `WAITING` holds `sleep` until it sleeps: notify after that.
        drop(self.sleep.lock());
        self.threads.notify_all();
        self.tasks.wake_strict();
    }
}

impl Drop for OrderGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.lock.state.swap(0, Ordering::SeqCst) & WAITING != 0 {
            self.lock.wake_waiters();
        }
    }
}
