//! [`SubscriberBuilder`]: a subscriber with settings of its own.

use std::fmt;

use crossbeam_utils::CachePadded;

use crate::error::BuildError;
use crate::fan_out::lanes::Lanes;
use crate::loss::LossCounter;
use crate::notify::{WakerList, WakerSlot};
use crate::queue;
use crate::registry::{Entry, Filter, SubscriberId, SubscriberState};
use crate::shared::{check_capacity, Inner};
use crate::subscriber::lanes::LaneEnds;
use crate::subscriber::SubscriberParts;
use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize};
use crate::{key, Key, Overflow, Subscriber, Topics, WaitStrategy};

/// Builds a [`Subscriber`] with its own topics, capacity, overflow policy, name, filter and wait
/// strategy; made by [`Bus::subscriber`](crate::Bus::subscriber). Settings left alone take the
/// bus's defaults; topics default to [`Topics::ALL`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fanout::{topic, Bus, Overflow, WaitStrategy};
/// # #[derive(Clone)] struct Ev { run: u64 }
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::<Ev>::new();
/// let sub = bus
///     .subscriber()
///     .topics(topic!(0) | topic!(2))
///     .capacity(1024)
///     .overflow(Overflow::Block)
///     .name("audit")
///     .filter(|e: &Ev| e.run == 42)
///     .wait(WaitStrategy::SpinThenPark(Duration::from_micros(20)))
///     .build()
///     .unwrap();
/// assert_eq!(sub.name(), "audit");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct SubscriberBuilder<E> {
    inner: Arc<Inner<E>>,
    topics: Topics,
    capacity: usize,
    overflow: Overflow,
    wait: WaitStrategy,
    name: Option<String>,
    filter: Option<std::sync::Arc<Filter<E>>>,
    /// `None`: unkeyed. Checked (and sorted, deduplicated) by `check`.
    keys: Option<Vec<Key>>,
    /// Topics never evicted (`DropOldest` only; checked by `check`). Empty: one queue.
    lossless: Topics,
}

impl<E> SubscriberBuilder<E> {
    pub(crate) fn new(inner: Arc<Inner<E>>) -> Self {
        let defaults = inner.defaults;
        SubscriberBuilder {
            inner,
            topics: Topics::ALL,
            capacity: defaults.capacity,
            overflow: defaults.overflow,
            wait: defaults.wait,
            name: None,
            filter: None,
            keys: None,
            lossless: Topics::NONE,
        }
    }

    /// The topics to receive (default: all).
    pub fn topics(mut self, topics: impl Into<Topics>) -> Self {
        self.topics = topics.into();
        self
    }

    /// The queue's capacity, in `1..=MAX_CAPACITY` (default: the bus's, 256 unless set).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// What a publish does when the queue is full (default: the bus's, `DropOldest` unless set).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// How blocking receives wait (default: the bus's, `Park` unless set).
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// A name for stats and debugging (default: `subscriber-<id>`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A predicate the *publisher* runs after the topic test, before enqueuing: events it rejects
    /// never reach this queue and are not counted as lost. It runs on the publishing thread, so
    /// keep it short and never block or publish in it. For per-session or per-connection
    /// targeting among many subscribers, a [`key`](Self::key) costs a publish one lookup where
    /// filters cost it one call per subscriber; a filter on top of a key runs only on that key's
    /// events.
    pub fn filter(mut self, filter: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(std::sync::Arc::new(filter));
        self
    }

    /// The filter of the subscriber being resubscribed, shared.
    pub(crate) fn set_filter(&mut self, filter: Option<std::sync::Arc<Filter<E>>>) {
        self.filter = filter;
    }

    /// Makes this a keyed subscriber of `key`: of the events that name a key
    /// ([`Event::key`](crate::Event::key)), it is offered only those of `key`; it is still offered every unkeyed
    /// event. Its topics, filter and overflow policy apply to what it is offered as usual. A
    /// publish of a key costs nothing for the subscribers of other keys: use it instead of a
    /// [`filter`](Self::filter) for per-session, per-connection or per-run targeting (see
    /// [`crate::key`]). Replaces keys set before.
    ///
    /// ```
    /// use fanout::{topic, Bus, Event, Key, Topic};
    /// #[derive(Clone, Debug, PartialEq)]
    /// struct Line { tab: u64 }
    /// impl Event for Line {
    ///     fn topic(&self) -> Topic { topic!(0) }
    ///     fn key(&self) -> Option<Key> { Some(Key::from(self.tab)) }
    /// }
    /// let bus = Bus::new();
    /// let mut tab7 = bus.subscriber().key(7u64).build().unwrap();
    /// bus.publish(Line { tab: 8 }).unwrap();
    /// bus.publish(Line { tab: 7 }).unwrap();
    /// assert_eq!(tab7.try_recv(), Ok(Line { tab: 7 }));
    /// assert!(tab7.try_recv().is_err());
    /// ```
    pub fn key(self, key: impl Into<Key>) -> Self {
        self.keys([key.into()])
    }

