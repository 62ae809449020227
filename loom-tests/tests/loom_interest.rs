//! Model 8: the bus's interest mask (the union of live subscribers' masks, recomputed under the
//! registry lock by every subscribe, unsubscribe and `set_topics`, read by publishers with one
//! load) under concurrent subscribe / unsubscribe / `set_topics`.
#![cfg(loom)]

mod common;

use common::model;
use fanout::{topic, Bus, Topic, Topics};
use loom::thread;

const A0: Topic = topic!(0);
const A1: Topic = topic!(1);
const B: Topic = topic!(2);
const STAYS: Topic = topic!(3);

fn assert_has(bus: &Bus<common::Ev>, topics: impl Into<Topics>, after: &str) {
    let topics = topics.into();
    let interest = bus.interest();
    assert!(
        interest.bits() & topics.bits() == topics.bits(),
        "after {after}: interest {interest:?} misses {topics:?}"
    );
}

/// Invariant: once a subscribe or `set_topics` has returned, the interest mask contains every
/// topic of every live subscriber whose own subscribe / `set_topics` has returned (here: the
/// caller's new topics and those of a subscriber present from the start); once everything is
/// quiet it is exactly the union of the live masks (an unsubscribed or replaced topic is gone).
///
/// Threads: one subscribing to topic 0 then switching to topic 1; one subscribing to topic 2 then
/// unsubscribing; a subscriber to topic 3 lives throughout.
#[test]
fn interest_never_misses_a_live_subscriber() {
    model(Some(4), || {
        let bus = Bus::<common::Ev>::new();
        let stays = bus.subscribe(STAYS);

        let a_bus = bus.clone();
        let a = thread::spawn(move || {
            let a = a_bus.subscribe(A0);
            assert_has(&a_bus, A0 | STAYS, "subscribe(0)");
            a.set_topics(A1.into());
            assert_has(&a_bus, A1 | STAYS, "set_topics(1)");
            a
        });
        let b_bus = bus.clone();
        let b = thread::spawn(move || {
            let b = b_bus.subscribe(B);
            assert_has(&b_bus, B | STAYS, "subscribe(2)");
            drop(b);
            assert_has(&b_bus, STAYS, "unsubscribe(2)");
        });
        let a = a.join().unwrap();
        b.join().unwrap();

        assert_eq!(bus.interest(), A1 | STAYS, "quiescent interest");
        drop((a, stays));
        assert_eq!(bus.interest(), Topics::NONE);
    });
}
