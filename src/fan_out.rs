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
//! No step takes a lock or allocates (beyond what `E::clone` does). Only `Overflow::Block` waits,
//! and only until the publish's deadline, if it has one: a deadline already passed (that of
//! `try_publish`) means a full `Block` queue loses the event as a timed-out publish would.
//!
//! On a bus with keyed subscribers (see [`crate::key`]) the snapshot has a key index, and step 3
//! walks the event's [`route`] instead: the unkeyed subscribers, then the subscribers of the
//! event's key (one hash lookup), or, for an unkeyed event, every keyed subscriber. The walk is the
//! same loop over several slices. A snapshot without an index costs step 3 one test of `None`.

use std::ptr;
use std::time::{Duration, Instant};

pub(crate) mod lanes;
mod owed;
pub(crate) mod route;

use owed::{past, Owed, OwedBatch, OwedLast, OwedRoute};
use route::{Route, Target};

use crate::error::PublishError;
use crate::queue::{self, TrySendError, WaitError};
use crate::registry::{Entry, Registry, Snapshot};
use crate::shared::{Inner, PublishCounter};
use crate::sync::{fence, Ordering};
use crate::{Event, Key, Overflow, Topic};

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
    /// `DropOldest`, this event refused by `DropNewest`, `Disconnect`, or a `Block` queue that was
    /// still full at the deadline or when the bus closed.
    /// Each is counted against, and reported to, the subscriber that lost it.
    pub fn dropped(&self) -> usize {
        self.dropped as usize
    }

    /// Subscribers this publish cut off under [`Overflow::Disconnect`].
    pub fn disconnected(&self) -> usize {
        self.disconnected as usize
    }

    /// `Block` subscribers still full when the deadline of
    /// [`publish_timeout`](crate::Publisher::publish_timeout) passed, or found full by
    /// [`try_publish`](crate::Publisher::try_publish), whose deadline is now (they are also in
    /// `dropped`).
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
}

