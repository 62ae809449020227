//! [`Subscriber`]: one consumer's end of the bus, with its own bounded queue, its builder
//! [`SubscriberBuilder`], its id, and the iterators ([`Iter`], [`TryIter`], [`IntoIter`]) and
//! futures ([`Recv`], [`RecvInto`]) of its receive calls.
//!
//! # Cooperative yielding
//!
//! A receive loop whose queue is never empty would never return `Pending`, and on a
//! single-threaded executor no other task would run. tokio's own channels take part in tokio's
//! per-task budget; fanout has no runtime to ask, so it keeps its own, per subscriber, the way
//! `futures-util`'s `FuturesUnordered` does: after 128 consecutive `Ready` results
//! `poll_recv` wakes its own task and returns `Pending` once, without taking anything from the
//! queue. Any executor then polls its other ready tasks before this one again. The cost is one
//! counter update per receive and one extra poll of the task per 128 items
//! (BENCHMARKS.md, "Async delivery").

// # Lag reporting
//
// Publishers count every event a subscriber's overflow policy throws away in that subscriber's
// loss counter (a release add) before they enqueue anything after it; a `DropOldest` eviction
// is also announced before it happens and withdrawn as it is counted (one word holds both, see
// [`crate::loss`]), and a consumer waits out an announced eviction before it reads the counter.
// After every dequeue the subscriber reads the counter (an acquire load on a line publishers
// write only on loss); if it grew, the subscriber holds the dequeued event back and returns
// `Lagged(growth)` first. So a `Lagged` report always comes before every event enqueued after
// the loss, its count is exact, and received + reported-lost adds up to everything published to
// the subscriber. When the queue is found empty (or disconnected) the counter is checked too, so
// a loss is never left unreported at the end of a stream.

mod builder;
mod iter;
pub(crate) mod lanes;
mod recv_async;

pub(crate) use builder::Prepared;
pub use builder::SubscriberBuilder;
#[cfg(not(loom))]
pub use iter::Accepted;
pub use iter::{IntoIter, Iter, TryIter};
pub use recv_async::{Recv, RecvInto};

pub use crate::registry::SubscriberId;

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{RecvError, RecvTimeoutError, TryRecvError};
use crate::queue::{self, Receiver, StopTrigger};
use crate::registry::{Filter, SubscriberState, WakeOnDrop};
use crate::shared::Inner;
use crate::sync::{Arc, Ordering};
use crate::wait::{self, WaitStrategy};
use crate::{Overflow, Topics};
use lanes::{LaneEnds, Next};

/// What a [`Subscriber`] is made of, before it is known whether the bus took it.
pub(crate) struct SubscriberParts<E> {
    pub(crate) state: Arc<SubscriberState>,
    pub(crate) rx: Receiver<E>,
    pub(crate) gone: StopTrigger,
    pub(crate) filter: Option<std::sync::Arc<Filter<E>>>,
    /// The consumer's side of the lanes, for a subscriber with lossless topics.
    pub(crate) lanes: Option<Box<LaneEnds<E>>>,
}

