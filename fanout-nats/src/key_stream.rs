//! The exporter's numbering of each key's events (its *key streams*), bounded: see
//! [`sequence`](crate::sequence#per-key-sequences).

use std::collections::HashMap;

use fanout::Key;

/// Where an event stands in its key stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyNumber {
    /// The exporter number of the stream's first event.
    pub start: u64,
    /// This event's number in the stream, from 1.
    pub n: u64,
}

impl KeyNumber {
    /// Its [`KEY_SEQUENCE_HEADER`](crate::sequence::KEY_SEQUENCE_HEADER): `<start>-<n>`.
    pub fn header_value(&self) -> String {
        format!("{}-{}", self.start, self.n)
    }
}

/// One key's numbering.
#[derive(Debug)]
struct Numbering {
    start: u64,
    last: u64,
    /// The tick of the key's latest event: which keys are forgotten first.
    touched: u64,
}

/// The numbering of at most `max` keys (the unkeyed events are one of them).
#[derive(Debug)]
pub(crate) struct KeyStreams {
    streams: HashMap<Option<Key>, Numbering>,
    max: usize,
    tick: u64,
    evicted: u64,
}

impl KeyStreams {
    /// Numbers the events of at most `max` keys at once (at least 1).
    pub fn new(max: usize) -> Self {
        KeyStreams {
            streams: HashMap::new(),
            max: max.max(1),
            tick: 0,
            evicted: 0,
        }
    }

    /// The number of the next event of `key`, whose exporter number is `seq` (numbers given to
    /// this call must increase). A key not numbered yet (or forgotten) starts a stream at `seq`.
    pub fn next(&mut self, key: Option<Key>, seq: u64) -> KeyNumber {
        if self.streams.len() >= self.max && !self.streams.contains_key(&key) {
            self.evict();
        }
        self.tick += 1;
        let numbering = self.streams.entry(key).or_insert(Numbering {
            start: seq,
            last: 0,
            touched: 0,
        });
        numbering.last += 1;
        numbering.touched = self.tick;
        KeyNumber {
            start: numbering.start,
            n: numbering.last,
        }
    }

    /// Keys forgotten so far to stay within the bound.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Forgets the quarter of the keys used longest ago (at least one).
    fn evict(&mut self) {
        let forget = (self.streams.len() / 4).max(1);
        let mut touched: Vec<u64> = self.streams.values().map(|s| s.touched).collect();
        let (_, &mut cut, _) = touched.select_nth_unstable(forget - 1);
        // Ticks are unique per key, so exactly `forget` are at or below `cut`.
        self.streams.retain(|_, numbering| numbering.touched > cut);
        self.evicted += forget as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_is_numbered_from_one_and_named_by_its_first_exporter_number() {
        let mut streams = KeyStreams::new(16);
        let (a, b) = (Some(Key::from(1u64)), Some(Key::from(2u64)));
        assert_eq!(streams.next(a, 1), KeyNumber { start: 1, n: 1 });
        assert_eq!(streams.next(None, 2), KeyNumber { start: 2, n: 1 });
        assert_eq!(streams.next(b, 3), KeyNumber { start: 3, n: 1 });
        assert_eq!(streams.next(a, 4), KeyNumber { start: 1, n: 2 });
        assert_eq!(streams.next(None, 5), KeyNumber { start: 2, n: 2 });
        assert_eq!(KeyNumber { start: 3, n: 1 }.header_value(), "3-1");
        assert_eq!(KeyNumber { start: 2, n: 2 }.header_value(), "2-2");
        assert_eq!(streams.evicted(), 0);
    }

    #[test]
    fn past_the_bound_the_keys_used_longest_ago_restart_under_a_new_name() {
        let mut streams = KeyStreams::new(8);
        for k in 0..8u64 {
            streams.next(Some(Key::from(k)), k + 1);
        }
        // Key 0 used again: keys 1 and 2 are now the two used longest ago.
        assert_eq!(
            streams.next(Some(Key::from(0u64)), 9),
            KeyNumber { start: 1, n: 2 }
        );
        assert_eq!(
            streams.next(Some(Key::from(100u64)), 10),
            KeyNumber { start: 10, n: 1 }
        );
        assert_eq!(streams.evicted(), 2);
        assert_eq!(streams.streams.len(), 7);
        // Forgotten: a new stream, a new name (never a number already used under the old one).
        assert_eq!(
            streams.next(Some(Key::from(1u64)), 11),
            KeyNumber { start: 11, n: 1 }
        );
        // Kept: numbering goes on.
        assert_eq!(
            streams.next(Some(Key::from(3u64)), 12),
            KeyNumber { start: 4, n: 2 }
        );
        assert_eq!(
            streams.next(Some(Key::from(0u64)), 13),
            KeyNumber { start: 1, n: 3 }
        );
    }
}
