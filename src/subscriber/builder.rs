//! [`SubscriberBuilder`]: a subscriber with settings of its own.

use std::fmt;

use crossbeam_utils::CachePadded;

use crate::error::BuildError;
use crate::loss::LossCounter;
use crate::notify::{WakerList, WakerSlot};
use crate::queue;
use crate::registry::{Entry, Filter, SubscriberId, SubscriberState};
use crate::shared::{check_capacity, Inner};
use crate::subscriber::SubscriberParts;
use crate::sync::{Arc, AtomicBool, AtomicU64, AtomicUsize};
use crate::{Overflow, Subscriber, Topics, WaitStrategy};

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
    /// never reach this queue and are not counted as lost. Use it for per-run, per-session or
    /// per-connection targeting. It runs on the publishing thread, so keep it short and never
    /// block or publish in it.
    pub fn filter(mut self, filter: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.filter = Some(std::sync::Arc::new(filter));
        self
    }

    /// The filter of the subscriber being resubscribed, shared.
    pub(crate) fn set_filter(&mut self, filter: Option<std::sync::Arc<Filter<E>>>) {
        self.filter = filter;
    }
}

impl<E> SubscriberBuilder<E> {
    /// Creates the subscriber; it receives every matching event published after this returns.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`], [`BuildError::CapacityTooLarge`], or [`BuildError::Closed`]
    /// if the bus is closed.
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
        // The queue is allocated up front by crossbeam, which aborts if the allocator refuses:
        // ask first for room of the same size (a slot is the event and a stamp word).
        drop(crate::shared::reserve::<(usize, E)>(self.capacity)?);
        Ok(())
    }

    /// Makes the subscriber's state, queue and table entry, without registering them.
    pub(crate) fn prepare(self) -> Prepared<E> {
        let id = self.inner.next_id();
        let name = self.name.unwrap_or_else(|| format!("subscriber-{id}"));
        let state = Arc::new(SubscriberState {
            id: SubscriberId(id),
            name,
            capacity: self.capacity,
            overflow: self.overflow,
            wait: self.wait,
            topics: AtomicU64::new(self.topics.bits()),
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
        let (tx, rx) = queue::bounded(self.capacity);
        let evictor = (self.overflow == Overflow::DropOldest).then(|| rx.clone());
        let (gone_trigger, gone) = queue::stop();
        let entry = Entry::new(
            self.topics.bits(),
            Arc::clone(&state),
            tx,
            evictor,
            self.filter.clone(),
            gone,
            self.inner.registry.closing().clone(),
        );
        let parts = SubscriberParts {
            state,
            rx,
            gone: gone_trigger,
            filter: self.filter,
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
            .finish()
    }
}
