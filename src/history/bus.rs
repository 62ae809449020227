//! [`HistoryBus`], the handle of a bus with history, and its [`HistoryBusBuilder`].

use std::fmt;
use std::time::Duration;

use super::publish::{self, HistoryPublisher};
use super::{History, HistorySubscriberBuilder, Sequenced};
use crate::capacity::{DEFAULT_CAPACITY, MAX_CAPACITY};
use crate::error::{BuildError, PublishError};
use crate::fan_out::Delivery;
use crate::shared::{check_capacity, Defaults, Inner, PublishCounter};
use crate::stats::BusStats;
use crate::subscriber::SubscriberBuilder;
use crate::sync::{Arc, Ordering};
use crate::{Event, EventSink, Overflow, Subscriber, Topic, Topics, WaitStrategy};

/// A fan-out bus that numbers its events and keeps the recent ones, so that a late subscriber
/// (a browser tab opened mid-run, a reconnecting WebSocket) gets the recent past, then the live
/// stream, with no gap and no duplicate between them.
///
/// Built by [`BusBuilder::history`](crate::BusBuilder::history) or [`HistoryBus::builder`]. It is
/// a separate type so that a plain [`Bus`](crate::Bus) pays nothing for history. Its subscribers
/// are plain [`Subscriber<Sequenced<E>>`](crate::Subscriber)s: every receive form works, with
/// the sequence number. See the crate docs, [History and replay](crate#history-and-replay).
///
/// `HistoryBus` is a cheap handle: clones share one bus, which closes when
/// [`close`](Self::close) is called or its last `HistoryBus` and [`HistoryPublisher`] handle is
/// dropped (close semantics are a plain bus's).
///
/// # Examples
///
/// A UI that reconnects resumes from the last sequence number it saw:
///
/// ```
/// use fanout::HistoryBus;
/// use fanout::history::Replay;
/// # #[derive(Clone, Debug, PartialEq)] struct Ev(u32);
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = HistoryBus::builder(1024).build().unwrap();
/// let mut ui = bus.subscriber().replay(Replay::Tail(100)).build().unwrap();
/// bus.publish(Ev(1)).unwrap();
/// let last_seen = ui.recv().unwrap().seq();
/// drop(ui); // the connection drops
/// bus.publish(Ev(2)).unwrap();
/// let mut ui = bus.subscriber().replay(Replay::Since(last_seen)).build().unwrap();
/// bus.publish(Ev(3)).unwrap();
/// assert_eq!(ui.recv().unwrap().into_parts(), (2, Ev(2))); // from the history
/// assert_eq!(ui.recv().unwrap().into_parts(), (3, Ev(3))); // live
/// ```
pub struct HistoryBus<E> {
    inner: Arc<Inner<Sequenced<E>>>,
    counter: Arc<PublishCounter>,
    history: std::sync::Arc<History<E>>,
}

impl<E: Event> HistoryBus<E> {
    /// A builder for a bus keeping the last `events` events (in `1..=MAX_CAPACITY`), with the
    /// same subscriber defaults as [`Bus::new`](crate::Bus::new).
    pub fn builder(events: usize) -> HistoryBusBuilder<E> {
        HistoryBusBuilder::new(
            Defaults {
                capacity: DEFAULT_CAPACITY,
                overflow: Overflow::DropOldest,
                wait: WaitStrategy::Park,
            },
            events,
        )
    }

    /// A builder for a subscriber, with a [`Replay`](crate::history::Replay) besides the usual settings.
    pub fn subscriber(&self) -> HistorySubscriberBuilder<E> {
        HistorySubscriberBuilder::new(
            SubscriberBuilder::new(Arc::clone(&self.inner)),
            std::sync::Arc::clone(&self.history),
        )
    }

    /// Subscribes to `topics` with the bus's defaults and no replay: the live stream, numbered.
    /// On a closed bus the subscriber is born disconnected.
    pub fn subscribe(&self, topics: impl Into<Topics>) -> Subscriber<Sequenced<E>> {
        SubscriberBuilder::new(Arc::clone(&self.inner))
            .topics(topics)
            .build_or_disconnected()
    }

    /// A builder for a tap (a subscriber consumed by a handler on a thread of its own; see
    /// [`TapBuilder`](crate::tap::TapBuilder)) of the live, numbered stream. A tap takes no replay.
    #[cfg(not(loom))]
    pub fn tap(&self) -> crate::tap::TapBuilder<Sequenced<E>> {
        crate::tap::TapBuilder::new(
            SubscriberBuilder::new(Arc::clone(&self.inner)),
            &self.inner.taps,
        )
    }

    /// A new publishing handle (`Clone + Send + Sync`) for another thread.
    pub fn publisher(&self) -> HistoryPublisher<E> {
        let (inner, counter) = Inner::acquire_handle(&self.inner);
        HistoryPublisher {
            inner,
            counter,
            history: std::sync::Arc::clone(&self.history),
        }
    }