/// One consumer's end of a [`Bus`](crate::Bus): a bounded queue of the events it wants.
///
/// Created by [`Bus::subscribe`](crate::Bus::subscribe) or [`Bus::subscriber`](crate::Bus::subscriber).
/// Dropping it unsubscribes. It is `Send`: move it to the thread that consumes.
///
/// Receiving yields events in publish order (per publisher), interleaved with
/// [`Lagged`](RecvError::Lagged) reports whenever the overflow policy lost some, and ends with
/// [`Disconnected`](RecvError::Disconnected) (bus closed, queue drained) or
/// [`Overflowed`](RecvError::Overflowed) (cut off by [`Overflow::Disconnect`]).
///
/// # Examples
///
/// ```
/// use fanout::{Bus, Topics};
/// use fanout::error::RecvError;
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u32);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let mut sub = bus.subscriber().capacity(2).build().unwrap(); // DropOldest by default
/// for i in 0..4 {
///     bus.publish(Ping(i)).unwrap();
/// }
/// bus.close();
/// assert_eq!(sub.recv(), Err(RecvError::Lagged(2)));
/// assert_eq!(sub.recv(), Ok(Ping(2)));
/// assert_eq!(sub.recv(), Ok(Ping(3)));
/// assert_eq!(sub.recv(), Err(RecvError::Disconnected));
/// ```
pub struct Subscriber<E> {
    state: Arc<SubscriberState>,
    rx: Receiver<E>,
    inner: Arc<Inner<E>>,
    /// Dropped with the handle: fires the stop that publishers waiting on this full `Block` queue
    /// watch (see `crate::queue`), whoever else still holds a clone of `rx`.
    _gone: StopTrigger,
    /// Events taken from the queue but not handed out yet, oldest first: one dequeued while a loss
    /// was pending (handed out right after the `Lagged` report), or one an [`Accepted`] was
    /// dropped with. Empty almost always; it allocates once, the first time it holds an event.
    held: VecDeque<E>,
    /// The first held event was held behind a `Lagged` report that has been handed out: it comes
    /// next, before any loss counted since (those losses are of newer events, evicted after it).
    held_reported: bool,
    /// Lost events already reported (the loss counter's value at the last report).
    reported: u64,
    /// Events handed out.
    received: u64,
    /// `Ready` results of [`poll_recv`](Self::poll_recv) since it last returned `Pending`: at
    /// `recv_async::YIELD_AFTER` it yields once (see there).
    ready_run: u32,
    /// The filter it was built with, for [`resubscribe`](Self::resubscribe) (publishers run
    /// their copy in the table entry).
    filter: Option<std::sync::Arc<Filter<E>>>,
    /// A `DropOldest` subscriber that behaves as a slot of a ring of `capacity` events (the
    /// [`broadcast`](crate::broadcast) channel's receivers): an event held back behind a `Lagged`
    /// report is the oldest it has, so when the queue fills up before it is handed out, it is
    /// the first one a ring would have overwritten: it is counted as lost and reported with the
    /// losses since, instead of being handed out ahead of them (see `overwritten`).
    ring: bool,
    /// The `Stream` has yielded its last item (`Overflowed`, or ended at `Disconnected`).
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    stream_done: bool,
    /// The two lanes of a subscriber with lossless topics
    /// ([`lossless`](SubscriberBuilder::lossless)); `None` for every other subscriber, which
    /// receives from `rx`.
    lanes: Option<Box<LaneEnds<E>>>,
    /// Declared after `rx` and `_gone`, so it runs after both are dropped: a publisher's task
    /// waiting for room is woken and finds the queue disconnected or the subscriber gone.
    _wake_on_drop: WakeOnDrop,
}

// A subscriber never pins anything: its event type sits in an `Option` it moves out of.
impl<E> Unpin for Subscriber<E> {}

impl<E> Subscriber<E> {
    pub(crate) fn new(parts: SubscriberParts<E>, inner: Arc<Inner<E>>) -> Self {
        let SubscriberParts {
            state,
            rx,
            gone,
            filter,
            lanes,
        } = parts;
        Subscriber {
            filter,
            lanes,
            ring: false,
            _wake_on_drop: WakeOnDrop(Arc::clone(&state)),
            state,
            rx,
            inner,
            _gone: gone,
            held: VecDeque::new(),
            held_reported: false,
            reported: 0,
            received: 0,
            ready_run: 0,
            stream_done: false,
        }
    }

    /// Starts the stream with `backlog`, events handed out before anything in the queue (a
    /// history replay that did not fit a `Block` queue; see [`crate::history`]).
    pub(crate) fn with_backlog(mut self, backlog: VecDeque<E>) -> Self {
        if !backlog.is_empty() {
            self.held = backlog;
            self.held_changed();
        }
        self
    }

    /// Takes the next event without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued; `Lagged(n)` if events were lost since the last
    /// report (the event after the gap comes on the next call); `Overflowed` or `Disconnected` once
    /// the subscription has ended and everything queued was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    /// bus.publish(Ping).unwrap();
    /// assert_eq!(sub.try_recv(), Ok(Ping));
    /// ```
    pub fn try_recv(&mut self) -> Result<E, TryRecvError> {
        match self.next_ready() {
            Some(item) => item,
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for the next event, as this subscriber's [`WaitStrategy`] says.
    ///
    /// To consume the stream, iterate ([`iter`](Self::iter)) or match every `Err`: a
    /// `while let Ok(event) = sub.recv()` loop stops at the first `Lagged` and leaves the rest of
    /// the stream unread.
    ///
    /// # Errors
    ///
    /// `Lagged(n)` if events were lost since the last report (the subscription goes on);
    /// `Overflowed` or `Disconnected` once it has ended and everything queued was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// let publisher = bus.publisher();
    /// let t = std::thread::spawn(move || publisher.publish(Ping(9)).unwrap());
    /// assert_eq!(sub.recv(), Ok(Ping(9)));
    /// # t.join().unwrap();
    /// ```
    pub fn recv(&mut self) -> Result<E, RecvError> {
        loop {
            if let Some(item) = self.next_ready() {
                return item;
            }
            if let Some(event) = self.wait_for_event(None) {
                return self.dequeued(event);
            }
            // The queue disconnected while we waited: the next `try_recv` says how it ended.
        }
    }

    /// Waits at most `timeout` for the next event.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if nothing came in time; otherwise as [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fanout::{Bus, Topics};
    /// use fanout::error::RecvTimeoutError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::<Ping>::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// assert_eq!(sub.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<E, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_deadline(deadline),
            None => self.recv().map_err(RecvTimeoutError::from),
        }
    }

