//! The key index: the keyed subscribers of a table, grouped by key (see [`crate::key`]).
//!
//! # Layout
//!
//! A keyed subscriber is not in the table's plain entry list: it has one [`Entry`] in the
//! [`Group`] of each of its keys. A group is immutable and shared (`Arc`) between the table and
//! every snapshot that holds it, so a subscribe or unsubscribe of a keyed subscriber rebuilds only
//! the groups of its own keys (cloning their few entries) and copies the index's two arrays (one
//! reference count and one map slot per key): no entry of another key is cloned. A bus of 10,000
//! tabs pays for its 10,001st what a bus of 10 tabs pays, plus that copy.
//!
//! The map from key to group holds the group's entries itself (`Slot`), so a keyed publish goes
//! from the hash lookup straight to them; `groups` lists the groups in an order an unkeyed event
//! (and a resumable async publish) can walk by index.
//!
//! Within a group, the entries of subscribers whose *primary* key (their first, see
//! `key::normalize`) is this group's key come first (`entries[..primaries]`), in subscription
//! order, then the others. A keyed event visits the whole group of its key; an unkeyed event
//! visits only the primaries of every group, so a subscriber of several keys is offered it once.
//!
//! Publishers find a group with one hash lookup in a `std` `HashMap` with [`KeyHash`]: the key's
//! two halves, each mixed with a random seed of the index, multiplied into 128 bits and folded
//! (the "folded multiply" of foldhash and ahash's fallback). Two instructions' worth of hashing
//! instead of SipHash's few dozen, measured 20-30 ns per keyed publish faster (BENCHMARKS.md,
//! issue 19); the per-bus random seed still keeps keys chosen by a client who cannot see it from
//! piling onto one bucket. UUID keys are random already; small sequential keys (`Key::from(7u64)`)
//! are spread by the multiplication.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use super::{Entry, SubscriberId};
use crate::Key;

/// One key's subscribers, as publishers see them. The entries are immutable once built and
/// shared (`Arc`) by the table and every snapshot that holds them.
pub(crate) struct Group<E> {
    pub(crate) key: Key,
    /// `entries[..primaries]` are the subscribers whose primary key this is.
    primaries: usize,
    /// The union of the entries' masks.
    union: u64,
    pub(crate) entries: Arc<[Entry<E>]>,
}

impl<E> Clone for Group<E> {
    fn clone(&self) -> Self {
        Group {
            key: self.key,
            primaries: self.primaries,
            union: self.union,
            entries: Arc::clone(&self.entries),
        }
    }
}

impl<E> Group<E> {
    fn new(key: Key, primaries: usize, entries: Vec<Entry<E>>) -> Self {
        let union = entries.iter().fold(0, |acc, entry| acc | entry.mask);
        Group {
            key,
            primaries,
            union,
            entries: entries.into(),
        }
    }

    /// The subscribers whose primary key this is: what an unkeyed event visits.
    #[inline]
    pub(crate) fn primaries(&self) -> &[Entry<E>] {
        &self.entries[..self.primaries]
    }

    fn position(&self, id: SubscriberId) -> Option<usize> {
        self.entries.iter().position(|entry| entry.state.id == id)
    }
}

/// Where a key's group is, as the map holds it: its index in `groups` and its entries, so that a
/// keyed publish goes from the map straight to the entries (one pointer hop fewer than through
/// `groups`: the index is cold in the cache when the keys are many).
pub(crate) struct Slot<E> {
    pub(crate) index: usize,
    pub(crate) entries: Arc<[Entry<E>]>,
}

impl<E> Clone for Slot<E> {
    fn clone(&self) -> Self {
        Slot {
            index: self.index,
            entries: Arc::clone(&self.entries),
        }
    }
}

/// The keyed subscribers of a table (or of one snapshot of it).
pub(crate) struct KeyIndex<E> {
    /// Every key that has a subscriber, in no particular order (a removal moves the last group
    /// into the hole).
    pub(crate) groups: Vec<Group<E>>,
    /// Each key's group.
    slots: HashMap<Key, Slot<E>, KeyHash>,
}

impl<E> Clone for KeyIndex<E> {
    fn clone(&self) -> Self {
        KeyIndex {
            groups: self.groups.clone(),
            slots: self.slots.clone(),
        }
    }
}

/// The index's hash (see the module docs); its seed is drawn once per index.
#[derive(Clone)]
pub(crate) struct KeyHash {
    seed: [u64; 2],
}

impl KeyHash {
    fn new() -> Self {
        // Under loom a model must run the same way every time: the map's layout decides the
        // order in which its entries (queue senders, loom objects) are dropped.
        if cfg!(loom) {
            return KeyHash { seed: [1, 2] };
        }
        let random = RandomState::new();
        KeyHash {
            seed: [random.hash_one(0x5eed_u64), random.hash_one(0xfeed_u64)],
        }
    }
}

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher {
            seed: self.seed,
            hash: 0,
        }
    }
}

pub(crate) struct KeyHasher {
    seed: [u64; 2],
    hash: u64,
}

