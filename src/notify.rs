//! Wake-ups for async waiters: a subscriber's task waiting for an event ([`WakerSlot`]) and
//! publishers' tasks waiting for room in a full `Overflow::Block` queue ([`WakerList`]).
//!
//! # The handshake
//!
//! Both sides follow one rule. The *waiter* stores its waker, then raises `armed` with a
//! sequentially consistent read-modify-write, then checks its condition again (the queue has an
//! event; the queue has room) and only returns `Pending` if it still does not hold. The
//! *notifier* first makes the condition true (enqueues; dequeues; counts a loss; disconnects the
//! queue; closes the bus), then reads `armed`, and if it was raised lowers it with a
//! read-modify-write and wakes the stored waker(s).
//!
//! Why no wake-up is lost: this is the store-buffering pattern (each side writes one location
//! and then reads the other's), which is safe when the two writes and the two reads are ordered
//! by one total order, `SeqCst`'s:
//!
//! - The waiter's raise is a `SeqCst` swap, and its re-check of the queue goes through the
//!   queue's own emptiness (or fullness) test, which in `crossbeam-channel`'s array flavour
//!   starts with a `SeqCst` fence before it loads the other end's index
//!   (`flavors/array.rs`, `start_recv` / `start_send`).
//! - The notifier's condition change is the queue's `SeqCst` compare-and-swap of that index
//!   (the same functions), and its read of `armed` is a `SeqCst` load.
//!
//! If the notifier's load does not see the raise, the load precedes the raise in the total
//! order, so the notifier's compare-and-swap precedes the waiter's fence, and the waiter's
//! re-check observes the enqueue (or dequeue): it returns `Ready` itself. Otherwise the notifier
//! sees `armed` raised, and the lock of the slot orders the waker it takes after the one the
//! waiter stored. crossbeam's own receivers and senders rely on exactly this pairing for their
//! wake-ups (`SyncWaker::notify`'s `SeqCst` load of `is_empty` after the same
//! compare-and-swap), which is what lets the notifier's side cost one plain load when nobody
//! waits: the bar crossbeam sets for "free when unused".
//!
//! Notifiers whose condition change is *not* a `SeqCst` operation of the queue (a loss counted
//! in the loss counter, the last table entry dropped, a close) use [`WakerSlot::wake_strict`] /
//! [`WakerList::wake_strict`], which lower `armed` with a swap whatever it reads; the swap's
//! place in `armed`'s modification order then does the ordering (the earlier proof of this
//! module: a swap after the raise reads it and wakes; a swap before it is acquired by the raise,
//! so the waiter's re-check sees the change). Those paths are cold.
//!
//! Under loom the queue is a stand-in built on a mutex (`src/queue/model.rs`), whose lock orders
//! the two sides more strongly than crossbeam's atomics do, so the models check the handshake's
//! logic (who registers, who wakes, which table a publish holds), not its memory orderings on
//! crossbeam's queue: those rest on the argument above.
//!
//! # Who pays
//!
//! - A publish, after each enqueue, loads the subscriber's `armed` flag: one plain load of a line
//!   that stays unwritten for as long as the subscriber never waits asynchronously, so a thread
//!   subscriber costs one L1 hit per delivery. An async subscriber's task that is running or
//!   spinning (not parked) costs the same: only a parked task costs a swap and a wake.
//! - Every table entry holds a copy of its subscriber's queue sender; when the last entry naming
//!   a subscriber is dropped (it left the table, was cut off, or the bus closed, and the last
//!   publish holding an older table is done), its queue is disconnected and the entry's drop
//!   wakes the subscriber's task (it sees the end) and any publisher waiting for room (it stops
//!   waiting). Replacing a table wakes nobody else.
//! - Room wake-ups are sent by the consumer after every dequeue, for `Overflow::Block` subscribers
//!   only: one plain load, a swap only if a publisher's task is parked on that queue.
//!
//! # No user code under a lock
//!
//! The slot's lock guards only the stored waker(s). A waker's `clone`, `wake` and `drop` are user
//! code (an executor's, or anyone's `RawWakerVTable`): a waker whose `Drop` publishes to this very
//! subscriber, or drops the bus's last handle, must not find the lock held. So wakers are cloned
//! before the lock is taken, and a replaced or taken waker is woken or dropped after it is
//! released.
//!
//! Why not the `atomic-waker` or `diatomic-waker` crates: their atomics are invisible to loom,
//! and this handshake is what `loom-tests/` model-checks (`loom_async_*`); a lock-protected
//! `Option<Waker>` next to one flag needs no `unsafe`, and the lock is taken only by a waiter that
//! is about to return `Pending` with a new waker and by a notifier that found the flag raised.

