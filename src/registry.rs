//! The subscriber table: written under a lock, read by publishers without one.
//!
//! # Protocol
//!
//! Writers (subscribe, unsubscribe, `set_topics`, close) serialise on `table`, a mutex publishers
//! never take. After changing the table a writer publishes a fresh immutable [`Snapshot`] through
//! a [`SnapshotCell`] and recomputes `interest`, the union of every live mask.
//!
//! A publish reads `interest` (one atomic load) and returns at once when the event's topic is not
//! in it. Otherwise it loads the current snapshot (no lock, no allocation) and walks its entries,
//! testing each subscriber's mask, which the snapshot holds inline (so `set_topics` publishes a new
//! snapshot too). A snapshot keeps the queue senders of its entries alive, so a publish that loaded
//! it before a subscriber was dropped may still enqueue into that subscriber's queue; whatever it
//! enqueues is freed with the queue when that publish drops the snapshot.
//!
//! Invariant (checked by `loom-tests/tests/loom_interest.rs`): once a subscribe or `set_topics` has
//! returned, `interest` contains every topic of that subscriber's mask, for as long as the
//! subscriber is live.
//!
//! Keyed subscribers (see [`crate::key`]) are not in the plain entry list: they are in the
//! snapshot's key index ([`keyed`]), published with the rest of the table by the same swap, and
//! their masks are in `interest` like everyone's. A snapshot without keyed subscribers has no
//! index at all, so a publish on such a bus tests one `None` and walks the plain list as before.

mod keyed;

pub(crate) use keyed::KeyIndex;

use std::fmt;

use crossbeam_utils::CachePadded;

use crate::fan_out::lanes::Lanes;
use crate::loss::LossCounter;
use crate::notify::{WakerList, WakerSlot};
use crate::queue::{self, Receiver, Sender, Stop, StopTrigger};
use crate::sync::{
    Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, SnapshotCell, SnapshotGuard,
};
use crate::{Key, Overflow, Topics, WaitStrategy};

/// A subscriber's identity, unique within its bus.
///
/// # Examples
///
/// ```
/// # #[derive(Clone)] struct Ping;
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = fanout::Bus::<Ping>::new();
/// let a = bus.subscribe(fanout::Topics::ALL);
/// let b = bus.subscribe(fanout::Topics::ALL);
/// assert_ne!(a.id(), b.id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct SubscriberId(pub(crate) u64);

impl SubscriberId {
    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for SubscriberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubscriberId({})", self.0)
    }
}

impl fmt::Display for SubscriberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The user's per-subscriber predicate, run by the publisher after the topic test.
pub(crate) type Filter<E> = dyn Fn(&E) -> bool + Send + Sync + 'static;

/// The state one subscriber shares between its [`Subscriber`](crate::Subscriber) handle and the
/// publishers. Fields written by publishers and fields written by the consumer sit on separate
/// cache lines.
pub(crate) struct SubscriberState {
    pub(crate) id: SubscriberId,
    pub(crate) name: String,
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    pub(crate) wait: WaitStrategy,
    /// The topics the subscriber asked for (what `topics()` and stats report).
    pub(crate) topics: AtomicU64,
    /// The keys it asked for, sorted, without duplicates (empty: unkeyed). The first is its
    /// primary key (see [`keyed`]).
    pub(crate) keys: Box<[Key]>,
    /// Events this subscriber lost to its overflow policy, and `DropOldest` evictions under way.
    /// Publishers write it only on loss; the consumer reads it after every dequeue and reports
    /// the growth as `Lagged(n)` (protocol in [`crate::loss`]).
    pub(crate) lost: LossCounter,
    /// Set (once) by the publisher that cut this subscriber off under `Overflow::Disconnect`,
    /// after it counted the event it could not enqueue in `lost` (release: a consumer that sees
    /// the flag sees the count).
    pub(crate) overflowed: AtomicBool,
    /// Events handed to the consumer (consumer-written, read by stats).
    pub(crate) received: CachePadded<AtomicU64>,
    /// Lost events already reported to the consumer as `Lagged` (consumer-written).
    pub(crate) lag_reported: AtomicU64,
    /// Events the consumer took from the queue but holds back (behind a `Lagged` report, or
    /// given back by a dropped `Accepted`): still queued as far as stats are concerned.
    /// Consumer-written, only when that changes (rare).
    pub(crate) held: AtomicU64,
    /// Of the lost events, those that never entered the queue although the policy is
    /// `DropOldest` (whose losses are otherwise evictions): counted by a publish interrupted by a
    /// panic. Written only then; read by stats.
    pub(crate) lost_unqueued: AtomicU64,
    /// The task receiving asynchronously, woken after enqueues and when the queue disconnects
    /// (protocol in [`crate::notify`]).
    pub(crate) event_waiter: WakerSlot,
    /// Table entries alive that name this subscriber (each holds a queue sender): the one that
    /// takes it to zero wakes the waiters ([`LastEntryWakes`]).
    pub(crate) entries: AtomicUsize,
    /// Publishers' tasks waiting for room in this (full, `Overflow::Block`) queue, woken by the
    /// consumer after each dequeue and when the subscriber or an entry is dropped.
    pub(crate) room_waiters: WakerList,
}

