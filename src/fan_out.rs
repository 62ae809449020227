//! The publish path shared by every publishing handle, and [`Delivery`], what one publish did.
//!
//! # The publish path
//!
//! 1. Load the bus's interest mask (one relaxed atomic load). If the event's topic is not in it,
//!    return: nobody wants it. This is the whole cost of an unwanted event.
//! 2. Load the subscriber table's current snapshot (lock-free, allocation-free).
//! 3. Walk the snapshot. For each subscriber whose mask has the topic and whose filter passes,
//!    enqueue: a clone for every interested subscriber but the last, the original for the last
//!    (so a single interested subscriber costs no clone at all).
//! 4. When a queue is full, apply that subscriber's [`Overflow`] policy; every event a policy
//!    throws away is added to that subscriber's loss counter, which its consumer reports in-stream.
//!
//! No step takes a lock or allocates (beyond what `E::clone` does). Only `Overflow::Block` waits.

use std::time::{Duration, Instant};

mod owed;

use owed::{Owed, OwedBatch, OwedLast};

use crate::queue::{self, TrySendError, WaitError};
use crate::registry::{Entry, Registry};
use crate::shared::{Inner, PublishCounter};
use crate::sync::{fence, Ordering};
use crate::{Event, Overflow, PublishError, Topic};

/// What one publish did: how many subscribers got the event, and what overflow cost.
///
/// `Ok(Delivery)` does not mean anyone has *read* the event, only that it is queued (or, for
/// subscribers whose policy dropped it, counted as lost and reported to them).
///
/// # Examples
///
/// ```
/// use fanout::{Bus, Overflow, Topics};
/// # #[derive(Clone)] struct Ping;
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let _a = bus.subscribe(Topics::ALL);
/// let _b = bus.subscriber().capacity(1).overflow(Overflow::DropNewest).build().unwrap();
/// assert_eq!(bus.publish(Ping).unwrap().delivered(), 2);
/// let second = bus.publish(Ping).unwrap();
/// assert_eq!((second.delivered(), second.dropped()), (1, 1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Delivery {
    delivered: u32,
    dropped: u32,
    disconnected: u32,
    timed_out: u32,
}

impl Delivery {
    /// Subscribers whose queue took this event.
    pub fn delivered(&self) -> usize {
        self.delivered as usize
    }

    /// Events thrown away by overflow policies during this publish: the oldest events evicted by
    /// `DropOldest`, this event refused by `DropNewest`, `Disconnect` or a `Block` that timed out.
    /// Each is counted against, and reported to, the subscriber that lost it.
    pub fn dropped(&self) -> usize {
        self.dropped as usize
    }

    /// Subscribers this publish cut off under [`Overflow::Disconnect`].
    pub fn disconnected(&self) -> usize {
        self.disconnected as usize
    }

    /// `Block` subscribers still full when the deadline of
    /// [`publish_timeout`](Publisher::publish_timeout) passed (they are also in `dropped`).
    pub fn timed_out(&self) -> usize {
        self.timed_out as usize
    }

    /// Whether no subscriber received the event.
    pub fn is_empty(&self) -> bool {
        self.delivered == 0
    }
}

impl Delivery {
    /// Counts one event lost by a subscriber (an async publish that gave up on it).
    pub(crate) fn lost_one(&mut self) {
        self.dropped += 1;
    }

    pub(crate) fn add(&mut self, other: Delivery) {
        self.delivered += other.delivered;
        self.dropped += other.dropped;
        self.disconnected += other.disconnected;
        self.timed_out += other.timed_out;
    }
}

#[inline]
pub(crate) fn publish_with<E: Event>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    topic: Topic,
    make: impl FnOnce() -> E,
) -> Result<Delivery, PublishError<E>> {
    if inner.registry.interest() & topic.bit() == 0 {
        return idle(inner, make);
    }
    publish(inner, counter, make(), None)
}

