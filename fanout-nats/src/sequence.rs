//! Per-exporter sequence numbers, carried in message headers, that make loss on the way countable
//! at the importer.
//!
//! Every exporter has a random *origin* id and numbers the events it sends 1, 2, 3, ... (headers
//! [`ORIGIN_HEADER`] and [`SEQUENCE_HEADER`]; in JetStream mode `Nats-Msg-Id` is `origin-seq`, so
//! the stream drops a retried publish it already stored). An importer remembers, per origin, the
//! highest number it accepted (its *cursor*): a jump from `n` to `n + k` means `k - 1` events were
//! lost on the way (core NATS is at-most-once; a server restart or a slow consumer drops
//! messages), a number at or below `n` is a duplicate. Messages without these headers (published
//! by something other than an exporter), or whose sequence number is not a number, are accepted
//! with no accounting.
//!
//! # Plausible jumps
//!
//! The headers are not authenticated: anything that may publish on an imported subject can copy
//! an exporter's origin (every subscriber sees it). So one message must not be able to move a
//! cursor far: a message `Fanout-Seq: 18446744073709551615` would otherwise make every later
//! genuine event a "duplicate". The importer therefore accepts a jump of at most
//! [`DEFAULT_MAX_JUMP`] (65,536, the client's default subscription buffer; see
//! [`ImportBuilder::max_sequence_jump`](crate::ImportBuilder::max_sequence_jump)) ahead of the
//! cursor at once. A message further ahead, or the first message from an origin numbered above
//! the window (an exporter starts at 1; an importer that joins late sees a higher first number),
//! is *held* as a suspect, the cursor unmoved:
//!
//! - the next message from that origin numbered one more *confirms* it: both are delivered, in
//!   order, and the jump's gap is counted lost (a genuine long outage costs one event's delay);
//! - any other message from that origin *rejects* it: the suspect is dropped, counted in
//!   [`ImportStats::implausible`](crate::ImportStats::implausible) and reported, and the message
//!   is judged against the unmoved cursor;
//! - a suspect still held when the importer shuts down is counted and reported the same way.
//!
//! A single forged or corrupt sequence number thus costs at most itself. What this does not stop
//! is a deliberate forger who sends two consecutive numbers, or one within the window: it can
//! move the cursor (and have up to the window's worth of genuine events dropped as duplicates),
//! just as it can publish forged events with no headers at all. Against a forger, restrict who
//! may publish on the exported subjects with the server's permissions (users, accounts); the
//! window is against corruption and accidents, not a substitute for that.

use std::collections::HashMap;

/// The header naming the exporter that sent a message.
pub const ORIGIN_HEADER: &str = "Fanout-Origin";
/// The header carrying the exporter's sequence number, from 1.
pub const SEQUENCE_HEADER: &str = "Fanout-Seq";
/// How far ahead of an origin's cursor a sequence number is accepted at once, by default.
pub const DEFAULT_MAX_JUMP: u64 = 1 << 16;

/// What an importer does with one message, as its sequence number decides.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<T> {
    /// Deliver it; `lost` events from its origin never arrived before it (0 when none).
    Deliver { item: T, seq: u64, lost: u64 },
    /// Seen before (or older than one seen): drop it.
    Duplicate(T),
    /// Too far ahead: held until the next message from its origin confirms or rejects it.
    Held,
    /// A held suspect that was not confirmed: drop it.
    Implausible { item: T, seq: u64 },
}

/// One origin's cursor and its suspect, if any.
#[derive(Debug)]
struct Cursor<T> {
    last: Option<u64>,
    suspect: Option<(u64, T)>,
}

/// The cursor per origin, and the messages held as suspects (`T`: what the importer holds).
#[derive(Debug)]
pub(crate) struct GapTracker<T> {
    max_jump: u64,
    origins: HashMap<String, Cursor<T>>,
}

impl<T> GapTracker<T> {
    /// A tracker accepting jumps of at most `max_jump` (at least 1) ahead of a cursor.
    pub fn new(max_jump: u64) -> Self {
        GapTracker {
            max_jump: max_jump.max(1),
            origins: HashMap::new(),
        }
    }

    /// Judges message `seq` from `origin`: first what becomes of the suspect it resolves, if
    /// any (delivered before it if confirmed), then what becomes of it.
    pub fn arrive(&mut self, origin: &str, seq: u64, item: T) -> (Option<Step<T>>, Step<T>) {
        let cursor = match self.origins.get_mut(origin) {
            Some(cursor) => cursor,
            None => self.origins.entry(origin.to_owned()).or_insert(Cursor {
                last: None,
                suspect: None,
            }),
        };
        let mut resolved = None;
        if let Some((suspect, held)) = cursor.suspect.take() {
            if suspect.checked_add(1) == Some(seq) {
                // Confirmed: the jump was real. On a first arrival nothing earlier is knowable.
                let lost = cursor.last.map_or(0, |last| suspect - last - 1);
                cursor.last = Some(seq);
                let first = Step::Deliver {
                    item: held,
                    seq: suspect,
                    lost,
                };
                return (Some(first), Step::Deliver { item, seq, lost: 0 });
            }
            resolved = Some(Step::Implausible {
                item: held,
                seq: suspect,
            });
        }
        let step = match cursor.last {
            Some(last) if seq <= last => Step::Duplicate(item),
            Some(last) if seq - last <= self.max_jump => {
                cursor.last = Some(seq);
                Step::Deliver {
                    item,
                    seq,
                    lost: seq - last - 1,
                }
            }
            // A first arrival within the window: everything before it from that exporter was
            // lost, unless this importer subscribed later than the exporter started (then we
            // cannot know), so it counts no loss.
            None if seq <= self.max_jump => {
                cursor.last = Some(seq);
                Step::Deliver { item, seq, lost: 0 }
            }
            _ => {
                cursor.suspect = Some((seq, item));
                Step::Held
            }
        };
        (resolved, step)
    }

