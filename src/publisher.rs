//! [`Publisher`]: a publishing handle for one thread, and [`PublishAsync`], the future of its
//! asynchronous publish.
//
// The publish path itself is in `crate::fan_out`.

mod publish_async;

pub use publish_async::PublishAsync;

use std::fmt;
use std::time::Duration;

use crate::error::PublishError;
use crate::fan_out::{
    publish, publish_batch, publish_timeout, publish_with, try_publish, Delivery,
};
use crate::shared::{Inner, PublishCounter};
use crate::sync::{Arc, Ordering};
use crate::{Event, Topic};

/// A publishing handle: `Send + Sync + Clone`, cheap to clone (share one, or clone one per thread).
///
/// Every handle publishes into the same bus; the bus closes when the last `Bus` and `Publisher`
/// handle is gone (or on [`Bus::close`](crate::Bus::close)). Events from one publisher reach
/// each subscriber in the order they were published; events from different publishers have no
/// order relative to each other.
///
/// # Examples
///
/// ```
/// use fanout::{Bus, Topics};
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u32);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let mut sub = bus.subscribe(Topics::ALL);
/// let publisher = bus.publisher();
/// std::thread::spawn(move || {
///     for i in 0..3 {
///         publisher.publish(Ping(i)).unwrap();
///     }
/// })
/// .join()
/// .unwrap();
/// assert_eq!(sub.try_iter().map(Result::unwrap).collect::<Vec<_>>(), [Ping(0), Ping(1), Ping(2)]);
/// ```
pub struct Publisher<E> {
    inner: Arc<Inner<E>>,
    /// This handle's own publish counter (see `PublishCounter`).
    counter: Arc<PublishCounter>,
}

impl<E> Publisher<E> {
    pub(crate) fn new(inner: Arc<Inner<E>>, counter: Arc<PublishCounter>) -> Self {
        Publisher { inner, counter }
    }
}