pub(crate) fn publish_timeout<E: Event>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
    timeout: Duration,
) -> Result<Delivery, PublishError<E>> {
    // A timeout too large to add is no bound at all.
    let deadline = Instant::now().checked_add(timeout);
    match deadline {
        Some(deadline) => publish(inner, counter, event, Some(deadline)),
        None => publish(inner, counter, event, None),
    }
}

/// A publish nobody's topic matched: nothing to do unless the bus is closed.
#[cold]
pub(crate) fn idle<E>(inner: &Inner<E>, make: impl FnOnce() -> E) -> Result<Delivery, PublishError<E>> {
    // The caller's relaxed interest load may have read the empty interest `close` stores (with
    // release) after setting `closed`; this fence makes that read synchronise with the store, so
    // `closed` is seen and a publish racing a close is rejected, never silently accepted by nobody.
    fence(Ordering::Acquire);
    if inner.registry.is_closed() {
        Err(PublishError::Closed(make()))
    } else {
        Ok(Delivery::default())
    }
}

/// The publish path (see the module docs). `deadline` bounds waiting on `Block` subscribers.
#[inline]
pub(crate) fn publish<E: Event>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
    deadline: Option<Instant>,
) -> Result<Delivery, PublishError<E>> {
    let bit = event.topic().bit();
    if inner.registry.interest() & bit == 0 {
        return idle(inner, || event);
    }
    fan_out(inner, counter, event, bit, deadline)
}

fn fan_out<E: Event>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
    bit: u64,
    deadline: Option<Instant>,
) -> Result<Delivery, PublishError<E>> {
    let snapshot = inner.registry.load();
    if snapshot.closed {
        return Err(PublishError::Closed(event));
    }
    counter.add(1);
    let registry = &inner.registry;
    let entries = &snapshot.entries[..];
    let mut delivery = Delivery::default();
    // What this publish owes, should user code (a filter, `Clone`, `Drop`) panic before the end:
    // its `Drop` counts the event as lost for every subscriber not yet served. Plain stores to a
    // local on the way; defused (forgotten) once every subscriber is served.
    let mut owed = Owed::new(entries, bit);
    for (index, entry) in entries.iter().enumerate() {
        // The mask is inline in the snapshot: a `set_topics` that returned before this publish
        // started published the snapshot we loaded (or an older one was replaced before it).
        if entry.mask & bit == 0 {
            continue;
        }
        owed.next = index;
        if let Some(filter) = &entry.filter {
            if !filter(&event) {
                continue;
            }
        }
        owed.next = index + 1;
        // The interested entry found before this one, not yet served, gets a clone; the last one
        // gets the original event (so a single interested subscriber costs no clone at all).
        if let Some(previous) = owed.pending.replace(index) {
            owed.offering = Some(previous);
            let offered = offer(&entries[previous], event.clone(), deadline, &mut delivery);
            owed.offering = None;
            offered.settle(registry, &entries[previous]);
        }
    }
    if let Some(last) = owed.pending.take() {
        owed.offering = Some(last);
        let offered = offer(&entries[last], event, deadline, &mut delivery);
        owed.offering = None;
        offered.settle(registry, &entries[last]);
    }
    owed.defuse();
    Ok(delivery)
}