    /// Publishes `event` with the next sequence number; see [`HistoryPublisher::publish`].
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed.
    pub fn publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        publish::publish(&self.inner, &self.counter, &self.history, event, None)
    }

    /// Publishes, bounding the time spent waiting: for another publish's turn (publishes of a
    /// history bus are serialised), then on [`Block`](Overflow::Block) subscribers (see
    /// [`Publisher::publish_timeout`](crate::Publisher::publish_timeout)).
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed;
    /// [`PublishError::Timeout`] with the event if its turn did not come in time (another publish
    /// is waiting on a full `Block` queue, say): nobody received it and it took no number.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fanout::{HistoryBus, Overflow};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = HistoryBus::builder(8).build().unwrap();
    /// let _audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
    /// bus.publish(Ping(1)).unwrap(); // the audit queue is full now
    /// let stuck = bus.publisher();
    /// let t = std::thread::spawn(move || stuck.publish(Ping(2))); // waits for room, holding its turn
    /// # while bus.stats().published < 2 { std::thread::yield_now(); }
    /// # std::thread::sleep(Duration::from_millis(20));
    /// let err = bus.publish_timeout(Ping(3), Duration::from_millis(50)).unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.into_inner(), Ping(3));
    /// bus.close(); // releases the waiting publish
    /// # t.join().unwrap().unwrap();
    /// ```
    pub fn publish_timeout(
        &self,
        event: E,
        timeout: Duration,
    ) -> Result<Delivery, PublishError<E>> {
        publish::publish_timeout(&self.inner, &self.counter, &self.history, event, timeout)
    }

    /// Publishes `event`, awaiting its turn and room in full [`Block`](crate::Overflow::Block)
    /// queues instead of blocking the thread; see [`HistoryPublisher::publish_async`].
    pub fn publish_async(&self, event: E) -> super::PublishAsync<'_, E> {
        super::PublishAsync::new(&self.inner, &self.counter, &self.history, event)
    }

    /// Publishes `event` with the next sequence number without ever waiting on a subscriber,
    /// whatever its policy; see [`HistoryPublisher::try_publish`] (and what it says of its turn).
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{HistoryBus, Overflow};
    /// use fanout::error::TryRecvError;
    /// use fanout::history::Replay;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = HistoryBus::builder(8).build().unwrap();
    /// let mut audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
    /// bus.try_publish(Ping(1)).unwrap();
    /// // The audit queue is full and nobody reads it: `publish` would wait here.
    /// let full = bus.try_publish(Ping(2)).unwrap();
    /// assert_eq!((full.delivered(), full.dropped(), full.timed_out()), (0, 1, 1));
    /// assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(1)));
    /// assert_eq!(audit.try_recv().unwrap().into_parts(), (1, Ping(1)));
    /// // The history kept it, numbered: a late subscriber replays both.
    /// let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    /// assert_eq!(late.try_recv().unwrap().into_parts(), (1, Ping(1)));
    /// assert_eq!(late.try_recv().unwrap().into_parts(), (2, Ping(2)));
    /// ```
    pub fn try_publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        publish::try_publish(&self.inner, &self.counter, &self.history, event)
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
        publish::publish_with(&self.inner, &self.counter, &self.history, topic, make)
    }

    /// Publishes every event of `events` in order; see [`HistoryPublisher::publish_all`].
    ///
    /// # Errors
    ///
    /// As [`HistoryPublisher::publish_all`].
    pub fn publish_all(
        &self,
        events: impl IntoIterator<Item = E>,
    ) -> Result<Delivery, PublishError<E>> {
        Delivery::sum_of(events, |event| self.publish(event))
    }

    /// Publishes every event of `events` in one turn, with consecutive sequence numbers; see
    /// [`HistoryPublisher::publish_batch`].
    ///
    /// # Errors
    ///
    /// As [`HistoryPublisher::publish_batch`].
    pub fn publish_batch(&self, events: &mut Vec<E>) -> Result<Delivery, PublishError<Vec<E>>> {
        publish::publish_batch(&self.inner, &self.counter, &self.history, events)
    }
}

impl<E> HistoryBus<E> {
    /// Whether an event of `topic` would reach a subscriber or the history (one atomic load).
    pub fn is_interested(&self, topic: Topic) -> bool {
        publish::is_interested(&self.inner, &self.history, topic)
    }

    /// The union of every live subscriber's topics (the history's are not included).
    pub fn interest(&self) -> Topics {
        Topics::from_bits(self.inner.registry.interest())
    }

    /// The last sequence number given (0 before the first publish): what a client that has
    /// seen everything would pass to [`Replay::Since`](crate::history::Replay::Since).
    pub fn last_seq(&self) -> u64 {
        self.history.ring.lock().last_seq()
    }

    /// How many events the history holds now.
    pub fn history_len(&self) -> usize {
        self.history.ring.lock().len()
    }

    /// The most events the history holds.
    pub fn history_capacity(&self) -> usize {
        self.history.capacity
    }

    /// The topics whose events the history keeps.
    pub fn history_topics(&self) -> Topics {
        Topics::from_bits(self.history.topics)
    }

    /// Closes the bus, as [`Bus::close`](crate::Bus::close) does. The history stays, but a
    /// closed bus takes no new subscriber.
    pub fn close(&self) {
        self.inner.registry.close();
    }

