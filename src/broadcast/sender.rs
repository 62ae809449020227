//! [`Sender`] and [`WeakSender`]: the sending half of the channel, over a [`Bus`].

use std::fmt;

use crate::bus::{NoSubscribers, WeakBus};
use crate::capacity::MAX_CAPACITY;
use crate::fan_out;
use crate::shared::Defaults;
use crate::subscriber::SubscriberBuilder;
use crate::sync::Arc;
use crate::{topic, Bus, Event, Overflow, Topic, Topics, WaitStrategy};

use super::error::SendError;
use super::Receiver;

/// The topic of every value a channel made by [`channel`](super::channel) carries: its
/// receivers subscribe to all topics, so any one would do.
fn one_topic<T>(_: &T) -> Topic {
    topic!(0)
}

/// The sending half of a [`broadcast`](super) channel: `tokio::sync::broadcast::Sender`'s API.
///
/// A cheap handle (`Clone`, `Send + Sync`): clones share the channel. The channel closes when
/// the last `Sender` is dropped ([`WeakSender`]s do not count); receivers then drain what they
/// have and get [`Closed`](super::error::RecvError::Closed).
///
/// It is a [`Bus`] handle underneath: [`bus`](Self::bus) reaches the full API (stats, close,
/// subscribers with topics, names and wait strategies), and a `Bus` of an [`Event`] type
/// becomes a `Sender` with `From`.
///
/// # Examples
///
/// ```
/// use fanout::broadcast;
/// # futures_executor::block_on(async {
/// let (tx, mut rx1) = broadcast::channel(16);
/// let mut rx2 = tx.subscribe();
/// assert_eq!(tx.send(10).unwrap(), 2); // the number of receivers
/// assert_eq!(rx1.recv().await, Ok(10));
/// assert_eq!(rx2.recv().await, Ok(10));
/// # });
/// ```
pub struct Sender<T> {
    bus: Bus<T>,
    topic: fn(&T) -> Topic,
}

/// Checks a channel's capacity as tokio does (panics on 0 and above the limit) and rounds it up
/// to a power of two, as tokio's ring does.
#[track_caller]
fn ring_capacity(capacity: usize) -> usize {
    assert!(capacity > 0, "broadcast channel capacity cannot be zero");
    assert!(
        capacity <= MAX_CAPACITY,
        "broadcast channel capacity exceeded `fanout::MAX_CAPACITY` ({MAX_CAPACITY})"
    );
    capacity.next_power_of_two()
}

impl<T: Clone + Send + 'static> Sender<T> {
    /// A sender with no receiver yet: [`subscribe`](Self::subscribe) makes them. Each receiver
    /// holds `capacity` values, rounded up to a power of two.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0 or above [`MAX_CAPACITY`](crate::MAX_CAPACITY) (2^24: every receiver's
    /// queue is allocated up front).
    #[track_caller]
    pub fn new(capacity: usize) -> Self {
        let capacity = ring_capacity(capacity);
        Sender {
            bus: Bus::with_defaults(Defaults {
                capacity,
                overflow: Overflow::DropOldest,
                wait: WaitStrategy::Park,
            }),
            topic: one_topic::<T>,
        }
    }

    /// Sends `value` to every receiver; returns how many receivers there are.
    ///
    /// Never waits, unless a receiver was built with [`Overflow::Block`] (then it waits for room
    /// in that receiver's queue, blocking the thread). A receiver whose queue is full loses its
    /// oldest value and is told so by [`Lagged`](super::error::RecvError::Lagged): only that
    /// receiver, the others are not affected.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if there is no receiver (or the channel was closed through
    /// [`Bus::close`]). A receiver may subscribe later: a send then succeeds again.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let bit = (self.topic)(&value).bit();
        fan_out::send(&self.bus.inner, self.bus.counter(), value, bit).map_err(SendError)
    }

    /// A new receiver, which gets every value sent after this returns.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver::from(self.bus.subscribe(Topics::ALL))
    }

    /// A builder for a receiver with settings of its own: capacity, [`Overflow`] policy (a
    /// lossless [`Block`](Overflow::Block) receiver), filter, name, wait strategy; turn what it
    /// builds into a [`Receiver`] with `From` / `into()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{broadcast, Overflow};
    /// let (tx, _rx) = broadcast::channel::<u32>(2);
    /// let mut audit: broadcast::Receiver<u32> =
    ///     tx.subscriber().capacity(1024).overflow(Overflow::Block).build().unwrap().into();
    /// let mut evens: broadcast::Receiver<u32> =
    ///     tx.subscriber().filter(|v| v % 2 == 0).build().unwrap().into();
    /// for i in 0..10 {
    ///     tx.send(i).unwrap();
    /// }
    /// assert_eq!(audit.len(), 10); // nothing lost: its own queue is large enough
    /// // 0, 2, 4, 6, 8 passed its filter; its capacity is the channel's, 2: the oldest are gone.
    /// assert_eq!(evens.try_recv(), Err(broadcast::error::TryRecvError::Lagged(3)));
    /// assert_eq!(evens.try_recv(), Ok(6));
    /// ```
    pub fn subscriber(&self) -> SubscriberBuilder<T> {
        self.bus.subscriber()
    }
}

