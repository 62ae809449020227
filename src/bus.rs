//! [`Bus`]: the handle that owns the subscriber table, its [`BusBuilder`], its weak handle
//! [`WeakBus`] and the [`NoSubscribers`] future.

use std::fmt;
use std::time::Duration;

mod no_subscribers;
mod weak;

#[cfg(not(loom))]
use no_subscribers::wait_no_subscribers;
pub use no_subscribers::NoSubscribers;
pub use weak::WeakBus;

use crate::capacity::DEFAULT_CAPACITY;
use crate::error::{BuildError, PublishError};
use crate::fan_out::{self, Delivery};
use crate::history::HistoryBusBuilder;
use crate::publisher::PublishAsync;
use crate::publisher::Publisher;
use crate::shared::{check_capacity, Defaults, Inner, PublishCounter};
use crate::stats::BusStats;
use crate::subscriber::{Subscriber, SubscriberBuilder};
use crate::sync::Arc;
use crate::{Event, Overflow, Topic, Topics, WaitStrategy};

/// A fan-out event bus: every published event goes to every subscriber whose topics (and filter)
/// want it, through that subscriber's own bounded queue.
///
/// `Bus` is a cheap handle: clones share one bus. The bus closes when [`close`](Self::close) is
/// called or when the last `Bus` and [`Publisher`] handle is dropped; subscribers then drain what
/// is queued and see [`RecvError::Disconnected`](crate::error::RecvError::Disconnected).
///
/// # Examples
///
/// ```
/// use fanout::{topic, Bus, Event, Topic, Topics};
///
/// #[derive(Clone, Debug, PartialEq)]
/// enum Ev { Tool(&'static str), Token(char) }
/// const TOOL: Topic = topic!(0);
/// const TOKEN: Topic = topic!(1);
/// impl Event for Ev {
///     fn topic(&self) -> Topic {
///         match self { Ev::Tool(_) => TOOL, Ev::Token(_) => TOKEN }
///     }
/// }
///
/// let bus = Bus::new();
/// let mut audit = bus.subscribe(Topics::ALL - TOKEN);
/// let mut ui = bus.subscribe(Topics::ALL);
///
/// let delivery = bus.publish(Ev::Token('h')).unwrap();
/// assert_eq!(delivery.delivered(), 1); // only the UI wants tokens
/// bus.publish(Ev::Tool("grep")).unwrap();
///
/// assert_eq!(audit.recv(), Ok(Ev::Tool("grep")));
/// assert_eq!(ui.recv(), Ok(Ev::Token('h')));
/// assert_eq!(ui.recv(), Ok(Ev::Tool("grep")));
/// ```
pub struct Bus<E> {
    pub(crate) inner: Arc<Inner<E>>,
    counter: Arc<PublishCounter>,
}

impl<E: Event> Bus<E> {
    /// A bus whose subscribers default to a capacity of 256, [`Overflow::DropOldest`] and
    /// [`WaitStrategy::Park`].
    pub fn new() -> Self {
        Bus::with_defaults(Defaults {
            capacity: DEFAULT_CAPACITY,
            overflow: Overflow::DropOldest,
            wait: WaitStrategy::Park,
        })
    }

    /// A builder for a bus with defaults of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::<Ping>::builder().capacity(1024).overflow(Overflow::Block).build().unwrap();
    /// let sub = bus.subscribe(fanout::Topics::ALL);
    /// assert_eq!(sub.capacity(), 1024);
    /// ```
    pub fn builder() -> BusBuilder<E> {
        BusBuilder {
            defaults: Defaults {
                capacity: DEFAULT_CAPACITY,
                overflow: Overflow::DropOldest,
                wait: WaitStrategy::Park,
            },
            _event: std::marker::PhantomData,
        }
    }

    /// A builder for a tap: a subscriber consumed by a handler on a thread of its own, which
    /// survives the handler's panics; see [`TapBuilder`](crate::tap::TapBuilder).
    #[cfg(not(loom))]
    pub fn tap(&self) -> crate::tap::TapBuilder<E> {
        crate::tap::TapBuilder::new(self.subscriber(), &self.inner.taps)
    }

