//! The publish path of a bus with history, and [`HistoryPublisher`].

use std::fmt;
use std::time::{Duration, Instant};

use super::ring::Displaced;
use super::{History, Sequenced};
use crate::error::PublishError;
use crate::fan_out::{self, Delivery};
use crate::shared::{Inner, PublishCounter};
use crate::sync::{Arc, Ordering};
use crate::{Event, EventSink, Topic};

/// What a history publish hands back: the caller's event, not the envelope it never saw.
pub(super) fn unwrap_closed<E>(err: PublishError<Sequenced<E>>) -> PublishError<E> {
    match err {
        PublishError::Closed(item) => PublishError::Closed(item.into_inner()),
        PublishError::Timeout(item) => PublishError::Timeout(item.into_inner()),
    }
}

/// Whether a publish of `topic` has anything to do: a subscriber wants it, or the history
/// keeps it (a late subscriber may want it).
#[inline]
pub(crate) fn is_interested<E>(
    inner: &Inner<Sequenced<E>>,
    history: &History<E>,
    topic: Topic,
) -> bool {
    (inner.registry.interest() | history.topics) & topic.bit() != 0
}

/// Publishes on a bus with history (protocol and proof in [`crate::history`]).
#[inline]
pub(crate) fn publish<E: Event>(
    inner: &Inner<Sequenced<E>>,
    counter: &PublishCounter,
    history: &History<E>,
    event: E,
    deadline: Option<Instant>,
) -> Result<Delivery, PublishError<E>> {
    let topic = event.topic();
    let bit = topic.bit();
    let kept = history.topics & bit != 0;
    if !kept && inner.registry.interest() & bit == 0 {
        // Nobody wants it and the history does not keep it: like the plain idle path, it takes
        // no number (nobody could ever see one) and no lock.
        return fan_out::idle(inner, || Sequenced::new(0, event)).map_err(unwrap_closed);
    }
    // The deadline bounds the whole call: the wait for another publish's turn too.
    let Some(_order) = history.order.lock_until(deadline) else {
        return Err(PublishError::Timeout(event));
    };
    publish_in_order(inner, counter, history, event, topic, deadline)
}

/// Numbers `event` (of `topic`), keeps it if the history keeps its topic, and delivers it; the
/// caller holds the order lock.
fn publish_in_order<E: Event>(
    inner: &Inner<Sequenced<E>>,
    counter: &PublishCounter,
    history: &History<E>,
    event: E,
    topic: Topic,
    deadline: Option<Instant>,
) -> Result<Delivery, PublishError<E>> {
    let bit = topic.bit();
    let kept = history.topics & bit != 0;
    // User code (Clone, and the key a late keyed subscriber's replay is chosen by) before the
    // ring lock.
    let copy = if kept {
        Some((event.key(), event.clone()))
    } else {
        None
    };
    let mut ring = history.ring.lock();
    let snapshot = inner.registry.load();
    if snapshot.closed {
        drop(ring);
        drop(copy);
        return Err(PublishError::Closed(event));
    }
    let mut displaced = Displaced::new();
    let seq = match copy {
        Some((key, copy)) => ring.keep(topic.index(), key, copy, history.capacity, &mut displaced),
        None => ring.number(),
    };
    drop(ring);
    let delivered = fan_out::fan_out_to(
        &snapshot,
        inner,
        counter,
        Sequenced::new(seq, event),
        Event::key,
        bit,
        deadline,
    );
    // User code (Drop) after the ring lock, and after the fan-out: a panicking `Drop` of an old
    // event must not keep a numbered event from its subscribers.
    drop(displaced);
    Ok(delivered)
}

/// `try_publish` on a history bus: its turn as any publish takes it, then a fan-out whose
/// deadline has passed, so a full `Block` queue loses the event (counted) instead of waiting.
pub(crate) fn try_publish<E: Event>(
    inner: &Inner<Sequenced<E>>,
    counter: &PublishCounter,
    history: &History<E>,
    event: E,
) -> Result<Delivery, PublishError<E>> {
    let topic = event.topic();
    if !is_interested(inner, history, topic) {
        return fan_out::idle(inner, || Sequenced::new(0, event)).map_err(unwrap_closed);
    }
    let _order = history.order.lock();
    publish_in_order(inner, counter, history, event, topic, Some(passed()))
}

/// An instant that has passed (the first time anyone asked): the deadline of a fan-out that
/// must not wait, without a clock read per publish.
fn passed() -> Instant {
    static PAST: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *PAST.get_or_init(Instant::now)
}

pub(crate) fn publish_timeout<E: Event>(
    inner: &Inner<Sequenced<E>>,
    counter: &PublishCounter,
    history: &History<E>,
    event: E,
    timeout: Duration,
) -> Result<Delivery, PublishError<E>> {
    // A timeout too large to add is no bound at all.
    let deadline = Instant::now().checked_add(timeout);
    publish(inner, counter, history, event, deadline)
}