impl<T> Sender<T> {
    /// How many receivers there are (receivers dropped, or cut off by
    /// [`Overflow::Disconnect`], are not counted).
    pub fn receiver_count(&self) -> usize {
        self.bus.subscriber_count()
    }

    /// How many values the slowest receiver has not received yet (at most its capacity):
    /// what tokio calls the values still queued in the channel.
    pub fn len(&self) -> usize {
        self.bus.inner.registry.max_queued()
    }

    /// Whether every receiver has received everything sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether both senders are of the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.bus.inner, &other.bus.inner)
    }

    /// A future that completes once there is no receiver (at once if there is none): the
    /// future of [`Bus::no_subscribers`]. A receiver that subscribes before it is polled again
    /// keeps it waiting.
    pub fn closed(&self) -> NoSubscribers<'_, T> {
        self.bus.no_subscribers()
    }

    /// A weak handle: it does not keep the channel open.
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            weak: self.bus.downgrade(),
            topic: self.topic,
        }
    }

    /// How many `Sender`s there are (and other strong handles of the bus: `Bus`, `Publisher`).
    pub fn strong_count(&self) -> usize {
        self.bus.inner.handle_count()
    }

    /// How many [`WeakSender`]s there are (and `WeakBus` handles).
    pub fn weak_count(&self) -> usize {
        self.bus.inner.weak_count()
    }

    /// The bus underneath, with the full API: [`stats`](Bus::stats),
    /// [`close`](Bus::close), subscribers of some topics only. Cloning it makes a strong handle.
    pub fn bus(&self) -> &Bus<T> {
        &self.bus
    }
}

/// A bus of an [`Event`] type as a channel's sender: `send` publishes each value on its topic
/// (receivers made by [`subscribe`](Sender::subscribe) want them all), so code written for the
/// channel and code using topics share one bus.
///
/// # Examples
///
/// ```
/// use fanout::{broadcast, topic, Bus, Event, Topic};
/// #[derive(Clone, Debug, PartialEq)]
/// enum Ev { Token(char), Done }
/// impl Event for Ev {
///     fn topic(&self) -> Topic {
///         match self { Ev::Token(_) => topic!(0), Ev::Done => topic!(1) }
///     }
/// }
/// let bus = Bus::new();
/// let mut lifecycle = bus.subscribe(topic!(1)); // topics, on the Bus API
/// let tx = broadcast::Sender::from(bus);
/// let mut everything = tx.subscribe(); // the channel API
/// tx.send(Ev::Token('h')).unwrap();
/// tx.send(Ev::Done).unwrap();
/// assert_eq!(lifecycle.try_recv(), Ok(Ev::Done));
/// assert_eq!(everything.try_recv(), Ok(Ev::Token('h')));
/// ```
impl<T: Event> From<Bus<T>> for Sender<T> {
    fn from(bus: Bus<T>) -> Self {
        Sender {
            bus,
            topic: T::topic,
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            bus: self.bus.clone(),
            topic: self.topic,
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Sender")
    }
}

/// A sender that does not keep the channel open: made by [`Sender::downgrade`].
pub struct WeakSender<T> {
    weak: WeakBus<T>,
    topic: fn(&T) -> Topic,
}

impl<T> WeakSender<T> {
    /// A `Sender`, if one is still alive (`None` once the last is gone: a closed channel is
    /// never reopened).
    pub fn upgrade(&self) -> Option<Sender<T>> {
        Some(Sender {
            bus: self.weak.upgrade()?,
            topic: self.topic,
        })
    }

    /// How many `Sender`s there are.
    pub fn strong_count(&self) -> usize {
        self.weak.strong_count()
    }

    /// How many `WeakSender`s there are, this one included.
    pub fn weak_count(&self) -> usize {
        self.weak.weak_count()
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        WeakSender {
            weak: self.weak.clone(),
            topic: self.topic,
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::WeakSender")
    }
}
