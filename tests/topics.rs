//! Topics and topic sets, and the publish-time prefilter they drive: bad indices are errors,
//! uninterested subscribers never see a queue operation, and the bus's interest tracks every
//! subscribe, drop and `set_topics`.

use std::cell::Cell;

use fanout::error::TryRecvError;
use fanout::topic::{TopicOutOfRange, TOPIC_COUNT};
use fanout::{topic, Bus, Topic, Topics};

mod common;
use common::{ev, Ev};

#[test]
fn topic_new_accepts_0_to_63_and_rejects_64_and_above() {
    for index in 0..TOPIC_COUNT {
        let topic = Topic::new(index).unwrap();
        assert_eq!(topic.index(), index);
        assert_eq!(topic.bit(), 1u64 << index);
    }
    for index in [64u8, 65, 128, 255] {
        let err = Topic::new(index).unwrap_err();
        assert_eq!(err.index(), u32::from(index));
        assert_eq!(
            err.to_string(),
            format!("topic index {index} is out of range (a bus has topics 0..64)")
        );
    }
}

#[test]
fn topic_try_from_wider_integers_rejects_out_of_range() {
    assert_eq!(Topic::try_from(63u8).map(Topic::index), Ok(63));
    assert_eq!(Topic::try_from(63u32).map(Topic::index), Ok(63));
    assert_eq!(Topic::try_from(63usize).map(Topic::index), Ok(63));

    let err: TopicOutOfRange = Topic::try_from(64u32).unwrap_err();
    assert_eq!(err.index(), 64);
    // Values that do not even fit in a u8 must not wrap around into range (256 -> 0, 300 -> 44).
    assert_eq!(Topic::try_from(256u32).unwrap_err().index(), 256);
    assert_eq!(Topic::try_from(300u32).unwrap_err().index(), 300);
    assert_eq!(Topic::try_from(u32::MAX).unwrap_err().index(), u32::MAX);
    assert_eq!(Topic::try_from(64usize).unwrap_err().index(), 64);
    assert_eq!(Topic::try_from(256usize).unwrap_err().index(), 256);
    // Beyond u32: saturates rather than wrapping into range.
    assert_eq!(Topic::try_from(usize::MAX).unwrap_err().index(), u32::MAX);
    assert!(Topic::try_from(usize::MAX).is_err());
}

#[test]
fn topic_macro_and_conversions() {
    const FIVE: Topic = topic!(5);
    assert_eq!(FIVE.index(), 5);
    assert_eq!(u8::from(FIVE), 5);
    assert_eq!(format!("{FIVE}"), "topic 5");
    assert_eq!(format!("{FIVE:?}"), "Topic(5)");
}

#[test]
fn topics_set_operations() {
    let a = topic!(0);
    let b = topic!(1);
    let c = topic!(63);

    assert_eq!(Topics::NONE.bits(), 0);
    assert_eq!(Topics::ALL.bits(), u64::MAX);
    assert!(Topics::NONE.is_empty());
    assert_eq!(Topics::ALL.len(), 64);
    for index in 0..TOPIC_COUNT {
        let topic = Topic::new(index).unwrap();
        assert!(Topics::ALL.contains(topic));
        assert!(!Topics::NONE.contains(topic));
    }

    let ab = a | b;
    assert_eq!(ab.bits(), 0b11);
    assert!(ab.contains(a) && ab.contains(b) && !ab.contains(c));
    assert_eq!(ab | c, Topics::from_bits(0b11 | 1 << 63));
    assert_eq!(Topics::ALL - a, Topics::from_bits(!1));
    assert!(!(Topics::ALL - a).contains(a));
    assert_eq!(ab & b, Topics::only(b));
    assert_eq!(!Topics::NONE, Topics::ALL);
    assert_eq!(Topics::NONE.with(c).without(c), Topics::NONE);

    let mut acc = Topics::NONE;
    acc |= a;
    acc |= c;
    assert_eq!(acc, a | c);

    let collected: Topics = [c, a, a, b].into_iter().collect();
    assert_eq!(collected, a | b | c);
    assert_eq!(collected.len(), 3);
    let indices: Vec<u8> = collected.iter().map(Topic::index).collect();
    assert_eq!(indices, [0, 1, 63]);
    assert_eq!(collected.into_iter().len(), 3);
    assert_eq!(Topics::from(b), Topics::only(b));
}

