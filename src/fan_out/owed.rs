//! What a publish still owes its subscribers if user code panics in the middle of it.
//!
//! A publish runs user code between deliveries: filters, `E::clone`, `E::drop` (of an evicted or
//! refused event) and `Event::topic`. Any of them may panic. The panic goes on to the publisher,
//! which is fine; what must not happen is that the subscribers the publish had not served yet are
//! never told. So the publish keeps a guard on its stack, updated with plain stores as it goes
//! (one per delivery; no atomic, no `catch_unwind` on the publish path). On the normal path the guard is defused
//! (forgotten) at the end; if a panic unwinds through it, its `Drop` counts the event as lost,
//! once, for every subscriber the publish still owed it to. Those subscribers then receive
//! `Lagged` for it like for any other loss.
//!
//! "Owed" is decided without running user code again (it may panic again): a subscriber whose
//! filter had not run yet, or whose filter itself panicked, is owed the event if its topic mask
//! has the event's topic. It may therefore be told of an event its filter would have rejected:
//! a conservative report, never a silent gap. A subscriber whose filter ran and rejected the
//! event is owed nothing. Subscribers already served (the event queued, or
//! its loss counted by the overflow policy) are never counted twice: the publish moves the guard
//! past each subscriber before it runs the user code that follows its bookkeeping (see `Served`
//! in the parent module).

use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::vec::Drain;

use super::route::Route;
use crate::registry::{Entry, SubscriberState};
use crate::sync::Ordering;
use crate::{Event, Overflow};

/// The guard of one publish (see the module docs).
///
/// The publish walks the table in order and serves each interested entry one step late (an
/// entry waits until the next interested one is found, to know whether it gets a clone or the
/// original). So at any moment at most one looked-at entry is not served yet, the `pending` one,
/// plus, while it is being served, the entry just found after it, which `examined` still points
/// at. The fields are raw pointers into `entries`, only ever compared, never dereferenced, so
/// that the publish loop walks references and keeps no index.
pub(super) struct Owed<'a, E> {
    entries: &'a [Entry<E>],
    bit: u64,
    /// Entries before this one were looked at: served, rejected by their filter, or `pending`.
    /// Every entry from here on whose mask has the topic is owed.
    pub(super) examined: *const Entry<E>,
    /// The entry waiting to be served (null: none). The cold overflow path clears it before it
    /// runs the user code that follows its bookkeeping.
    pub(super) pending: *const Entry<E>,
}

/// The `examined` value that says `entry` (and everything before it) was looked at.
#[inline]
pub(super) fn past<E>(entry: &Entry<E>) -> *const Entry<E> {
    ptr::from_ref(entry).wrapping_add(1)
}

impl<'a, E> Owed<'a, E> {
    #[inline]
    pub(super) fn new(entries: &'a [Entry<E>], bit: u64) -> Self {
        Owed {
            entries,
            bit,
            examined: entries.as_ptr(),
            pending: ptr::null(),
        }
    }

    /// Every subscriber was served: nothing is owed.
    #[inline]
    pub(super) fn defuse(self) {
        mem::forget(self);
    }
}

impl<E> Drop for Owed<'_, E> {
    fn drop(&mut self) {
        // Reached only by unwinding (the normal path defuses the guard).
        for entry in self.entries {
            let at = ptr::from_ref(entry);
            let owed = at == self.pending || (at >= self.examined && entry.mask & self.bit != 0);
            if owed {
                owe(&entry.state, 1);
            }
        }
    }
}

/// The guard of a publish along a [`Route`] (a snapshot with a key index): [`Owed`] across the
/// route's parts. Entries of parts before `part` were looked at (but `pending`); those of parts
/// after it are owed if their mask has the topic.
pub(super) struct OwedRoute<'a, E> {
    route: Route<'a, E>,
    bit: u64,
    /// The part being walked.
    pub(super) part: usize,
    /// In `part`: entries before this one were looked at.
    pub(super) examined: *const Entry<E>,
    /// The entry waiting to be served (null: none), in any part.
    pub(super) pending: *const Entry<E>,
}

impl<'a, E> OwedRoute<'a, E> {
    #[inline]
    pub(super) fn new(route: Route<'a, E>, bit: u64) -> Self {
        OwedRoute {
            route,
            bit,
            part: 0,
            examined: route.part(0).as_ptr(),
            pending: ptr::null(),
        }
    }