    /// Waits until `deadline` at the latest for the next event; see
    /// [`recv_timeout`](Self::recv_timeout).
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if nothing came in time; otherwise as [`recv`](Self::recv).
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<E, RecvTimeoutError> {
        loop {
            if let Some(item) = self.next_ready() {
                return item;
            }
            match self.wait_for_event(Some(deadline)) {
                Some(event) => return self.dequeued(event),
                None if Instant::now() >= deadline => {
                    // One last look, so a loss or an end that raced the deadline is not hidden.
                    return match self.next_ready() {
                        Some(item) => item,
                        None => Err(RecvTimeoutError::Timeout),
                    };
                }
                None => {}
            }
        }
    }

    /// Moves up to `max` queued events into `buf` without waiting, and returns how many it moved.
    ///
    /// A batch never spans a loss: if events were lost, the batch stops before the first event
    /// after the gap, and the next call reports the loss. `Ok(0)` means nothing is queued.
    ///
    /// # Errors
    ///
    /// When no event was moved: `Lagged(n)`, `Overflowed` or `Disconnected`, as for
    /// [`try_recv`](Self::try_recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// for i in 0..5 {
    ///     bus.publish(Ping(i)).unwrap();
    /// }
    /// let mut batch = Vec::new();
    /// assert_eq!(sub.drain_into(&mut batch, 3), Ok(3));
    /// assert_eq!(sub.drain_into(&mut batch, 100), Ok(2));
    /// assert_eq!(batch.len(), 5);
    /// assert_eq!(sub.drain_into(&mut batch, 100), Ok(0));
    /// ```
    pub fn drain_into(&mut self, buf: &mut Vec<E>, max: usize) -> Result<usize, TryRecvError> {
        let mut moved = 0;
        while moved < max {
            match self.try_recv() {
                Ok(event) => {
                    buf.push(event);
                    moved += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(n)) if moved > 0 => {
                    // Give the report back: the next call returns it again, then the held event.
                    self.unreport(n);
                    break;
                }
                Err(err) if moved == 0 => return Err(err),
                Err(_) => break,
            }
        }
        Ok(moved)
    }

    /// Waits (as the [`WaitStrategy`] says) until at least one event is queued, then moves up to
    /// `max` into `buf`; returns how many it moved. The batch form of [`recv`](Self::recv):
    /// a consumer that wakes once per batch instead of once per event.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), when no event was moved.
    pub fn recv_into(&mut self, buf: &mut Vec<E>, max: usize) -> Result<usize, RecvError> {
        if max == 0 {
            return Ok(0);
        }
        let first = self.recv()?;
        Ok(self.top_up(buf, first, max))
    }

    /// Pushes `first` and then up to `max - 1` more queued events into `buf` without waiting;
    /// returns how many it pushed (the tail of [`recv_into`](Self::recv_into) and its async form).
    fn top_up(&mut self, buf: &mut Vec<E>, first: E, max: usize) -> usize {
        buf.push(first);
        let more = match self.drain_into(buf, max.saturating_sub(1)) {
            Ok(more) => more,
            // A loss found while topping up the batch: give the report back so that the next call
            // returns it (dropping it here would lose those events silently).
            Err(TryRecvError::Lagged(n)) => {
                self.unreport(n);
                0
            }
            // An end is found again by the next call.
            Err(_) => 0,
        };
        1 + more
    }

