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

/// One key's subscribers, as publishers see them (immutable once built).
pub(crate) struct Group<E> {
    pub(crate) key: Key,
    /// `entries[..primaries]` are the subscribers whose primary key this is.
    primaries: usize,
    /// The union of the entries' masks.
    union: u64,
    pub(crate) entries: Box<[Entry<E>]>,
}

impl<E> Group<E> {
    fn new(key: Key, primaries: usize, entries: Vec<Entry<E>>) -> Self {
        let union = entries.iter().fold(0, |acc, entry| acc | entry.mask);
        Group {
            key,
            primaries,
            union,
            entries: entries.into_boxed_slice(),
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

/// The keyed subscribers of a table (or of one snapshot of it).
pub(crate) struct KeyIndex<E> {
    /// Every key that has a subscriber, in no particular order (a removal moves the last group
    /// into the hole).
    pub(crate) groups: Vec<Arc<Group<E>>>,
    /// Where each key's group is in `groups`.
    slots: HashMap<Key, usize, KeyHash>,
}

/// The index's hash (see the module docs); its seed is drawn once per index.
#[derive(Clone)]
pub(crate) struct KeyHash {
    seed: [u64; 2],
}

impl KeyHash {
    fn new() -> Self {
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

impl<E> Clone for KeyIndex<E> {
    fn clone(&self) -> Self {
        KeyIndex {
            groups: self.groups.clone(),
            slots: self.slots.clone(),
        }
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

    /// Where the group of `key` is in `groups`, if it has subscribers.
    #[inline]
    pub(crate) fn slot(&self, key: Key) -> Option<usize> {
        self.slots.get(&key).copied()
    }

    /// The group of `key`, if it has subscribers.
    pub(crate) fn get(&self, key: Key) -> Option<&Group<E>> {
        Some(&self.groups[self.slot(key)?])
    }

    /// The union of every keyed subscriber's mask.
    pub(crate) fn union(&self) -> u64 {
        self.groups.iter().fold(0, |acc, group| acc | group.union)
    }

    /// Every keyed subscriber once (its primary entry).
    pub(crate) fn subscribers(&self) -> impl Iterator<Item = &Entry<E>> {
        self.groups.iter().flat_map(|group| group.primaries())
    }

    /// Adds `entry` to the group of `key`, as a primary entry if `primary`.
    pub(crate) fn insert(
        &mut self,
        key: Key,
        entry: Entry<E>,
        primary: bool,
    ) -> Option<Arc<Group<E>>> {
        let Some(&slot) = self.slots.get(&key) else {
            self.slots.insert(key, self.groups.len());
            self.groups
                .push(Arc::new(Group::new(key, usize::from(primary), vec![entry])));
            return None;
        };
        let old = &self.groups[slot];
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
        let new = Arc::new(Group::new(key, primaries, entries));
        Some(std::mem::replace(&mut self.groups[slot], new))
    }

    /// Takes subscriber `id` out of the group of `key`; returns the replaced group (for the caller
    /// to drop after unlocking), `None` if it was not there.
    pub(crate) fn remove(&mut self, key: Key, id: SubscriberId) -> Option<Arc<Group<E>>> {
        let &slot = self.slots.get(&key)?;
        let old = &self.groups[slot];
        let at = old.position(id)?;
        if old.entries.len() == 1 {
            self.slots.remove(&key);
            let removed = self.groups.swap_remove(slot);
            if let Some(moved) = self.groups.get(slot) {
                self.slots.insert(moved.key, slot);
            }
            return Some(removed);
        }
        let entries: Vec<Entry<E>> = old
            .entries
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != at)
            .map(|(_, entry)| entry.clone())
            .collect();
        let primaries = old.primaries - usize::from(at < old.primaries);
        let new = Arc::new(Group::new(key, primaries, entries));
        Some(std::mem::replace(&mut self.groups[slot], new))
    }

    /// Gives subscriber `id`'s entry in the group of `key` the mask `mask`; returns the replaced
    /// group, `None` if it was not there.
    pub(crate) fn set_mask(
        &mut self,
        key: Key,
        id: SubscriberId,
        mask: u64,
    ) -> Option<Arc<Group<E>>> {
        let &slot = self.slots.get(&key)?;
        let old = &self.groups[slot];
        let at = old.position(id)?;
        let mut entries = old.entries.to_vec();
        entries[at].mask = mask;
        let new = Arc::new(Group::new(key, old.primaries, entries));
        Some(std::mem::replace(&mut self.groups[slot], new))
    }

    /// Whether subscriber `id` is in the group of its primary key `key`.
    pub(crate) fn contains(&self, key: Key, id: SubscriberId) -> bool {
        self.get(key)
            .is_some_and(|group| group.position(id).is_some())
    }
}