    /// Closes the bus and waits, until `timeout` has passed at the latest, for every tap it owns
    /// (see [`TapHandle::detach`](crate::tap::TapHandle::detach); as [`Bus::shutdown`](crate::Bus::shutdown)) to handle everything queued and
    /// end: what a host calls at exit so that a lossless audit tap loses nothing.
    ///
    /// Taps that ended are joined and their reports returned; those still running at the
    /// deadline (a handler stuck in a slow write) stay owned by the bus, still draining, and are
    /// named in [`Shutdown::running`](crate::tap::Shutdown::running): call it again to wait
    /// longer. A tap whose handle you kept is yours to join. Handlers are dropped on this thread,
    /// with no lock held.
    #[cfg(not(loom))]
    pub fn shutdown(&self, timeout: std::time::Duration) -> crate::tap::Shutdown {
        self.close();
        self.inner.taps.join(timeout)
    }

    /// Whether the bus is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.registry.is_closed()
    }

    /// How many subscribers are registered.
    pub fn subscriber_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Counters for the bus and each registered subscriber; see [`Bus::stats`](crate::Bus::stats).
    /// A replayed event counts as delivered to its subscriber; `published` counts publishes,
    /// not replays.
    pub fn stats(&self) -> BusStats {
        BusStats::of(&self.inner)
    }
}

impl<E> Clone for HistoryBus<E> {
    fn clone(&self) -> Self {
        let (inner, counter) = Inner::acquire_handle(&self.inner);
        HistoryBus {
            inner,
            counter,
            history: std::sync::Arc::clone(&self.history),
        }
    }
}

impl<E> Drop for HistoryBus<E> {
    fn drop(&mut self) {
        self.inner.release_handle(&self.counter);
    }
}

impl<E> fmt::Debug for HistoryBus<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryBus")
            .field("subscribers", &self.subscriber_count())
            .field("history_capacity", &self.history_capacity())
            .field("history_topics", &self.history_topics())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<E: Event> EventSink<E> for HistoryBus<E> {
    fn emit(&self, event: E) {
        if self.publish(event).is_err() {
            self.inner.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn is_interested(&self, topic: Topic) -> bool {
        HistoryBus::is_interested(self, topic)
    }
}

/// Builds a [`HistoryBus`]: the history's size and topics, and the defaults of its subscribers.
///
/// # Examples
///
/// ```
/// use fanout::{topic, Bus, HistoryBus, Overflow, Topics};
/// use fanout::error::BuildError;
/// # #[derive(Clone)] struct Ev;
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// // Keep the last 500 events of every topic but token deltas (topic 3).
/// let bus = Bus::<Ev>::builder()
///     .overflow(Overflow::DropNewest)
///     .history(500)
///     .history_topics(Topics::ALL - topic!(3))
///     .build()
///     .unwrap();
/// assert_eq!(bus.history_capacity(), 500);
/// assert_eq!(HistoryBus::<Ev>::builder(0).build().unwrap_err(), BuildError::ZeroHistory);
/// ```
pub struct HistoryBusBuilder<E> {
    defaults: Defaults,
    events: usize,
    topics: Topics,
    _event: std::marker::PhantomData<fn(E)>,
}

impl<E: Event> HistoryBusBuilder<E> {
    pub(crate) fn new(defaults: Defaults, events: usize) -> Self {
        HistoryBusBuilder {
            defaults,
            events,
            topics: Topics::ALL,
            _event: std::marker::PhantomData,
        }
    }

    /// Keeps only events of these topics in the history (default: all). Events of other topics
    /// still get sequence numbers and reach live subscribers; they are never replayed.
    pub fn history_topics(mut self, topics: impl Into<Topics>) -> Self {
        self.topics = topics.into();
        self
    }

    /// The default queue capacity of this bus's subscribers (must be in `1..=MAX_CAPACITY`).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.defaults.capacity = capacity;
        self
    }

    /// The default overflow policy of this bus's subscribers.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.defaults.overflow = overflow;
        self
    }

    /// The default wait strategy of this bus's subscribers.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.defaults.wait = wait;
        self
    }

    /// Builds the bus (allocating the history's ring), or says which setting is nonsense.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroHistory`], [`BuildError::HistoryTooLarge`] (above
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY)), [`BuildError::OutOfMemory`] if the allocator
    /// refuses the ring, or a bad default capacity.
    pub fn build(self) -> Result<HistoryBus<E>, BuildError> {
        check_capacity(self.defaults.capacity)?;
        match self.events {
            0 => return Err(BuildError::ZeroHistory),
            n if n > MAX_CAPACITY => return Err(BuildError::HistoryTooLarge { requested: n }),
            _ => {}
        }
        let history = History::new(self.events, self.topics.bits())?;
        let inner = Inner::new(self.defaults);
        let counter = inner.new_counter();
        Ok(HistoryBus {
            inner,
            counter,
            history: std::sync::Arc::new(history),
        })
    }
}

impl<E> fmt::Debug for HistoryBusBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryBusBuilder")
            .field("defaults", &self.defaults)
            .field("events", &self.events)
            .field("topics", &self.topics)
            .finish()
    }
}