    /// A new publishing handle (`Clone + Send`) for another thread.
    pub fn publisher(&self) -> Publisher<E> {
        let (inner, counter) = Inner::acquire_handle(&self.inner);
        Publisher::new(inner, counter)
    }

    /// Publishes `event` to every interested subscriber; see [`Publisher::publish`].
    pub fn publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        fan_out::publish(&self.inner, &self.counter, event, None)
    }

    /// Publishes `event`, awaiting room in full [`Overflow::Block`] queues instead of blocking
    /// the thread; see [`Publisher::publish_async`].
    pub fn publish_async(&self, event: E) -> PublishAsync<'_, E> {
        PublishAsync::new(&self.inner, &self.counter, event)
    }

    /// Publishes the event built by `make` if some subscriber wants `topic`, and never calls
    /// `make` otherwise; see [`Publisher::publish_with`].
    pub fn publish_with(
        &self,
        topic: Topic,
        make: impl FnOnce() -> E,
    ) -> Result<Delivery, PublishError<E>> {
        fan_out::publish_with(&self.inner, &self.counter, topic, make)
    }

    /// Publishes without ever waiting, whatever the subscribers' policies; see
    /// [`Publisher::try_publish`].
    ///
    /// # Errors
    ///
    /// [`PublishError::Closed`] with the event, if the bus was closed.
    #[inline]
    pub fn try_publish(&self, event: E) -> Result<Delivery, PublishError<E>> {
        fan_out::try_publish(&self.inner, &self.counter, event)
    }

    /// Publishes, bounding the time spent blocked on [`Overflow::Block`] subscribers; see
    /// [`Publisher::publish_timeout`].
    pub fn publish_timeout(
        &self,
        event: E,
        timeout: Duration,
    ) -> Result<Delivery, PublishError<E>> {
        fan_out::publish_timeout(&self.inner, &self.counter, event, timeout)
    }
}

impl<E> Bus<E> {
    /// A bus with these defaults, for any event type (the [`broadcast`](crate::broadcast)
    /// channel's values need no [`Event`] impl: it names their topic itself).
    pub(crate) fn with_defaults(defaults: Defaults) -> Self {
        let inner = Inner::new(defaults);
        let counter = inner.new_counter();
        Bus { inner, counter }
    }

    /// A weak handle: it subscribes, reads stats and waits for subscribers to leave like a `Bus`,
    /// but does not keep the bus open. [`WeakBus::upgrade`] gives a `Bus` back while some `Bus`
    /// or [`Publisher`] handle is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// use fanout::error::RecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::<Ping>::new();
    /// let weak = bus.downgrade();
    /// let mut sub = weak.subscribe(Topics::ALL); // a weak handle subscribes
    /// assert!(weak.upgrade().is_some());
    /// drop(bus); // the last strong handle: the bus closes, the weak handle does not hold it open
    /// assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    /// assert!(weak.upgrade().is_none());
    /// assert!(weak.is_closed());
    /// ```
    pub fn downgrade(&self) -> WeakBus<E> {
        WeakBus {
            inner: Inner::acquire_weak(&self.inner),
        }
    }