impl Delivery {
    /// `publish_all`: publishes each event of `events` with `publish`, in order, stopping at the
    /// first error; the sum of the deliveries.
    pub(crate) fn sum_of<E>(
        events: impl IntoIterator<Item = E>,
        mut publish: impl FnMut(E) -> Result<Delivery, PublishError<E>>,
    ) -> Result<Delivery, PublishError<E>> {
        let mut total = Delivery::default();
        for event in events {
            total.add(publish(event)?);
        }
        Ok(total)
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

/// A publish that never waits: its deadline has always passed (see `overflow`), and reading the
/// clock for it is left to the cold path that meets a full `Block` queue.
#[inline]
pub(crate) fn try_publish<E: Event>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
) -> Result<Delivery, PublishError<E>> {
    let bit = event.topic().bit();
    if inner.registry.interest() & bit == 0 {
        // Before the deadline is loaded: an unwanted event costs what it costs `publish`.
        return idle(inner, || event);
    }
    fan_out(inner, counter, event, bit, Some(passed()))
}

/// An instant that has passed: the first time anyone asked.
fn passed() -> Instant {
    static PAST: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *PAST.get_or_init(Instant::now)
}

/// Whether this thread is the tap that consumes the subscriber of `state` (see `crate::tap`).
#[cfg(not(loom))]
fn is_own_tap(state: &crate::registry::SubscriberState) -> bool {
    crate::tap::is_tap_of(ptr::from_ref(state).cast())
}

/// Taps are threads, and not modelled under loom.
#[cfg(loom)]
fn is_own_tap(_state: &crate::registry::SubscriberState) -> bool {
    false
}

/// A publish nobody's topic matched: nothing to do unless the bus is closed.
#[cold]
pub(crate) fn idle<E>(
    inner: &Inner<E>,
    make: impl FnOnce() -> E,
) -> Result<Delivery, PublishError<E>> {
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
    if snapshot.keyed.is_some() {
        // User code, before anything is counted or served: a panic here publishes nothing.
        let key = event.key();
        return Ok(fan_out_keyed(
            &snapshot, inner, counter, event, key, bit, deadline,
        ));
    }
    counter.add(1);
    let registry = &inner.registry;
    let entries = &snapshot.entries[..];
    let mut delivery = Delivery::default();
    // What this publish owes, should user code (a filter, `Clone`, `Drop`) panic before the end:
    // every entry from `owed.from` on whose mask has the topic. One plain store per delivery;
    // defused (forgotten) once every subscriber is served. See `owed`.
    let mut owed = Owed::new(entries, bit);
    // The interested entry found last, not yet served: it gets a clone if another interested entry
    // follows, the original event if none does (so a single interested subscriber costs no clone).
    let mut pending: Option<&Entry<E>> = None;
    for entry in entries {
        // The mask is inline in the snapshot: a `set_topics` that returned before this publish
        // started published the snapshot we loaded (or an older one was replaced before it).
        if entry.mask & bit == 0 {
            continue;
        }
        if let Some(filter) = &entry.filter {
            if !filter(&event) {
                owed.examined = past(entry);
                continue;
            }
        }
        if let Some(previous) = pending.replace(entry) {
            // `previous` is in `owed.pending`; `entry` is owed through `owed.examined`.
            owed.examined = entry;
            let served = Served::new(&mut owed.pending, ptr::null());
            offer(
                registry,
                previous,
                event.clone(),
                bit,
                deadline,
                &mut delivery,
                served,
            );
        }
        owed.pending = entry;
        owed.examined = past(entry);
    }
    if let Some(last) = pending {
        let served = Served::new(&mut owed.pending, ptr::null());
        offer(registry, last, event, bit, deadline, &mut delivery, served);
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
    if snapshot.keyed.is_some() {
        return Ok(publish_batch_keyed(&snapshot, inner, counter, events));
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
    let wants = |entry: &Entry<E>, event: &E, bit: u64| {
        entry.mask & bit != 0 && entry.filter.as_ref().map_or(true, |f| f(event))
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
        owed.event = 0;
        let cut_offs = delivery.disconnected;
        for (position, event) in events.iter().enumerate() {
            let bit = event.topic().bit();
            if wants(entry, event, bit) {
                let served = Served::new(&mut owed.event, position + 1);
                offer(
                    registry,
                    entry,
                    event.clone(),
                    bit,
                    None,
                    &mut delivery,
                    served,
                );
                owed.event = position + 1;
                if delivery.disconnected != cut_offs {
                    // This batch cut the subscriber off (`Overflow::Disconnect`): like separate
                    // publishes after the cut, the rest of the batch no longer offers to it.
                    break;
                }
            }
        }
    }
    owed.defuse();
    let entry = &entries[last];
    let mut owed = OwedLast::new(entry, events.drain(..));
    let cut_offs = delivery.disconnected;
    while let Some(event) = owed.take() {
        // Once this batch cut the subscriber off, the rest is not offered to it (see above).
        // (The topic only once it matters: it is user code, as in `wants`.)
        let wanted = (delivery.disconnected == cut_offs)
            .then(|| event.topic().bit())
            .filter(|&bit| wants(entry, &event, bit));
        if let Some(bit) = wanted {
            let served = Served::new(&mut owed.taken, 0);
            offer(registry, entry, event, bit, None, &mut delivery, served);
            owed.taken = 0;
        } else {
            // Not wanted: nothing is owed, and only then may its `Drop` run.
            owed.taken = 0;
            drop(event);
        }
    }
    owed.finish();
    Ok(delivery)
}

/// Where a publish keeps count of what it has served (see `owed`), and the value that says "this
/// subscriber is served". The cold overflow path sets it *before* it runs user code that follows
/// the bookkeeping (the `Drop` of a refused or evicted event, the removal of a cut-off
/// subscriber), so a panic there is not counted as a second loss; the hot path sets it after
/// `offer` returns.
pub(crate) struct Served<'a, T> {
    cursor: &'a mut T,
    value: T,
}

impl<'a, T> Served<'a, T> {
    #[inline]
    pub(crate) fn new(cursor: &'a mut T, value: T) -> Self {
        Served { cursor, value }
    }

    #[inline]
    fn mark(self) {
        *self.cursor = self.value;
    }
}

/// Enqueues `event` for one subscriber, applying its overflow policy if the queue is full.
#[inline]
fn offer<E: Send + 'static, T>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    event: E,
    bit: u64,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
    served: Served<'_, T>,
) {
    // The one test a subscriber without lossless topics pays for them (see `lanes`).
    if let Some(lanes) = &entry.lanes {
        return lanes::offer_lanes(entry, lanes, event, bit, deadline, delivery, served);
    }
    match entry.tx.try_send(event) {
        Ok(()) => enqueued(entry, delivery),
        Err(TrySendError::Full(event)) => {
            overflow(registry, entry, event, deadline, delivery, served)
        }
        // The subscriber dropped its receiver during this publish: it is leaving, nothing is owed.
        Err(TrySendError::Disconnected(event)) => {
            served.mark();
            drop(event);
        }
    }
}

/// [`offer`] for an async publish: a full `Overflow::Block` queue hands the event back (`Err`)
/// instead of blocking the thread, and the caller waits for room asynchronously; every other
/// policy applies as in `offer`.
pub(crate) fn offer_or_return<E: Send + 'static, T>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    event: E,
    bit: u64,
    delivery: &mut Delivery,
    served: Served<'_, T>,
) -> Result<(), E> {
    if let Some(lanes) = &entry.lanes {
        // A kept event waits for room asynchronously, as for a `Block` queue; the lossy lane
        // never waits.
        if lanes.kept & bit != 0 {
            return match lanes.try_keep(event) {
                Ok(()) => {
                    enqueued(entry, delivery);
                    Ok(())
                }
                Err(TrySendError::Full(event)) => Err(event),
                Err(TrySendError::Disconnected(event)) => {
                    served.mark();
                    drop(event);
                    Ok(())
                }
            };
        }
        lanes::offer_lanes(entry, lanes, event, bit, None, delivery, served);
        return Ok(());
    }
    match entry.tx.try_send(event) {
        Ok(()) => enqueued(entry, delivery),
        Err(TrySendError::Full(event)) if entry.state.overflow == Overflow::Block => {
            return Err(event)
        }
        Err(TrySendError::Full(event)) => overflow(registry, entry, event, None, delivery, served),
        Err(TrySendError::Disconnected(event)) => {
            served.mark();
            drop(event);
        }
    }
    Ok(())
}

