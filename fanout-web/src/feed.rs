//! Following a bus for one connection: [`Feed`] (a [`Bus`] or a [`HistoryBus`]), the seam that
//! builds a connection's subscriber from its topics and keys, and [`Follow`], which turns the
//! subscriber's items into [`Step`]s with lag repaired from the history where it can be.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fanout::error::{BuildError, RecvError, TryRecvError};
use fanout::history::Replay;
use fanout::stats::BusStats;
use fanout::{Bus, HistoryBus, Overflow, Subscriber, Topics};

use crate::WebEvent;

/// The bus a gateway streams: a plain [`Bus`] (live only: frames carry no `id:`, there is no
/// resume) or a [`HistoryBus`] (every frame's `id:` is the event's sequence number; a reconnect
/// with `Last-Event-ID` resumes; lag is repaired from the history). Made with `From`.
pub enum Feed<E> {
    /// A bus without history.
    Plain(Bus<E>),
    /// A bus with history.
    History(HistoryBus<E>),
}

impl<E> Clone for Feed<E> {
    fn clone(&self) -> Self {
        match self {
            Feed::Plain(bus) => Feed::Plain(bus.clone()),
            Feed::History(bus) => Feed::History(bus.clone()),
        }
    }
}

impl<E> From<Bus<E>> for Feed<E> {
    fn from(bus: Bus<E>) -> Self {
        Feed::Plain(bus)
    }
}

impl<E> From<HistoryBus<E>> for Feed<E> {
    fn from(bus: HistoryBus<E>) -> Self {
        Feed::History(bus)
    }
}

impl<E: WebEvent> Feed<E> {
    /// The bus's counters.
    pub fn stats(&self) -> BusStats {
        match self {
            Feed::Plain(bus) => bus.stats(),
            Feed::History(bus) => bus.stats(),
        }
    }

    /// Whether the bus is closed.
    pub fn is_closed(&self) -> bool {
        match self {
            Feed::Plain(bus) => bus.is_closed(),
            Feed::History(bus) => bus.is_closed(),
        }
    }
}

/// Which keys a connection follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeySet<K> {
    /// Every key.
    All,
    /// These (one, usually).
    Only(Arc<[K]>),
}

impl<K: PartialEq> KeySet<K> {
    /// Whether an event keyed `key` (or unkeyed) reaches the connection.
    fn admits(&self, key: Option<&K>) -> bool {
        match (self, key) {
            (KeySet::All, _) | (_, None) => true,
            (KeySet::Only(keys), Some(key)) => keys.contains(key),
        }
    }
}

/// What one connection subscribes to, and how.
#[derive(Clone, Debug)]
pub(crate) struct Target<K> {
    pub(crate) name: String,
    pub(crate) topics: Topics,
    pub(crate) keys: KeySet<K>,
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
}

/// A connection's subscriber.
pub(crate) enum Conn<E> {
    Plain(Subscriber<E>),
    History(Subscriber<fanout::history::Sequenced<E>>),
}

/// Where a history subscriber starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Live from now on (on a history bus: `Since(last_seq)`, so that the connection's floor is
    /// known for lag repair).
    Now,
    /// After this sequence number (a `Last-Event-ID`).
    After(u64),
}

/// The subscriber of one connection, from its topics and keys.
///
/// A connection of a few keys (up to [`fanout::key::MAX_KEYS`]) subscribes with them, so the
/// bus offers it only its keys' events and unkeyed ones (see [`fanout::key`]); the key filter
/// stays as well, run on just those, so an event type whose `Event::key` is not its
/// `WebEvent::key` is slower but never leaks. More keys than that: the filter alone.
pub(crate) fn subscribe<E: WebEvent>(
    feed: &Feed<E>,
    target: &Target<E::Key>,
    start: Start,
) -> Result<(Conn<E>, u64), BuildError> {
    let filter = key_filter::<E>(&target.keys);
    let routing = routing_keys(&target.keys);
    match feed {
        Feed::Plain(bus) => {
            let builder = bus
                .subscriber()
                .name(target.name.clone())
                .topics(target.topics)
                .capacity(target.capacity)
                .overflow(target.overflow);
            let builder = match routing {
                Some(keys) => builder.keys(keys),
                None => builder,
            };
            let builder = match filter {
                Some(filter) => builder.filter(filter),
                None => builder,
            };
            Ok((Conn::Plain(builder.build()?), 0))
        }
        Feed::History(bus) => {
            let since = match start {
                Start::Now => bus.last_seq(),
                Start::After(seq) => seq,
            };
            let builder = bus
                .subscriber()
                .name(target.name.clone())
                .topics(target.topics)
                .capacity(target.capacity)
                .overflow(target.overflow)
                .replay(Replay::Since(since));
            let builder = match routing {
                Some(keys) => builder.keys(keys),
                None => builder,
            };
            let builder = match filter {
                Some(filter) => builder.filter(filter),
                None => builder,
            };
            Ok((Conn::History(builder.build()?), since))
        }
    }
}

