//! [`PublishAsync`]: the publish path of [`crate::fan_out`] as a future that awaits room in full
//! `Overflow::Block` queues instead of blocking the executor's thread.
//!
//! The future walks the table snapshot it loaded exactly as a publish does (topic bit, filter,
//! a clone for every interested subscriber but the last), offering the event to each subscriber
//! in turn; every policy but `Block` applies at once, as in a synchronous publish. A full `Block`
//! queue suspends the walk: the future registers in that subscriber's room waiters, tries once
//! more (the handshake of [`crate::notify`]; the consumer's dequeue is the notifier), and returns
//! `Pending`; it resumes where it stopped. So the subscribers are served in table order and one
//! publisher's events reach each subscriber in the order it awaited them. On a bus with keyed
//! subscribers the walk follows the event's route (`fan_out::route`), as a synchronous publish
//! does.
//!
//! - **Dropped mid-wait**: subscribers already served keep the event; every interested
//!   subscriber not yet served (the one waited for, and the rest of the walk) gets it counted as
//!   lost, and reports it as `Lagged`. Received + lag still adds up to what was published to it.
//! - **Close**: close drops the table's entries, which wakes waiting publishers
//!   (`registry::LastEntryWakes`); a woken future that finds the bus closed stops waiting: it makes
//!   one last attempt on each full `Block` queue it still has to serve, and counts the event as
//!   lost to those still full. The publish was accepted before the close, so it resolves `Ok`.
//! - **Subscriber dropped**: its receiver goes, the waiting future is woken and finds the queue
//!   disconnected; nothing is owed to a subscriber that left.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::PublishError;
use crate::fan_out::route::{Pos, Route, Target};
use crate::fan_out::{self, enqueued, offer_or_return, Delivery, Served};
use crate::queue::TrySendError;
use crate::registry::{Entry, Registry, Snapshot};
use crate::shared::{Inner, PublishCounter};
use crate::sync::Arc;
use crate::Event;

/// The future of [`Publisher::publish_async`](crate::Publisher::publish_async) and
/// [`Bus::publish_async`](crate::Bus::publish_async).
///
/// # Cancel safety
///
/// Not lossless, by design: dropping it before it resolves hands the event to no one else.
/// Subscribers already served keep it; every interested subscriber not yet served gets it counted
/// as lost (reported to it as `Lagged`), so nothing is lost silently.
#[must_use = "futures do nothing unless polled: the event is not published until then"]
pub struct PublishAsync<'a, E> {
    inner: &'a Inner<E>,
    counter: &'a PublishCounter,
    stage: Stage<E>,
}

// Nothing in the future is pinned: it moves its event and clones freely between polls.
impl<E> Unpin for PublishAsync<'_, E> {}

enum Stage<E> {
    /// Not polled yet.
    Start(E),
    /// Walking the snapshot.
    Walk(Walk<E>),
    /// Resolved.
    Done,
}

/// A publish in progress: where in the snapshot it is, and what it still holds.
struct Walk<E> {
    /// Owned, so it can be held across `.await`s; keeps the queues' senders alive like any
    /// publish's snapshot does.
    snapshot: Arc<Snapshot<E>>,
    /// The event's route through the snapshot (its key's group, resolved once).
    target: Target,
    bit: u64,
    /// The original event, moved into the last interested subscriber's queue.
    event: Option<E>,
    /// The next entry to examine (may be past the end of its part).
    cursor: Pos,
    /// An interested entry found, not yet served (it takes the original if none follows).
    pending: Option<Pos>,
    /// A `Block` entry whose queue was full, and the copy waiting for room in it.
    blocked: Option<(Pos, E)>,
    /// The entry being offered the event right now: if user code (`Clone`) panics before the
    /// offer is recorded, the drop counts the event as lost to it.
    offering: Option<Pos>,
    delivery: Delivery,
}

impl<'a, E: Event> PublishAsync<'a, E> {
    pub(crate) fn new(inner: &'a Inner<E>, counter: &'a PublishCounter, event: E) -> Self {
        PublishAsync {
            inner,
            counter,
            stage: Stage::Start(event),
        }
    }
}

