//! [`History`]: a bus's two locks, its ring of recent events and its last event per topic.

use super::order::OrderLock;
use super::{Replay, Sequenced};
use crate::error::BuildError;
use crate::registry::Filter;
use crate::sync::Mutex;
use crate::topic::TOPIC_COUNT;
use crate::Key;

/// One slot per topic.
const SLOTS: usize = TOPIC_COUNT as usize;

/// What a bus with history adds to the core: the order lock and the ring lock (protocol in
/// [`crate::history`]).
pub(crate) struct History<E> {
    /// Held by a publish for its whole fan-out, so that sequence order, history order and every
    /// queue's order are one order. Publishes of one history bus are serialised by it;
    /// subscribes never take it. Taken by threads and by tasks (`publish_async`) alike.
    pub(crate) order: OrderLock,
    /// Held briefly: by a publish to take its number, keep its copy and load the subscriber
    /// snapshot; by a subscribe with replay to copy the replay and register.
    pub(crate) ring: Mutex<Ring<E>>,
    /// The topics whose events the history keeps.
    pub(crate) topics: u64,
    /// The most events the ring holds.
    pub(crate) capacity: usize,
}

impl<E> History<E> {
    /// A history of `capacity` events, its ring allocated up front.
    pub(crate) fn new(capacity: usize, topics: u64) -> Result<Self, BuildError> {
        let slots = crate::shared::reserve(capacity)?;
        Ok(History {
            order: OrderLock::new(),
            ring: Mutex::new(Ring {
                next: 1,
                dropped_through: 0,
                slots,
                head: 0,
                last_of: [0; SLOTS],
                retained: (0..SLOTS).map(|_| None).collect(),
                retained_mask: 0,
                keys: Vec::new(),
                retained_keys: Box::new([]),
            }),
            topics,
            capacity,
        })
    }
}

/// One kept event and its topic's index (stored, so that evicting it runs no user code).
pub(crate) struct Kept<E> {
    topic: u8,
    item: Sequenced<E>,
}

/// Whether a subscriber of `keys` (empty: unkeyed) is offered an event of key `key`.
#[inline]
fn is_for(key: Option<Key>, keys: &[Key]) -> bool {
    match key {
        Some(key) if !keys.is_empty() => keys.binary_search(&key).is_ok(),
        _ => true,
    }
}

/// Events a publish displaced from the history, for it to drop once it no longer holds the ring
/// lock (their `Drop` is user code). Filled in place by [`Ring::stamp`] (no large return value).
pub(crate) struct Displaced<E> {
    evicted: Option<Kept<E>>,
    stale: Option<Kept<E>>,
}

impl<E> Displaced<E> {
    pub(crate) fn new() -> Self {
        Displaced {
            evicted: None,
            stale: None,
        }
    }
}

pub(crate) struct Ring<E> {
    /// The sequence number of the next publish.
    next: u64,
    /// The sequence number of the newest event that fell out of the ring (0: none yet).
    dropped_through: u64,
    /// Kept events: up to `History::capacity` (allocated up front). Until it is full they are
    /// in order; from then on `head` is the oldest, and a new event takes its slot.
    slots: Vec<Kept<E>>,
    head: usize,
    /// Per topic, the number of the newest event of that topic the history kept (0: none).
    last_of: [u64; SLOTS],
    /// Per topic, that newest event once it has fallen out of the ring (moved, not cloned): what
    /// `Replay::LastPerTopic` returns for a topic the ring no longer holds.
    retained: Box<[Option<Kept<E>>]>,
    /// The topics whose `retained` slot is full (so a publish tests a bit, not the slot).
    retained_mask: u64,
    /// The key of each kept event (stored, so that choosing a keyed subscriber's replay runs no
    /// user code), at its index in `slots`; and of each `retained` event, at its topic. Both
    /// empty until the first keyed event is kept, then allocated once, in full: a history of
    /// events without keys pays nothing for keys (not even a larger slot).
    keys: Vec<Option<Key>>,
    retained_keys: Box<[Option<Key>]>,
}