    /// Makes this a keyed subscriber of every key in `keys` (a small set: duplicates count once,
    /// at most [`MAX_KEYS`](crate::key::MAX_KEYS)); see [`key`](Self::key). Replaces keys set
    /// before. An empty set is an error at [`build`](SubscriberBuilder::build)
    /// ([`BuildError::NoKeys`]): leave `keys` out for an unkeyed subscriber.
    pub fn keys<K: Into<Key>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Makes the events of `topics` lossless on this [`DropOldest`](Overflow::DropOldest)
    /// subscriber: no flood of other topics evicts them. What a run's stream or a UI wants for a
    /// run's lifecycle (its start and its end) among thousands of token deltas.
    ///
    /// The subscriber then has two bounded queues of `capacity` events each (so at most twice
    /// `capacity` queued): a lossy lane, `DropOldest` as usual, for every other topic, and a
    /// kept lane for `topics`, which is never evicted from. When the kept lane is full, a publish
    /// of a lossless topic **waits for room as an [`Overflow::Block`] publish does** (bounded by
    /// its deadline: [`try_publish`](crate::Publisher::try_publish) and
    /// [`publish_timeout`](crate::Publisher::publish_timeout) count the event as lost and report it as
    /// `Lagged`, as for a `Block` queue; a close ends the wait the same way). Lossless topics
    /// are meant to be rare (a few per run): a kept lane full of them means the consumer has
    /// stopped, and losing them is what was asked never to happen. Every other topic is lost as
    /// `DropOldest` loses it: counted exactly and reported in-stream.
    ///
    /// Receiving merges the lanes by a ticket taken before each enqueue, so the stream is in
    /// publish order per publisher, as for any subscriber; `Lagged` reports stay exact. Such a
    /// subscriber is received from with `recv`, `try_recv`, the iterators and the async calls
    /// (a blocking receive spins on both lanes as its [`wait`](Self::wait) strategy says, then
    /// parks); its [`receiver`](Subscriber::receiver) never yields an event (it is not
    /// selectable).
    /// A subscriber without lossless topics pays nothing for the feature but one test per
    /// delivery on the publish path.
    ///
    /// Replaces topics set before; [`Topics::NONE`] (the default) means one queue.
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) returns [`BuildError::LosslessNeedsDropOldest`] if the policy is
    /// not `DropOldest` (the other policies never evict what is queued).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Bus, Overflow, Topic};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] enum Ev { Delta(u32), Done }
    /// const LIFECYCLE: Topic = topic!(0);
    /// const DELTA: Topic = topic!(1);
    /// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic {
    /// #     if matches!(self, Ev::Done) { LIFECYCLE } else { DELTA } } }
    /// let bus = Bus::new();
    /// let mut ui = bus.subscriber().capacity(4).overflow(Overflow::DropOldest)
    ///     .lossless(LIFECYCLE).build().unwrap();
    /// bus.publish(Ev::Done).unwrap();
    /// for i in 0..100 {
    ///     bus.publish(Ev::Delta(i)).unwrap(); // a flood after the end
    /// }
    /// // The 96 deltas lost are reported first (a report may come early, never late), then
    /// // the end, kept, and in its place: it was published before the deltas.
    /// assert_eq!(ui.try_recv(), Err(TryRecvError::Lagged(96)));
    /// assert_eq!(ui.try_recv(), Ok(Ev::Done));
    /// assert_eq!(ui.try_recv(), Ok(Ev::Delta(96)));
    /// ```
    pub fn lossless(mut self, topics: impl Into<Topics>) -> Self {
        self.lossless = topics.into();
        self
    }

    /// The lossless topics asked for so far, and the overflow policy (for `RunStream`).
    #[cfg_attr(not(feature = "agent"), allow(dead_code))]
    pub(crate) fn lossless_and_overflow(&self) -> (Topics, Overflow) {
        (self.lossless, self.overflow)
    }
}

impl<E> SubscriberBuilder<E> {
    /// Creates the subscriber; it receives every matching event published after this returns.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`], [`BuildError::CapacityTooLarge`], [`BuildError::NoKeys`],
    /// [`BuildError::TooManyKeys`], or [`BuildError::Closed`] if the bus is closed.
    pub fn build(self) -> Result<Subscriber<E>, BuildError> {
        self.check()?;
        self.register().map_err(|_| BuildError::Closed)
    }

    /// `build` for `Bus::subscribe`, whose settings are the (already checked) defaults: on a
    /// closed bus, a subscriber that is disconnected from the start.
    pub(crate) fn build_or_disconnected(self) -> Subscriber<E> {
        let inner = Arc::clone(&self.inner);
        match self.register() {
            Ok(subscriber) => subscriber,
            Err(parts) => Subscriber::new(parts, inner),
        }
    }