/// `publish_batch` on a history bus: one turn of the order lock for the whole batch, so the
/// batch's events take consecutive sequence numbers.
pub(crate) fn publish_batch<E: Event>(
    inner: &Inner<Sequenced<E>>,
    counter: &PublishCounter,
    history: &History<E>,
    events: &mut Vec<E>,
) -> Result<Delivery, PublishError<Vec<E>>> {
    let _order = history.order.lock();
    if inner.registry.is_closed() {
        return Err(PublishError::Closed(std::mem::take(events)));
    }
    let mut total = Delivery::default();
    let mut rest = events.drain(..);
    while let Some(event) = rest.next() {
        let topic = event.topic();
        let published = if !is_interested(inner, history, topic) {
            fan_out::idle(inner, || Sequenced::new(0, event)).map_err(unwrap_closed)
        } else {
            publish_in_order(inner, counter, history, event, topic, None)
        };
        match published {
            Ok(delivery) => total.add(delivery),
            Err(err) => {
                // Closed during the batch: this event and the rest are handed back, unpublished.
                let mut unpublished = vec![err.into_inner()];
                unpublished.extend(rest);
                return Err(PublishError::Closed(unpublished));
            }
        }
    }
    Ok(total)
}

pub(crate) fn publish_with<E: Event>(
    inner: &Inner<Sequenced<E>>,
    counter: &PublishCounter,
    history: &History<E>,
    topic: Topic,
    make: impl FnOnce() -> E,
) -> Result<Delivery, PublishError<E>> {
    if !is_interested(inner, history, topic) {
        return fan_out::idle(inner, || Sequenced::new(0, make())).map_err(unwrap_closed);
    }
    publish(inner, counter, history, make(), None)
}

/// A publishing handle of a [`HistoryBus`](crate::HistoryBus): `Send + Sync + Clone`, move one
/// to each thread that publishes. Each publish gets the bus's next sequence number.
///
/// Publishes of one history bus are serialised (one at a time, for the whole fan-out), so that
/// sequence order is every queue's order; a publish that waits on a full
/// [`Block`](crate::Overflow::Block) queue holds up the bus's other publishers (never its
/// subscribes). The bus closes when its last `HistoryBus` and `HistoryPublisher` handle goes.
///
/// # Examples
///
/// ```
/// use fanout::HistoryBus;
/// use fanout::history::Replay;
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = HistoryBus::builder(8).build().unwrap();
/// let publisher = bus.publisher();
/// std::thread::spawn(move || publisher.publish(Ping(1)).unwrap()).join().unwrap();
/// let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
/// assert_eq!(late.try_recv().unwrap().into_parts(), (1, Ping(1)));
/// ```
pub struct HistoryPublisher<E> {
    pub(crate) inner: Arc<Inner<Sequenced<E>>>,
    pub(crate) counter: Arc<PublishCounter>,
    pub(crate) history: std::sync::Arc<History<E>>,
}

