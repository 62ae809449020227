//! Events and setup shared by the integration tests (`mod common;` in each test file that uses
//! them).

// Every test binary compiles this module on its own and uses only part of it, so items one
// binary leaves unused must not warn there.
#![allow(dead_code)]

use fanout::{topic, Bus, Event, Overflow, Subscriber, Topic};

/// An event on topic 0 carrying a number.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick(pub u32);

impl Event for Tick {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

/// An event on a chosen topic carrying a sequence number.
#[derive(Clone, Debug, PartialEq)]
pub struct Ev {
    pub topic: Topic,
    pub seq: u64,
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        self.topic
    }
}

/// An [`Ev`] on topic `index` (which must be in range).
pub fn ev(index: u8, seq: u64) -> Ev {
    Ev {
        topic: Topic::new(index).unwrap(),
        seq,
    }
}

/// A subscriber to every topic with the given queue capacity and overflow policy.
pub fn bounded<E: Event>(bus: &Bus<E>, capacity: usize, overflow: Overflow) -> Subscriber<E> {
    bus.subscriber()
        .capacity(capacity)
        .overflow(overflow)
        .build()
        .unwrap()
}

/// The number of topics a [`Stamped`] event can have.
pub const STAMPED_TOPICS: u8 = 4;

/// An event stamped with who published it and its number. Its topic is a fixed function of both
/// ([`stamped_topic`]), so a test can recompute what every subscriber was owed.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamped {
    pub publisher: usize,
    pub seq: u32,
}

/// The topic index (below [`STAMPED_TOPICS`]) of publisher `publisher`'s `seq`-th event.
pub fn stamped_topic(publisher: usize, seq: u32) -> u8 {
    ((seq.wrapping_mul(2_654_435_761) >> 13) as u8).wrapping_add(publisher as u8) % STAMPED_TOPICS
}

impl Event for Stamped {
    fn topic(&self) -> Topic {
        Topic::new(stamped_topic(self.publisher, self.seq)).unwrap()
    }
}

/// A tiny deterministic xorshift generator (no dependency needed for test randomness).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A non-empty mask of [`Stamped`] topics.
    pub fn mask(&mut self) -> fanout::Topics {
        fanout::Topics::from_bits(self.below((1 << STAMPED_TOPICS) - 1) + 1)
    }
}
