//! What each direction of the bridge did: [`ExportStats`] and [`ImportStats`], snapshots of
//! counters the bridge's threads update as they go.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What an [`Exporter`](crate::Exporter) did so far (bus → NATS).
///
/// Conservation, once the exporter has [shut down](crate::Exporter::shutdown): every event the bus
/// published to the exporter's subscriber is in `bus_lost` or `received`, and every received event
/// is in exactly one of `published`, `encode_failed`, `oversized` and `publish_failed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Events taken from the bus.
    pub received: u64,
    /// Events the bus's overflow policy dropped before the exporter could take them (the sum of
    /// its `Lagged` reports).
    pub bus_lost: u64,
    /// Events the codec could not encode, or whose subject was not a valid NATS subject.
    pub encode_failed: u64,
    /// Events whose encoding was larger than the server's maximum payload.
    pub oversized: u64,
    /// Events handed to NATS (core: written to the connection; JetStream: stored, acknowledged).
    pub published: u64,
    /// JetStream acknowledgements received (0 in core mode).
    pub acknowledged: u64,
    /// JetStream publishes sent again after a failed or missing acknowledgement.
    pub retried: u64,
    /// Events given up: a client error in core mode, no acknowledgement within the retry window
    /// in JetStream mode.
    pub publish_failed: u64,
    /// Keys whose numbering was forgotten to stay within
    /// [`MAX_KEY_STREAMS`](crate::sequence::MAX_KEY_STREAMS): each one's next event starts a
    /// new key stream (see [`sequence`](crate::sequence#bounds)). Not a loss.
    pub key_streams_evicted: u64,
}

impl ExportStats {
    /// Every event this exporter lost, whatever the cause: `bus_lost + encode_failed + oversized
    /// + publish_failed`.
    pub fn lost(&self) -> u64 {
        self.bus_lost + self.encode_failed + self.oversized + self.publish_failed
    }
}

/// What an [`Importer`](crate::Importer) did so far (NATS → bus).
///
/// Conservation, once the importer has [shut down](crate::Importer::shutdown): every received
/// message is in exactly one of `published`, `bus_closed`, `decode_failed`, `oversized`,
/// `duplicates`, `implausible` and `wrong_key`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportStats {
    /// Messages received from NATS.
    pub received: u64,
    /// Events published into the bus.
    pub published: u64,
    /// Messages the codec could not decode (malformed).
    pub decode_failed: u64,
    /// Messages larger than the importer's maximum payload, dropped undecoded.
    pub oversized: u64,
    /// Events an exporter sent that never arrived here: gaps in its sequence numbers (lost by
    /// core NATS, by a server restart, or by this importer being a slow consumer). An importer
    /// following keys counts gaps in each key's own numbers, so only its keys' events (see
    /// [`sequence`](crate::sequence#per-key-sequences)).
    pub lost: u64,
    /// Messages seen before (a JetStream redelivery or an exporter's retry), dropped.
    pub duplicates: u64,
    /// Messages whose sequence number jumped implausibly far ahead of their exporter's (a forged
    /// or corrupt header) and that no next number confirmed, dropped with the exporter's cursor
    /// unmoved; see [`sequence`](crate::sequence#plausible-jumps).
    pub implausible: u64,
    /// JetStream messages acknowledged after their event was published into the bus.
    pub acknowledged: u64,
    /// Slow-consumer notices from the client: this importer fell behind and the client dropped
    /// messages (the dropped events show up in `lost` once a later event from their exporter
    /// arrives).
    pub slow_consumer_notices: u64,
    /// Decoded events the bus refused because it was closed.
    pub bus_closed: u64,
    /// Decoded events whose routing key ([`Event::key`](fanout::Event::key)) is none the
    /// importer follows ([`ImportBuilder::key`](crate::ImportBuilder::key)): on a followed key's
    /// subject, but another key's event (a forged message, or a subject function that does not
    /// name events by their key). Dropped, so another key's event never reaches this bus.
    pub wrong_key: u64,
    /// Cursors forgotten to stay within [`MAX_CURSORS`](crate::sequence::MAX_CURSORS) (see
    /// [`sequence`](crate::sequence#bounds)): each one's next message is judged as a first
    /// arrival. Not a loss.
    pub cursors_evicted: u64,
}

/// The live counters behind [`ExportStats`].
#[derive(Debug, Default)]
pub(crate) struct ExportCounters {
    pub received: AtomicU64,
    pub bus_lost: AtomicU64,
    pub encode_failed: AtomicU64,
    pub oversized: AtomicU64,
    pub published: AtomicU64,
    pub acknowledged: AtomicU64,
    pub retried: AtomicU64,
    pub publish_failed: AtomicU64,
    pub key_streams_evicted: AtomicU64,
}

impl ExportCounters {
    pub fn snapshot(&self) -> ExportStats {
        ExportStats {
            received: self.received.load(Relaxed),
            bus_lost: self.bus_lost.load(Relaxed),
            encode_failed: self.encode_failed.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
            published: self.published.load(Relaxed),
            acknowledged: self.acknowledged.load(Relaxed),
            retried: self.retried.load(Relaxed),
            publish_failed: self.publish_failed.load(Relaxed),
            key_streams_evicted: self.key_streams_evicted.load(Relaxed),
        }
    }
}

/// The live counters behind [`ImportStats`].
#[derive(Debug, Default)]
pub(crate) struct ImportCounters {
    pub received: AtomicU64,
    pub published: AtomicU64,
    pub decode_failed: AtomicU64,
    pub oversized: AtomicU64,
    pub lost: AtomicU64,
    pub duplicates: AtomicU64,
    pub implausible: AtomicU64,
    pub acknowledged: AtomicU64,
    pub slow_consumer_notices: AtomicU64,
    pub bus_closed: AtomicU64,
    pub wrong_key: AtomicU64,
    pub cursors_evicted: AtomicU64,
}

impl ImportCounters {
    pub fn snapshot(&self) -> ImportStats {
        ImportStats {
            received: self.received.load(Relaxed),
            published: self.published.load(Relaxed),
            decode_failed: self.decode_failed.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
            lost: self.lost.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            implausible: self.implausible.load(Relaxed),
            acknowledged: self.acknowledged.load(Relaxed),
            slow_consumer_notices: self.slow_consumer_notices.load(Relaxed),
            bus_closed: self.bus_closed.load(Relaxed),
            wrong_key: self.wrong_key.load(Relaxed),
            cursors_evicted: self.cursors_evicted.load(Relaxed),
        }
    }
}

/// `counter += n`.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}