impl KeyHasher {
    #[inline]
    fn mix(&mut self, value: u128) {
        let lo = (value as u64) ^ self.seed[0] ^ self.hash;
        let hi = ((value >> 64) as u64) ^ self.seed[1];
        let product = u128::from(lo) * u128::from(hi);
        self.hash = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl Hasher for KeyHasher {
    /// A key hashes through `write_u128`; this is for completeness only.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(16) {
            let mut word = [0u8; 16];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u128::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u128(&mut self, value: u128) {
        self.mix(value);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

impl<E> KeyIndex<E> {
    pub(crate) fn new() -> Self {
        KeyIndex {
            groups: Vec::new(),
            slots: HashMap::with_hasher(KeyHash::new()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The group of `key`, if it has subscribers.
    #[inline]
    pub(crate) fn slot(&self, key: Key) -> Option<&Slot<E>> {
        self.slots.get(&key)
    }

    fn group(&self, key: Key) -> Option<&Group<E>> {
        Some(&self.groups[self.slot(key)?.index])
    }

    /// The union of every keyed subscriber's mask.
    pub(crate) fn union(&self) -> u64 {
        self.groups.iter().fold(0, |acc, group| acc | group.union)
    }

    /// Every keyed subscriber once (its primary entry).
    pub(crate) fn subscribers(&self) -> impl Iterator<Item = &Entry<E>> {
        self.groups.iter().flat_map(|group| group.primaries())
    }

    /// Puts `group` in the place of the group of its key (or adds it); the replaced entries go to
    /// `replaced`, for the caller to drop after unlocking.
    fn put(&mut self, group: Group<E>, replaced: &mut Vec<Arc<[Entry<E>]>>) {
        let key = group.key;
        match self.slots.get_mut(&key) {
            Some(slot) => {
                let old = std::mem::replace(&mut slot.entries, Arc::clone(&group.entries));
                replaced.push(old);
                let old = std::mem::replace(&mut self.groups[slot.index], group);
                replaced.push(old.entries);
            }
            None => {
                let slot = Slot {
                    index: self.groups.len(),
                    entries: Arc::clone(&group.entries),
                };
                self.slots.insert(key, slot);
                self.groups.push(group);
            }
        }
    }

    /// Adds `entry` to the group of `key`, as a primary entry if `primary`.
    pub(crate) fn insert(
        &mut self,
        key: Key,
        entry: Entry<E>,
        primary: bool,
        replaced: &mut Vec<Arc<[Entry<E>]>>,
    ) {
        let Some(old) = self.group(key) else {
            self.put(Group::new(key, usize::from(primary), vec![entry]), replaced);
            return;
        };
        let mut entries = Vec::with_capacity(old.entries.len() + 1);
        entries.extend(old.entries[..old.primaries].iter().cloned());
        let mut primaries = old.primaries;
        if primary {
            entries.push(entry);
            primaries += 1;
            entries.extend(old.entries[old.primaries..].iter().cloned());
        } else {
            entries.extend(old.entries[old.primaries..].iter().cloned());
            entries.push(entry);
        }
        self.put(Group::new(key, primaries, entries), replaced);
    }

    /// Takes subscriber `id` out of the group of `key` (the replaced entries go to `replaced`).
    pub(crate) fn remove(
        &mut self,
        key: Key,
        id: SubscriberId,
        replaced: &mut Vec<Arc<[Entry<E>]>>,
    ) {
        let Some(old) = self.group(key) else {
            return;
        };
        let Some(at) = old.position(id) else {
            return;
        };
        if old.entries.len() == 1 {
            let Some(slot) = self.slots.remove(&key) else {
                return;
            };
            replaced.push(slot.entries);
            let removed = self.groups.swap_remove(slot.index);
            replaced.push(removed.entries);
            if let Some(moved) = self.groups.get(slot.index) {
                if let Some(moved_slot) = self.slots.get_mut(&moved.key) {
                    moved_slot.index = slot.index;
                }
            }
            return;
        }
        let entries: Vec<Entry<E>> = old
            .entries
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != at)
            .map(|(_, entry)| entry.clone())
            .collect();
        let primaries = old.primaries - usize::from(at < old.primaries);
        self.put(Group::new(key, primaries, entries), replaced);
    }

    /// Gives subscriber `id`'s entry in the group of `key` the mask `mask` (the replaced entries
    /// go to `replaced`).
    pub(crate) fn set_mask(
        &mut self,
        key: Key,
        id: SubscriberId,
        mask: u64,
        replaced: &mut Vec<Arc<[Entry<E>]>>,
    ) {
        let Some(old) = self.group(key) else {
            return;
        };
        let Some(at) = old.position(id) else {
            return;
        };
        let mut entries = old.entries.to_vec();
        entries[at].mask = mask;
        let primaries = old.primaries;
        self.put(Group::new(key, primaries, entries), replaced);
    }

    /// Whether subscriber `id` is in the group of its primary key `key`.
    pub(crate) fn contains(&self, key: Key, id: SubscriberId) -> bool {
        self.group(key)
            .is_some_and(|group| group.position(id).is_some())
    }
}
