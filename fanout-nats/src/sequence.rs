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
//! # Per-key sequences
//!
//! An importer that follows one key ([`ImportBuilder::key`](crate::ImportBuilder::key)) takes a
//! part of an exporter's events: the exporter's own numbers jump over every other key's, and
//! those jumps are not losses. So each exporter also numbers each key's events on their own: a
//! *key stream* per routing key, and one for the unkeyed events, in one more header,
//! [`KEY_SEQUENCE_HEADER`]: `<start>-<n>`, where `<start>` is the exporter number of the
//! stream's first event (so it names the stream among the exporter's: no two streams start at
//! the same number) and `<n>` counts the stream's events 1, 2, 3, ... An importer that follows
//! keys keeps its cursor per key stream (`<origin>/<start>`) and judges the `<n>`s exactly as
//! the exporter's own numbers are
//! judged below (gaps, duplicates, reordering, plausible jumps): it counts as lost only events
//! of the keys it follows. An importer of a plain subject ([`ImportBuilder::subject`]) keeps
//! using the exporter's numbers, so its subject must take every event of the exporters it hears
//! (`<prefix>.>`, the default); a subject that takes a part of them (one topic of every key,
//! `<prefix>.*.delta`) makes the events it does not take look lost. A message without the key
//! header (from an exporter older than keys, or a plain client) reaches a key's importer with
//! no accounting, as a message without an origin reaches any importer.
//!
//! ## Bounds
//!
//! An exporter keeps the numbering of at most [`MAX_KEY_STREAMS`] (65,536) keys; when a new key
//! would pass that, the quarter of them used longest ago are forgotten, counted in
//! [`ExportStats::key_streams_evicted`](crate::ExportStats::key_streams_evicted). A forgotten
//! key's next event starts a new stream (a new `<start>`, `<n>` from 1 again), which an
//! importer takes as it takes a new exporter: from its first message, with no loss knowable
//! before it. An importer keeps at most [`MAX_CURSORS`] (4,096) cursors (exporters, or key
//! streams); past that the quarter touched longest ago are forgotten the same way (what they
//! held is delivered, its gaps counted lost; a suspect is rejected), counted in
//! [`ImportStats::cursors_evicted`](crate::ImportStats::cursors_evicted): a forgotten cursor's
//! next message is judged as a first arrival. Neither bound is met by one host's sessions in
//! normal use; both keep a flood of forged origins or stream names from growing memory.
//!
//! [`ImportBuilder::subject`]: crate::ImportBuilder::subject
//!
//! # Reordering (JetStream)
//!
//! A JetStream exporter keeps a window of publishes in flight and re-sends, in order and under the
//! same message id, those not acknowledged. Across a server restart the stream can then hold some
//! of an exporter's events after later ones (those written to the dead connection are retried
//! after those the client queued for the new one). A JetStream importer therefore holds a message
//! that follows a gap in its exporter's numbers until the gap fills, and delivers the run in
//! order; a gap still open after the reorder window
//! ([`JetStreamImport::reorder_window`](crate::JetStreamImport::reorder_window), 30 s by default,
//! the exporter's default retry window) is given up: counted lost, and what was held behind it
//! delivered. At most [`MAX_HELD`] messages are held per exporter (past that, the oldest gap is
//! given up at once), and shutdown delivers what is held, its gaps counted lost. A core importer
//! counts a gap at once: core NATS keeps each publisher's order.
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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The header naming the exporter that sent a message.
pub const ORIGIN_HEADER: &str = "Fanout-Origin";
/// The header carrying the exporter's sequence number, from 1.
pub const SEQUENCE_HEADER: &str = "Fanout-Seq";
/// The header carrying the event's key stream and its number in it, `<start>-<n>`: the
/// exporter number of the stream's first event, and `n` from 1 (see
/// [Per-key sequences](self#per-key-sequences)).
pub const KEY_SEQUENCE_HEADER: &str = "Fanout-Key-Seq";
/// Keys whose numbering an exporter keeps at once, at most; see [Bounds](self#bounds).
pub const MAX_KEY_STREAMS: usize = 1 << 16;
/// Cursors (exporters or key streams) an importer keeps at once, at most; see
/// [Bounds](self#bounds).
pub const MAX_CURSORS: usize = 4096;
/// How far ahead of an origin's cursor a sequence number is accepted at once, by default.
pub const DEFAULT_MAX_JUMP: u64 = 1 << 16;
/// Messages a JetStream importer holds for reordering per exporter, at most: past this, the
/// oldest gap is given up.
pub const MAX_HELD: usize = 2048;