    /// Registers the subscriber; on a closed bus hands back its parts, with the queue's only
    /// sender dropped so that it is disconnected.
    fn register(self) -> Result<Subscriber<E>, SubscriberParts<E>> {
        let Prepared {
            entry,
            parts,
            inner,
        } = self.prepare();
        match inner.registry.insert(entry) {
            Ok(()) => Ok(Subscriber::new(parts, inner)),
            Err(entry) => {
                drop(entry);
                Err(parts)
            }
        }
    }
}

/// A subscriber made but not registered yet: its table entry (with the queue's sender) and its
/// handle's parts. A bus with history fills the queue with the replay before it registers the
/// entry (see [`crate::history`]).
pub(crate) struct Prepared<E> {
    pub(crate) entry: Entry<E>,
    pub(crate) parts: SubscriberParts<E>,
    pub(crate) inner: Arc<Inner<E>>,
}

impl<E> SubscriberBuilder<E> {
    /// Checks the settings [`build`](Self::build) checks before it registers anything.
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        check_capacity(self.capacity)?;
        if !self.lossless.is_empty() && self.overflow != Overflow::DropOldest {
            return Err(BuildError::LosslessNeedsDropOldest {
                overflow: self.overflow,
            });
        }
        if let Some(keys) = &self.keys {
            key::normalize(keys.clone())?;
        }
        // The queue is allocated up front by crossbeam, which aborts if the allocator refuses:
        // ask first for room of the same size (a slot is the event and a stamp word).
        drop(crate::shared::reserve::<(usize, E)>(self.capacity)?);
        if !self.lossless.is_empty() {
            // Two lanes of ticketed events instead.
            drop(crate::shared::reserve::<(usize, (u64, E))>(self.capacity)?);
            drop(crate::shared::reserve::<(usize, (u64, E))>(self.capacity)?);
        }
        Ok(())
    }

    /// The keys asked for, as the subscriber's state holds them (checked by `check`).
    fn checked_keys(&mut self) -> Box<[Key]> {
        match self.keys.take().map(key::normalize) {
            Some(Ok(keys)) => keys,
            // `check` rejected these before anything was prepared.
            Some(Err(_)) | None => Box::new([]),
        }
    }

    /// Makes the subscriber's state, queue and table entry, without registering them.
    pub(crate) fn prepare(mut self) -> Prepared<E> {
        let keys = self.checked_keys();
        let id = self.inner.next_id();
        let name = self.name.unwrap_or_else(|| format!("subscriber-{id}"));
        let state = Arc::new(SubscriberState {
            id: SubscriberId(id),
            name,
            capacity: self.capacity,
            overflow: self.overflow,
            wait: self.wait,
            topics: AtomicU64::new(self.topics.bits()),
            keys,
            lost: LossCounter::new(),
            overflowed: AtomicBool::new(false),
            received: CachePadded::new(AtomicU64::new(0)),
            lag_reported: AtomicU64::new(0),
            held: AtomicU64::new(0),
            lost_unqueued: AtomicU64::new(0),
            event_waiter: WakerSlot::new(),
            entries: AtomicUsize::new(0),
            room_waiters: WakerList::new(),
        });
        let with_lanes = !self.lossless.is_empty() && self.overflow == Overflow::DropOldest;
        let (lanes, lane_ends) = if with_lanes {
            let (lanes, lossy, keep) = Lanes::new(self.capacity, self.lossless.bits());
            let ends = LaneEnds::new(self.lossless.bits(), lossy, keep);
            (Some(Arc::new(lanes)), Some(Box::new(ends)))
        } else {
            (None, None)
        };
        // With lanes, `tx` is never sent to: a zero-capacity queue that only says when the
        // subscriber's entries are gone (what `receiver` hands out).
        let (tx, rx) = queue::bounded(if with_lanes { 0 } else { self.capacity });
        let evictor = (self.overflow == Overflow::DropOldest && !with_lanes).then(|| rx.clone());
        let (gone_trigger, gone) = queue::stop();
        let entry = Entry::new(
            self.topics.bits(),
            Arc::clone(&state),
            tx,
            evictor,
            self.filter.clone(),
            gone,
            self.inner.registry.closing().clone(),
        )
        .with_lanes(lanes);
        let parts = SubscriberParts {
            state,
            rx,
            gone: gone_trigger,
            filter: self.filter,
            lanes: lane_ends,
        };
        Prepared {
            entry,
            parts,
            inner: self.inner,
        }
    }
}

impl<E> fmt::Debug for SubscriberBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberBuilder")
            .field("topics", &self.topics)
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("wait", &self.wait)
            .field("name", &self.name)
            .field("filter", &self.filter.is_some())
            .field("keys", &self.keys)
            .field("lossless", &self.lossless)
            .finish()
    }
}
