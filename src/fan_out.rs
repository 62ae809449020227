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

use crate::queue::{SendTimeoutError, TrySendError};
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
    let mut delivery = Delivery::default();
    // The interested entry found last, not yet served: it gets a clone if another interested entry
    // follows, the original event if none does.
    let mut pending: Option<&Entry<E>> = None;
    for entry in snapshot.entries.iter() {
        // The mask is inline in the snapshot: a `set_topics` that returned before this publish
        // started published the snapshot we loaded (or an older one was replaced before it).
        if entry.mask & bit == 0 {
            continue;
        }
        if let Some(filter) = &entry.filter {
            if !filter(&event) {
                continue;
            }
        }
        if let Some(previous) = pending.replace(entry) {
            offer(
                &inner.registry,
                previous,
                event.clone(),
                deadline,
                &mut delivery,
            );
        }
    }
    if let Some(last) = pending {
        offer(&inner.registry, last, event, deadline, &mut delivery);
    }
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
    // Counted like `publish` counts: only events whose topic some subscriber wants.
    let union = snapshot
        .entries
        .iter()
        .fold(0u64, |acc, entry| acc | entry.mask);
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
    let wants = |entry: &Entry<E>, mask: u64, event: &E| {
        mask & event.topic().bit() != 0 && entry.filter.as_ref().map_or(true, |f| f(event))
    };
    // The last entry whose mask meets the batch's topics takes the originals.
    let last = snapshot
        .entries
        .iter()
        .rposition(|entry| entry.mask & wanted != 0);
    let Some(last) = last else {
        events.clear();
        return Ok(delivery);
    };
    for entry in &snapshot.entries[..last] {
        let mask = entry.mask;
        if mask & wanted == 0 {
            continue;
        }
        for event in events.iter() {
            if wants(entry, mask, event) {
                offer(&inner.registry, entry, event.clone(), None, &mut delivery);
            }
        }
    }
    let entry = &snapshot.entries[last];
    let mask = entry.mask;
    for event in events.drain(..) {
        if wants(entry, mask, &event) {
            offer(&inner.registry, entry, event, None, &mut delivery);
        }
    }
    Ok(delivery)
}

/// Enqueues `event` for one subscriber, applying its overflow policy if the queue is full.
#[inline]
fn offer<E>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    event: E,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
) {
    match entry.tx.try_send(event) {
        Ok(()) => enqueued(entry, delivery),
        Err(TrySendError::Full(event)) => {
            // `Block::Wait` never hands the event back.
            let _ = overflow(registry, entry, event, Block::Wait(deadline), delivery);
        }
        // The subscriber dropped its receiver during this publish: it is leaving, nothing is owed.
        Err(TrySendError::Disconnected(_)) => {}
    }
}

/// [`offer`] for an async publish: a full `Overflow::Block` queue hands the event back instead of
/// blocking the thread (the caller waits for room asynchronously); every other policy applies as
/// usual.
pub(crate) fn offer_or_return<E>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    event: E,
    delivery: &mut Delivery,
) -> Result<(), E> {
    match entry.tx.try_send(event) {
        Ok(()) => {
            enqueued(entry, delivery);
            Ok(())
        }
        Err(TrySendError::Full(event)) => match overflow(registry, entry, event, Block::Return, delivery) {
            Some(event) => Err(event),
            None => Ok(()),
        },
        Err(TrySendError::Disconnected(_)) => Ok(()),
    }
}

/// An event is in the subscriber's queue: count it, and wake the subscriber's task if it ever
/// received asynchronously. For every other subscriber `entry.notify` is an immutable byte of the
/// snapshot: no atomic operation, no fence (protocol in [`crate::notify`]).
#[inline]
pub(crate) fn enqueued<E>(entry: &Entry<E>, delivery: &mut Delivery) {
    delivery.delivered += 1;
    if entry.notify {
        entry.state.event_waiter.notify();
    }
}

/// What `Overflow::Block` does with a full queue.
#[derive(Clone, Copy)]
enum Block {
    /// Block the thread, until the deadline if there is one.
    Wait(Option<Instant>),
    /// Hand the event back (an async publish waits for room itself).
    Return,
}

/// Applies the subscriber's overflow policy to `event`, which found its queue full. Returns the
/// event only for `Overflow::Block` with [`Block::Return`].
#[cold]
#[inline(never)]
fn overflow<E>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    event: E,
    block: Block,
    delivery: &mut Delivery,
) -> Option<E> {
    let state = &entry.state;
    match state.overflow {
        Overflow::DropNewest => {
            drop(event);
            state.lost.record(1);
            delivery.dropped += 1;
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
                // counted. (Protocol and proof in `crate::loss`.)
                state.lost.begin_eviction();
                let evicted = evictor.try_recv().is_ok();
                state.lost.end_eviction(evicted);
                delivery.dropped += u32::from(evicted);
                match entry.tx.try_send(event) {
                    Ok(()) => {
                        enqueued(entry, delivery);
                        return None;
                    }
                    // Another publisher took the freed slot: evict again.
                    Err(TrySendError::Full(back)) => event = back,
                    Err(TrySendError::Disconnected(_)) => return None,
                }
            }
        }
        Overflow::Block => {
            let sent = match block {
                Block::Return => return Some(event),
                Block::Wait(None) => entry
                    .tx
                    .send(event)
                    .map_err(|err| SendTimeoutError::Disconnected(err.0)),
                Block::Wait(Some(deadline)) => entry.tx.send_deadline(event, deadline),
            };
            match sent {
                Ok(()) => enqueued(entry, delivery),
                Err(SendTimeoutError::Timeout(event)) => {
                    drop(event);
                    state.lost.record(1);
                    delivery.dropped += 1;
                    delivery.timed_out += 1;
                }
                // The subscriber went away while we waited: the publish returns, nothing is owed.
                Err(SendTimeoutError::Disconnected(_)) => {}
            }
        }
        Overflow::Disconnect => {
            drop(event);
            state.lost.record(1);
            delivery.dropped += 1;
            // The flag before the removal: `Registry::set_topics` checks it under the lock the
            // removal takes, so it never puts a cut-off subscriber's topics back.
            if !state.overflowed.swap(true, Ordering::SeqCst) {
                delivery.disconnected += 1;
                // Once per subscriber, never in steady state: take it out of the table so its
                // queue disconnects (waking a consumer parked in `recv` or `select!`) as soon as
                // the publishes under way are done, and it stops counting in the interest mask.
                registry.remove(state);
            }
        }
    }
    None
}