    /// A blocking iterator, the way to consume a subscription: yields `Ok(event)` and
    /// `Err(Lagged(n))` items, then `Err(Overflowed)` if the subscriber was cut off, and ends
    /// only when the bus is closed and the queue drained. (`for item in &mut sub` and
    /// `for item in sub` are the same loop.)
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// use fanout::error::RecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscriber().capacity(2).overflow(Overflow::DropOldest).build().unwrap();
    /// for i in 1..=4 {
    ///     bus.publish(Ping(i)).unwrap();
    /// }
    /// drop(bus); // the last handle: closes the bus
    /// let mut seen = Vec::new();
    /// for item in sub.iter() {
    ///     match item {
    ///         Ok(Ping(i)) => seen.push(format!("{i}")),
    ///         Err(RecvError::Lagged(n)) => seen.push(format!("({n} lost)")), // and go on
    ///         Err(end) => panic!("{end}"), // Overflowed: only with Overflow::Disconnect
    ///     }
    /// }
    /// assert_eq!(seen, ["(2 lost)", "3", "4"]);
    /// ```
    pub fn iter(&mut self) -> Iter<'_, E> {
        Iter::new(self)
    }

    /// A non-blocking iterator over what is queued now: yields `Ok(event)` and `Err(Lagged(n))`
    /// items, and `Err(Overflowed)` once if the subscriber was cut off; ends when the queue is empty.
    pub fn try_iter(&mut self) -> TryIter<'_, E> {
        TryIter::new(self)
    }

    /// Changes the topics this subscriber wants. Takes effect for every publish that starts after
    /// this returns; a publish already under way may still use the old topics.
    ///
    /// A control-plane call: it takes the registry lock and publishes a new copy of the subscriber
    /// table (one allocation, proportional to the number of subscribers), so that publishes read
    /// every mask from one immutable snapshot. Use a [`filter`](SubscriberBuilder::filter) for
    /// decisions that change per event.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{topic, Bus, Topics};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::NONE);
    /// bus.publish(Ping).unwrap();
    /// assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    /// sub.set_topics(topic!(0).into());
    /// bus.publish(Ping).unwrap();
    /// assert_eq!(sub.try_recv(), Ok(Ping));
    /// ```
    pub fn set_topics(&self, topics: Topics) {
        self.inner.registry.set_topics(&self.state, topics);
    }

    /// The topics this subscriber asked for.
    pub fn topics(&self) -> Topics {
        self.state.topics()
    }

    /// The keys this subscriber asked for, sorted, without duplicates; empty for an unkeyed
    /// subscriber (see [`crate::key`]).
    ///
    /// ```
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// use fanout::Key;
    /// let bus = fanout::Bus::<Ping>::new();
    /// let sub = bus.subscriber().keys([3u64, 1, 3]).build().unwrap();
    /// assert_eq!(sub.keys(), [Key::from(1u64), Key::from(3u64)]);
    /// assert!(bus.subscribe(fanout::Topics::ALL).keys().is_empty());
    /// ```
    pub fn keys(&self) -> &[crate::Key] {
        &self.state.keys
    }

    /// A new subscriber of the same bus with this one's settings: its current topics, capacity,
    /// overflow policy, wait strategy, filter and name. It starts at the tail: it receives what
    /// is published after this returns, none of what is queued here. This subscriber is
    /// untouched. On a closed bus the new subscriber is born disconnected.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut audit = bus.subscriber().capacity(4).overflow(Overflow::Block)
    ///     .filter(|p: &Ping| p.0 % 2 == 0).build().unwrap();
    /// bus.publish(Ping(2)).unwrap();
    /// let mut again = audit.resubscribe();
    /// assert_eq!((again.capacity(), again.overflow()), (4, Overflow::Block));
    /// bus.publish(Ping(3)).unwrap(); // filtered out, for both
    /// bus.publish(Ping(4)).unwrap();
    /// assert_eq!(again.try_recv(), Ok(Ping(4))); // not Ping(2): it starts at the tail
    /// assert_eq!(again.try_recv(), Err(TryRecvError::Empty));
    /// assert_eq!(audit.try_recv(), Ok(Ping(2)));
    /// ```
    pub fn resubscribe(&self) -> Subscriber<E> {
        let ring = self.ring;
        let mut subscriber = self.same_settings().build_or_disconnected();
        subscriber.set_ring(ring);
        subscriber
    }

    /// A builder with this subscriber's settings (no user code runs: `Arc` clones and the name).
    pub(crate) fn same_settings(&self) -> SubscriberBuilder<E> {
        let mut builder = SubscriberBuilder::new(Arc::clone(&self.inner))
            .topics(self.topics())
            .capacity(self.state.capacity)
            .overflow(self.state.overflow)
            .wait(self.state.wait)
            .name(self.state.name.clone());
        builder.set_filter(self.filter.clone());
        if let Some(lanes) = &self.lanes {
            builder = builder.lossless(Topics::from_bits(lanes.kept));
        }
        if self.state.keys.is_empty() {
            builder
        } else {
            builder.keys(self.state.keys.iter().copied())
        }
    }

    /// Whether this handle still behaves as a ring slot (see the `ring` field).
    pub(crate) fn set_ring(&mut self, ring: bool) {
        self.ring = ring && self.state.overflow == Overflow::DropOldest;
    }

    /// The bus's shared part, for the `broadcast` facade's counts and identity.
    pub(crate) fn shared(&self) -> &Arc<Inner<E>> {
        &self.inner
    }

    /// Events lost to overflow and not reported yet.
    pub(crate) fn unreported_loss(&self) -> u64 {
        self.state.lost.current().saturating_sub(self.reported)
    }

    /// Whether the bus is closed: nothing published from now on reaches this subscriber. What
    /// is queued (and what a publish racing the close delivered) is still to be received before
    /// [`Disconnected`](RecvError::Disconnected); see [`is_empty`](Self::is_empty). A subscriber
    /// cut off by [`Overflow::Disconnect`] says so through
    /// [`is_overflowed`](Self::is_overflowed).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// bus.publish(Ping).unwrap();
    /// assert!(!sub.is_closed());
    /// drop(bus);
    /// assert!(sub.is_closed());
    /// assert_eq!(sub.recv(), Ok(Ping)); // still queued
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.registry.is_closed()
    }

    /// How many events are waiting to be received (including one held back behind a `Lagged`).
    pub fn len(&self) -> usize {
        let lanes = self.lanes.as_ref().map_or(0, |lanes| lanes.len());
        self.rx.len() + self.held.len() + lanes
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue's capacity.
    pub fn capacity(&self) -> usize {
        self.state.capacity
    }

    /// The name given at build time, or `subscriber-<id>`.
    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// This subscriber's id, unique within its bus.
    pub fn id(&self) -> SubscriberId {
        self.state.id
    }

    /// This subscriber's overflow policy.
    pub fn overflow(&self) -> Overflow {
        self.state.overflow
    }

    /// This subscriber's wait strategy.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.state.wait
    }

    /// Events lost to overflow so far (reported or not yet).
    pub fn lost(&self) -> u64 {
        self.state.lost.current()
    }

    /// Whether a publish has cut this subscriber off under [`Overflow::Disconnect`].
    ///
    /// True from the moment it is cut off; its stream still hands out what was queued (and what
    /// publishes already under way at that moment deliver), then `Lagged` for what it lost, then
    /// [`Overflowed`](RecvError::Overflowed), which is final. Until then `try_recv` may say
    /// `Empty`: check this to react (resubscribe, tell the client) without waiting for the end.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Overflow};
    /// use fanout::error::TryRecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut slow = bus.subscriber().capacity(1).overflow(Overflow::Disconnect).build().unwrap();
    /// bus.publish(Ping(1)).unwrap();
    /// assert!(!slow.is_overflowed());
    /// bus.publish(Ping(2)).unwrap(); // the queue is full: cut off
    /// assert!(slow.is_overflowed());
    /// assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(1)));
    /// assert_eq!(slow.try_recv(), Ok(Ping(1)));
    /// assert_eq!(slow.try_recv(), Err(TryRecvError::Overflowed));
    /// ```
    pub fn is_overflowed(&self) -> bool {
        self.state.overflowed.load(Ordering::Acquire)
    }

    /// Events received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The queue's receiving side, for use in [`fanout::crossbeam_channel::select!`](crate::crossbeam_channel)
    /// (re-exported, so no dependency of your own) next to the host's own channels. Pass what the `recv` arm yields to [`accept`](Self::accept), which applies lag
    /// reporting and end detection; never keep an event taken from here without it. A
    /// subscriber with [`lossless`](SubscriberBuilder::lossless) topics has two queues instead
    /// and is not selectable: its receiver never yields an event (it only disconnects at the
    /// end); use its receive calls.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::crossbeam_channel::{select, unbounded}; // re-exported: no dependency to add
    /// use fanout::{Bus, Topics};
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// let (_shutdown_tx, shutdown) = unbounded::<()>();
    /// bus.publish(Ping(1)).unwrap();
    /// select! {
    ///     recv(sub.receiver()) -> msg => {
    ///         for item in sub.accept(msg) {
    ///             assert_eq!(item, Ok(Ping(1)));
    ///         }
    ///     }
    ///     recv(shutdown) -> _ => unreachable!(),
    /// }
    /// ```
    #[cfg(not(loom))]
    pub fn receiver(&self) -> &crossbeam_channel::Receiver<E> {
        &self.rx
    }

    /// Turns what a `select!` arm on [`receiver`](Self::receiver) yielded into this subscriber's
    /// stream items: an optional `Err(Lagged(n))`, then the event (or the way the subscription
    /// ended). Iterate the result to the end.
    ///
    /// # Examples
    ///
    /// A consumer loop that also watches a shutdown channel:
    ///
    /// ```
    /// use fanout::crossbeam_channel::{select, unbounded};
    /// use fanout::{Bus, Overflow};
    /// use fanout::error::RecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscriber().capacity(1).overflow(Overflow::DropOldest).build().unwrap();
    /// let (shutdown_tx, shutdown) = unbounded::<()>();
    /// bus.publish(Ping(1)).unwrap();
    /// bus.publish(Ping(2)).unwrap(); // evicts Ping(1)
    /// bus.close();
    /// let mut seen = Vec::new();
    /// 'consume: loop {
    ///     select! {
    ///         recv(sub.receiver()) -> msg => for item in sub.accept(msg) {
    ///             match item {
    ///                 Ok(ping) => seen.push(Ok(ping)),
    ///                 Err(RecvError::Lagged(n)) => seen.push(Err(n)),
    ///                 Err(_) => break 'consume, // closed and drained (or cut off)
    ///             }
    ///         },
    ///         recv(shutdown) -> _ => break 'consume,
    ///     }
    /// }
    /// assert_eq!(seen, [Err(1), Ok(Ping(2))]);
    /// # drop(shutdown_tx);
    /// ```
    #[cfg(not(loom))]
    pub fn accept(&mut self, msg: Result<E, crossbeam_channel::RecvError>) -> Accepted<'_, E> {
        Accepted::new(self, msg.ok())
    }

    /// What every receive call does first ([`try_recv`](Self::try_recv) as a stream item): the
    /// next event, lag report or end, without waiting; `None` when nothing is queued.
    ///
    /// The common case (nothing held, an event queued, no loss pending) is inline in the caller
    /// and builds the caller's own result type (`Err` is the caller's error type), so the event
    /// is moved once; everything else is out of line.
    #[inline(always)]
    pub(crate) fn next_ready<Err: From<RecvError>>(&mut self) -> Option<Result<E, Err>> {
        if !self.held.is_empty() {
            return self.take_held().map(|item| item.map_err(Err::from));
        }
        match self.rx.try_recv() {
            Ok(event) => {
                self.freed_slot();
                Some(self.dequeued(event))
            }
            Err(err) => self.nothing_queued(err).map(|item| item.map_err(Err::from)),
        }
    }

    /// For [`next_ready`](Self::next_ready): the queue had nothing. A subscriber with lanes is
    /// always here (its queue is a zero-capacity stand-in), so the lanes cost every other
    /// subscriber nothing on a dequeue; for the others, a pending loss or the end.
    #[inline(never)]
    fn nothing_queued(&mut self, err: queue::TryRecvError) -> Option<Result<E, RecvError>> {
        if self.lanes.is_some() {
            return self.next_from_lanes();
        }
        match err {
            queue::TryRecvError::Empty => self.ended_or_lagged(false).map(Err),
            queue::TryRecvError::Disconnected => Some(Err(self.disconnected())),
        }
    }

    /// The address of this subscriber's state: what identifies its table entry to the publish
    /// path (a tap's thread records it; see `crate::tap`).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn state_addr(&self) -> *const () {
        Arc::as_ptr(&self.state).cast()
    }

    /// Waits as the wait strategy says until an event can be dequeued (returning it) or the queue
    /// disconnects or the deadline passes (returning `None`).
    fn wait_for_event(&mut self, deadline: Option<Instant>) -> Option<E> {
        if let Some(lanes) = &self.lanes {
            // Both lanes: spin as the wait strategy says until either has something (`true`) or
            // the bus is closed (`false`: the lanes disconnect only once the last publish
            // holding them is done; a lossless subscriber is `DropOldest`, never cut off);
            // unless something came, wait until either lane has something or is disconnected.
            // The caller's next poll merges.
            let registry = &self.inner.registry;
            let ready = || {
                if !lanes.is_empty() {
                    Some(true)
                } else if registry.is_closed() {
                    Some(false)
                } else {
                    None
                }
            };
            if spin_as(self.state.wait, deadline, ready) != Some(true) {
                lanes.wait(deadline);
            }
            return None;
        }
        let rx = &self.rx;
        let poll = || match rx.try_recv() {
            Ok(event) => Some(Some(event)),
            Err(queue::TryRecvError::Disconnected) => Some(None),
            Err(queue::TryRecvError::Empty) => None,
        };
        let outcome = match spin_as(self.state.wait, deadline, poll) {
            Some(outcome) => outcome,
            None => match deadline {
                None => rx.recv().ok(),
                Some(deadline) => rx.recv_deadline(deadline).ok(),
            },
        };
        if outcome.is_some() {
            self.freed_slot();
        }
        outcome
    }

    /// Called after every dequeue from the queue: a `Block` subscriber wakes the publishers'
    /// tasks waiting for room (one swap; nothing for any other policy). See [`crate::notify`].
    #[inline]
    fn freed_slot(&self) {
        if self.state.overflow == Overflow::Block {
            self.state.room_waiters.notify();
        }
    }

    /// Publishes how many events are held back, for stats (only when that changes: rarely).
    fn held_changed(&self) {
        let heads = self.lanes.as_ref().map_or(0, |lanes| lanes.heads());
        self.state
            .held
            .store((self.held.len() + heads) as u64, Ordering::Relaxed);
    }

    /// For [`nothing_queued`](Self::nothing_queued), a subscriber with lanes: the next event of
    /// the merge (see [`lanes`]), through the same lag reporting as any dequeued event, or how
    /// the stream stands if there is none (`None`: nothing yet). `None` too for a subscriber
    /// without lanes.
    fn next_from_lanes(&mut self) -> Option<Result<E, RecvError>> {
        let lanes = self.lanes.as_mut()?;
        let heads = lanes.heads();
        let next = lanes.next();
        if heads != lanes.heads() {
            self.held_changed();
        }
        match next {
            Next::Event(event, from_keep) => {
                if from_keep {
                    // Room in the kept lane: wake a publisher's task waiting for it.
                    self.state.room_waiters.notify();
                }
                Some(self.dequeued(event))
            }
            Next::Empty => self.ended_or_lagged(false).map(Err),
            Next::Disconnected => Some(Err(self.disconnected())),
        }
    }

    /// Called with every event taken from the queue: reports a pending loss first. Inline, and
    /// in the caller's result type (see [`next_ready`](Self::next_ready)); the report is not.
    #[inline(always)]
    fn dequeued<Err: From<RecvError>>(&mut self, event: E) -> Result<E, Err> {
        let lost = self.loss_count();
        if lost != self.reported {
            return Err(self.hold_behind_report(event, lost).into());
        }
        Ok(self.hand_out(event))
    }

    /// A loss is pending as `event` is dequeued: it waits in `held`, and the report comes first.
    #[cold]
    #[inline(never)]
    fn hold_behind_report(&mut self, event: E, lost: u64) -> RecvError {
        self.held.push_front(event);
        self.held_reported = true;
        self.held_changed();
        RecvError::Lagged(self.report(lost))
    }

    /// The next held event, if any. One held behind a report already handed out comes now, even
    /// if more was lost since: what a `DropOldest` queue evicted meanwhile is newer than it (it
    /// was out of the queue), so that loss is reported after it, in stream order.
    #[inline(never)]
    fn take_held(&mut self) -> Option<Result<E, RecvError>> {
        let event = self.held.pop_front()?;
        self.held_changed();
        if std::mem::take(&mut self.held_reported) {
            if self.ring {
                if let Some(lagged) = self.overwritten() {
                    drop(event); // counted: only now may its `Drop` run
                    return Some(Err(RecvError::Lagged(lagged)));
                }
            }
            return Some(Ok(self.hand_out(event)));
        }
        Some(self.dequeued(event))
    }

    /// For a `ring` subscriber, about to hand out the event it held back behind a `Lagged`
    /// report: that event is the oldest it has, outside the queue, so queue and event together
    /// can hold one more than `capacity`. A ring of `capacity` slots would have overwritten it
    /// by now if the queue has filled up since (whether or not that evicted more): then count it
    /// as lost (the subscriber's own loss, in the same counter) and return the report, which
    /// includes it. Nothing was dequeued since the event was held, so the queue only grew.
    fn overwritten(&mut self) -> Option<u64> {
        let lost = self.loss_count();
        if lost == self.reported && self.rx.len() < self.state.capacity {
            return None;
        }
        self.state.lost.record(1);
        Some(self.report(lost + 1))
    }

    /// The queue is empty (`queue_gone`: and disconnected): report a pending loss, or the end.
    ///
    /// The end is final: it is reported only once the queue is disconnected, that is once no
    /// publish can enqueue into it any more. A subscriber cut off by `Overflow::Disconnect` is out
    /// of the table at once, but a publish that loaded the table before may still be under way
    /// (for instance blocked on another subscriber's full `Block` queue) and still deliver to it;
    /// until that publish is done the stream is not over, and `Overflowed` waits for it.
    fn ended_or_lagged(&mut self, queue_gone: bool) -> Option<RecvError> {
        // The counter is read after the queue was seen disconnected: every publisher that could
        // count a loss held a sender, and dropped it after counting.
        let lost = self.loss_count();
        if lost != self.reported {
            return Some(RecvError::Lagged(self.report(lost)));
        }
        if !queue_gone {
            return None;
        }
        if self.state.overflowed.load(Ordering::Acquire) {
            Some(RecvError::Overflowed)
        } else {
            Some(RecvError::Disconnected)
        }
    }

    /// The loss counter, read once no `DropOldest` eviction is half done, so it includes every
    /// eviction of an event older than the one just dequeued (see [`crate::loss`]).
    fn loss_count(&self) -> u64 {
        self.state.lost.settled()
    }

    fn disconnected(&mut self) -> RecvError {
        self.ended_or_lagged(true)
            .unwrap_or(RecvError::Disconnected)
    }

    fn report(&mut self, lost: u64) -> u64 {
        let n = lost - self.reported;
        self.reported = lost;
        self.state.lag_reported.store(lost, Ordering::Relaxed);
        n
    }

    /// Takes back a `Lagged(n)` report that was not handed to the caller.
    fn unreport(&mut self, n: u64) {
        // The event held behind the report needs it again.
        self.held_reported = false;
        self.reported -= n;
        self.state
            .lag_reported
            .store(self.reported, Ordering::Relaxed);
    }

    #[inline(always)]
    fn hand_out(&mut self, event: E) -> E {
        self.received += 1;
        // A plain store: only this handle writes the counter; stats read it.
        self.state.received.store(self.received, Ordering::Relaxed);
        event
    }
}