impl<E: Event> HistoryPublisher<E> {
    /// Publishes `event` with the next sequence number: keeps a copy in the history if it keeps
    /// the event's topic, and delivers it to every subscriber whose topics and filter want it.
    ///
    /// Takes the bus's publish lock for the whole fan-out; allocates nothing in steady state
    /// beyond what cloning the event does (one clone more than a plain bus when the history
    /// keeps the topic).
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed (it takes no number).
    pub fn publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        publish(&self.inner, &self.counter, &self.history, event, None)
    }

    /// Publishes `event` with the next sequence number, awaiting this publish's turn and room in
    /// full [`Block`](crate::Overflow::Block) queues instead of blocking the thread: the history
    /// counterpart of [`Publisher::publish_async`](crate::Publisher::publish_async), on any
    /// executor. The future is `Send` (it may resume on another thread of the executor).
    ///
    /// Publishes of one history bus take turns, synchronous and asynchronous alike: while this
    /// one awaits room it holds its turn, and the bus's other publishes wait for theirs (a task
    /// awaits it; a thread sleeps for it, within its `publish_timeout` if it has one).
    ///
    /// Cancel safety: dropped before its turn came, nothing was published and the event took
    /// no number; dropped later, it is like [`crate::publisher::PublishAsync`] (see
    /// [`history::PublishAsync`](super::PublishAsync)).
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed when its turn came (it took
    /// no number).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{HistoryBus, Overflow};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = HistoryBus::<Ping>::builder(8).build().unwrap();
    /// let mut audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
    /// let publisher = bus.publisher();
    /// let consumer = std::thread::spawn(move || {
    ///     (0..3).map(|_| audit.recv().unwrap().into_parts()).collect::<Vec<_>>()
    /// });
    /// futures_executor::block_on(async {
    ///     for i in 1..=3 {
    ///         // The queue holds one event: the task awaits room, the thread stays free.
    ///         publisher.publish_async(Ping(i)).await.unwrap();
    ///     }
    /// });
    /// assert_eq!(consumer.join().unwrap(), [(1, Ping(1)), (2, Ping(2)), (3, Ping(3))]);
    /// ```
    pub fn publish_async(&self, event: E) -> super::PublishAsync<'_, E> {
        super::PublishAsync::new(&self.inner, &self.counter, &self.history, event)
    }

    /// Publishes, bounding the time spent waiting for this publish's turn and on
    /// [`Block`](crate::Overflow::Block) subscribers; see
    /// [`HistoryBus::publish_timeout`](crate::HistoryBus::publish_timeout).
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`], or [`PublishError::Timeout`] if its turn did not come in time
    /// (nobody received the event and it took no number).
    pub fn publish_timeout(
        &self,
        event: E,
        timeout: Duration,
    ) -> Result<Delivery, PublishError<E>> {
        publish_timeout(&self.inner, &self.counter, &self.history, event, timeout)
    }

    /// Publishes `event` with the next sequence number without ever waiting on a subscriber,
    /// whatever its policy: [`Publisher::try_publish`](crate::Publisher::try_publish) on a
    /// history bus. The history keeps the event as `publish` would; a full
    /// [`Block`](crate::Overflow::Block) queue does not get it, counted as lost for that
    /// subscriber (its `Lagged`, [`Delivery::dropped`] and [`Delivery::timed_out`]).
    ///
    /// It takes its turn among the bus's publishes (they are numbered one at a time), which other
    /// publishes hold while they fan out. A `publish` that waits on a full `Block` queue holds its
    /// turn while it waits: on a bus where some publisher may wait, a publish that must never
    /// wait at all uses [`publish_timeout`](Self::publish_timeout)`(event, Duration::ZERO)`,
    /// which hands the event back when the turn is taken.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed (it takes no number).
    pub fn try_publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        try_publish(&self.inner, &self.counter, &self.history, event)
    }

    /// Publishes the event built by `make` if a subscriber wants `topic` or the history keeps
    /// it, and never calls `make` otherwise.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub fn publish_with(
        &self,
        topic: Topic,
        make: impl FnOnce() -> E,
    ) -> Result<Delivery, PublishError<E>> {
        publish_with(&self.inner, &self.counter, &self.history, topic, make)
    }

    /// Publishes every event of `events` in order (each in its own turn), stopping at the first
    /// error, which hands back the event that failed (the rest are not consumed). Returns the
    /// sum of the deliveries.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the first event that could not be published.
    pub fn publish_all(
        &self,
        events: impl IntoIterator<Item = E>,
    ) -> Result<Delivery, PublishError<E>> {
        Delivery::sum_of(events, |event| self.publish(event))
    }

    /// Publishes every event of `events` in order, in one turn of the bus's publish lock, so the
    /// batch takes consecutive sequence numbers (no other publish interleaves); drains the
    /// vector and keeps its allocation.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the events not published: all of them if the bus was
    /// closed when the batch began; if it closed during the batch, the event that met the
    /// closed bus and those after it (the ones before were published).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::HistoryBus;
    /// use fanout::history::Replay;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = HistoryBus::builder(8).build().unwrap();
    /// let publisher = bus.publisher();
    /// let mut batch = vec![Ping(1), Ping(2), Ping(3)];
    /// publisher.publish_batch(&mut batch).unwrap();
    /// assert!(batch.is_empty());
    /// let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    /// let seqs: Vec<u64> = late.try_iter().map(|e| e.unwrap().seq()).collect();
    /// assert_eq!(seqs, [1, 2, 3]);
    /// bus.close();
    /// let mut after = vec![Ping(4)];
    /// assert_eq!(publisher.publish_batch(&mut after).unwrap_err().into_inner(), [Ping(4)]);
    /// ```
    pub fn publish_batch(&self, events: &mut Vec<E>) -> Result<Delivery, PublishError<Vec<E>>> {
        publish_batch(&self.inner, &self.counter, &self.history, events)
    }

    /// Whether an event of `topic` would reach a subscriber or the history.
    pub fn is_interested(&self, topic: Topic) -> bool {
        is_interested(&self.inner, &self.history, topic)
    }

    /// Whether the bus is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.registry.is_closed()
    }
}

impl<E> Clone for HistoryPublisher<E> {
    fn clone(&self) -> Self {
        let (inner, counter) = Inner::acquire_handle(&self.inner);
        HistoryPublisher {
            inner,
            counter,
            history: std::sync::Arc::clone(&self.history),
        }
    }
}

impl<E> Drop for HistoryPublisher<E> {
    fn drop(&mut self) {
        self.inner.release_handle(&self.counter);
    }
}

impl<E> fmt::Debug for HistoryPublisher<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryPublisher")
            .field("closed", &self.inner.registry.is_closed())
            .finish_non_exhaustive()
    }
}

impl<E: Event> EventSink<E> for HistoryPublisher<E> {
    fn emit(&self, event: E) {
        if self.publish(event).is_err() {
            self.inner.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn is_interested(&self, topic: Topic) -> bool {
        HistoryPublisher::is_interested(self, topic)
    }
}
