//! Routing keys: a keyed event reaches the subscribers of its key and the unkeyed ones, an
//! unkeyed event everyone; keys combine with topics, filters, every overflow policy, set_topics,
//! batches, async publishes, close and drop; bad key sets are build errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fanout::error::{BuildError, RecvError, TryRecvError};
use fanout::{topic, Bus, Event, Key, Overflow, Subscriber, Topic, Topics};

const TEXT: Topic = topic!(0);
const TOOL: Topic = topic!(1);

#[derive(Clone, Debug, PartialEq)]
struct Ev {
    key: Option<u64>,
    topic: Topic,
    n: u32,
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        self.topic
    }
    fn key(&self) -> Option<Key> {
        self.key.map(Key::from)
    }
}

fn ev(key: Option<u64>, n: u32) -> Ev {
    Ev {
        key,
        topic: TEXT,
        n,
    }
}

fn drain(sub: &mut Subscriber<Ev>) -> Vec<u32> {
    sub.try_iter().map(|item| item.unwrap().n).collect()
}

/// Receives until the stream ends: the events' numbers and the end.
fn drain_until_end(sub: &mut Subscriber<Ev>) -> (Vec<u32>, RecvError) {
    let mut got = Vec::new();
    loop {
        match sub.recv() {
            Ok(e) => got.push(e.n),
            Err(end) => return (got, end),
        }
    }
}

#[test]
fn keyed_events_reach_their_key_and_unkeyed_subscribers_unkeyed_events_reach_all() {
    let bus = Bus::new();
    let mut one = bus.subscriber().key(1u64).build().unwrap();
    let mut two = bus.subscriber().key(2u64).build().unwrap();
    let mut both = bus.subscriber().keys([1u64, 2]).build().unwrap();
    let mut audit = bus.subscribe(Topics::ALL);
    assert_eq!(bus.subscriber_count(), 4);

    assert_eq!(bus.publish(ev(Some(1), 10)).unwrap().delivered(), 3);
    assert_eq!(bus.publish(ev(Some(2), 20)).unwrap().delivered(), 3);
    assert_eq!(bus.publish(ev(Some(3), 30)).unwrap().delivered(), 1);
    assert_eq!(bus.publish(ev(None, 40)).unwrap().delivered(), 4);

    assert_eq!(drain(&mut one), [10, 40]);
    assert_eq!(drain(&mut two), [20, 40]);
    assert_eq!(drain(&mut both), [10, 20, 40]);
    assert_eq!(drain(&mut audit), [10, 20, 30, 40]);
}

#[test]
fn keys_combine_with_topics_and_filters() {
    let bus = Bus::new();
    let mut tools_of_1 = bus.subscriber().key(1u64).topics(TOOL).build().unwrap();
    let mut even_of_1 = bus
        .subscriber()
        .key(1u64)
        .filter(|e: &Ev| e.n % 2 == 0)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let mut filtered_2 = bus
        .subscriber()
        .key(2u64)
        .filter(move |_: &Ev| {
            counted.fetch_add(1, Ordering::Relaxed);
            true
        })
        .build()
        .unwrap();
    for n in 0..6 {
        let topic = if n % 3 == 0 { TOOL } else { TEXT };
        bus.publish(Ev {
            key: Some(1),
            topic,
            n,
        })
        .unwrap();
    }
    assert_eq!(drain(&mut tools_of_1), [0, 3]);
    assert_eq!(drain(&mut even_of_1), [0, 2, 4]);
    // Key 1's publishes never ran key 2's filter.
    assert_eq!(calls.load(Ordering::Relaxed), 0);
    assert!(drain(&mut filtered_2).is_empty());
    bus.publish(ev(Some(2), 7)).unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(drain(&mut filtered_2), [7]);

    // set_topics on a keyed subscriber (of several keys) takes effect on every key.
    let mut multi = bus
        .subscriber()
        .keys([5u64, 6])
        .topics(TOOL)
        .build()
        .unwrap();
    bus.publish(ev(Some(5), 1)).unwrap();
    multi.set_topics(TEXT.into());
    bus.publish(ev(Some(5), 2)).unwrap();
    bus.publish(ev(Some(6), 3)).unwrap();
    assert_eq!(drain(&mut multi), [2, 3]);
    assert_eq!(multi.topics(), Topics::from(TEXT));
    assert_eq!(multi.keys(), [Key::from(5u64), Key::from(6u64)]);
}