    /// A future that completes once no subscriber is registered (at once if none is): every
    /// subscriber was dropped (or cut off by [`Overflow::Disconnect`]), or the bus was closed.
    /// A subscriber that joins before the future is polled again keeps it waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::<Ping>::new();
    /// let sub = bus.subscribe(Topics::ALL);
    /// let consumer = std::thread::spawn(move || drop(sub)); // the last subscriber leaves
    /// futures_executor::block_on(bus.no_subscribers());
    /// assert_eq!(bus.subscriber_count(), 0);
    /// # consumer.join().unwrap();
    /// ```
    pub fn no_subscribers(&self) -> NoSubscribers<'_, E> {
        NoSubscribers {
            registry: &self.inner.registry,
        }
    }

    /// Live `Bus` and [`Publisher`] handles (this one included): the bus closes when the last
    /// goes.
    pub fn strong_count(&self) -> usize {
        self.inner.handle_count()
    }

    /// Live [`WeakBus`] handles.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }

    /// Whether both handles are of the same bus.
    pub fn same_bus(&self, other: &Bus<E>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Blocks the thread until no subscriber is registered; see
    /// [`no_subscribers`](Self::no_subscribers).
    #[cfg(not(loom))]
    pub fn wait_no_subscribers(&self) {
        wait_no_subscribers(&self.inner.registry);
    }

    /// Subscribes to `topics` with the bus's defaults.
    ///
    /// On a closed bus the subscriber is born disconnected: its first `recv` returns
    /// [`RecvError::Disconnected`](crate::error::RecvError::Disconnected).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Bus, Topics};
    /// use fanout::error::RecvError;
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::<Ping>::new();
    /// let mut sub = bus.subscribe(topic!(0) | topic!(3));
    /// assert_eq!(sub.topics(), topic!(0) | topic!(3));
    /// bus.close();
    /// assert_eq!(sub.recv().err(), Some(RecvError::Disconnected));
    /// ```
    pub fn subscribe(&self, topics: impl Into<Topics>) -> Subscriber<E> {
        let builder = self.subscriber().topics(topics);
        builder.build_or_disconnected()
    }

    /// A builder for a subscriber with its own topics, capacity, overflow policy, name, filter and
    /// wait strategy.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow, Topics};
    /// #[derive(Clone)] struct Msg { session: u32 }
    /// # impl fanout::Event for Msg { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut mine = bus
    ///     .subscriber()
    ///     .topics(Topics::ALL)
    ///     .capacity(64)
    ///     .overflow(Overflow::DropNewest)
    ///     .name("session-7 tab")
    ///     .filter(|m: &Msg| m.session == 7)
    ///     .build()
    ///     .unwrap();
    /// bus.publish(Msg { session: 8 }).unwrap();
    /// bus.publish(Msg { session: 7 }).unwrap();
    /// assert_eq!(mine.try_recv().unwrap().session, 7);
    /// assert!(mine.try_recv().is_err());
    /// ```
    pub fn subscriber(&self) -> SubscriberBuilder<E> {
        SubscriberBuilder::new(Arc::clone(&self.inner))
    }

    /// The union of every live subscriber's topics: a publish of any other topic does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Bus, Topics};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::<Ping>::new();
    /// assert_eq!(bus.interest(), Topics::NONE);
    /// let sub = bus.subscribe(topic!(2));
    /// assert!(bus.interest().contains(topic!(2)));
    /// drop(sub);
    /// assert_eq!(bus.interest(), Topics::NONE);
    /// ```
    pub fn interest(&self) -> Topics {
        Topics::from_bits(self.inner.registry.interest())
    }

    /// Whether some live subscriber wants `topic` (one atomic load).
    pub fn is_interested(&self, topic: Topic) -> bool {
        self.inner.registry.interest() & topic.bit() != 0
    }

    /// Closes the bus: later publishes hand their event back as [`PublishError::Closed`], and
    /// every subscriber receives what was already accepted, then
    /// [`RecvError::Disconnected`](crate::error::RecvError::Disconnected). A publish running during the
    /// close either delivers fully or is rejected. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// use fanout::error::RecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// bus.publish(Ping(1)).unwrap();
    /// bus.close();
    /// assert!(bus.publish(Ping(2)).is_err());
    /// assert_eq!(sub.recv(), Ok(Ping(1)));
    /// assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    /// ```
    pub fn close(&self) {
        self.inner.registry.close();
    }

    /// Closes the bus and waits, until `timeout` has passed at the latest, for every tap it owns
    /// (see [`TapHandle::detach`](crate::tap::TapHandle::detach)) to handle everything queued and
    /// end: what a host calls at exit so that a lossless audit tap loses nothing.
    ///
    /// Taps that ended are joined and their reports returned; those still running at the
    /// deadline (a handler stuck in a slow write) stay owned by the bus, still draining, and are
    /// named in [`Shutdown::running`](crate::tap::Shutdown::running): call it again to wait
    /// longer. A tap whose handle you kept is yours to join. Handlers are dropped on this thread,
    /// with no lock held.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fanout::{Bus, Overflow};
    /// use fanout::tap::{Received, TapEnd};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut written = 0;
    /// bus.tap()
    ///     .name("audit")
    ///     .overflow(Overflow::Block)
    ///     .spawn(move |item| {
    ///         if let Received::Event(Ping) = item {
    ///             written += 1; // write the line
    ///         }
    ///     })
    ///     .unwrap()
    ///     .detach(); // the bus owns it now
    /// for _ in 0..100 {
    ///     bus.publish(Ping).unwrap();
    /// }
    /// let done = bus.shutdown(Duration::from_secs(10));
    /// assert!(done.running.is_empty());
    /// assert_eq!((done.reports[0].end, done.reports[0].stats.events), (TapEnd::Closed, 100));
    /// ```
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

    /// Counters for the bus and each registered subscriber (a snapshot: they move while events
    /// flow, and are exact once the bus is quiet).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let _ui = bus.subscriber().name("ui").capacity(1).overflow(Overflow::DropNewest).build().unwrap();
    /// bus.publish(Ping).unwrap();
    /// bus.publish(Ping).unwrap();
    /// let stats = bus.stats();
    /// assert_eq!(stats.published, 2);
    /// let ui = &stats.subscribers[0];
    /// assert_eq!((ui.name.as_str(), ui.enqueued, ui.dropped, ui.queued), ("ui", 1, 1, 1));
    /// ```
    pub fn stats(&self) -> BusStats {
        BusStats::of(&self.inner)
    }
}

