//! Subscribe with replay: [`HistorySubscriberBuilder`] and the hand-off from history to live.

use std::collections::VecDeque;
use std::fmt;

use super::{History, Replay, Sequenced};
use crate::error::BuildError;
use crate::subscriber::{Prepared, SubscriberBuilder};
use crate::sync::Ordering;
use crate::{Event, Overflow, Subscriber, Topics, WaitStrategy};

/// Builds a subscriber of a [`HistoryBus`](crate::HistoryBus): the settings of a
/// [`SubscriberBuilder`], plus what to [`replay`](Self::replay) before the live stream.
///
/// # Examples
///
/// ```
/// use fanout::{topic, HistoryBus, Overflow};
/// use fanout::history::Replay;
/// # #[derive(Clone, Debug, PartialEq)] struct Ev { run: u32 }
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = HistoryBus::builder(64).build().unwrap();
/// bus.publish(Ev { run: 1 }).unwrap();
/// bus.publish(Ev { run: 2 }).unwrap();
/// let mut tab = bus
///     .subscriber()
///     .topics(topic!(0))
///     .capacity(32)
///     .overflow(Overflow::DropOldest)
///     .name("run-2 tab")
///     .filter(|e: &Ev| e.run == 2)
///     .replay(Replay::Since(0))
///     .build()
///     .unwrap();
/// assert_eq!(tab.try_recv().unwrap().seq(), 2);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct HistorySubscriberBuilder<E> {
    builder: SubscriberBuilder<Sequenced<E>>,
    history: std::sync::Arc<History<E>>,
    replay: Replay,
}

impl<E: Event> HistorySubscriberBuilder<E> {
    pub(crate) fn new(
        builder: SubscriberBuilder<Sequenced<E>>,
        history: std::sync::Arc<History<E>>,
    ) -> Self {
        HistorySubscriberBuilder {
            builder,
            history,
            replay: Replay::None,
        }
    }

    /// What to receive before the live stream (default: [`Replay::None`]).
    pub fn replay(mut self, replay: Replay) -> Self {
        self.replay = replay;
        self
    }

    /// The topics to receive, replayed and live (default: all).
    pub fn topics(mut self, topics: impl Into<Topics>) -> Self {
        self.builder = self.builder.topics(topics);
        self
    }