/// What an importer does with one message, as its sequence number decides.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<T> {
    /// Deliver it; `lost` events from its origin never arrived before it (0 when none).
    Deliver { item: T, seq: u64, lost: u64 },
    /// Seen before (or older than one seen): drop it.
    Duplicate(T),
    /// A held suspect that was not confirmed: drop it.
    Implausible { item: T, seq: u64 },
}

/// One origin's cursor, the messages held behind a gap (reordering), and its suspect, if any.
#[derive(Debug)]
struct Cursor<T> {
    last: Option<u64>,
    held: BTreeMap<u64, T>,
    /// When the gap before the first held message started being waited for.
    waiting_since: Option<Instant>,
    suspect: Option<(u64, T)>,
    /// The tracker's tick at this cursor's latest arrival: which cursors are forgotten first.
    touched: u64,
}

/// The cursor per origin, and the messages held (`T`: what the importer holds).
#[derive(Debug)]
pub(crate) struct GapTracker<T> {
    max_jump: u64,
    reorder: Option<Duration>,
    origins: HashMap<Arc<str>, Cursor<T>>,
    /// At most this many cursors at once ([`MAX_CURSORS`]).
    max_cursors: usize,
    /// Counts arrivals: the `touched` of the cursor each one lands on.
    tick: u64,
    /// Cursors forgotten to stay within `max_cursors`.
    evicted: u64,
}

/// Steps in delivery order, each with its origin.
pub(crate) type Steps<T> = Vec<(Arc<str>, Step<T>)>;

impl<T> GapTracker<T> {
    /// A tracker accepting jumps of at most `max_jump` (at least 1) ahead of a cursor. With
    /// `reorder`, a message after a gap is held until the gap fills or `reorder` passes (a
    /// JetStream stream may hold an exporter's retried events after later ones); without, a gap
    /// is counted lost at once (core NATS keeps each publisher's order).
    pub fn new(max_jump: u64, reorder: Option<Duration>) -> Self {
        GapTracker {
            max_jump: max_jump.max(1),
            reorder,
            origins: HashMap::new(),
            max_cursors: MAX_CURSORS,
            tick: 0,
            evicted: 0,
        }
    }

    /// Keeps at most `cursors` cursors (at least 1) instead of [`MAX_CURSORS`].
    #[cfg(test)]
    fn max_cursors(mut self, cursors: usize) -> Self {
        self.max_cursors = cursors.max(1);
        self
    }

    /// Cursors forgotten so far to stay within the bound.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Forgets the quarter of the cursors touched longest ago (at least one): what they hold is
    /// released, its gaps counted lost, and their suspects rejected.
    fn evict(&mut self, now: Instant, out: &mut Steps<T>) {
        let forget = (self.origins.len() / 4).max(1);
        let mut touched: Vec<u64> = self.origins.values().map(|c| c.touched).collect();
        let (_, &mut cut, _) = touched.select_nth_unstable(forget - 1);
        // Ticks are unique per cursor, so exactly `forget` are at or below `cut`.
        self.origins.retain(|origin, cursor| {
            if cursor.touched > cut {
                return true;
            }
            while !cursor.held.is_empty() {
                release_gap(origin, cursor, now, out);
            }
            if let Some((seq, item)) = cursor.suspect.take() {
                out.push((origin.clone(), Step::Implausible { item, seq }));
            }
            false
        });
        self.evicted += forget as u64;
    }