/// The batch publish path: the publish path with the loops swapped (subscribers outside, events
/// inside). Every entry but the last one interested in any event of the batch gets clones.
pub(crate) fn publish_batch<E: Event>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    events: &mut Vec<E>,
) -> Result<Delivery, PublishError<Vec<E>>> {
    // No interest-mask shortcut: a batch pays for one snapshot load, whose `closed` flag is
    // synchronised with `close`, and tests every subscriber's own mask.
    let snapshot = inner.registry.load();
    if snapshot.closed {
        return Err(PublishError::Closed(std::mem::take(events)));
    }
    let registry = &inner.registry;
    let entries = &snapshot.entries[..];
    // Counted like `publish` counts: only events whose topic some subscriber wants.
    let union = entries.iter().fold(0u64, |acc, entry| acc | entry.mask);
    let counted = events
        .iter()
        .filter(|event| union & event.topic().bit() != 0)
        .count();
    if counted == 0 {
        events.clear();
        return Ok(Delivery::default());
    }
    counter.add(counted as u64);
    let wanted = events
        .iter()
        .fold(0u64, |acc, event| acc | event.topic().bit());
    let mut delivery = Delivery::default();
    let wants = |entry: &Entry<E>, event: &E| {
        entry.mask & event.topic().bit() != 0 && entry.filter.as_ref().map_or(true, |f| f(event))
    };
    // The last entry whose mask meets the batch's topics takes the originals.
    let Some(last) = entries.iter().rposition(|entry| entry.mask & wanted != 0) else {
        events.clear();
        return Ok(delivery);
    };
    let mut owed = OwedBatch::new(&entries[..=last], events);
    for (index, entry) in entries[..last].iter().enumerate() {
        if entry.mask & wanted == 0 {
            continue;
        }
        owed.entry = index;
        for (position, event) in events.iter().enumerate() {
            owed.event = position;
            if wants(entry, event) {
                let offered = offer(entry, event.clone(), None, &mut delivery);
                owed.event = position + 1;
                offered.settle(registry, entry);
            }
        }
    }
    owed.defuse();
    let entry = &entries[last];
    let mut owed = OwedLast::new(entry, events.drain(..));
    while let Some(event) = owed.take() {
        if wants(entry, &event) {
            let offered = offer(entry, event, None, &mut delivery);
            owed.served();
            offered.settle(registry, entry);
        } else {
            owed.served();
            drop(event);
        }
    }
    owed.finish();
    Ok(delivery)
}

/// What offering an event to one subscriber left to do once its outcome is recorded: user code
/// (`Drop` of a refused or evicted event, the removal of a cut-off subscriber, which may drop the
/// last copy of old events) runs only after the bookkeeping, so a panic in it cannot undo or
/// skip a count.
#[must_use = "a refused event must be dropped and a cut-off subscriber removed"]
pub(crate) enum Offered<E> {
    /// Queued, or counted as lost, with nothing left over.
    Done,
    /// Not queued: already counted as lost where it was owed; drop it.
    Refused(E),
    /// Refused by `Overflow::Disconnect`, which cut the subscriber off here: counted; drop it
    /// and take the subscriber out of the table.
    CutOff(E),
}

impl<E> Offered<E> {
    #[inline]
    pub(crate) fn settle(self, registry: &Registry<E>, entry: &Entry<E>) {
        match self {
            Offered::Done => {}
            Offered::Refused(event) => drop(event),
            Offered::CutOff(event) => {
                // Once per subscriber, never in steady state: take it out of the table so its
                // queue disconnects (waking a consumer parked in `recv` or `select!`) once the
                // publishes under way are done, and it stops counting in the interest mask.
                registry.remove(&entry.state);
                drop(event);
            }
        }
    }
}

/// Enqueues `event` for one subscriber, applying its overflow policy if the queue is full.
#[inline]
fn offer<E: Send + 'static>(
    entry: &Entry<E>,
    event: E,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
) -> Offered<E> {
    match entry.tx.try_send(event) {
        Ok(()) => {
            enqueued(entry, delivery);
            Offered::Done
        }
        Err(TrySendError::Full(event)) => overflow(entry, event, deadline, delivery),
        // The subscriber dropped its receiver during this publish: it is leaving, nothing is owed.
        Err(TrySendError::Disconnected(event)) => Offered::Refused(event),
    }
}

