//! The two payloads: a 48-byte `Copy` event and an agent-like enum carrying a `String`.

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Instant;

use fanout::{Event, Topic};

/// What a benchmark needs from an event: build one for a sequence number and topic, read back
/// the moment it was built (for latency).
pub trait Msg: Event + Sync {
    /// A fresh event. `topic` is `0..64`.
    fn make(seq: u64, topic: Topic) -> Self;
    /// Nanoseconds since [`epoch`] when the event was made (0 if the payload carries no clock).
    fn stamp(&self) -> u64;
}

/// A common clock origin for publish→receive latency.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`].
pub fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// A 48-byte plain `Copy` event (telemetry-like).
#[derive(Clone, Copy, Debug)]
pub struct Small {
    sent_ns: u64,
    // Payload that is copied around, never read: its size is the point.
    #[allow(dead_code)]
    seq: u64,
    #[allow(dead_code)]
    payload: [u32; 7],
    topic: Topic,
}

const _: () = assert!(std::mem::size_of::<Small>() == 48);

impl Event for Small {
    #[inline]
    fn topic(&self) -> Topic {
        self.topic
    }
}

impl Msg for Small {
    #[inline]
    fn make(seq: u64, topic: Topic) -> Self {
        Small {
            sent_ns: 0,
            seq,
            payload: [seq as u32; 7],
            topic,
        }
    }
    #[inline]
    fn stamp(&self) -> u64 {
        self.sent_ns
    }
}

impl Small {
    /// The same event stamped with the current time (latency runs).
    pub fn stamped(mut self) -> Self {
        self.sent_ns = now_ns();
        self
    }
}

/// An agent-runtime-like event: a streamed token carries a heap `String`.
#[derive(Clone, Debug)]
pub enum Agent {
    /// One streamed token.
    Token {
        /// Which run it belongs to (carried, never read).
        #[allow(dead_code)]
        run: u64,
        /// The token text (carried, never read).
        #[allow(dead_code)]
        text: String,
        /// The bus topic.
        topic: Topic,
    },
}

impl Event for Agent {
    #[inline]
    fn topic(&self) -> Topic {
        let Agent::Token { topic, .. } = self;
        *topic
    }
}

impl Msg for Agent {
    #[inline]
    fn make(seq: u64, topic: Topic) -> Self {
        Agent::Token {
            run: seq,
            text: String::from("a streamed token!"),
            topic,
        }
    }
    fn stamp(&self) -> u64 {
        0
    }
}

impl<M: Msg> Msg for Arc<M> {
    #[inline]
    fn make(seq: u64, topic: Topic) -> Self {
        Arc::new(M::make(seq, topic))
    }
    fn stamp(&self) -> u64 {
        (**self).stamp()
    }
}

/// Topic `i` (panics only on a bench bug: `i >= 64`).
pub fn topic(i: usize) -> Topic {
    Topic::new(i as u8).expect("bench topics are < 64")
}