/// An event is in the subscriber's queue: count it, and wake the subscriber's task if one is
/// parked on it (one plain load when none is: see [`crate::notify`]).
#[inline]
pub(crate) fn enqueued<E>(entry: &Entry<E>, delivery: &mut Delivery) {
    delivery.delivered += 1;
    entry.state.event_waiter.notify();
}

#[cold]
#[inline(never)]
fn overflow<E: Send + 'static, T>(
    registry: &Registry<E>,
    entry: &Entry<E>,
    event: E,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
    served: Served<'_, T>,
) {
    let state = &entry.state;
    let refused = match state.overflow {
        Overflow::DropNewest => {
            state.lost.record(1);
            // A task that drained the queue meanwhile and parked is owed the report now. (A
            // swap, not the fast check: the loss counter is not the queue, see `crate::notify`.)
            state.event_waiter.wake_strict();
            delivery.dropped += 1;
            event
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
                // only after it is counted: its `Drop` may panic (the new event, not queued yet,
                // is then still owed, and counted as lost by the publish's guard).
                state.lost.begin_eviction();
                let evicted = evictor.try_recv().ok();
                state.lost.end_eviction(evicted.is_some());
                delivery.dropped += u32::from(evicted.is_some());
                drop(evicted);
                match entry.tx.try_send(event) {
                    Ok(()) => {
                        enqueued(entry, delivery);
                        return;
                    }
                    // Another publisher took the freed slot: evict again.
                    Err(TrySendError::Full(back)) => event = back,
                    Err(TrySendError::Disconnected(back)) => break back,
                }
            }
        }
        Overflow::Block => {
            // A deadline already passed (`try_publish`, `publish_timeout(e, Duration::ZERO)`, or
            // one spent on earlier subscribers) means no wait at all: not even the backoff's
            // spins and yields, which `send_waiting` does not bound by the deadline.
            //
            // Nor does a publish from a tap's own thread into that tap's queue: the thread that
            // would free a slot is the one waiting (a certain deadlock without a deadline). The
            // event is lost to the tap, and reported to its handler as `Lagged`.
            let sent = match deadline {
                Some(deadline) if deadline <= Instant::now() => Err(WaitError::Timeout(event)),
                _ if is_own_tap(state) => Err(WaitError::Timeout(event)),
                _ => queue::send_waiting(&entry.tx, event, deadline, [&entry.gone, &entry.closing]),
            };
            match sent {
                Ok(()) => {
                    enqueued(entry, delivery);
                    return;
                }
                Err(WaitError::Timeout(event)) => {
                    state.lost.record(1);
                    state.event_waiter.wake_strict();
                    delivery.dropped += 1;
                    delivery.timed_out += 1;
                    event
                }
                // The subscriber went away while we waited: nothing is owed.
                Err(WaitError::Disconnected(event)) => event,
                Err(WaitError::Stopped(event)) if entry.gone.is_fired() => event,
                // The bus was closed while we waited: the subscriber's stream ends now rather than
                // when it reads again, and this event is counted as lost to it (reported as
                // `Lagged` before `Disconnected`).
                Err(WaitError::Stopped(event)) => {
                    state.lost.record(1);
                    state.event_waiter.wake_strict();
                    delivery.dropped += 1;
                    event
                }
            }
        }
        Overflow::Disconnect => {
            state.lost.record(1);
            delivery.dropped += 1;
            // The flag before the removal: `Registry::set_topics` checks it under the lock the
            // removal takes, so it never puts a cut-off subscriber's topics back.
            if !state.overflowed.swap(true, Ordering::SeqCst) {
                delivery.disconnected += 1;
                served.mark();
                // Once per subscriber, never in steady state: take it out of the table so its
                // queue disconnects (waking a consumer parked in `recv` or `select!`) once the
                // publishes under way are done, and it stops counting in the interest mask.
                // (Removing may drop the last copy of old events: user code, after the count.)
                registry.remove(state);
                drop(event);
                return;
            }
            event
        }
    };
    // Counted (or not owed): only now may its `Drop` run.
    served.mark();
    drop(refused);
}