    /// The queue's capacity; see [`SubscriberBuilder::capacity`]. A replay larger than the queue
    /// meets the overflow policy (see [`build`](Self::build)).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.builder = self.builder.capacity(capacity);
        self
    }

    /// The overflow policy, for replayed and live events alike; see [`build`](Self::build).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.builder = self.builder.overflow(overflow);
        self
    }

    /// How blocking receives wait; see [`SubscriberBuilder::wait`].
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.builder = self.builder.wait(wait);
        self
    }

    /// A name for stats and debugging; see [`SubscriberBuilder::name`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.builder = self.builder.name(name);
        self
    }

    /// Makes this a keyed subscriber of `key`, replayed and live: it replays only the past
    /// events of `key` and the unkeyed ones; see [`SubscriberBuilder::key`].
    pub fn key(mut self, key: impl Into<crate::Key>) -> Self {
        self.builder = self.builder.key(key);
        self
    }

    /// Makes this a keyed subscriber of every key in `keys`; see [`SubscriberBuilder::keys`].
    pub fn keys<K: Into<crate::Key>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.builder = self.builder.keys(keys);
        self
    }

    /// A predicate on the event, run by publishers on live events and by `build` on replayed
    /// ones; see [`SubscriberBuilder::filter`]. Never publish from it.
    pub fn filter(mut self, filter: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.builder = self
            .builder
            .filter(move |item: &Sequenced<E>| filter(item.event()));
        self
    }

    /// Creates the subscriber: its queue first holds the replayed events (those its topics and
    /// filter want, oldest first), and it receives every matching event published after them,
    /// with no gap and no duplicate in between (see the crate docs,
    /// [History and replay](crate#history-and-replay)).
    ///
    /// The replay meets the subscriber's overflow policy as a burst of live events would, before
    /// any live event: `DropOldest` keeps the newest `capacity` and reports the rest as
    /// `Lagged` first; `DropNewest` keeps the oldest `capacity` and reports the rest;
    /// `Disconnect` keeps the oldest `capacity` and cuts the subscriber off at once (it receives
    /// `Lagged(1)`, then them, then `Overflowed`: give it room for its replay). `Block` loses
    /// nothing: waiting for room would wait forever (nobody can be receiving yet), so what does
    /// not fit is held by the subscriber itself and handed out before its queue (at most the
    /// history's size).
    ///
    /// ```
    /// use fanout::{HistoryBus, Overflow};
    /// use fanout::error::TryRecvError;
    /// use fanout::history::Replay;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ev(u32);
    /// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = HistoryBus::builder(8).build().unwrap();
    /// for i in 0..3 {
    ///     bus.publish(Ev(i)).unwrap();
    /// }
    /// let mut small = bus
    ///     .subscriber()
    ///     .capacity(2)
    ///     .overflow(Overflow::Disconnect)
    ///     .replay(Replay::Since(0))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(small.try_recv(), Err(TryRecvError::Lagged(1)));
    /// assert_eq!(small.try_recv().unwrap().into_inner(), Ev(0));
    /// assert_eq!(small.try_recv().unwrap().into_inner(), Ev(1));
    /// assert_eq!(small.try_recv(), Err(TryRecvError::Overflowed));
    /// ```
    ///
    /// The replay is copied (`Clone`, and the filter, both user code) under the history's ring
    /// lock, which publishers also take briefly: a slow `Clone` delays them, and a `Clone` or
    /// filter must never publish to this bus. If one panics, nothing is registered and the bus
    /// is as before.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`], [`BuildError::CapacityTooLarge`], [`BuildError::Closed`], or
    /// [`BuildError::ReplayFromFuture`] for a [`Replay::Since`] beyond the last number given.
    pub fn build(self) -> Result<Subscriber<Sequenced<E>>, BuildError> {
        self.builder.check()?;
        let Prepared {
            entry,
            parts,
            inner,
        } = self.builder.prepare();
        let state = &parts.state;
        let capacity = state.capacity;
        let ring = self.history.ring.lock();
        let selection = match ring.select(
            self.replay,
            &state.keys,
            entry.mask,
            entry.filter.as_deref(),
        ) {
            Ok(selection) => selection,
            Err(err) => {
                drop(ring);
                drop((entry, parts));
                return Err(err);
            }
        };
        let picked = &selection.events[..];
        let excess = picked.len().saturating_sub(capacity);
        let mut lost = selection.lagged;
        // Losses of events that never entered the queue (stats count `DropOldest` losses as
        // evictions otherwise).
        let mut unqueued = selection.lagged;
        let mut cut_off = false;
        let mut backlog = VecDeque::new();
        let queued = match state.overflow {
            _ if excess == 0 => picked,
            Overflow::DropOldest => {
                lost += excess as u64;
                unqueued += excess as u64;
                &picked[excess..]
            }
            Overflow::DropNewest => {
                lost += excess as u64;
                &picked[..capacity]
            }
            Overflow::Disconnect => {
                lost += 1;
                cut_off = true;
                &picked[..capacity]
            }
            Overflow::Block => {
                backlog.reserve_exact(excess);
                backlog.extend(picked[..excess].iter().map(|item| (*item).clone()));
                &picked[excess..]
            }
        };
        for item in queued {
            // The queue is new, has room for all of them and nobody else can reach it yet; an
            // error here would be a bug, and is still counted rather than lost silently.
            if entry.tx.try_send((*item).clone()).is_err() {
                lost += 1;
                unqueued += 1;
            }
        }
        if lost > 0 {
            state.lost.record(lost);
            state.lost_unqueued.fetch_add(unqueued, Ordering::Relaxed);
        }
        // Registering under the ring lock is the hand-off: a publish whose ring section came
        // before this one is in the copied replay and loaded a snapshot without this subscriber;
        // one whose ring section comes after loads the snapshot published here.
        let registered = if cut_off {
            state.overflowed.store(true, Ordering::SeqCst);
            Err(entry)
        } else {
            inner.registry.insert(entry)
        };
        drop(selection);
        drop(ring);
        match registered {
            Ok(()) => Ok(Subscriber::new(parts, inner).with_backlog(backlog)),
            // Cut off by its own replay: its queue disconnects once the entry (the only sender)
            // is gone, and its stream ends in `Overflowed` after what it holds.
            Err(entry) if cut_off => {
                drop(entry);
                Ok(Subscriber::new(parts, inner).with_backlog(backlog))
            }
            Err(entry) => {
                drop((entry, parts, backlog));
                Err(BuildError::Closed)
            }
        }
    }
}

impl<E> fmt::Debug for HistorySubscriberBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistorySubscriberBuilder")
            .field("builder", &self.builder)
            .field("replay", &self.replay)
            .finish()
    }
}
