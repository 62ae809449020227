//! Per-exporter sequence numbers, carried in message headers, that make loss on the way countable
//! at the importer.
//!
//! Every exporter has a random *origin* id and numbers the events it sends 1, 2, 3, ... (headers
//! [`ORIGIN_HEADER`] and [`SEQUENCE_HEADER`]; in JetStream mode `Nats-Msg-Id` is `origin-seq`, so
//! the stream drops a retried publish it already stored). An importer remembers the highest number
//! seen per origin: a jump from `n` to `n + k` means `k - 1` events were lost on the way (core
//! NATS is at-most-once; a server restart or a slow consumer drops messages), a number at or below
//! `n` is a duplicate. Messages without these headers (published by something other than an
//! exporter) are accepted with no accounting.

use std::collections::HashMap;

/// The header naming the exporter that sent a message.
pub const ORIGIN_HEADER: &str = "Fanout-Origin";
/// The header carrying the exporter's sequence number, from 1.
pub const SEQUENCE_HEADER: &str = "Fanout-Seq";

/// What an importer makes of one message's sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// The next expected one, after `lost` missing ones (0 when none).
    InOrder { lost: u64 },
    /// Seen before (or older than one seen): drop it.
    Duplicate,
}

/// The highest sequence number seen per origin.
#[derive(Debug, Default)]
pub(crate) struct GapTracker {
    last: HashMap<String, u64>,
}

impl GapTracker {
    pub fn arrive(&mut self, origin: &str, seq: u64) -> Arrival {
        match self.last.get_mut(origin) {
            Some(last) if seq <= *last => Arrival::Duplicate,
            Some(last) => {
                let lost = seq - *last - 1;
                *last = seq;
                Arrival::InOrder { lost }
            }
            None => {
                self.last.insert(origin.to_owned(), seq);
                // The first message from an origin: everything before it from that exporter was
                // lost, unless this importer subscribed later than the exporter started (then we
                // cannot know), so a first arrival counts no loss.
                Arrival::InOrder { lost: 0 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_duplicates() {
        let mut t = GapTracker::default();
        assert_eq!(t.arrive("a", 1), Arrival::InOrder { lost: 0 });
        assert_eq!(t.arrive("a", 2), Arrival::InOrder { lost: 0 });
        assert_eq!(t.arrive("a", 5), Arrival::InOrder { lost: 2 });
        assert_eq!(t.arrive("a", 5), Arrival::Duplicate);
        assert_eq!(t.arrive("a", 3), Arrival::Duplicate);
        assert_eq!(t.arrive("b", 7), Arrival::InOrder { lost: 0 });
        assert_eq!(t.arrive("b", 8), Arrival::InOrder { lost: 0 });
    }
}