/// What a replay asked of the ring: the events to copy, and the sequence numbers it lost.
pub(crate) struct Selection<'a, E> {
    pub(crate) events: Vec<&'a Sequenced<E>>,
    pub(crate) lagged: u64,
}

impl<E> Ring<E> {
    /// The last sequence number given (0 before the first publish).
    pub(crate) fn last_seq(&self) -> u64 {
        self.next - 1
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The kept events, oldest first, with their index in `slots`.
    fn ordered_indexed(&self) -> impl DoubleEndedIterator<Item = (usize, &Kept<E>)> {
        let (newer, older) = self.slots.split_at(self.head);
        let head = self.head;
        (older
            .iter()
            .enumerate()
            .map(move |(i, kept)| (head + i, kept)))
        .chain(newer.iter().enumerate())
    }

    /// The key of the event at index `i` of `slots`.
    #[inline]
    fn key_at(&self, i: usize) -> Option<Key> {
        self.keys.get(i).copied().flatten()
    }

    /// Whether keys are being stored (a keyed event was kept).
    #[inline]
    fn stores_keys(&self) -> bool {
        !self.retained_keys.is_empty()
    }

    /// Starts storing keys: every event kept so far had none.
    #[cold]
    fn store_keys(&mut self, capacity: usize) {
        self.keys = Vec::with_capacity(capacity);
        self.keys.resize(self.slots.len(), None);
        self.retained_keys = vec![None; SLOTS].into_boxed_slice();
    }

    /// The `i`-th oldest kept event.
    fn at(&self, i: usize) -> &Kept<E> {
        let j = self.head + i;
        if j < self.slots.len() {
            &self.slots[j]
        } else {
            &self.slots[j - self.slots.len()]
        }
    }

    /// How many kept events have a sequence number `<= seq`.
    fn count_up_to(&self, seq: u64) -> usize {
        let (mut low, mut high) = (0, self.slots.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if self.at(mid).item.seq() <= seq {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// Takes the next sequence number, for an event the history does not keep.
    #[inline]
    pub(crate) fn number(&mut self) -> u64 {
        let seq = self.next;
        self.next += 1;
        seq
    }

    /// Takes the next sequence number and keeps `event` (of topic index `topic`) under it. Runs
    /// no user code: what it displaces goes to `displaced`, for the caller to drop after
    /// unlocking.
    #[inline]
    pub(crate) fn keep(
        &mut self,
        topic: u8,
        key: Option<Key>,
        event: E,
        capacity: usize,
        displaced: &mut Displaced<E>,
    ) -> u64 {
        if key.is_some() && !self.stores_keys() {
            self.store_keys(capacity);
        }
        let seq = self.number();
        let t = usize::from(topic);
        if self.retained_mask & (1u64 << t) != 0 {
            // A newer event of this topic: the retained one is stale.
            self.retained_mask &= !(1u64 << t);
            displaced.stale = self.retained[t].take();
        }
        self.last_of[t] = seq;
        let kept = Kept {
            topic,
            item: Sequenced::new(seq, event),
        };
        if self.slots.len() < capacity {
            self.slots.push(kept);
            if self.stores_keys() {
                self.keys.push(key);
            }
            return seq;
        }
        let index = self.head;
        if self.stores_keys() {
            let old = std::mem::replace(&mut self.keys[index], key);
            let o = usize::from(self.slots[index].topic);
            if self.last_of[o] == self.slots[index].item.seq() {
                // Moves to `retained` below, with its key.
                self.retained_keys[o] = old;
            }
        }
        let slot = &mut self.slots[index];
        self.head += 1;
        if self.head == capacity {
            self.head = 0;
        }
        let (old_seq, o) = (slot.item.seq(), usize::from(slot.topic));
        self.dropped_through = old_seq;
        if self.last_of[o] == old_seq {
            // The newest of its topic: keep it for `LastPerTopic` (its slot is empty: it was
            // emptied when this event came in).
            self.retained_mask |= 1u64 << o;
            self.retained[o] = Some(std::mem::replace(slot, kept));
        } else if std::mem::needs_drop::<E>() {
            // Its `Drop` is user code: the caller drops it after unlocking.
            displaced.evicted = Some(std::mem::replace(slot, kept));
        } else {
            // Nothing runs when it goes: overwrite it in place.
            *slot = kept;
        }
        seq
    }

    /// The events `replay` asks for that a subscriber of `keys` (empty: unkeyed) is offered and
    /// `mask` and `filter` want, oldest first. Runs the filter (user code) on candidates.
    ///
    /// A keyed subscriber's replay is chosen by scanning the part of the ring the replay covers
    /// and comparing each event's stored key: no user code and no clone for another key's
    /// events, but a scan of up to the whole history per subscribe (no per-key index: it would
    /// cost every publish a map update under the ring lock, to save a subscribe a scan).
    pub(crate) fn select(
        &self,
        replay: Replay,
        keys: &[Key],
        mask: u64,
        filter: Option<&Filter<Sequenced<E>>>,
    ) -> Result<Selection<'_, E>, BuildError> {
        let wants = |kept: &Kept<E>, key: Option<Key>| {
            mask & (1u64 << kept.topic) != 0
                && is_for(key, keys)
                && filter.map_or(true, |f| f(&kept.item))
        };
        let mut selection = Selection {
            events: Vec::new(),
            lagged: 0,
        };
        match replay {
            Replay::None => {}
            Replay::Tail(k) => {
                selection.events.reserve_exact(k.min(self.slots.len()));
                for (i, kept) in self.ordered_indexed().rev() {
                    if selection.events.len() == k {
                        break;
                    }
                    if wants(kept, self.key_at(i)) {
                        selection.events.push(&kept.item);
                    }
                }
                selection.events.reverse();
            }
            Replay::Since(seq) => {
                if seq > self.last_seq() {
                    return Err(BuildError::ReplayFromFuture {
                        requested: seq,
                        last: self.last_seq(),
                    });
                }
                selection.lagged = self.dropped_through.saturating_sub(seq);
                let start = self.count_up_to(seq);
                selection.events.reserve_exact(self.slots.len() - start);
                selection.events.extend(
                    self.ordered_indexed()
                        .skip(start)
                        .filter(|&(i, kept)| wants(kept, self.key_at(i)))
                        .map(|(_, kept)| &kept.item),
                );
            }
            Replay::LastPerTopic if !keys.is_empty() => {
                // The newest event of each topic among those offered to these keys: the ring,
                // newest first, then the retained slot of a topic the ring no longer holds.
                let mut found = 0u64;
                for (i, kept) in self.ordered_indexed().rev() {
                    let bit = 1u64 << kept.topic;
                    if found & bit == 0 && mask & bit != 0 && is_for(self.key_at(i), keys) {
                        found |= bit;
                        if filter.map_or(true, |f| f(&kept.item)) {
                            selection.events.push(&kept.item);
                        }
                    }
                }
                for (t, retained) in self.retained.iter().enumerate() {
                    if found & (1u64 << t) != 0 {
                        continue;
                    }
                    let key = self.retained_keys.get(t).copied().flatten();
                    if let Some(kept) = retained.as_ref().filter(|kept| wants(kept, key)) {
                        selection.events.push(&kept.item);
                    }
                }
                selection.events.sort_unstable_by_key(|item| item.seq());
            }
            Replay::LastPerTopic => {
                for (t, &last) in self.last_of.iter().enumerate() {
                    if last == 0 || mask & (1u64 << t) == 0 {
                        continue;
                    }
                    let kept = if last > self.dropped_through {
                        // In the ring: the last one numbered at most `last` is it.
                        self.count_up_to(last).checked_sub(1).map(|i| self.at(i))
                    } else {
                        self.retained[t].as_ref()
                    };
                    // An unkeyed subscriber: keys do not matter.
                    if let Some(kept) = kept.filter(|kept| wants(kept, None)) {
                        selection.events.push(&kept.item);
                    }
                }
                selection.events.sort_unstable_by_key(|item| item.seq());
            }
        }
        Ok(selection)
    }
}
