//! Model 2: `set_topics` racing publish (the subscriber's mask and the bus's interest mask, both
//! read by publishers without a lock).
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::{topic, Bus, Topics};
use fanout::error::TryRecvError;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Invariant: a publish that starts after `set_topics` has returned obeys the new mask: an event
/// of a topic just removed is not delivered, an event of a topic just added is. ("Starts after"
/// is established by a release/acquire flag raised once `set_topics` returned and read by the
/// publisher before each publish; a publish that raced the call may go either way.)
///
/// Threads: a publisher publishing an event of topic 0 then one of topic 1, reading the flag
/// before each; a thread switching the subscriber from topic 0 to topic 1. Besides the
/// subscriber's own mask this checks the interest mask: nobody wanted topic 1 before the switch,
/// so the idle path must not skip a topic-1 publish that starts after it.
#[test]
fn publish_after_set_topics_obeys_new_mask() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let sub = bus
            .subscriber()
            .topics(topic!(0))
            .capacity(2)
            .build()
            .unwrap();
        let switched = Arc::new(AtomicBool::new(false));

        let publisher = bus.publisher();
        let events = ledger.clone();
        let flag = switched.clone();
        let publishing = thread::spawn(move || {
            let mut after = [false; 2];
            for (seq, topic) in [(0u8, 0u8), (1, 1)] {
                after[usize::from(seq)] = flag.load(Ordering::Acquire);
                publisher.publish(events.event(1, seq, topic)).unwrap();
            }
            after
        });
        let switching = thread::spawn(move || {
            sub.set_topics(Topics::from(topic!(1)));
            switched.store(true, Ordering::Release);
            sub
        });
        let after = publishing.join().unwrap();
        let mut sub = switching.join().unwrap();

        let mut got = Vec::new();
        loop {
            match sub.try_recv() {
                Ok(ev) => got.push(ev.topic),
                Err(TryRecvError::Empty) => break,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        if after[0] {
            assert!(!got.contains(&0), "topic 0 delivered after it was removed");
        }
        if after[1] {
            assert!(got.contains(&1), "topic 1 not delivered after it was added");
        }
        assert!(bus.interest().contains(topic!(1)) && !bus.interest().contains(topic!(0)));
        drop((sub, bus));
        ledger.assert_all_dropped();
    });
}