impl<'a, E: Event> PublishAsync<'a, E> {
    /// A publish of `event` (of topic `bit`) that fans out through `snapshot`, which the caller
    /// loaded and found open (a history publish loads it under its ring lock).
    pub(crate) fn through(
        inner: &'a Inner<E>,
        counter: &'a PublishCounter,
        snapshot: Arc<Snapshot<E>>,
        event: E,
        bit: u64,
    ) -> Self {
        PublishAsync {
            inner,
            counter,
            stage: Stage::Walk(Walk::new(counter, snapshot, event, bit)),
        }
    }
}

impl<E: Event> Future for PublishAsync<'_, E> {
    type Output = Result<Delivery, PublishError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let registry = &this.inner.registry;
        if matches!(this.stage, Stage::Start(_)) {
            let Stage::Start(event) = std::mem::replace(&mut this.stage, Stage::Done) else {
                unreachable!()
            };
            let bit = event.topic().bit();
            if registry.interest() & bit == 0 {
                return Poll::Ready(fan_out::idle(this.inner, || event));
            }
            let snapshot = registry.load_full();
            if snapshot.closed {
                return Poll::Ready(Err(PublishError::Closed(event)));
            }
            this.stage = Stage::Walk(Walk::new(this.counter, snapshot, event, bit));
        }
        let Stage::Walk(walk) = &mut this.stage else {
            panic!("`PublishAsync` polled after it resolved");
        };
        match walk.advance(registry, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(delivery) => {
                this.stage = Stage::Done;
                Poll::Ready(Ok(delivery))
            }
        }
    }
}

impl<E: Event> Walk<E> {
    /// Starts a walk of `snapshot` (open) with `event` (of topic `bit`), counted as one publish.
    fn new(counter: &PublishCounter, snapshot: Arc<Snapshot<E>>, event: E, bit: u64) -> Self {
        // User code (`Event::key`), before anything is counted.
        let target = Target::for_event(&snapshot, &event);
        counter.add(1);
        Walk {
            snapshot,
            target,
            bit,
            event: Some(event),
            cursor: Pos { part: 0, index: 0 },
            pending: None,
            blocked: None,
            offering: None,
            delivery: Delivery::default(),
        }
    }

    /// Serves the subscribers from where the walk stopped; `Pending` while a `Block` queue is full.
    fn advance(&mut self, registry: &Registry<E>, cx: &mut Context<'_>) -> Poll<Delivery> {
        loop {
            if let Some((index, copy)) = self.blocked.take() {
                let entry = Route::new(&self.snapshot, self.target).entry(index);
                if let Some(copy) = wait_for_room(registry, entry, copy, cx, &mut self.delivery) {
                    self.blocked = Some((index, copy));
                    return Poll::Pending;
                }
            }
            let (index, value) = match self.next_offer() {
                Some(offer) => offer,
                None => return Poll::Ready(self.delivery),
            };
            let entry = Route::new(&self.snapshot, self.target).entry(index);
            // The overflow path marks the entry served before it runs user code (dropping a
            // refused event, removing a cut-off subscriber), as in a synchronous publish.
            let served = Served::new(&mut self.offering, None);
            let offered =
                offer_or_return(registry, entry, value, self.bit, &mut self.delivery, served);
            self.offering = None;
            if let Err(value) = offered {
                self.blocked = Some((index, value));
            }
        }
    }

    /// The next subscriber to serve and its copy: a clone while another interested entry
    /// follows, the original for the last one; `None` once every interested entry was served.
    fn next_offer(&mut self) -> Option<(Pos, E)> {
        let route = Route::new(&self.snapshot, self.target);
        let event = self.event.as_ref()?;
        while let Some(index) = route.settle(self.cursor) {
            self.cursor = Pos {
                part: index.part,
                index: index.index + 1,
            };
            if wants(route.entry(index), self.bit, event) {
                if let Some(previous) = self.pending.replace(index) {
                    self.offering = Some(previous);
                    return Some((previous, event.clone()));
                }
            }
        }
        let last = self.pending.take()?;
        self.offering = Some(last);
        Some((last, self.event.take()?))
    }
}