#[test]
fn uninterested_subscriber_queue_stays_empty_and_is_not_counted() {
    let bus = Bus::new();
    let mut zero = bus.subscribe(topic!(0));
    let mut one = bus.subscribe(topic!(1));
    let mut both = bus.subscribe(topic!(0) | topic!(1));
    let mut none = bus.subscribe(Topics::NONE);

    let delivery = bus.publish(ev(0, 1)).unwrap();
    assert_eq!(delivery.delivered(), 2);
    assert_eq!(delivery.dropped(), 0);
    assert_eq!(one.len(), 0);
    assert_eq!(none.len(), 0);
    assert_eq!(zero.len(), 1);
    assert_eq!(both.len(), 1);

    let delivery = bus.publish(ev(1, 2)).unwrap();
    assert_eq!(delivery.delivered(), 2);
    assert_eq!(zero.len(), 1);

    // Nobody wants topic 2: nothing delivered, nothing counted as published.
    let delivery = bus.publish(ev(2, 3)).unwrap();
    assert!(delivery.is_empty());
    assert_eq!(delivery.delivered(), 0);
    assert_eq!(bus.stats().published, 2);

    assert_eq!(zero.try_recv(), Ok(ev(0, 1)));
    assert_eq!(zero.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(one.try_recv(), Ok(ev(1, 2)));
    assert_eq!(one.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(both.try_recv(), Ok(ev(0, 1)));
    assert_eq!(both.try_recv(), Ok(ev(1, 2)));
    assert_eq!(both.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(none.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn filter_runs_after_topic_test_and_rejected_events_are_not_lost() {
    let bus = Bus::new();
    let mut even = bus
        .subscriber()
        .topics(topic!(0))
        .filter(|e: &Ev| e.seq % 2 == 0)
        .build()
        .unwrap();
    for seq in 0..6 {
        let delivered = bus.publish(ev(0, seq)).unwrap().delivered();
        assert_eq!(delivered, usize::from(seq % 2 == 0));
    }
    let got: Vec<u64> = even.try_iter().map(|r| r.unwrap().seq).collect();
    assert_eq!(got, [0, 2, 4]);
    assert_eq!(even.lost(), 0);
}

#[test]
fn interest_is_the_union_and_tracks_subscribe_drop_and_set_topics() {
    let bus = Bus::<Ev>::new();
    assert_eq!(bus.interest(), Topics::NONE);
    assert!(!bus.is_interested(topic!(0)));

    let a = bus.subscribe(topic!(0) | topic!(1));
    assert_eq!(bus.interest(), topic!(0) | topic!(1));
    let b = bus.subscribe(topic!(1) | topic!(5));
    assert_eq!(bus.interest(), topic!(0) | topic!(1) | topic!(5));
    assert!(bus.is_interested(topic!(5)));
    assert!(!bus.is_interested(topic!(2)));

    let publisher = bus.publisher();
    assert!(publisher.is_interested(topic!(5)));

    a.set_topics(Topics::only(topic!(9)));
    assert_eq!(a.topics(), Topics::only(topic!(9)));
    assert_eq!(bus.interest(), topic!(1) | topic!(5) | topic!(9));
    assert!(!bus.is_interested(topic!(0)));

    drop(b);
    assert_eq!(bus.interest(), Topics::only(topic!(9)));
    assert!(!publisher.is_interested(topic!(5)));

    a.set_topics(Topics::NONE);
    assert_eq!(bus.interest(), Topics::NONE);
    a.set_topics(Topics::ALL);
    assert_eq!(bus.interest(), Topics::ALL);
    drop(a);
    assert_eq!(bus.interest(), Topics::NONE);
    assert_eq!(bus.subscriber_count(), 0);
}

#[test]
fn publish_with_builds_the_event_only_when_someone_wants_the_topic() {
    let bus = Bus::new();
    let publisher = bus.publisher();
    let calls = Cell::new(0);
    let make = |seq| {
        calls.set(calls.get() + 1);
        ev(3, seq)
    };

    // Publishes on topic 3 through the bus and through the publisher: nobody may want it.
    let neither_delivers = |case: &str| {
        let by_bus = bus.publish_with(topic!(3), || make(0)).unwrap();
        assert!(by_bus.is_empty(), "{case}: bus.publish_with delivered");
        let by_publisher = publisher.publish_with(topic!(3), || make(0)).unwrap();
        assert!(
            by_publisher.is_empty(),
            "{case}: publisher.publish_with delivered"
        );
    };

    neither_delivers("no subscriber at all");
    assert_eq!(calls.get(), 0);

    let mut other = bus.subscribe(Topics::ALL - topic!(3));
    neither_delivers("a subscriber that wants other topics only");
    assert_eq!(calls.get(), 0);
    assert_eq!(other.try_recv(), Err(TryRecvError::Empty));

    // Someone wants it: built once per publish, and delivered.
    let mut wants = bus.subscribe(topic!(3));
    assert_eq!(
        bus.publish_with(topic!(3), || make(1)).unwrap().delivered(),
        1
    );
    assert_eq!(
        publisher
            .publish_with(topic!(3), || make(2))
            .unwrap()
            .delivered(),
        1
    );
    assert_eq!(calls.get(), 2);
    assert_eq!(wants.try_recv(), Ok(ev(3, 1)));
    assert_eq!(wants.try_recv(), Ok(ev(3, 2)));

    // Dropped again: back to not building.
    drop(wants);
    assert!(bus.publish_with(topic!(3), || make(9)).unwrap().is_empty());
    assert_eq!(calls.get(), 2);
    assert_eq!(other.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn publish_with_still_filters_by_the_built_events_own_topic() {
    let bus = Bus::new();
    let mut three = bus.subscribe(topic!(3));
    // The caller claims topic 3 but builds a topic-4 event: nobody wants topic 4.
    let delivery = bus.publish_with(topic!(3), || ev(4, 0)).unwrap();
    assert!(delivery.is_empty());
    assert_eq!(three.try_recv(), Err(TryRecvError::Empty));
}