/// The publish of a [`broadcast`](crate::broadcast) sender: `Err` hands the value back when the
/// bus is closed or no subscriber's topics take `bit`; otherwise the number of subscribers whose
/// topics take it (all of a channel's receivers). No interest shortcut: one snapshot load, whose
/// `closed` flag is synchronised with `close`, so a send racing the close is delivered or handed
/// back, as a publish is.
pub(crate) fn send<E: Clone + Send + 'static>(
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
    bit: u64,
) -> Result<usize, E> {
    let snapshot = inner.registry.load();
    // A value has no key: it reaches keyed subscribers too (see `crate::key`).
    let keyed = snapshot.keyed.iter().flat_map(|keyed| keyed.subscribers());
    let receivers = snapshot
        .entries
        .iter()
        .chain(keyed)
        .filter(|entry| entry.mask & bit != 0)
        .count();
    if snapshot.closed || receivers == 0 {
        return Err(event);
    }
    fan_out_to(&snapshot, inner, counter, event, |_| None, bit, None);
    Ok(receivers)
}

/// [`fan_out`] through a snapshot the caller has already loaded and found open: a bus with
/// history loads it under its ring lock (see [`crate::history`]). The loop is a copy of `fan_out`'s, kept apart so
/// that the plain path's machine code stays exactly what it was: sharing one body (an
/// `#[inline(always)]` helper, a snapshot argument, a loader closure) was measured with
/// callgrind at +1 to +7 instructions per plain publish (BENCHMARKS.md, issue 12). Keep the two
/// loops in step.
#[inline]
pub(crate) fn fan_out_to<E: Clone + Send + 'static>(
    snapshot: &Snapshot<E>,
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
    key: impl FnOnce(&E) -> Option<Key>,
    bit: u64,
    deadline: Option<Instant>,
) -> Delivery {
    // The caller found the snapshot open.
    if snapshot.keyed.is_some() {
        // User code, before anything is counted or served: a panic here publishes nothing.
        let key = key(&event);
        return fan_out_keyed(snapshot, inner, counter, event, key, bit, deadline);
    }
    counter.add(1);
    let registry = &inner.registry;
    let entries = &snapshot.entries[..];
    let mut delivery = Delivery::default();
    // What this publish owes, should user code (a filter, `Clone`, `Drop`) panic before the end:
    // every entry from `owed.from` on whose mask has the topic. One plain store per delivery;
    // defused (forgotten) once every subscriber is served. See `owed`.
    let mut owed = Owed::new(entries, bit);
    // The interested entry found last, not yet served: it gets a clone if another interested entry
    // follows, the original event if none does (so a single interested subscriber costs no clone).
    let mut pending: Option<&Entry<E>> = None;
    for entry in entries {
        // The mask is inline in the snapshot: a `set_topics` that returned before this publish
        // started published the snapshot we loaded (or an older one was replaced before it).
        if entry.mask & bit == 0 {
            continue;
        }
        if let Some(filter) = &entry.filter {
            if !filter(&event) {
                owed.examined = past(entry);
                continue;
            }
        }
        if let Some(previous) = pending.replace(entry) {
            // `previous` is in `owed.pending`; `entry` is owed through `owed.examined`.
            owed.examined = entry;
            let served = Served::new(&mut owed.pending, ptr::null());
            offer(
                registry,
                previous,
                event.clone(),
                bit,
                deadline,
                &mut delivery,
                served,
            );
        }
        owed.pending = entry;
        owed.examined = past(entry);
    }
    if let Some(last) = pending {
        let served = Served::new(&mut owed.pending, ptr::null());
        offer(registry, last, event, bit, deadline, &mut delivery, served);
    }
    owed.defuse();
    delivery
}