fn wants<E>(entry: &Entry<E>, bit: u64, event: &E) -> bool {
    entry.mask & bit != 0 && entry.filter.as_ref().map_or(true, |filter| filter(event))
}

/// Offers `copy` to a full `Block` queue again, registered for room first; hands it back if the
/// queue is still full (the task is woken when the consumer dequeues), consumes it otherwise.
/// It stops waiting when the subscriber's handle is gone (nothing owed) or the bus is closed (the
/// event is counted as lost to it, as a blocked synchronous publish does).
fn wait_for_room<E>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    copy: E,
    cx: &mut Context<'_>,
    delivery: &mut Delivery,
) -> Option<E> {
    let copy = try_enqueue(entry, copy, delivery)?;
    entry.state.room_waiters.register(cx.waker());
    let closed = registry.is_closed();
    // Look again: a dequeue before the registration may not have woken us.
    let copy = try_enqueue(entry, copy, delivery)?;
    if entry.gone.is_fired() {
        // The subscriber was dropped (a clone of its receiver may keep the queue connected).
        drop(copy);
        return None;
    }
    if closed {
        lose(entry);
        delivery.lost_one();
        drop(copy);
        return None;
    }
    Some(copy)
}

/// `try_send`: `None` once the copy is queued (or the subscriber left), the copy back if full.
fn try_enqueue<E>(entry: &Entry<E>, copy: E, delivery: &mut Delivery) -> Option<E> {
    // A subscriber with lanes waits only for room in its kept lane (see `fan_out::lanes`).
    let sent = match &entry.lanes {
        Some(lanes) => lanes.try_keep(copy),
        None => entry.tx.try_send(copy),
    };
    match sent {
        Ok(()) => {
            enqueued(entry, delivery);
            None
        }
        Err(TrySendError::Full(copy)) => Some(copy),
        Err(TrySendError::Disconnected(_)) => None,
    }
}

/// Counts one event lost by this subscriber and wakes its task, if it waits asynchronously, so
/// that it reports the `Lagged` without waiting for the next event.
fn lose<E>(entry: &Entry<E>) {
    if entry.state.overflow == crate::Overflow::DropOldest {
        // A kept event of a subscriber with lanes: it never entered a queue (stats).
        entry
            .state
            .lost_unqueued
            .fetch_add(1, crate::sync::Ordering::Relaxed);
    }
    entry.state.lost.record(1);
    entry.state.event_waiter.wake_strict();
}

impl<E> Drop for Walk<E> {
    /// Dropped before it finished: the event is lost to every interested subscriber not yet
    /// served (counted, so reported as `Lagged`). After a complete walk nothing is left to count.
    fn drop(&mut self) {
        // Every loss is counted before any event copy is dropped: an event's `Drop` may panic,
        // and what is counted after it would then never be.
        let route = Route::new(&self.snapshot, self.target);
        let blocked = self.blocked.take().map(|(index, copy)| {
            lose(route.entry(index));
            copy
        });
        if let Some(index) = self.offering.take() {
            lose(route.entry(index));
        }
        if let Some(index) = self.pending.take() {
            lose(route.entry(index));
        }
        let event = self.event.take();
        if let Some(event) = &event {
            for entry in route.entries_from(self.cursor) {
                // A filter that panics here (we may already be unwinding) counts as interested:
                // an over-reported loss is visible, a missed one would be silent.
                let wanted = catch_unwind(AssertUnwindSafe(|| wants(entry, self.bit, event)))
                    .unwrap_or(true);
                if wanted {
                    lose(entry);
                }
            }
        }
        drop(blocked);
        drop(event);
    }
}

impl<E> fmt::Debug for PublishAsync<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match &self.stage {
            Stage::Start(_) => "start",
            Stage::Walk(walk) if walk.blocked.is_some() => "waiting for room",
            Stage::Walk(_) => "publishing",
            Stage::Done => "done",
        };
        f.debug_struct("PublishAsync")
            .field("stage", &stage)
            .finish()
    }
}
