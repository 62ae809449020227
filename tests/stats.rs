//! `Bus::stats`: every field of the bus and of each subscriber, and the serde round trip.

use std::time::Duration;

use fanout::stats::{BusStats, SubscriberStats};
use fanout::{topic, Bus, Event, Overflow, Topic, Topics, WaitStrategy};

mod common;
use common::bounded;

/// An event on the topic it carries.
#[derive(Clone, Debug, PartialEq)]
struct Ev(Topic);

impl Event for Ev {
    fn topic(&self) -> Topic {
        self.0
    }
}

/// A subscriber's moving counters: `(queued, received, dropped, lag_reported, enqueued)`.
fn counters(s: &SubscriberStats) -> (usize, u64, u64, u64, u64) {
    (s.queued, s.received, s.dropped, s.lag_reported, s.enqueued)
}

#[test]
fn stats_report_every_field() {
    let bus = Bus::new();
    let fresh = bus.stats();
    assert_eq!(fresh.published, 0);
    assert_eq!(fresh.rejected_after_close, 0);
    assert!(!fresh.closed);
    assert!(fresh.subscribers.is_empty());

    let mut oldest = bus
        .subscriber()
        .name("ui")
        .topics(topic!(0) | topic!(1))
        .capacity(2)
        .build()
        .unwrap();
    let mut newest = bus
        .subscriber()
        .topics(topic!(0))
        .capacity(3)
        .overflow(Overflow::DropNewest)
        .wait(WaitStrategy::BusySpin)
        .build()
        .unwrap();
    let cut = bus
        .subscriber()
        .name("remote")
        .topics(topic!(0))
        .capacity(1)
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    let _idle = bus
        .subscriber()
        .name("audit")
        .topics(topic!(7))
        .overflow(Overflow::Block)
        .wait(WaitStrategy::SpinThenPark(Duration::from_micros(10)))
        .build()
        .unwrap();

    for _ in 0..5 {
        bus.publish(Ev(topic!(0))).unwrap();
    }
    bus.publish(Ev(topic!(1))).unwrap();
    // Nobody wants topic 3: not counted as published.
    bus.publish(Ev(topic!(3))).unwrap();

    // `remote` was cut off by its second event: no longer in the table.
    assert_eq!(cut.lost(), 1);
    let stats = bus.stats();
    assert_eq!(stats.published, 6);
    assert_eq!(stats.subscribers.len(), 3);
    let names: Vec<&str> = stats.subscribers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ui", newest.name(), "audit"]);
    assert_eq!(newest.name(), format!("subscriber-{}", newest.id().get()));

    let ui = &stats.subscribers[0];
    assert_eq!(ui.id, oldest.id());
    assert_eq!(ui.topics, topic!(0) | topic!(1));
    assert_eq!(ui.capacity, 2);
    assert_eq!(ui.overflow, Overflow::DropOldest);
    assert_eq!(ui.wait, WaitStrategy::Park);
    assert_eq!(counters(ui), (2, 0, 4, 0, 6));
    assert!(!ui.overflowed);

    let nw = &stats.subscribers[1];
    assert_eq!(nw.id, newest.id());
    assert_eq!(
        (nw.overflow, nw.wait, nw.capacity),
        (Overflow::DropNewest, WaitStrategy::BusySpin, 3)
    );
    assert_eq!(counters(nw), (3, 0, 2, 0, 3));

    let audit = &stats.subscribers[2];
    assert_eq!(audit.topics, Topics::only(topic!(7)));
    assert_eq!(audit.capacity, fanout::DEFAULT_CAPACITY);
    assert_eq!(audit.overflow, Overflow::Block);
    assert_eq!(
        audit.wait,
        WaitStrategy::SpinThenPark(Duration::from_micros(10))
    );
    assert_eq!(
        (audit.queued, audit.received, audit.enqueued, audit.dropped),
        (0, 0, 0, 0)
    );

    // Receiving moves the counters: reported lag, received, queued.
    let got: Vec<_> = oldest.try_iter().collect();
    assert_eq!(got.len(), 3); // Lagged(4), then two events
    let got: Vec<_> = newest.try_iter().collect();
    assert_eq!(got.len(), 4); // Lagged(2), then three events
    let stats = bus.stats();
    let ui = &stats.subscribers[0];
    assert_eq!(counters(ui), (0, 2, 4, 4, 6));
    let nw = &stats.subscribers[1];
    assert_eq!(counters(nw), (0, 3, 2, 2, 3));
    // The conservation law, as the stats state it: received + dropped == published to it.
    assert_eq!(ui.received + ui.dropped, 6);
    assert_eq!(nw.received + nw.dropped, 5);

    // set_topics shows in stats.
    oldest.set_topics(Topics::only(topic!(2)));
    assert_eq!(bus.stats().subscribers[0].topics, Topics::only(topic!(2)));

    bus.close();
    let closed = bus.stats();
    assert!(closed.closed);
    assert!(
        closed.subscribers.is_empty(),
        "a closed bus has no registered subscribers"
    );
    assert_eq!(closed.published, 6);
}

#[test]
fn overflowed_flag_is_visible_before_the_cut_subscriber_leaves_the_table() {
    // A Disconnect subscriber is removed as soon as it overflows, so `overflowed: true` is only
    // ever observable through the subscriber itself; its stats row disappears.
    let bus = Bus::new();
    let mut cut = bounded(&bus, 1, Overflow::Disconnect);
    bus.publish(Ev(topic!(0))).unwrap();
    assert_eq!(bus.stats().subscribers.len(), 1);
    assert!(!bus.stats().subscribers[0].overflowed);
    bus.publish(Ev(topic!(0))).unwrap();
    assert!(bus.stats().subscribers.is_empty());
    assert_eq!(cut.try_iter().count(), 3); // Lagged(1), the event, Overflowed
}

#[test]
fn stats_serde_round_trip() {
    let bus = Bus::new();
    let _a = bus
        .subscriber()
        .name("a \"quoted\" name")
        .topics(topic!(0) | topic!(63))
        .capacity(1)
        .overflow(Overflow::DropNewest)
        .wait(WaitStrategy::SpinThenPark(Duration::from_nanos(1_500)))
        .build()
        .unwrap();
    let _b = bus.subscribe(Topics::ALL);
    for _ in 0..3 {
        bus.publish(Ev(topic!(63))).unwrap();
    }
    let stats = bus.stats();
    let json = serde_json::to_string(&stats).unwrap();
    let back: BusStats = serde_json::from_str(&json).unwrap();
    assert_eq!(back, stats);
    // Spot-check the shape a dashboard would read.
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["published"], 3);
    assert_eq!(value["subscribers"][0]["name"], "a \"quoted\" name");
    assert_eq!(value["subscribers"][0]["dropped"], 2);
    assert_eq!(value["subscribers"][0]["topics"], (1u64 | 1 << 63));
    assert_eq!(value["subscribers"][1]["topics"], u64::MAX);

    // Topics out of range are rejected when deserialised.
    assert!(serde_json::from_str::<Topic>("64").is_err());
    assert_eq!(serde_json::from_str::<Topic>("63").unwrap(), topic!(63));
}
