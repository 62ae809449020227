//! Wake-ups for async waiters: a subscriber's task waiting for an event ([`WakerSlot`]) and
//! publishers' tasks waiting for room in a full `Overflow::Block` queue ([`WakerList`]).
//!
//! # The handshake
//!
//! Both sides follow one rule. The *waiter* registers its waker, then raises `armed` with a
//! read-modify-write, then checks its condition again (the queue has an event; the queue has
//! room) and only returns `Pending` if it still does not hold. The *notifier* first makes the
//! condition true (enqueues; dequeues; disconnects the queue; closes the bus), then lowers
//! `armed` with a read-modify-write and wakes the registered waker(s) if it was raised.
//!
//! Proof that no wake-up is lost. Every write to `armed` is an `AcqRel` swap, so all of them sit
//! in one modification order and each reads the value written just before it. Take a waiter's
//! raise `R` and a notifier's lower `L` (which comes after its state change `C` in program
//! order).
//! - If `L` comes after `R`, `L` reads `true` (from `R` or a later raise) and wakes the waker
//!   stored before that raise: the waiter is woken after it registered. (The waker store and
//!   `L`'s take are ordered by the slot's lock: the raise follows the store's unlock, `L` takes
//!   the lock after reading the raise.)
//! - If `L` comes before `R`, `R` reads what `L` (or a later lower) wrote: `R` acquires `L`'s
//!   release, so `C` happens-before the waiter's re-check, which therefore sees the condition
//!   true and returns `Ready` itself.
//!
//! A plain load of `armed` by the notifier would not do: "write the queue, read the flag" on one
//! side against "write the flag, read the queue" on the other is the store-buffering pattern, and
//! without a read-modify-write (or a `SeqCst` fence on both sides) both reads may see the old
//! values. The cost is one uncontended swap per notification, paid only where an async waiter
//! can exist (see below). A spurious wake-up is harmless: the woken task polls, finds nothing,
//! and registers again.
//!
//! # Who pays
//!
//! - Event wake-ups are sent by a publisher after an enqueue only for subscribers whose entry in
//!   the table snapshot says `notify` (set once, under the registry lock, the first time the
//!   subscriber is polled asynchronously; see `Registry::enable_notify`). For every other
//!   subscriber the publish path tests one immutable byte of the snapshot it already reads: no
//!   atomic operation, no fence, no branch on shared mutable state.
//! - The switch: a publish that loaded the snapshot from before the switch enqueues without a
//!   wake-up. It cannot be lost either: every table entry wakes its subscriber's slot when it is
//!   dropped (`registry::WakeOnDrop`), *after* its queue sender, and an old snapshot is dropped
//!   only once the last publish holding it is done (arc-swap's `swap` turns every outstanding
//!   borrow of the old value into a strong reference). That drop is a notifier in the sense above,
//!   whose state change is every enqueue made through the old snapshot.
//! - The same drop-time wake-up delivers the end of a subscription: a queue disconnects when its
//!   last sender (held only by entries) is dropped, so the task sees `Disconnected` or
//!   `Overflowed`.
//! - Room wake-ups are sent by the consumer after every dequeue, for `Overflow::Block`
//!   subscribers only (one swap per received event), and when the subscriber is dropped (after
//!   its receiver, so the waiting publisher then finds the queue disconnected) or its entry is
//!   (close wakes every waiting publisher, which then stops waiting).
//!
//! Why not the `atomic-waker` or `diatomic-waker` crates: their atomics are invisible to loom,
//! and this handshake is what `loom-tests/` model-checks (`loom_async_*`); a lock-protected
//! `Option<Waker>` next to one flag needs no `unsafe`, and the lock is taken only by a waiter that
//! is about to return `Pending` and by a notifier that found the flag raised.

use std::task::Waker;

use crate::sync::{AtomicBool, Mutex, Ordering};

/// One waiter at a time: the task receiving from a subscriber (`&mut Subscriber` makes it one).
/// A new registration replaces the waker of a previous task.
#[derive(Debug)]
pub(crate) struct WakerSlot {
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
        {
            let mut slot = self.waker.lock();
            match &*slot {
                Some(current) if current.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
        self.armed.swap(true, Ordering::AcqRel);
    }

    /// Wakes the registered waker, if any, after the caller changed the condition.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.armed.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }

    #[cold]
    fn wake(&self) {
        let waker = self.waker.lock().take();
        if let Some(waker) = waker {
            waker.wake();
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
        {
            let mut wakers = self.wakers.lock();
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
            }
        }
        self.armed.swap(true, Ordering::AcqRel);
    }

    /// Wakes every registered waker, after the caller changed the condition.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.armed.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }

    #[cold]
    fn wake(&self) {
        let wakers = std::mem::take(&mut *self.wakers.lock());
        for waker in wakers {
            waker.wake();
        }
    }
}