impl<E: Event> Publisher<E> {
    /// Publishes `event` to every live subscriber whose topics contain `event.topic()` and whose
    /// filter accepts it.
    ///
    /// Never blocks unless a subscriber's policy is [`Overflow::Block`](crate::Overflow::Block) and its queue is full.
    /// Takes no lock, and allocates nothing beyond what cloning the event allocates. The event is
    /// moved into the last interested queue and cloned for the others.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Bus};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let publisher = bus.publisher();
    /// assert!(publisher.publish(Ping).unwrap().is_empty()); // no subscriber yet
    /// let _sub = bus.subscribe(topic!(0));
    /// assert_eq!(publisher.publish(Ping).unwrap().delivered(), 1);
    /// ```
    #[inline]
    pub fn publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        publish(&self.inner, &self.counter, event, None)
    }

    /// Publishes `event` like [`publish`](Self::publish), but where a subscriber's policy is
    /// [`Overflow::Block`](crate::Overflow::Block) and its queue is full, awaits room instead of
    /// blocking the thread: for publishing from async tasks, on any executor. Every other policy
    /// applies at once, as in `publish`; a publish nobody wants resolves at the first poll.
    ///
    /// Subscribers are served one after the other, so events published by one handle, each
    /// awaited before the next, reach every subscriber in order (FIFO per publisher). The
    /// consumer's receive wakes the waiting task (a `Block` subscriber pays one atomic swap per
    /// event received for this).
    ///
    /// If the bus is closed while the future waits, it stops waiting: a `Block` queue still full
    /// gets the event counted as lost (the subscriber reports it as `Lagged`), and the future
    /// resolves `Ok`, since the publish was accepted before the close.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed when the future was first
    /// polled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it resolves: subscribers already served keep the event; every
    /// interested subscriber not yet served gets it counted as lost and reports it as
    /// `Lagged`, so for every subscriber received + reported lost still equals published.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
    /// let publisher = bus.publisher();
    /// let consumer = std::thread::spawn(move || {
    ///     (0..3).map(|_| audit.recv().unwrap()).collect::<Vec<_>>()
    /// });
    /// futures_executor::block_on(async {
    ///     for i in 0..3 {
    ///         // The queue holds one event: the task awaits room, the thread stays free.
    ///         publisher.publish_async(Ping(i)).await.unwrap();
    ///     }
    /// });
    /// assert_eq!(consumer.join().unwrap(), [Ping(0), Ping(1), Ping(2)]);
    /// ```
    pub fn publish_async(&self, event: E) -> PublishAsync<'_, E> {
        PublishAsync::new(&self.inner, &self.counter, event)
    }

    /// Builds and publishes an event only if some live subscriber wants `topic`; otherwise
    /// `make` is never called and the cost is one atomic load.
    ///
    /// `topic` should be the topic of the event `make` returns; the event is still filtered by
    /// its own topic.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the built event, if the bus was closed (`make` is called
    /// so that the event can be handed back).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Bus};
    /// # #[derive(Clone)] struct Usage(String);
    /// # impl fanout::Event for Usage { fn topic(&self) -> fanout::Topic { fanout::topic!(4) } }
    /// let bus = Bus::new();
    /// let mut built = 0;
    /// bus.publish_with(topic!(4), || { built += 1; Usage(format!("{} tokens", 12)) }).unwrap();
    /// assert_eq!(built, 0); // nobody listens to topic 4: the String was never formatted
    /// ```
    #[inline]
    pub fn publish_with(
        &self,
        topic: Topic,
        make: impl FnOnce() -> E,
    ) -> Result<Delivery, PublishError<E>> {
        publish_with(&self.inner, &self.counter, topic, make)
    }

    /// Like [`publish`](Self::publish), but spends at most `timeout` in total blocked on full
    /// [`Overflow::Block`](crate::Overflow::Block) subscribers. A `Block` subscriber still full at the deadline does not
    /// get the event: it is counted as lost for that subscriber (reported to it as `Lagged`) and
    /// in [`Delivery::timed_out`].
    ///
    /// Before it parks, a publish that finds a `Block` queue full retries for a few microseconds
    /// (spins, then a few yields: the consumer is usually draining it). Once the deadline has
    /// passed it does not: a `Duration::ZERO` timeout never waits, not even for that, and is
    /// [`try_publish`](Self::try_publish) with a clock read.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fanout::{Bus, Overflow};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
    /// bus.publish(Ping(1)).unwrap();
    /// let late = bus.publish_timeout(Ping(2), Duration::from_millis(1)).unwrap();
    /// assert_eq!(late.timed_out(), 1);
    /// assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(1))); // Ping(2) never made it
    /// assert_eq!(audit.try_recv(), Ok(Ping(1)));
    /// ```
    pub fn publish_timeout(
        &self,
        event: E,
        timeout: Duration,
    ) -> Result<Delivery, PublishError<E>> {
        publish_timeout(&self.inner, &self.counter, event, timeout)
    }

    /// Publishes `event` without ever waiting, whatever the subscribers' policies: for a hot
    /// loop that must never block (an agent loop's `emit`).
    ///
    /// Every policy but [`Overflow::Block`](crate::Overflow::Block) applies as in
    /// [`publish`](Self::publish) (none of them waits). A `Block` subscriber whose queue is full
    /// does not get the event: it is counted as lost for that subscriber, which receives
    /// `Lagged` for it in its stream, and in [`Delivery::dropped`] and [`Delivery::timed_out`],
    /// exactly as a [`publish_timeout`](Self::publish_timeout) whose deadline has passed. The
    /// event is not handed back: the other subscribers may have it already, and a publish is
    /// all or nothing only for a closed bus. A `Block` subscriber is lossless only for the
    /// publishes that may wait; mixing the two on one bus is fine, each publish keeps its own
    /// promise.
    ///
    /// Costs what `publish` costs (no clock read: that is left to a full `Block` queue).
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
    /// let publisher = bus.publisher();
    /// publisher.try_publish(Ping(1)).unwrap();
    /// // The queue is full and nobody reads it: `publish` would wait here, `try_publish` does not.
    /// let full = publisher.try_publish(Ping(2)).unwrap();
    /// assert_eq!((full.delivered(), full.dropped(), full.timed_out()), (0, 1, 1));
    /// assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(1)));
    /// assert_eq!(audit.try_recv(), Ok(Ping(1)));
    /// ```
    #[inline]
    pub fn try_publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        try_publish(&self.inner, &self.counter, event)
    }

    /// Publishes every event of `events` in order, stopping at the first error (which hands back
    /// the event that failed; the rest are not consumed). Returns the sum of the deliveries.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the first event that could not be published. An empty
    /// `events` has no event to hand back, so it returns `Ok` with an empty [`Delivery`] even on
    /// a closed bus; [`publish_batch`](Self::publish_batch), which owns a vector it can hand
    /// back, reports a closed bus even for an empty batch. Check
    /// [`is_closed`](Self::is_closed) if that matters.
    pub fn publish_all(
        &self,
        events: impl IntoIterator<Item = E>,
    ) -> Result<Delivery, PublishError<E>> {
        Delivery::sum_of(events, |event| self.publish(event))
    }

    /// Publishes every event of `events` in order, draining the vector (its allocation is kept,
    /// so a caller that reuses it allocates nothing per batch).
    ///
    /// Same delivery as calling [`publish`](Self::publish) for each event in turn, FIFO per
    /// subscriber included, but the batch is handed to one subscriber after the other: each
    /// subscriber's queue is touched in one run of writes instead of once per event, which keeps
    /// its lines in the publisher's cache. Different subscribers may see the batch at different
    /// moments (there is no order across subscribers anyway). The batch loads the subscriber
    /// table once: [`stats`](crate::Bus::stats)' `published` counts the events whose topic some
    /// subscriber of that table wanted, even one the batch itself cut off before reaching them. The last subscriber that wants any
    /// event of the batch gets the originals; an event it does not want is cloned for the
    /// subscribers that do.
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with all the events, if the bus was closed; nothing was published.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut all = bus.subscribe(Topics::ALL);
    /// let mut odd = bus.subscriber().filter(|p: &Ping| p.0 % 2 == 1).build().unwrap();
    /// let publisher = bus.publisher();
    /// let mut batch = vec![Ping(1), Ping(2), Ping(3)];
    /// assert_eq!(publisher.publish_batch(&mut batch).unwrap().delivered(), 5);
    /// assert!(batch.is_empty()); // drained, capacity kept for the next batch
    /// assert_eq!(all.try_iter().map(Result::unwrap).collect::<Vec<_>>(), [Ping(1), Ping(2), Ping(3)]);
    /// assert_eq!(odd.try_iter().map(Result::unwrap).collect::<Vec<_>>(), [Ping(1), Ping(3)]);
    /// assert_eq!(bus.stats().published, 3);
    /// bus.close();
    /// let mut late = vec![Ping(4)];
    /// assert_eq!(publisher.publish_batch(&mut late).unwrap_err().into_inner(), [Ping(4)]);
    /// ```
    pub fn publish_batch(&self, events: &mut Vec<E>) -> Result<Delivery, PublishError<Vec<E>>> {
        publish_batch(&self.inner, &self.counter, events)
    }

    /// Whether some live subscriber wants `topic` (one atomic load).
    #[inline]
    pub fn is_interested(&self, topic: Topic) -> bool {
        self.inner.registry.interest() & topic.bit() != 0
    }

    /// Whether the bus is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.registry.is_closed()
    }
}

impl<E> Publisher<E> {
    /// Counts an event `EventSink::emit` could not hand back (the bus was closed).
    pub(crate) fn rejected(&self) {
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
    }
}

impl<E> Clone for Publisher<E> {
    fn clone(&self) -> Self {
        let (inner, counter) = Inner::acquire_handle(&self.inner);
        Publisher { inner, counter }
    }
}

impl<E> Drop for Publisher<E> {
    fn drop(&mut self) {
        self.inner.release_handle(&self.counter);
    }
}

impl<E> fmt::Debug for Publisher<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("closed", &self.inner.registry.is_closed())
            .finish()
    }
}