/// [`offer`] for an async publish: a full `Overflow::Block` queue hands the event back (`Err`)
/// instead of blocking the thread, and the caller waits for room asynchronously; every other
/// policy applies as in `offer`.
pub(crate) fn offer_or_return<E: Send + 'static>(
    entry: &Entry<E>,
    event: E,
    delivery: &mut Delivery,
) -> Result<Offered<E>, E> {
    match entry.tx.try_send(event) {
        Ok(()) => {
            enqueued(entry, delivery);
            Ok(Offered::Done)
        }
        Err(TrySendError::Full(event)) if entry.state.overflow == Overflow::Block => Err(event),
        Err(TrySendError::Full(event)) => Ok(overflow(entry, event, None, delivery)),
        Err(TrySendError::Disconnected(event)) => Ok(Offered::Refused(event)),
    }
}

/// An event is in the subscriber's queue: count it, and wake the subscriber's task if it ever
/// waited asynchronously. For every other subscriber `entry.notify` is an immutable byte of the
/// snapshot the publish already reads: no atomic operation, no fence (see [`crate::notify`]).
#[inline]
pub(crate) fn enqueued<E>(entry: &Entry<E>, delivery: &mut Delivery) {
    delivery.delivered += 1;
    if entry.notify {
        entry.state.event_waiter.notify();
    }
}

#[cold]
#[inline(never)]
fn overflow<E: Send + 'static>(
    entry: &Entry<E>,
    event: E,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
) -> Offered<E> {
    let state = &entry.state;
    match state.overflow {
        Overflow::DropNewest => {
            state.lost.record(1);
            delivery.dropped += 1;
            Offered::Refused(event)
        }
        Overflow::DropOldest => {
            let Some(evictor) = &entry.evictor else {
                unreachable!("a DropOldest entry always has an evictor")
            };
            let mut event = event;
            loop {
                // Announce the eviction, evict, then count it and withdraw the announcement in one
                // step. A consumer that dequeues after our eviction sees the announcement (the
                // queue orders our eviction before its dequeue) and waits the few instructions
                // until the count is in, so the gap is reported before the survivor, never after
                // it. If the consumer emptied the queue first, nothing is evicted and nothing is
                // counted. (Protocol and proof in `crate::loss`.) The evicted event is dropped
                // only after it is counted: its `Drop` may panic.
                state.lost.begin_eviction();
                let evicted = evictor.try_recv().ok();
                state.lost.end_eviction(evicted.is_some());
                delivery.dropped += u32::from(evicted.is_some());
                drop(evicted);
                match entry.tx.try_send(event) {
                    Ok(()) => {
                        enqueued(entry, delivery);
                        return Offered::Done;
                    }
                    // Another publisher took the freed slot: evict again.
                    Err(TrySendError::Full(back)) => event = back,
                    Err(TrySendError::Disconnected(back)) => return Offered::Refused(back),
                }
            }
        }
        Overflow::Block => {
            match queue::send_waiting(&entry.tx, event, deadline, [&entry.gone, &entry.closing]) {
                Ok(()) => {
                    enqueued(entry, delivery);
                    Offered::Done
                }
                Err(WaitError::Timeout(event)) => {
                    state.lost.record(1);
                    delivery.dropped += 1;
                    delivery.timed_out += 1;
                    Offered::Refused(event)
                }
                // The subscriber went away while we waited: nothing is owed.
                Err(WaitError::Disconnected(event)) => Offered::Refused(event),
                Err(WaitError::Stopped(event)) if entry.gone.is_fired() => Offered::Refused(event),
                // The bus was closed while we waited: the subscriber's stream ends now rather than
                // when it reads again, and this event is counted as lost to it (reported as
                // `Lagged` before `Disconnected`).
                Err(WaitError::Stopped(event)) => {
                    state.lost.record(1);
                    delivery.dropped += 1;
                    Offered::Refused(event)
                }
            }
        }
        Overflow::Disconnect => {
            state.lost.record(1);
            delivery.dropped += 1;
            // The flag before the removal: `Registry::set_topics` checks it under the lock the
            // removal takes, so it never puts a cut-off subscriber's topics back.
            if state.overflowed.swap(true, Ordering::SeqCst) {
                Offered::Refused(event)
            } else {
                delivery.disconnected += 1;
                Offered::CutOff(event)
            }
        }
    }
}