    /// The walk moves on to part `part`, which starts at `first`.
    #[inline]
    pub(super) fn enter(&mut self, part: usize, first: *const Entry<E>) {
        self.part = part;
        self.examined = first;
    }

    /// Every subscriber was served: nothing is owed.
    #[inline]
    pub(super) fn defuse(self) {
        mem::forget(self);
    }
}

impl<E> Drop for OwedRoute<'_, E> {
    fn drop(&mut self) {
        // Reached only by unwinding (the normal path defuses the guard).
        for part in 0..self.route.parts() {
            for entry in self.route.part(part) {
                let at = ptr::from_ref(entry);
                let ahead = part > self.part || (part == self.part && at >= self.examined);
                if at == self.pending || (ahead && entry.mask & self.bit != 0) {
                    owe(&entry.state, 1);
                }
            }
        }
    }
}

/// The guard of a batch publish while the entries before the last interested one get clones.
pub(super) struct OwedBatch<'a, E: Event> {
    /// The entries up to and including the last one the batch is for.
    entries: &'a [Entry<E>],
    events: &'a [E],
    /// The entry being served: it is owed `events[event..]`, every later entry the whole batch.
    pub(super) entry: usize,
    pub(super) event: usize,
}

impl<'a, E: Event> OwedBatch<'a, E> {
    #[inline]
    pub(super) fn new(entries: &'a [Entry<E>], events: &'a [E]) -> Self {
        OwedBatch {
            entries,
            events,
            entry: 0,
            event: 0,
        }
    }

    /// The clones were all handed out: nothing is owed to these entries.
    #[inline]
    pub(super) fn defuse(self) {
        mem::forget(self);
    }
}

impl<E: Event> Drop for OwedBatch<'_, E> {
    fn drop(&mut self) {
        for (index, entry) in self.entries.iter().enumerate().skip(self.entry) {
            let from = if index == self.entry { self.event } else { 0 };
            let owed = owed_in(entry.mask, &self.events[from..]);
            if owed > 0 {
                owe(&entry.state, owed);
            }
        }
    }
}

/// The guard of a batch publish while the last interested entry takes the original events.
pub(super) struct OwedLast<'a, 'v, E: Event> {
    entry: &'a Entry<E>,
    rest: Drain<'v, E>,
    /// 1 while the event last taken from `rest` is still owed to the entry, else 0.
    pub(super) taken: usize,
}

impl<'a, 'v, E: Event> OwedLast<'a, 'v, E> {
    #[inline]
    pub(super) fn new(entry: &'a Entry<E>, rest: Drain<'v, E>) -> Self {
        OwedLast {
            entry,
            rest,
            taken: 0,
        }
    }

    /// The next event to serve; it stays owed until `taken` is set back to 0.
    #[inline]
    pub(super) fn take(&mut self) -> Option<E> {
        let event = self.rest.next();
        self.taken = usize::from(event.is_some());
        event
    }

    /// Every event was served; the drain is exhausted, so dropping the guard counts nothing.
    #[inline]
    pub(super) fn finish(self) {
        debug_assert!(self.taken == 0 && self.rest.as_slice().is_empty());
    }
}

impl<E: Event> Drop for OwedLast<'_, '_, E> {
    fn drop(&mut self) {
        // Also the normal end of the batch (`finish`), where nothing is owed: no write then.
        let owed = self.taken as u64 + owed_in(self.entry.mask, self.rest.as_slice());
        if owed > 0 {
            owe(&self.entry.state, owed);
        }
    }
}

/// Counts `n` events a panic kept from a subscriber: lost, and reported as `Lagged` like any
/// other loss. They never entered its queue, which stats must know for a `DropOldest`
/// subscriber (whose losses are otherwise evictions of queued events).
pub(super) fn owe(state: &SubscriberState, n: u64) {
    if state.overflow == Overflow::DropOldest {
        state.lost_unqueued.fetch_add(n, Ordering::Relaxed);
    }
    state.lost.record(n);
}

/// How many of `events` a subscriber with `mask` is owed, while unwinding. `Event::topic` is user
/// code: if it panics here, the event counts as owed (a panic caught inside a destructor that
/// runs during unwinding is allowed; only one that escapes it aborts).
fn owed_in<E: Event>(mask: u64, events: &[E]) -> u64 {
    events
        .iter()
        .filter(|event| {
            panic::catch_unwind(AssertUnwindSafe(|| mask & event.topic().bit() != 0))
                .unwrap_or(true)
        })
        .count() as u64
}