/// The spinning part of a wait under `wait`: polls until `poll` has something (returned), or the
/// strategy's window or `deadline` ends (`None`: park next). `Park` does not spin.
fn spin_as<T>(
    wait: WaitStrategy,
    deadline: Option<Instant>,
    poll: impl FnMut() -> Option<T>,
) -> Option<T> {
    match wait {
        WaitStrategy::Park => None,
        WaitStrategy::SpinThenPark(window) => {
            let end = Instant::now().checked_add(window);
            let end = match (end, deadline) {
                (Some(end), Some(deadline)) => Some(end.min(deadline)),
                (end, None) => end,
                (None, deadline) => deadline,
            };
            wait::spin(Some(end.unwrap_or(Instant::now())), poll)
        }
        WaitStrategy::BusySpin => wait::spin(deadline, poll),
    }
}

impl<E> Drop for Subscriber<E> {
    fn drop(&mut self) {
        self.inner.registry.remove(&self.state);
    }
}

impl<E> fmt::Debug for Subscriber<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("id", &self.state.id)
            .field("name", &self.state.name)
            .field("topics", &self.topics())
            .field("capacity", &self.state.capacity)
            .field("overflow", &self.state.overflow)
            .field("wait", &self.state.wait)
            .field("queued", &self.len())
            .finish()
    }
}

impl<E> IntoIterator for Subscriber<E> {
    type Item = Result<E, RecvError>;
    type IntoIter = IntoIter<E>;

    fn into_iter(self) -> IntoIter<E> {
        IntoIter::new(self)
    }
}

impl<'a, E> IntoIterator for &'a mut Subscriber<E> {
    type Item = Result<E, RecvError>;
    type IntoIter = Iter<'a, E>;

    fn into_iter(self) -> Iter<'a, E> {
        self.iter()
    }
}

/// For [`Accepted`]: the items a `select!`ed message turns into.
#[cfg(not(loom))]
impl<E> Subscriber<E> {
    /// Keeps an event an [`Accepted`] was dropped with, for the next receive.
    pub(crate) fn hold_back(&mut self, event: E) {
        self.held.push_back(event);
        self.held_changed();
    }

    pub(crate) fn accept_next(
        &mut self,
        msg: &mut Option<Option<E>>,
    ) -> Option<Result<E, RecvError>> {
        if let Some(item) = self.take_held() {
            return Some(item);
        }
        match msg.take()? {
            Some(event) => {
                self.freed_slot();
                Some(self.dequeued(event))
            }
            None => Some(Err(self.disconnected())),
        }
    }
}