    /// Takes every suspect still held (at shutdown): `(origin, seq, item)`.
    pub fn take_suspects(&mut self) -> Vec<(String, u64, T)> {
        self.origins
            .iter_mut()
            .filter_map(|(origin, cursor)| {
                let (seq, item) = cursor.suspect.take()?;
                Some((origin.clone(), seq, item))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(seq: u64, lost: u64) -> Step<u64> {
        Step::Deliver {
            item: seq,
            seq,
            lost,
        }
    }

    fn arrive(t: &mut GapTracker<u64>, origin: &str, seq: u64) -> (Option<Step<u64>>, Step<u64>) {
        t.arrive(origin, seq, seq)
    }

    #[test]
    fn gaps_and_duplicates() {
        let mut t = GapTracker::new(DEFAULT_MAX_JUMP);
        assert_eq!(arrive(&mut t, "a", 1), (None, deliver(1, 0)));
        assert_eq!(arrive(&mut t, "a", 2), (None, deliver(2, 0)));
        assert_eq!(arrive(&mut t, "a", 5), (None, deliver(5, 2)));
        assert_eq!(arrive(&mut t, "a", 5), (None, Step::Duplicate(5)));
        assert_eq!(arrive(&mut t, "a", 3), (None, Step::Duplicate(3)));
        assert_eq!(arrive(&mut t, "b", 7), (None, deliver(7, 0)));
        assert_eq!(arrive(&mut t, "b", 8), (None, deliver(8, 0)));
        // Exactly the window ahead is accepted at once.
        assert_eq!(
            arrive(&mut t, "a", 5 + DEFAULT_MAX_JUMP),
            (None, deliver(5 + DEFAULT_MAX_JUMP, DEFAULT_MAX_JUMP - 1))
        );
    }

    #[test]
    fn one_forged_number_costs_only_itself() {
        let mut t = GapTracker::new(100);
        assert_eq!(arrive(&mut t, "a", 1), (None, deliver(1, 0)));
        assert_eq!(arrive(&mut t, "a", u64::MAX), (None, Step::Held));
        // The next genuine one rejects it and is judged against the unmoved cursor.
        assert_eq!(
            arrive(&mut t, "a", 2),
            (
                Some(Step::Implausible {
                    item: u64::MAX,
                    seq: u64::MAX
                }),
                deliver(2, 0)
            )
        );
        assert_eq!(arrive(&mut t, "a", 3), (None, deliver(3, 0)));
        // Just past the window, then a duplicate: rejected too.
        assert_eq!(arrive(&mut t, "a", 104), (None, Step::Held));
        assert_eq!(
            arrive(&mut t, "a", 3),
            (
                Some(Step::Implausible {
                    item: 104,
                    seq: 104
                }),
                Step::Duplicate(3)
            )
        );
        // A suspect replaced by another is rejected; the second is held.
        assert_eq!(arrive(&mut t, "a", 1_000), (None, Step::Held));
        assert_eq!(
            arrive(&mut t, "a", 5_000),
            (
                Some(Step::Implausible {
                    item: 1_000,
                    seq: 1_000
                }),
                Step::Held
            )
        );
        assert_eq!(t.take_suspects(), vec![("a".to_owned(), 5_000, 5_000)]);
        assert!(t.take_suspects().is_empty());
        assert_eq!(arrive(&mut t, "a", 4), (None, deliver(4, 0)));
    }

    #[test]
    fn a_genuine_long_gap_is_confirmed_by_the_next_number() {
        let mut t = GapTracker::new(100);
        assert_eq!(arrive(&mut t, "a", 1), (None, deliver(1, 0)));
        assert_eq!(arrive(&mut t, "a", 500), (None, Step::Held));
        assert_eq!(
            arrive(&mut t, "a", 501),
            (Some(deliver(500, 498)), deliver(501, 0))
        );
        assert_eq!(arrive(&mut t, "a", 502), (None, deliver(502, 0)));
        assert_eq!(arrive(&mut t, "a", 400), (None, Step::Duplicate(400)));
    }

    #[test]
    fn a_late_joiner_holds_its_first_number_until_the_next() {
        let mut t = GapTracker::new(100);
        assert_eq!(arrive(&mut t, "a", 10_000), (None, Step::Held));
        assert_eq!(
            arrive(&mut t, "a", 10_001),
            (Some(deliver(10_000, 0)), deliver(10_001, 0))
        );
        // A forged first number, then the genuine stream.
        assert_eq!(arrive(&mut t, "b", u64::MAX), (None, Step::Held));
        assert_eq!(
            arrive(&mut t, "b", 3),
            (
                Some(Step::Implausible {
                    item: u64::MAX,
                    seq: u64::MAX
                }),
                deliver(3, 0)
            )
        );
        // The others are untouched.
        assert_eq!(arrive(&mut t, "a", 10_002), (None, deliver(10_002, 0)));
    }
}