type KeyFilter<E> = Box<dyn Fn(&E) -> bool + Send + Sync>;

/// The bus routing keys of a connection's key set: `None` for every key, or for more than the
/// bus's limit per subscriber (the filter then does it alone).
fn routing_keys<K: Clone + Into<fanout::Key>>(keys: &KeySet<K>) -> Option<Vec<fanout::Key>> {
    match keys {
        KeySet::Only(keys) if !keys.is_empty() && keys.len() <= fanout::key::MAX_KEYS => {
            Some(keys.iter().cloned().map(Into::into).collect())
        }
        _ => None,
    }
}

/// The publisher-side test of a connection's keys (`None`: every key, no filter at all).
fn key_filter<E: WebEvent>(keys: &KeySet<E::Key>) -> Option<KeyFilter<E>> {
    match keys {
        KeySet::All => None,
        keys => {
            let keys = keys.clone();
            Some(Box::new(move |event: &E| {
                keys.admits(WebEvent::key(event).as_ref())
            }))
        }
    }
}

impl<E: Send + 'static> Conn<E> {
    async fn recv(&mut self) -> Result<(Option<u64>, E), RecvError> {
        match self {
            Conn::Plain(sub) => sub.recv_async().await.map(|event| (None, event)),
            Conn::History(sub) => sub.recv_async().await.map(|item| {
                let (seq, event) = item.into_parts();
                (Some(seq), event)
            }),
        }
    }

    fn try_recv(&mut self) -> Result<(Option<u64>, E), TryRecvError> {
        match self {
            Conn::Plain(sub) => sub.try_recv().map(|event| (None, event)),
            Conn::History(sub) => sub.try_recv().map(|item| {
                let (seq, event) = item.into_parts();
                (Some(seq), event)
            }),
        }
    }
}

/// One step of a connection's stream.
#[derive(Debug, PartialEq)]
pub(crate) enum Step<E> {
    /// An event, with its sequence number on a bus with history.
    Event(Option<u64>, E),
    /// This many of the connection's events are lost for good (not in the history either).
    Gap(u64),
    /// The bus closed (and everything before was streamed).
    Closed,
    /// `Overflow::Disconnect` cut the connection's subscriber off.
    Overflowed,
}

/// A connection's subscriber, turned into [`Step`]s, with lag repair.
///
/// Repair: under `DropOldest` the events a connection lost are exactly its events between the
/// last one it received (`L`) and the one that follows the `Lagged(n)` report (`S`, which is
/// already dequeued when the report is handed out). Those the history still holds are read back
/// from it (a short-lived subscriber with `Replay::Since(L)`, the same topics and keys, taking
/// only numbers below `S`), and only the rest, `n - recovered`, becomes a gap. Exact: the lost
/// events are `n`, and every recovered one is one of them. (A read-only range query on the
/// history would save registering that short-lived subscriber; the core has none yet.)
pub(crate) struct Follow<E: WebEvent> {
    feed: Feed<E>,
    target: Target<E::Key>,
    conn: Conn<E>,
    /// The last sequence number streamed (or the connection's floor).
    last: u64,
    ready: VecDeque<Step<E>>,
    /// Events recovered from the history, summed over every connection (for `/metrics`).
    repaired: Arc<AtomicU64>,
}