impl SubscriberState {
    pub(crate) fn topics(&self) -> Topics {
        Topics::from_bits(self.topics.load(Ordering::Relaxed))
    }
}

/// One row of the table: what a publisher needs to deliver to one subscriber.
pub(crate) struct Entry<E> {
    /// The topics publishers test, inline so that an uninterested subscriber costs a bit test on
    /// the snapshot's own memory and no pointer chase. A snapshot is immutable: `set_topics`
    /// publishes a new snapshot with the new mask.
    pub(crate) mask: u64,
    pub(crate) state: Arc<SubscriberState>,
    /// The queue's sending side. Only entries hold senders, so once a subscriber has left the
    /// table (or the bus is closed) and the last snapshot naming it is gone, the queue is
    /// disconnected and its consumer sees `Disconnected` after draining.
    pub(crate) tx: Sender<E>,
    /// A second receiver, for `Overflow::DropOldest` only, through which a publisher evicts the
    /// oldest event when the queue is full.
    pub(crate) evictor: Option<Receiver<E>>,
    /// The two lanes of a subscriber with lossless topics (see [`crate::fan_out::lanes`]);
    /// `None` for every other subscriber, whose events go to `tx`. Shared by every entry naming
    /// the subscriber, so its senders drop with the last one, like `tx`.
    pub(crate) lanes: Option<Arc<Lanes<E>>>,
    /// Immutable once built, so a plain `std` `Arc` (not part of any protocol loom checks).
    pub(crate) filter: Option<std::sync::Arc<Filter<E>>>,
    /// Fires when the subscriber's handle is dropped: a publisher waiting for room in its full
    /// `Block` queue stops waiting, even while a clone of its `Receiver` (taken for `select!`)
    /// keeps the queue connected.
    pub(crate) gone: Stop,
    /// The bus's close signal: a publisher waiting for room in a full `Block` queue stops waiting
    /// when the bus closes, so close ends every stream promptly.
    pub(crate) closing: Stop,
    /// Declared after `tx`, so it runs after the sender is dropped (fields drop in declaration
    /// order): see [`LastEntryWakes`].
    wake_on_drop: LastEntryWakes,
}

impl<E> Entry<E> {
    /// A new subscriber's first entry.
    pub(crate) fn new(
        mask: u64,
        state: Arc<SubscriberState>,
        tx: Sender<E>,
        evictor: Option<Receiver<E>>,
        filter: Option<std::sync::Arc<Filter<E>>>,
        gone: Stop,
        closing: Stop,
    ) -> Self {
        Entry {
            mask,
            wake_on_drop: LastEntryWakes::new(&state),
            state,
            tx,
            evictor,
            lanes: None,
            filter,
            gone,
            closing,
        }
    }
}

impl<E> Entry<E> {
    /// The entry of a subscriber with lossless topics: its events go to `lanes`.
    pub(crate) fn with_lanes(mut self, lanes: Option<Arc<Lanes<E>>>) -> Self {
        self.lanes = lanes;
        self
    }

    /// Events in the subscriber's queue (both lanes, for a subscriber with lanes).
    pub(crate) fn queued(&self) -> usize {
        self.tx.len() + self.lanes.as_ref().map_or(0, |lanes| lanes.len())
    }
}

/// Wakes a subscriber's async waiters once its queue is disconnected: when the last table entry
/// naming it (the last holder of a queue sender) is dropped, after the sender. That is what tells
/// a waiting task that its stream ended (close, removal, cut-off) and a publisher waiting for
/// room that it can stop (close). Entries of a table that is merely replaced by a newer one
/// holding the same subscriber wake nobody: replacing a table must not wake every parked task.
/// Control plane only: one atomic add per entry copied or dropped, under or after the registry
/// lock, never on the publish path.
pub(crate) struct LastEntryWakes(Arc<SubscriberState>);