impl<E: Event> Default for Bus<E> {
    fn default() -> Self {
        Bus::new()
    }
}

impl<E> Clone for Bus<E> {
    fn clone(&self) -> Self {
        let (inner, counter) = Inner::acquire_handle(&self.inner);
        Bus { inner, counter }
    }
}

impl<E> Bus<E> {
    /// A handle from a registered handle count and its publish counter.
    pub(crate) fn from_parts(inner: Arc<Inner<E>>, counter: Arc<PublishCounter>) -> Self {
        Bus { inner, counter }
    }

    /// This handle's publish counter (for the `broadcast` sender's publish path).
    pub(crate) fn counter(&self) -> &PublishCounter {
        &self.counter
    }
}

impl<E> Drop for Bus<E> {
    fn drop(&mut self) {
        self.inner.release_handle(&self.counter);
    }
}

impl<E> fmt::Debug for Bus<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("subscribers", &self.subscriber_count())
            .field("interest", &self.interest())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Builds a [`Bus`] with defaults of its own for the subscribers it will have.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fanout::{Bus, Overflow, WaitStrategy};
/// use fanout::error::BuildError;
/// # #[derive(Clone)] struct Ping;
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::<Ping>::builder()
///     .capacity(4096)
///     .overflow(Overflow::DropNewest)
///     .wait(WaitStrategy::SpinThenPark(Duration::from_micros(50)))
///     .build()
///     .unwrap();
/// # drop(bus);
/// assert_eq!(Bus::<Ping>::builder().capacity(0).build().unwrap_err(), BuildError::ZeroCapacity);
/// ```
pub struct BusBuilder<E> {
    defaults: Defaults,
    _event: std::marker::PhantomData<fn(E)>,
}

impl<E: Event> BusBuilder<E> {
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

    /// Gives the bus a history of the last `events` events, with sequence numbers and replay
    /// for late subscribers: the builder of a [`HistoryBus`](crate::HistoryBus) (see
    /// [History and replay](crate#history-and-replay)). A plain `Bus` pays nothing for this.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::Bus;
    /// use fanout::history::Replay;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::builder().capacity(64).history(100).build().unwrap();
    /// bus.publish(Ping(1)).unwrap();
    /// let mut late = bus.subscriber().replay(Replay::Tail(10)).build().unwrap();
    /// let first = late.try_recv().unwrap();
    /// assert_eq!((first.seq(), first.event()), (1, &Ping(1)));
    /// ```
    pub fn history(self, events: usize) -> HistoryBusBuilder<E> {
        HistoryBusBuilder::new(self.defaults, events)
    }

    /// Builds the bus, or says which setting is nonsense.
    pub fn build(self) -> Result<Bus<E>, BuildError> {
        check_capacity(self.defaults.capacity)?;
        Ok(Bus::with_defaults(self.defaults))
    }
}

impl<E> fmt::Debug for BusBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusBuilder")
            .field("defaults", &self.defaults)
            .finish()
    }
}