/// [`fan_out`] through a snapshot with a key index: the event's [`route`] (see [`crate::key`]).
/// Out of line, so that the plain path's machine code stays what it was (a bus without keyed
/// subscribers never comes here). `#[cold]` keeps the plain path's layout: measured, without it
/// the plain publish took 10 more instructions (BENCHMARKS.md, issue 19).
#[cold]
#[inline(never)]
fn fan_out_keyed<E: Clone + Send + 'static>(
    snapshot: &Snapshot<E>,
    inner: &Inner<E>,
    counter: &PublishCounter,
    event: E,
    key: Option<Key>,
    bit: u64,
    deadline: Option<Instant>,
) -> Delivery {
    let route = Route::keyed(snapshot, key);
    counter.add(1);
    fan_out_route(&inner.registry, route, event, bit, deadline, false)
}

/// The walk of [`fan_out`] along a route: the same loop, over each part in turn, with the entry
/// found last still pending across parts (the last interested entry of the whole route takes the
/// original). Keep it in step with `fan_out`. With `skip_cut_off` (a batch), subscribers already
/// cut off by `Overflow::Disconnect` are passed over, as a later publish's snapshot would.
#[inline]
fn fan_out_route<E: Clone + Send + 'static>(
    registry: &Registry<E>,
    route: Route<'_, E>,
    event: E,
    bit: u64,
    deadline: Option<Instant>,
    skip_cut_off: bool,
) -> Delivery {
    let mut delivery = Delivery::default();
    let mut owed = OwedRoute::new(route, bit);
    let mut pending: Option<&Entry<E>> = None;
    for part in 0..route.parts() {
        let entries = route.part(part);
        owed.enter(part, entries.as_ptr());
        for entry in entries {
            if entry.mask & bit == 0 {
                continue;
            }
            if skip_cut_off && entry.state.overflowed.load(Ordering::Relaxed) {
                owed.examined = past(entry);
                continue;
            }
            if let Some(filter) = &entry.filter {
                if !filter(&event) {
                    owed.examined = past(entry);
                    continue;
                }
            }
            if let Some(previous) = pending.replace(entry) {
                owed.examined = entry;
                let served = Served::new(&mut owed.pending, ptr::null());
                offer(
                    registry,
                    previous,
                    event.clone(),
                    bit,
                    deadline,
                    &mut delivery,
                    served,
                );
            }
            owed.pending = entry;
            owed.examined = past(entry);
        }
    }
    if let Some(last) = pending {
        let served = Served::new(&mut owed.pending, ptr::null());
        offer(registry, last, event, bit, deadline, &mut delivery, served);
    }
    owed.defuse();
    delivery
}

