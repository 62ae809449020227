//! [`History`]: a bus's two locks, its ring of recent events and its last event per topic.

use super::{Replay, Sequenced};
use crate::error::BuildError;
use crate::registry::Filter;
use crate::sync::Mutex;
use crate::topic::TOPIC_COUNT;

/// One slot per topic.
const SLOTS: usize = TOPIC_COUNT as usize;

/// What a bus with history adds to the core: the order lock and the ring lock (protocol in
/// [`crate::history`]).
pub(crate) struct History<E> {
    /// Held by a publish for its whole fan-out, so that sequence order, history order and every
    /// queue's order are one order. Publishes of one history bus are serialised by it;
    /// subscribes never take it.
    pub(crate) order: Mutex<()>,
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
            order: Mutex::new(()),
            ring: Mutex::new(Ring {
                next: 1,
                dropped_through: 0,
                slots,
                head: 0,
                last_of: [0; SLOTS],
                retained: (0..SLOTS).map(|_| None).collect(),
                retained_mask: 0,
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

    /// The kept events, oldest first.
    fn ordered(&self) -> impl DoubleEndedIterator<Item = &Kept<E>> {
        let (newer, older) = self.slots.split_at(self.head);
        older.iter().chain(newer)
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
        event: E,
        capacity: usize,
        displaced: &mut Displaced<E>,
    ) -> u64 {
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
            return seq;
        }
        let slot = &mut self.slots[self.head];
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

    /// The events `replay` asks for that `mask` and `filter` want, oldest first. Runs the filter
    /// (user code) on candidates.
    pub(crate) fn select(
        &self,
        replay: Replay,
        mask: u64,
        filter: Option<&Filter<Sequenced<E>>>,
    ) -> Result<Selection<'_, E>, BuildError> {
        let wants = |kept: &Kept<E>| {
            mask & (1u64 << kept.topic) != 0 && filter.map_or(true, |f| f(&kept.item))
        };
        let mut selection = Selection {
            events: Vec::new(),
            lagged: 0,
        };
        match replay {
            Replay::None => {}
            Replay::Tail(k) => {
                selection.events.reserve_exact(k.min(self.slots.len()));
                for kept in self.ordered().rev() {
                    if selection.events.len() == k {
                        break;
                    }
                    if wants(kept) {
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
                    self.ordered()
                        .skip(start)
                        .filter(|kept| wants(kept))
                        .map(|kept| &kept.item),
                );
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
                    if let Some(kept) = kept.filter(|kept| wants(kept)) {
                        selection.events.push(&kept.item);
                    }
                }
                selection.events.sort_unstable_by_key(|item| item.seq());
            }
        }
        Ok(selection)
    }
}