#[test]
fn every_overflow_policy_applies_to_keyed_subscribers() {
    let bus = Bus::new();
    let mut oldest = bus
        .subscriber()
        .key(1u64)
        .capacity(2)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let mut newest = bus
        .subscriber()
        .key(1u64)
        .capacity(2)
        .overflow(Overflow::DropNewest)
        .build()
        .unwrap();
    let mut cut = bus
        .subscriber()
        .key(1u64)
        .capacity(2)
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    let mut block = bus
        .subscriber()
        .key(1u64)
        .capacity(2)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let mut other = bus
        .subscriber()
        .key(2u64)
        .capacity(2)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    for n in 0..2 {
        bus.publish(ev(Some(1), n)).unwrap();
    }
    // The Block queue of key 1 is full: a timed publish gives up on it, counts the loss.
    let third = bus
        .publisher()
        .publish_timeout(ev(Some(1), 2), std::time::Duration::from_millis(1))
        .unwrap();
    assert_eq!(
        (
            third.delivered(),
            third.dropped(),
            third.disconnected(),
            third.timed_out()
        ),
        (1, 4, 1, 1)
    );
    // Key 2's (empty) Block queue was never offered anything.
    assert_eq!(other.try_recv(), Err(TryRecvError::Empty));

    assert_eq!(oldest.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(drain(&mut oldest), [1, 2]);
    assert_eq!(newest.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(drain(&mut newest), [0, 1]);
    assert_eq!(cut.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(
        drain_until_end(&mut cut),
        ([0, 1].to_vec(), RecvError::Overflowed)
    );
    assert_eq!(block.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(drain(&mut block), [0, 1]);
    // The cut-off subscriber left the index.
    assert_eq!(bus.subscriber_count(), 4);
    drop(bus);
    assert_eq!(other.recv(), Err(RecvError::Disconnected));
}

#[test]
fn bad_key_sets_are_build_errors() {
    let bus = Bus::<Ev>::new();
    let none: [u64; 0] = [];
    assert_eq!(
        bus.subscriber().keys(none).build().unwrap_err(),
        BuildError::NoKeys
    );
    let err = bus.subscriber().keys(0..65u64).build().unwrap_err();
    assert_eq!(err, BuildError::TooManyKeys { requested: 65 });
    assert_eq!(
        err.to_string(),
        "65 keys is above the maximum of 64 per subscriber"
    );
    // Duplicates count once: 64 distinct keys (each given twice) are fine.
    let sub = bus
        .subscriber()
        .keys((0..64u64).chain(0..64))
        .build()
        .unwrap();
    assert_eq!(sub.keys().len(), fanout::key::MAX_KEYS);
    // Nothing half-registered by the failed builds.
    assert_eq!(bus.subscriber_count(), 1);
}

#[test]
fn dropping_keyed_subscribers_unsubscribes_them_and_keeps_the_others() {
    let bus = Bus::new();
    let subs: Vec<_> = (0..10u64)
        .map(|k| bus.subscriber().keys([k, k + 100]).build().unwrap())
        .collect();
    let mut keep = Vec::new();
    for (k, sub) in subs.into_iter().enumerate() {
        if k % 2 == 0 {
            drop(sub);
        } else {
            keep.push((k as u64, sub));
        }
    }
    assert_eq!(bus.subscriber_count(), 5);
    assert_eq!(bus.stats().subscribers.len(), 5);
    // Stats list subscribers in subscription order.
    let ids: Vec<_> = bus.stats().subscribers.iter().map(|s| s.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    for k in 0..10u64 {
        let delivered = bus
            .publish(ev(Some(k + 100), k as u32))
            .unwrap()
            .delivered();
        assert_eq!(delivered, usize::from(k % 2 == 1));
    }
    for (k, sub) in &mut keep {
        assert_eq!(drain(sub), [*k as u32]);
    }
    // Once every keyed subscriber is gone, the index is gone: the topic is nobody's interest.
    drop(keep);
    assert_eq!(bus.subscriber_count(), 0);
    assert!(!bus.is_interested(TEXT));
}

#[test]
fn batches_and_async_publishes_follow_keys() {
    let bus = Bus::new();
    let mut one = bus.subscriber().key(1u64).build().unwrap();
    let mut two = bus
        .subscriber()
        .key(2u64)
        .capacity(1)
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    let mut all = bus.subscribe(Topics::ALL);
    let mut batch: Vec<Ev> = (0..6).map(|n| ev(Some(1 + u64::from(n % 3)), n)).collect();
    batch.push(ev(None, 6));
    let delivery = bus.publisher().publish_batch(&mut batch).unwrap();
    // one: 0, 3, 6; two: 1 (then cut off at 4, and not offered 6); all: 7.
    assert_eq!(
        (
            delivery.delivered(),
            delivery.dropped(),
            delivery.disconnected()
        ),
        (11, 1, 1)
    );
    assert_eq!(drain(&mut one), [0, 3, 6]);
    assert_eq!(two.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(
        drain_until_end(&mut two),
        ([1].to_vec(), RecvError::Overflowed)
    );
    assert_eq!(drain(&mut all), [0, 1, 2, 3, 4, 5, 6]);

    futures_executor::block_on(async {
        assert_eq!(
            bus.publish_async(ev(Some(1), 7)).await.unwrap().delivered(),
            2
        );
        assert_eq!(
            bus.publish_async(ev(Some(9), 8)).await.unwrap().delivered(),
            1
        );
        assert_eq!(bus.publish_async(ev(None, 9)).await.unwrap().delivered(), 2);
    });
    assert_eq!(drain(&mut one), [7, 9]);
    assert_eq!(drain(&mut all), [7, 8, 9]);
}

#[test]
fn close_ends_keyed_streams_after_draining() {
    let bus = Bus::new();
    let mut one = bus.subscriber().key(1u64).build().unwrap();
    bus.publish(ev(Some(1), 1)).unwrap();
    bus.close();
    assert!(bus.publish(ev(Some(1), 2)).is_err());
    assert_eq!(one.recv().map(|e| e.n), Ok(1));
    assert_eq!(one.recv(), Err(RecvError::Disconnected));
    assert_eq!(
        bus.subscriber().key(1u64).build().unwrap_err(),
        BuildError::Closed
    );
}

#[test]
fn a_keyless_event_type_on_a_keyed_bus_reaches_everyone() {
    // An event type that never names a key: keyed subscribers still get all of it (as unkeyed
    // events), so adding keys to some subscribers never hides events of a type without keys.
    #[derive(Clone)]
    struct Plain;
    impl Event for Plain {
        fn topic(&self) -> Topic {
            TEXT
        }
    }
    let bus = Bus::new();
    let mut keyed = bus.subscriber().key(1u64).build().unwrap();
    assert_eq!(bus.publish(Plain).unwrap().delivered(), 1);
    assert!(keyed.try_recv().is_ok());
}

#[test]
fn keys_parse_and_print() {
    let key = Key::from(0xabcu64);
    assert_eq!(key.to_string().parse::<Key>(), Ok(key));
    assert_eq!(format!("{key:?}"), "Key(00000000000000000000000000000abc)");
    assert_eq!("ABC".parse::<Key>(), Ok(key));
    assert!("-abc".parse::<Key>().is_err());
    assert!("+abc".parse::<Key>().is_err());
    assert!("67e55044-10b1-426f-9247-bb680e5fe0c"
        .parse::<Key>()
        .is_err());
    assert_eq!(
        serde_json::to_string(&key).unwrap(),
        "\"00000000000000000000000000000abc\""
    );
    assert_eq!(serde_json::from_str::<Key>("\"abc\"").unwrap(), key);
    assert!(serde_json::from_str::<Key>("2748").is_err());
}

#[test]
fn a_keyed_history_subscriber_replays_only_its_keys_past_and_unkeyed_events() {
    use fanout::history::Replay;
    use fanout::HistoryBus;
    let bus = HistoryBus::builder(100).build().unwrap();
    for n in 0..30u32 {
        // Keys 0, 1, 2 in turn; every tenth event is unkeyed (for everyone).
        let key = (n % 10 != 9).then_some(u64::from(n % 3));
        bus.publish(Ev {
            key,
            topic: if n % 2 == 0 { TEXT } else { TOOL },
            n,
        })
        .unwrap();
    }
    let numbers = |sub: &mut Subscriber<fanout::history::Sequenced<Ev>>| -> Vec<u32> {
        sub.try_iter().map(|item| item.unwrap().n).collect()
    };
    // Since(10): events 11.. (seq = n + 1) of key 1, and the unkeyed 19 and 29.
    let mut tab = bus
        .subscriber()
        .key(1u64)
        .replay(Replay::Since(10))
        .build()
        .unwrap();
    assert_eq!(numbers(&mut tab), [10, 13, 16, 19, 22, 25, 28, 29]);
    // Live: key 1 and unkeyed only.
    bus.publish(ev(Some(2), 100)).unwrap();
    bus.publish(ev(Some(1), 101)).unwrap();
    bus.publish(ev(None, 102)).unwrap();
    assert_eq!(numbers(&mut tab), [101, 102]);

    // Tail(3): the last three of its key (or unkeyed), filter and topics applied.
    let mut tail = bus
        .subscriber()
        .key(2u64)
        .topics(TEXT)
        .replay(Replay::Tail(3))
        .build()
        .unwrap();
    assert_eq!(numbers(&mut tail), [26, 100, 102]);

    // LastPerTopic: per topic, the newest event of its keys.
    let mut state = bus
        .subscriber()
        .keys([0u64])
        .replay(Replay::LastPerTopic)
        .build()
        .unwrap();
    assert_eq!(numbers(&mut state), [29, 102]); // 29: unkeyed, so for key 0 too

    // An unkeyed subscriber replays everything, as before.
    let mut all = bus.subscriber().replay(Replay::Since(30)).build().unwrap();
    assert_eq!(numbers(&mut all), [100, 101, 102]);
}

#[test]
fn a_panicking_filter_on_a_keyed_route_owes_the_event_to_everyone_not_served() {
    let bus = Bus::new();
    // Route of key 1: the unkeyed subscriber first, then key 1's group in subscription order.
    let mut unkeyed = bus.subscribe(Topics::ALL);
    let mut first = bus.subscriber().key(1u64).build().unwrap();
    let mut panicky = bus
        .subscriber()
        .key(1u64)
        .filter(|e: &Ev| {
            assert!(e.n != 13, "filter panics on 13");
            true
        })
        .build()
        .unwrap();
    let mut last = bus.subscriber().key(1u64).build().unwrap();
    let mut other = bus.subscriber().key(2u64).build().unwrap();
    let publisher = bus.publisher();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        publisher.publish(ev(Some(1), 13))
    }));
    assert!(result.is_err());
    bus.publish(ev(Some(1), 14)).unwrap();
    // Served before the panic: the event. Pending or not yet looked at: a Lagged(1) for it.
    assert_eq!(drain(&mut unkeyed), [13, 14]);
    let got = |sub: &mut Subscriber<Ev>| {
        sub.try_iter()
            .map(|item| item.map(|e| e.n as i64).unwrap_or_else(|_| -1))
            .collect::<Vec<_>>()
    };
    // `first` was pending (it waits for the next interested entry to know whether it gets the
    // original), so the panic owes it the event; `panicky` and `last` were not served yet.
    assert_eq!(got(&mut first), [-1, 14]);
    assert_eq!(got(&mut panicky), [-1, 14]);
    assert_eq!(got(&mut last), [-1, 14]);
    // Another key's subscriber is owed nothing: the event was never for it.
    assert!(got(&mut other).is_empty());
}