impl LastEntryWakes {
    fn new(state: &Arc<SubscriberState>) -> Self {
        state.entries.fetch_add(1, Ordering::Relaxed);
        LastEntryWakes(Arc::clone(state))
    }
}

impl Drop for LastEntryWakes {
    fn drop(&mut self) {
        // AcqRel: the entry that takes the count to zero sees every other entry's sender dropped
        // (each dropped its sender before its own decrement), so the queue is disconnected.
        if self.0.entries.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.event_waiter.wake_strict();
            self.0.room_waiters.wake_strict();
        }
    }
}

/// Wakes the subscriber's async waiters when its handle is dropped, after the handle's receiver
/// and stop trigger: a publisher's task waiting for room then finds the queue disconnected or the
/// subscriber gone.
pub(crate) struct WakeOnDrop(pub(crate) Arc<SubscriberState>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        self.0.event_waiter.wake_strict();
        self.0.room_waiters.wake_strict();
    }
}

impl<E> Clone for Entry<E> {
    fn clone(&self) -> Self {
        Entry {
            mask: self.mask,
            state: Arc::clone(&self.state),
            tx: self.tx.clone(),
            evictor: self.evictor.clone(),
            lanes: self.lanes.clone(),
            filter: self.filter.clone(),
            gone: self.gone.clone(),
            closing: self.closing.clone(),
            wake_on_drop: LastEntryWakes::new(&self.wake_on_drop.0),
        }
    }
}

/// An immutable view of the table, as publishers see it.
pub(crate) struct Snapshot<E> {
    /// The unkeyed subscribers, in subscription order.
    pub(crate) entries: Box<[Entry<E>]>,
    /// The keyed subscribers; `None` when there is none (see the module docs). Behind an `Arc`
    /// so that a snapshot's drop glue stays small: with the index inline, the snapshot cell's
    /// load (which may drop a snapshot) was no longer inlined, +6 instructions per plain publish.
    pub(crate) keyed: Option<std::sync::Arc<KeyIndex<E>>>,
    /// Set in the snapshot a close publishes: a publish that loads it hands the event back.
    pub(crate) closed: bool,
}

struct Table<E> {
    /// The unkeyed subscribers, in subscription order.
    entries: Vec<Entry<E>>,
    keyed: KeyIndex<E>,
    closed: bool,
    /// Fires `Registry::closing` when close drops it.
    closing: Option<StopTrigger>,
}

pub(crate) struct Registry<E> {
    /// The union of every live subscriber's mask; the first thing a publish reads.
    interest: CachePadded<AtomicU64>,
    /// Set by close; read only by publishes whose topic nobody wants (so the idle path can tell
    /// "nobody listens" from "closed" without touching the snapshot).
    closed: AtomicBool,
    snapshot: SnapshotCell<Snapshot<E>>,
    table: Mutex<Table<E>>,
    /// Fired by close; every entry holds a clone (see `Entry::closing`).
    closing: Stop,
    /// Tasks waiting for the table to be empty ([`NoSubscribers`](crate::bus::NoSubscribers)):
    /// woken by the removal (or close) that empties it, after the lock is released. The waiter
    /// registers, then looks at the table under the lock; the notifier empties the table under
    /// the lock, then wakes: the lock orders the look and the emptying, and the `SeqCst` swaps
    /// on the list's flag order the registration and the wake (see `crate::notify`).
    emptied: WakerList,
}

impl<E> Registry<E> {
    pub(crate) fn new() -> Self {
        let (trigger, closing) = queue::stop();
        Registry {
            interest: CachePadded::new(AtomicU64::new(0)),
            closed: AtomicBool::new(false),
            snapshot: SnapshotCell::new(Arc::new(Snapshot {
                entries: Box::new([]),
                keyed: None,
                closed: false,
            })),
            table: Mutex::new(Table {
                entries: Vec::new(),
                keyed: KeyIndex::new(),
                closed: false,
                closing: Some(trigger),
            }),
            closing,
            emptied: WakerList::new(),
        }
    }