    /// Judges message `seq` from `origin` and pushes onto `out`, in delivery order, what becomes
    /// of it and of the messages it releases (held ones, a suspect). Nothing is pushed for a
    /// message it holds.
    pub fn arrive(&mut self, origin: &str, seq: u64, item: T, now: Instant, out: &mut Steps<T>) {
        if self.origins.len() >= self.max_cursors && !self.origins.contains_key(origin) {
            self.evict(now, out);
        }
        self.tick += 1;
        let tick = self.tick;
        let (origin, cursor) = match self.origins.get_key_value(origin) {
            Some((key, _)) => {
                let key = key.clone();
                let cursor = self.origins.get_mut(&key).expect("just found");
                (key, cursor)
            }
            None => {
                let key: Arc<str> = Arc::from(origin);
                let cursor = self.origins.entry(key.clone()).or_insert(Cursor {
                    last: None,
                    held: BTreeMap::new(),
                    waiting_since: None,
                    suspect: None,
                    touched: tick,
                });
                (key, cursor)
            }
        };
        cursor.touched = tick;
        if let Some((suspect, held)) = cursor.suspect.take() {
            if suspect.checked_add(1) == Some(seq) {
                // Confirmed: the jump was real. What was held behind gaps goes first, then the
                // gap before the suspect is counted (none knowable on a first arrival).
                while !cursor.held.is_empty() {
                    release_gap(&origin, cursor, now, out);
                }
                let lost = cursor.last.map_or(0, |last| suspect - last - 1);
                cursor.last = Some(seq);
                cursor.waiting_since = None;
                out.push((
                    origin.clone(),
                    Step::Deliver {
                        item: held,
                        seq: suspect,
                        lost,
                    },
                ));
                out.push((origin, Step::Deliver { item, seq, lost: 0 }));
                return;
            }
            out.push((
                origin.clone(),
                Step::Implausible {
                    item: held,
                    seq: suspect,
                },
            ));
        }
        match cursor.last {
            Some(last) if seq <= last || cursor.held.contains_key(&seq) => {
                out.push((origin, Step::Duplicate(item)));
            }
            Some(last) if seq == last + 1 => {
                cursor.last = Some(seq);
                out.push((origin.clone(), Step::Deliver { item, seq, lost: 0 }));
                release_run(&origin, cursor, now, out);
            }
            Some(last) if seq - last <= self.max_jump => match self.reorder {
                None => {
                    cursor.last = Some(seq);
                    let lost = seq - last - 1;
                    out.push((origin, Step::Deliver { item, seq, lost }));
                }
                Some(_) => {
                    cursor.held.insert(seq, item);
                    cursor.waiting_since.get_or_insert(now);
                    if cursor.held.len() > MAX_HELD {
                        release_gap(&origin, cursor, now, out);
                    }
                }
            },
            // A first arrival within the window: everything before it from that exporter was
            // lost, unless this importer subscribed later than the exporter started (then we
            // cannot know), so it counts no loss.
            None if seq <= self.max_jump => {
                cursor.last = Some(seq);
                out.push((origin, Step::Deliver { item, seq, lost: 0 }));
            }
            _ => cursor.suspect = Some((seq, item)),
        }
    }

    /// When the next held gap is given up, if any is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        let reorder = self.reorder?;
        self.origins
            .values()
            .filter_map(|cursor| cursor.waiting_since)
            .min()
            .map(|since| since + reorder)
    }

    /// Gives up the gaps waited for since `reorder` before `now`: counts them lost and releases
    /// what was held behind them.
    pub fn expire(&mut self, now: Instant, out: &mut Steps<T>) {
        let Some(reorder) = self.reorder else { return };
        for (origin, cursor) in self.origins.iter_mut() {
            while cursor
                .waiting_since
                .is_some_and(|since| since + reorder <= now)
            {
                release_gap(origin, cursor, now, out);
            }
        }
    }

    /// At shutdown: releases everything held behind gaps (counted lost) and rejects every
    /// suspect.
    pub fn finish(&mut self, now: Instant, out: &mut Steps<T>) {
        for (origin, cursor) in self.origins.iter_mut() {
            while !cursor.held.is_empty() {
                release_gap(origin, cursor, now, out);
            }
            if let Some((seq, item)) = cursor.suspect.take() {
                out.push((origin.clone(), Step::Implausible { item, seq }));
            }
        }
    }
}

/// Gives up the gap before the first held message: delivers it, counting the gap lost, and the
/// run that follows it.
fn release_gap<T>(origin: &Arc<str>, cursor: &mut Cursor<T>, now: Instant, out: &mut Steps<T>) {
    let Some((seq, item)) = cursor.held.pop_first() else {
        cursor.waiting_since = None;
        return;
    };
    let lost = cursor.last.map_or(0, |last| seq - last - 1);
    cursor.last = Some(seq);
    out.push((origin.clone(), Step::Deliver { item, seq, lost }));
    release_run(origin, cursor, now, out);
}

