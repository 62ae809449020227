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
    model(Some(3), || {
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

/// Invariant (publisher side): once a subscriber has received an event of a publisher, it
/// receives every later event of that publisher that it wants. A publisher that reached the new
/// subscriber through the new snapshot must not then skip it on the idle path because it read
/// the interest mask from before the subscribe (the registry grows the mask before publishing the
/// snapshot, and shrinks it only after).
///
/// Threads: a publisher of `(topic 0, topic 1)`, topic 0 already wanted by a bystander and topic 1
/// by nobody yet; the main thread subscribes to both (or, in the second half, moves an existing
/// subscriber from topic 2 to both with `set_topics`). Receiving event 0 proves the publisher
/// used the new snapshot.
#[test]
fn a_publisher_that_reached_a_subscriber_never_skips_it() {
    for widen in [false, true] {
        model(Some(3), move || {
            let ledger = common::Ledger::new();
            let bus = Bus::<common::Ev>::new();
            let bystander = bus.subscribe(A0);
            let early = widen.then(|| bus.subscribe(B));
            let publisher = bus.publisher();
            let events = ledger.clone();
            let p = thread::spawn(move || {
                publisher.publish(events.event(0, 0, 0)).unwrap();
                publisher.publish(events.event(0, 1, 1)).unwrap();
            });
            let mut joiner = match early {
                Some(sub) => {
                    sub.set_topics(A0 | A1);
                    sub
                }
                None => bus.subscribe(A0 | A1),
            };
            p.join().unwrap();
            let got: Vec<(u8, u8)> = joiner.try_iter().map(|item| item.unwrap().key()).collect();
            if got.contains(&(0, 0)) {
                assert!(
                    got.contains(&(0, 1)),
                    "widen {widen}: got {got:?}: event 1 skipped"
                );
            }
            drop((bystander, joiner, bus));
            ledger.assert_all_dropped();
        });
    }
}

/// Model 8 with keys: the interest mask holds keyed subscribers' topics too (they live in the
/// snapshot's key index, not its entry list), through subscribes, `set_topics` on a subscriber
/// of two keys, and an unsubscribe that removes a key's last subscriber (and so its group).
///
/// Threads: one subscribing for keys {1, 2} to topic 0 then switching to topic 1; one
/// subscribing for key 3 to topic 2 then unsubscribing; a key-1 subscriber to topic 3 lives
/// throughout.
#[test]
fn keyed_interest_never_misses_a_live_keyed_subscriber() {
    model(Some(3), || {
        let bus = Bus::<common::Ev>::new();
        let stays = bus.subscriber().key(1u32).topics(STAYS).build().unwrap();

        let a_bus = bus.clone();
        let a = thread::spawn(move || {
            let a = a_bus.subscriber().keys([1u32, 2]).topics(A0).build().unwrap();
            assert_has(&a_bus, A0 | STAYS, "keyed subscribe(0)");
            a.set_topics(A1.into());
            assert_has(&a_bus, A1 | STAYS, "keyed set_topics(1)");
            a
        });
        let b_bus = bus.clone();
        let b = thread::spawn(move || {
            let b = b_bus.subscriber().key(3u32).topics(B).build().unwrap();
            assert_has(&b_bus, B | STAYS, "keyed subscribe(2)");
            drop(b);
            assert_has(&b_bus, STAYS, "keyed unsubscribe(2)");
        });
        let a = a.join().unwrap();
        b.join().unwrap();

        assert_eq!(bus.interest(), A1 | STAYS, "quiescent interest");
        drop((a, stays));
        assert_eq!(bus.interest(), Topics::NONE);
    });
}

/// Model 8, publisher side, with keys: once a keyed subscriber has received a publisher's event
/// of its key, it receives every later event of that publisher for its key that it wants, and
/// never another key's. The publisher's events are for key 1 (topic 0, then topic 1) with one
/// event for key 2 (topic 1) between them; the joiner subscribes for key 1 (or, in the second
/// half, widens an existing key-1 subscription with `set_topics`), while an unrelated key-2
/// subscriber leaves (removing its group, which moves another group in the index).
#[test]
fn a_publisher_that_reached_a_keyed_subscriber_never_skips_it() {
    for widen in [false, true] {
        model(Some(3), move || {
            let ledger = common::Ledger::new();
            let bus = Bus::<common::Ev>::new();
            let bystander = bus.subscriber().key(3u32).topics(A0).build().unwrap();
            let leaving = bus.subscriber().key(2u32).topics(B).build().unwrap();
            let early = widen.then(|| bus.subscriber().key(1u32).topics(B).build().unwrap());
            let publisher = bus.publisher();
            let events = ledger.clone();
            let p = thread::spawn(move || {
                publisher.publish(events.keyed_event(0, 0, 0, 1)).unwrap();
                publisher.publish(events.keyed_event(0, 1, 1, 2)).unwrap();
                publisher.publish(events.keyed_event(0, 2, 1, 1)).unwrap();
            });
            let leaver = thread::spawn(move || drop(leaving));
            let mut joiner = match early {
                Some(sub) => {
                    sub.set_topics(A0 | A1);
                    sub
                }
                None => bus.subscriber().key(1u32).topics(A0 | A1).build().unwrap(),
            };
            p.join().unwrap();
            leaver.join().unwrap();
            let got: Vec<(u8, u8)> = joiner.try_iter().map(|item| item.unwrap().key()).collect();
            assert!(!got.contains(&(0, 1)), "widen {widen}: got {got:?}: key 2's event");
            if got.contains(&(0, 0)) {
                assert!(
                    got.contains(&(0, 2)),
                    "widen {widen}: got {got:?}: event 2 skipped"
                );
            }
            drop((bystander, joiner, bus));
            ledger.assert_all_dropped();
        });
    }
}