    /// Registers a task to be woken when the table becomes empty; the caller looks at
    /// [`len`](Self::len) afterwards.
    pub(crate) fn wait_emptied(&self, waker: &std::task::Waker) {
        self.emptied.register(waker);
    }

    /// Of every registered subscriber, the most events one of them has still to receive from its
    /// queue (held-back events included), each counted at most up to its capacity.
    pub(crate) fn max_queued(&self) -> usize {
        let table = self.table.lock();
        table
            .entries
            .iter()
            .chain(table.keyed.subscribers())
            .map(|entry| {
                let held = entry.state.held.load(Ordering::Relaxed) as usize;
                (entry.queued() + held).min(entry.state.capacity)
            })
            .max()
            .unwrap_or(0)
    }

    /// The bus's close signal, for a new entry.
    pub(crate) fn closing(&self) -> &Stop {
        &self.closing
    }

    /// The union of live masks. Relaxed is enough: the value guards no other memory (the snapshot
    /// has its own synchronisation), and coherence makes a load that happens after a store see it.
    #[inline]
    pub(crate) fn interest(&self) -> u64 {
        self.interest.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn load(&self) -> SnapshotGuard<Snapshot<E>> {
        self.snapshot.load()
    }

    /// The current snapshot, owned (an async publish holds it across `.await`s).
    pub(crate) fn load_full(&self) -> Arc<Snapshot<E>> {
        self.snapshot.load_full()
    }

    /// Adds a subscriber; `Err` hands the entry back if the bus is closed.
    pub(crate) fn insert(&self, entry: Entry<E>) -> Result<(), Entry<E>> {
        let mut table = self.table.lock();
        if table.closed {
            return Err(entry);
        }
        let keys = Arc::clone(&entry.state);
        let mut replaced = Vec::new();
        match &keys.keys[..] {
            [] => table.entries.push(entry),
            [rest @ .., last] => {
                // One entry per key; the first key is the primary one.
                for (i, &key) in rest.iter().enumerate() {
                    table
                        .keyed
                        .insert(key, entry.clone(), i == 0, &mut replaced);
                }
                let primary = rest.is_empty();
                table.keyed.insert(*last, entry, primary, &mut replaced);
            }
        }
        let old = self.publish(&table);
        drop(table);
        // Outside the lock (see `remove`).
        drop((replaced, old, keys));
        Ok(())
    }

    /// Removes a subscriber (its handle was dropped, or a publisher cut it off). A publish that
    /// loaded the previous snapshot may still enqueue into its queue; whatever it enqueues is freed
    /// with the queue when that publish drops the snapshot.
    pub(crate) fn remove(&self, state: &SubscriberState) {
        let mut table = self.table.lock();
        if let [primary, ..] = state.keys[..] {
            if !table.keyed.contains(primary, state.id) {
                return;
            }
            let mut replaced = Vec::new();
            for &key in &state.keys[..] {
                table.keyed.remove(key, state.id, &mut replaced);
            }
            let old = self.publish(&table);
            let emptied = table.entries.is_empty() && table.keyed.is_empty();
            drop(table);
            drop((replaced, old));
            if emptied {
                self.emptied.wake_strict();
            }
            return;
        }
        let Some(index) = table
            .entries
            .iter()
            .position(|entry| entry.state.id == state.id)
        else {
            return;
        };
        // `remove`, not `swap_remove`: the table stays in subscription order, which is the order
        // a publish serves subscribers in (and so who is served before a panic) and stats' order.
        let removed = table.entries.remove(index);
        let old = self.publish(&table);
        let emptied = table.entries.is_empty() && table.keyed.is_empty();
        drop(table);
        // Dropped outside the lock: if they were the last handles on the queue, dropping them drops
        // the queued events, and an event's `Drop` must not run under the registry lock.
        drop((removed, old));
        if emptied {
            // Wakers are user code: after the lock (and after the entries' drops, so a woken
            // `closed()` waiter that drops the bus finds nothing of ours half done).
            self.emptied.wake_strict();
        }
    }

    /// Changes a subscriber's topics; a publish that starts after this returns obeys them (it loads
    /// the snapshot published here, or a later one).
    pub(crate) fn set_topics(&self, state: &SubscriberState, topics: Topics) {
        let mut table = self.table.lock();
        state.topics.store(topics.bits(), Ordering::Relaxed);
        // A subscriber cut off by `Overflow::Disconnect` is never revived: the cutting publisher
        // sets the flag before it takes this lock to remove the entry.
        if state.overflowed.load(Ordering::SeqCst) {
            return;
        }
        if let [primary, ..] = state.keys[..] {
            if !table.keyed.contains(primary, state.id) {
                return; // closed, or already removed
            }
            let mut replaced = Vec::new();
            for &key in &state.keys[..] {
                table
                    .keyed
                    .set_mask(key, state.id, topics.bits(), &mut replaced);
            }
            let old = self.publish(&table);
            drop(table);
            drop((replaced, old));
            return;
        }
        let Some(entry) = table
            .entries
            .iter_mut()
            .find(|entry| entry.state.id == state.id)
        else {
            return; // closed, or already removed
        };
        entry.mask = topics.bits();
        let old = self.publish(&table);
        drop(table);
        drop(old);
    }

    /// Closes the table: later publishes hand their event back, and every queue disconnects once
    /// the publishes already under way have finished.
    pub(crate) fn close(&self) -> bool {
        let mut table = self.table.lock();
        if table.closed {
            return false;
        }
        table.closed = true;
        self.closed.store(true, Ordering::Release);
        // Taking the entries drops the table's senders; the snapshot below holds none. Both are
        // dropped after unlocking (see `remove`).
        let entries = std::mem::take(&mut table.entries);
        let keyed = std::mem::replace(&mut table.keyed, KeyIndex::new());
        self.interest.store(0, Ordering::Release);
        let old = self.snapshot.swap(Arc::new(Snapshot {
            entries: Box::new([]),
            keyed: None,
            closed: true,
        }));
        // Wakes publishes waiting on full `Block` queues: they count the event as lost to that
        // subscriber and return, releasing their snapshot, so every queue disconnects promptly.
        let closing = table.closing.take();
        drop(table);
        drop(closing);
        // Wakes tasks of `publish_async` waiting for room: they find the bus closed and stop
        // waiting (their own copy of the table keeps the entries, and so the queues, alive).
        for entry in entries.iter().chain(keyed.subscribers()) {
            entry.state.room_waiters.wake_strict();
        }
        let emptied = !entries.is_empty() || !keyed.is_empty();
        drop((entries, keyed, old));
        if emptied {
            self.emptied.wake_strict();
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        let table = self.table.lock();
        table.entries.len() + table.keyed.subscribers().count()
    }

    /// The states of every subscriber in the table, for stats, in subscription order.
    pub(crate) fn states(&self) -> Vec<(Arc<SubscriberState>, usize)> {
        let table = self.table.lock();
        let mut states: Vec<_> = table
            .entries
            .iter()
            .chain(table.keyed.subscribers())
            .map(|entry| (Arc::clone(&entry.state), entry.queued()))
            .collect();
        drop(table);
        if states.len() > 1 {
            // Ids are handed out in subscription order; the key index has its own order.
            states.sort_by_key(|(state, _)| state.id);
        }
        states
    }

    /// Publishes the table as a new snapshot, with the interest grown before it and shrunk after
    /// it. Called with the lock held; returns the previous snapshot, for the caller to drop after
    /// unlocking.
    ///
    /// Why that order: a publisher that has delivered one event through the new snapshot (to a
    /// subscriber it adds, or to a mask it widens) must not skip that subscriber's next event on
    /// the idle path. Its snapshot load synchronises with the swap, which comes after the grown
    /// interest is stored, so every later interest load of that publisher sees the grown mask (or
    /// a later one, which still holds every live subscriber's topics). Shrinking only after the
    /// swap means the interest never lacks a topic of a snapshot a publisher can still load first.
    /// `loom-tests/tests/loom_interest.rs` checks both.
    fn publish(&self, table: &Table<E>) -> Arc<Snapshot<E>> {
        let union = table
            .entries
            .iter()
            .fold(table.keyed.union(), |acc, entry| acc | entry.mask);
        // Only writers store the interest, and they hold the lock: this load sees the last store.
        let grown = self.interest.load(Ordering::Relaxed) | union;
        self.interest.store(grown, Ordering::Release);
        let old = self.snapshot.swap(Arc::new(Snapshot {
            entries: table.entries.clone().into_boxed_slice(),
            keyed: (!table.keyed.is_empty()).then(|| std::sync::Arc::new(table.keyed.clone())),
            closed: table.closed,
        }));
        if grown != union {
            self.interest.store(union, Ordering::Release);
        }
        old
    }
}