impl<E: WebEvent> Follow<E> {
    /// Subscribes a connection; see [`subscribe`].
    pub(crate) fn new(
        feed: Feed<E>,
        target: Target<E::Key>,
        start: Start,
        repaired: Arc<AtomicU64>,
    ) -> Result<Self, BuildError> {
        let (conn, last) = subscribe(&feed, &target, start)?;
        Ok(Follow {
            feed,
            target,
            conn,
            last,
            ready: VecDeque::new(),
            repaired,
        })
    }

    /// The next step (cancel-safe: nothing is lost if the future is dropped).
    pub(crate) async fn next(&mut self) -> Step<E> {
        if let Some(step) = self.ready.pop_front() {
            return step;
        }
        match self.conn.recv().await {
            Ok((seq, event)) => self.event(seq, event),
            Err(RecvError::Lagged(n)) => self.lagged(n),
            Err(RecvError::Overflowed) => Step::Overflowed,
            Err(RecvError::Disconnected) => Step::Closed,
        }
    }

    fn event(&mut self, seq: Option<u64>, event: E) -> Step<E> {
        if let Some(seq) = seq {
            self.last = seq;
        }
        Step::Event(seq, event)
    }

    /// A `Lagged(n)`: the queue's own (the connection fell behind) or, first on a resume, the
    /// history's (numbers it no longer holds; the read-back finds none of them, so they stay a
    /// gap, an upper bound when the connection is filtered by topic or key, as `Replay::Since`
    /// says).
    fn lagged(&mut self, n: u64) -> Step<E> {
        let repairable =
            matches!(self.feed, Feed::History(_)) && self.target.overflow == Overflow::DropOldest;
        if !repairable {
            return Step::Gap(n);
        }
        // The event after the gap is already dequeued and held by the subscriber.
        let next = match self.conn.try_recv() {
            Ok((Some(seq), event)) => (seq, event),
            // Not there (never under DropOldest): no window to repair in, the gap stands.
            Ok((None, event)) => {
                self.ready.push_back(Step::Event(None, event));
                return Step::Gap(n);
            }
            Err(TryRecvError::Lagged(more)) => return Step::Gap(n + more),
            Err(_) => return Step::Gap(n),
        };
        let recovered = self.read_back(self.last, next.0, n);
        let missed = n.saturating_sub(recovered.len() as u64);
        self.repaired
            .fetch_add(recovered.len() as u64, Ordering::Relaxed);
        for (seq, event) in recovered {
            self.ready.push_back(Step::Event(Some(seq), event));
        }
        self.last = next.0;
        self.ready.push_back(Step::Event(Some(next.0), next.1));
        if missed > 0 {
            // The history lost the oldest of them: the gap comes first.
            Step::Gap(missed)
        } else {
            self.ready
                .pop_front()
                .expect("the event after the gap is queued")
        }
    }

    /// The connection's events numbered in `(after, before)` that the history still holds (at
    /// most `max`). Runs on the connection's task, copying under the history's ring lock as any
    /// subscribe with replay does (publishers wait for that copy, at most the history's length).
    fn read_back(&self, after: u64, before: u64, max: u64) -> Vec<(u64, E)> {
        let Feed::History(bus) = &self.feed else {
            return Vec::new();
        };
        // No more than the history holds: a connection that lost a million events must not
        // allocate a million slots to find the few thousand still there.
        let capacity = usize::try_from(max)
            .unwrap_or(usize::MAX)
            .min(bus.history_capacity())
            .clamp(1, fanout::MAX_CAPACITY);
        let mut builder = bus
            .subscriber()
            .name(format!("{} (repair)", self.target.name))
            .topics(self.target.topics)
            .capacity(capacity)
            // Keeps the oldest `capacity` of the replay, which are the ones wanted; live events
            // arriving meanwhile are refused, never waited for.
            .overflow(Overflow::DropNewest)
            .replay(Replay::Since(after));
        if let Some(keys) = routing_keys(&self.target.keys) {
            builder = builder.keys(keys);
        }
        if let Some(filter) = key_filter::<E>(&self.target.keys) {
            builder = builder.filter(filter);
        }
        let Ok(mut reader) = builder.build() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        loop {
            match reader.try_recv() {
                Ok(item) if item.seq() < before && (out.len() as u64) < max => {
                    out.push(item.into_parts());
                }
                Ok(_) => break,
                // The history no longer reaches back to `after`: what it lost stays lost.
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        out
    }
}