/// Delivers the held messages that now follow the cursor without a gap; restarts the wait if a
/// gap remains.
fn release_run<T>(origin: &Arc<str>, cursor: &mut Cursor<T>, now: Instant, out: &mut Steps<T>) {
    while let Some(entry) = cursor.held.first_entry() {
        if Some(*entry.key()) != cursor.last.map(|last| last + 1) {
            break;
        }
        let (seq, item) = entry.remove_entry();
        cursor.last = Some(seq);
        out.push((origin.clone(), Step::Deliver { item, seq, lost: 0 }));
    }
    cursor.waiting_since = if cursor.held.is_empty() {
        None
    } else {
        Some(now)
    };
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

    fn implausible(seq: u64) -> Step<u64> {
        Step::Implausible { item: seq, seq }
    }

    /// The steps one arrival makes, without their origins.
    fn arrive(t: &mut GapTracker<u64>, origin: &str, seq: u64) -> Vec<Step<u64>> {
        arrive_at(t, origin, seq, Instant::now())
    }

    fn arrive_at(t: &mut GapTracker<u64>, origin: &str, seq: u64, now: Instant) -> Vec<Step<u64>> {
        let mut out = Vec::new();
        t.arrive(origin, seq, seq, now, &mut out);
        out.into_iter().map(|(_, step)| step).collect()
    }

    #[test]
    fn gaps_and_duplicates() {
        let mut t = GapTracker::new(DEFAULT_MAX_JUMP, None);
        assert_eq!(arrive(&mut t, "a", 1), [deliver(1, 0)]);
        assert_eq!(arrive(&mut t, "a", 2), [deliver(2, 0)]);
        assert_eq!(arrive(&mut t, "a", 5), [deliver(5, 2)]);
        assert_eq!(arrive(&mut t, "a", 5), [Step::Duplicate(5)]);
        assert_eq!(arrive(&mut t, "a", 3), [Step::Duplicate(3)]);
        assert_eq!(arrive(&mut t, "b", 7), [deliver(7, 0)]);
        assert_eq!(arrive(&mut t, "b", 8), [deliver(8, 0)]);
        // Exactly the window ahead is accepted at once.
        let far = 5 + DEFAULT_MAX_JUMP;
        assert_eq!(
            arrive(&mut t, "a", far),
            [deliver(far, DEFAULT_MAX_JUMP - 1)]
        );
    }

    #[test]
    fn one_forged_number_costs_only_itself() {
        let mut t = GapTracker::new(100, None);
        assert_eq!(arrive(&mut t, "a", 1), [deliver(1, 0)]);
        assert_eq!(arrive(&mut t, "a", u64::MAX), []);
        // The next genuine one rejects it and is judged against the unmoved cursor.
        assert_eq!(
            arrive(&mut t, "a", 2),
            [implausible(u64::MAX), deliver(2, 0)]
        );
        assert_eq!(arrive(&mut t, "a", 3), [deliver(3, 0)]);
        // Just past the window, then a duplicate: rejected too.
        assert_eq!(arrive(&mut t, "a", 104), []);
        assert_eq!(
            arrive(&mut t, "a", 3),
            [implausible(104), Step::Duplicate(3)]
        );
        // A suspect replaced by another is rejected; the second is held, and rejected at the end.
        assert_eq!(arrive(&mut t, "a", 1_000), []);
        assert_eq!(arrive(&mut t, "a", 5_000), [implausible(1_000)]);
        let mut out = Vec::new();
        t.finish(Instant::now(), &mut out);
        assert_eq!(out, [(Arc::from("a"), implausible(5_000))]);
        assert_eq!(arrive(&mut t, "a", 4), [deliver(4, 0)]);
    }

    #[test]
    fn a_genuine_long_gap_is_confirmed_by_the_next_number() {
        let mut t = GapTracker::new(100, None);
        assert_eq!(arrive(&mut t, "a", 1), [deliver(1, 0)]);
        assert_eq!(arrive(&mut t, "a", 500), []);
        assert_eq!(
            arrive(&mut t, "a", 501),
            [deliver(500, 498), deliver(501, 0)]
        );
        assert_eq!(arrive(&mut t, "a", 502), [deliver(502, 0)]);
        assert_eq!(arrive(&mut t, "a", 400), [Step::Duplicate(400)]);
    }

    #[test]
    fn a_late_joiner_holds_its_first_number_until_the_next() {
        let mut t = GapTracker::new(100, None);
        assert_eq!(arrive(&mut t, "a", 10_000), []);
        assert_eq!(
            arrive(&mut t, "a", 10_001),
            [deliver(10_000, 0), deliver(10_001, 0)]
        );
        // A forged first number, then the genuine stream.
        assert_eq!(arrive(&mut t, "b", u64::MAX), []);
        assert_eq!(
            arrive(&mut t, "b", 3),
            [implausible(u64::MAX), deliver(3, 0)]
        );
        // The others are untouched.
        assert_eq!(arrive(&mut t, "a", 10_002), [deliver(10_002, 0)]);
    }

    #[test]
    fn reordering_restores_each_origins_order() {
        let reorder = Duration::from_secs(10);
        let mut t = GapTracker::new(100, Some(reorder));
        let start = Instant::now();
        assert_eq!(arrive_at(&mut t, "a", 1, start), [deliver(1, 0)]);
        // 2 and 3 are stored after 4 and 5 (retried after a restart).
        assert_eq!(arrive_at(&mut t, "a", 4, start), []);
        assert_eq!(arrive_at(&mut t, "a", 5, start), []);
        assert_eq!(arrive_at(&mut t, "a", 5, start), [Step::Duplicate(5)]);
        assert_eq!(arrive_at(&mut t, "b", 1, start), [deliver(1, 0)]);
        assert_eq!(t.next_deadline(), Some(start + reorder));
        assert_eq!(arrive_at(&mut t, "a", 3, start), []);
        let later = start + Duration::from_secs(1);
        assert_eq!(
            arrive_at(&mut t, "a", 2, later),
            [deliver(2, 0), deliver(3, 0), deliver(4, 0), deliver(5, 0)]
        );
        assert_eq!(t.next_deadline(), None);
        // A gap that never fills is given up when its time is up, and counted.
        assert_eq!(arrive_at(&mut t, "a", 8, later), []);
        assert_eq!(arrive_at(&mut t, "a", 10, later), []);
        let mut out = Vec::new();
        t.expire(later + reorder - Duration::from_millis(1), &mut out);
        assert!(out.is_empty());
        t.expire(later + reorder, &mut out);
        // The wait for the next gap starts when the first one is given up.
        t.expire(later + 2 * reorder, &mut out);
        let steps: Vec<_> = out.into_iter().map(|(_, step)| step).collect();
        assert_eq!(steps, [deliver(8, 2), deliver(10, 1)]);
        assert_eq!(
            arrive_at(&mut t, "a", 9, later + reorder),
            [Step::Duplicate(9)]
        );
        // At shutdown, what is held is released with its gaps counted.
        assert_eq!(arrive_at(&mut t, "a", 12, later), []);
        let mut out = Vec::new();
        t.finish(later, &mut out);
        assert_eq!(out, [(Arc::from("a"), deliver(12, 1))]);
    }

    #[test]
    fn past_the_bound_the_cursors_touched_longest_ago_are_forgotten_and_counted() {
        let mut t = GapTracker::new(100, Some(Duration::from_secs(60))).max_cursors(4);
        let now = Instant::now();
        for origin in ["a", "b", "c", "d"] {
            assert_eq!(arrive_at(&mut t, origin, 1, now), [deliver(1, 0)]);
        }
        // "a" holds a message behind a gap; "b" is touched again.
        assert_eq!(arrive_at(&mut t, "a", 3, now), []);
        assert_eq!(arrive_at(&mut t, "b", 2, now), [deliver(2, 0)]);
        // A fifth forgets one (a quarter of four): "c", touched longest ago.
        assert_eq!(arrive_at(&mut t, "e", 1, now), [deliver(1, 0)]);
        assert_eq!(t.evicted(), 1);
        // "c" is new again: its next message is a first arrival (no loss knowable), and
        // forgetting it costs "d", now the oldest.
        assert_eq!(arrive_at(&mut t, "c", 7, now), [deliver(7, 0)]);
        assert_eq!(t.evicted(), 2);
        // "a" goes next: what it held is delivered with its gap counted.
        let mut out = Vec::new();
        t.arrive("f", 1, 1, now, &mut out);
        let steps: Vec<_> = out.into_iter().map(|(o, s)| (o.to_string(), s)).collect();
        assert_eq!(
            steps,
            [
                ("a".to_owned(), deliver(3, 1)),
                ("f".to_owned(), deliver(1, 0))
            ]
        );
        assert_eq!(t.evicted(), 3);
        // The others kept their cursors.
        assert_eq!(arrive_at(&mut t, "b", 2, now), [Step::Duplicate(2)]);
        assert_eq!(arrive_at(&mut t, "e", 2, now), [deliver(2, 0)]);
    }

    #[test]
    fn at_most_max_held_are_held() {
        let mut t = GapTracker::new(DEFAULT_MAX_JUMP, Some(Duration::from_secs(60)));
        assert_eq!(arrive(&mut t, "a", 1), [deliver(1, 0)]);
        for seq in 3..3 + MAX_HELD as u64 {
            assert_eq!(arrive(&mut t, "a", seq), []);
        }
        let released = arrive(&mut t, "a", 3 + MAX_HELD as u64);
        assert_eq!(released.len(), MAX_HELD + 1);
        assert_eq!(released[0], deliver(3, 1));
    }
}