/// [`publish_batch`] through a snapshot with a key index: each event along its own route, all
/// through the one snapshot loaded for the batch, in order. Subscribers the batch cuts off
/// (`Overflow::Disconnect`) are not offered its later events, as in a plain batch.
#[cold]
fn publish_batch_keyed<E: Event>(
    snapshot: &Snapshot<E>,
    inner: &Inner<E>,
    counter: &PublishCounter,
    events: &mut Vec<E>,
) -> Delivery {
    let union = snapshot
        .entries
        .iter()
        .fold(0u64, |acc, entry| acc | entry.mask)
        | snapshot.keyed.as_ref().map_or(0, |keyed| keyed.union());
    let counted = events
        .iter()
        .filter(|event| union & event.topic().bit() != 0)
        .count();
    counter.add(counted as u64);
    let mut delivery = Delivery::default();
    let mut rest = OwedRest {
        snapshot,
        events: events.drain(..),
    };
    for event in rest.events.by_ref() {
        let bit = event.topic().bit();
        if union & bit == 0 {
            drop(event);
            continue;
        }
        let route = Route::keyed(snapshot, event.key());
        delivery.add(fan_out_route(
            &inner.registry,
            route,
            event,
            bit,
            None,
            true,
        ));
    }
    delivery
}

/// The events of a keyed batch not published yet: if user code panics while one is published
/// (its own guard counts that one), every later one is counted as lost to every subscriber on
/// its route whose mask has its topic (`Event::topic` and `Event::key` are user code too: an
/// event whose topic or key panics counts as owed to every subscriber of its route, or of every
/// route).
struct OwedRest<'a, 'v, E: Event> {
    snapshot: &'a Snapshot<E>,
    events: std::vec::Drain<'v, E>,
}

impl<E: Event> Drop for OwedRest<'_, '_, E> {
    fn drop(&mut self) {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let snapshot = self.snapshot;
        for event in self.events.as_slice() {
            let bit = catch_unwind(AssertUnwindSafe(|| event.topic().bit())).unwrap_or(u64::MAX);
            let target = catch_unwind(AssertUnwindSafe(|| Target::of(snapshot, event.key())))
                .unwrap_or(Target::Everyone);
            // (A panicking key is routed to everyone: its own route is unknown.)
            let route = Route::new(snapshot, target);
            for entry in route.entries_from(route::Pos { part: 0, index: 0 }) {
                if entry.mask & bit != 0 && !entry.state.overflowed.load(Ordering::Relaxed) {
                    owed::owe(&entry.state, 1);
                }
            }
        }
    }
}