use std::task::Waker;

use crate::sync::{AtomicBool, Mutex, Ordering};

/// One waiter at a time: the task receiving from a subscriber (`&mut Subscriber` makes it one).
/// A new registration replaces the waker of a previous task.
#[derive(Debug)]
pub(crate) struct WakerSlot {
    /// Raised by the waiter after it stored its waker; lowered by the notifier that wakes it.
    armed: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl WakerSlot {
    pub(crate) fn new() -> Self {
        WakerSlot {
            armed: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    /// Registers `waker`; the caller must check its condition again afterwards.
    pub(crate) fn register(&self, waker: &Waker) {
        let stored = {
            let slot = self.waker.lock();
            matches!(&*slot, Some(current) if current.will_wake(waker))
        };
        if !stored {
            // The clone and the drop of the replaced waker are user code: outside the lock.
            let new = waker.clone();
            let replaced = self.waker.lock().replace(new);
            drop(replaced);
        }
        self.armed.swap(true, Ordering::SeqCst);
    }

    /// Wakes the registered waker, if any, after the caller changed the condition with one of
    /// the queue's own operations (an enqueue): the fast form, one load when nobody waits (see
    /// the module docs for why that load suffices after a queue operation).
    #[inline]
    pub(crate) fn notify(&self) {
        if self.armed.load(Ordering::SeqCst) {
            self.wake_strict();
        }
    }

    /// Wakes the registered waker, if any, after any change of the condition (a loss counted,
    /// a queue disconnected, a close).
    #[cold]
    pub(crate) fn wake_strict(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            let waker = self.waker.lock().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// Any number of waiters: publishers' tasks waiting for room in one full queue. A notification
/// wakes them all (each retries and re-registers if the room went to another).
#[derive(Debug)]
pub(crate) struct WakerList {
    armed: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl WakerList {
    pub(crate) fn new() -> Self {
        WakerList {
            armed: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Adds `waker` (once); the caller must check its condition again afterwards.
    pub(crate) fn register(&self, waker: &Waker) {
        let stored = self.wakers.lock().iter().any(|w| w.will_wake(waker));
        if !stored {
            // The clone is user code: outside the lock. A waker that another poll of the same
            // task added meanwhile is found by `will_wake` and this clone is dropped, unlocked.
            let new = waker.clone();
            let duplicate = {
                let mut wakers = self.wakers.lock();
                if wakers.iter().any(|w| w.will_wake(&new)) {
                    Some(new)
                } else {
                    wakers.push(new);
                    None
                }
            };
            drop(duplicate);
        }
        self.armed.swap(true, Ordering::SeqCst);
    }

    /// Wakes every registered waker after the caller changed the condition with one of the
    /// queue's own operations (a dequeue); see [`WakerSlot::notify`].
    #[inline]
    pub(crate) fn notify(&self) {
        if self.armed.load(Ordering::SeqCst) {
            self.wake_strict();
        }
    }

    /// Wakes every registered waker after any change of the condition (see
    /// [`WakerSlot::wake_strict`]).
    #[cold]
    pub(crate) fn wake_strict(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            let wakers = std::mem::take(&mut *self.wakers.lock());
            for waker in wakers {
                waker.wake();
            }
        }
    }
}
