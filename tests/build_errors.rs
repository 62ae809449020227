//! Bad configuration is an error with a clear message, never a panic.

use fanout::error::BuildError;
use fanout::{Bus, Event, Overflow, Topic, Topics, MAX_CAPACITY};

#[derive(Clone, Debug)]
struct Ev;

impl Event for Ev {
    fn topic(&self) -> Topic {
        fanout::topic!(0)
    }
}

#[test]
fn zero_capacity_is_rejected() {
    let bus = Bus::<Ev>::new();
    assert_eq!(
        bus.subscriber().capacity(0).build().unwrap_err(),
        BuildError::ZeroCapacity
    );
    assert_eq!(
        Bus::<Ev>::builder().capacity(0).build().unwrap_err(),
        BuildError::ZeroCapacity
    );
    assert_eq!(
        BuildError::ZeroCapacity.to_string(),
        "queue capacity must be at least 1"
    );
    // Nothing was registered by the failed build.
    assert_eq!(bus.subscriber_count(), 0);
    assert_eq!(bus.interest(), Topics::NONE);
}

#[test]
fn capacity_above_the_maximum_is_rejected() {
    let bus = Bus::<Ev>::new();
    for requested in [MAX_CAPACITY + 1, usize::MAX] {
        let err = bus
            .subscriber()
            .capacity(requested)
            .overflow(Overflow::Block)
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::CapacityTooLarge { requested });
        assert_eq!(
            err.to_string(),
            format!("queue capacity {requested} is above the maximum of 16777216")
        );
        assert_eq!(
            Bus::<Ev>::builder()
                .capacity(requested)
                .build()
                .unwrap_err(),
            BuildError::CapacityTooLarge { requested }
        );
    }
    assert_eq!(bus.subscriber_count(), 0);
    let err: Box<dyn std::error::Error> = Box::new(BuildError::ZeroCapacity);
    assert!(err.source().is_none());
}

#[test]
fn capacity_bounds_are_inclusive() {
    let bus = Bus::<Ev>::new();
    assert_eq!(bus.subscriber().capacity(1).build().unwrap().capacity(), 1);
    // (MAX_CAPACITY itself is accepted, but the queue is allocated up front: not built here.)
    let built = Bus::<Ev>::builder().capacity(1).build().unwrap();
    assert_eq!(built.subscribe(Topics::ALL).capacity(), 1);
}

#[test]
fn bus_builder_defaults_reach_subscribers() {
    let bus = Bus::<Ev>::builder()
        .capacity(7)
        .overflow(Overflow::DropNewest)
        .wait(fanout::WaitStrategy::BusySpin)
        .build()
        .unwrap();
    let sub = bus.subscribe(Topics::ALL);
    assert_eq!(sub.capacity(), 7);
    assert_eq!(sub.overflow(), Overflow::DropNewest);
    assert_eq!(sub.wait_strategy(), fanout::WaitStrategy::BusySpin);
    // The subscriber builder overrides them.
    let own = bus.subscriber().capacity(3).build().unwrap();
    assert_eq!((own.capacity(), own.overflow()), (3, Overflow::DropNewest));
    // Bus::new defaults.
    let plain = Bus::<Ev>::new().subscribe(Topics::ALL);
    assert_eq!(plain.capacity(), fanout::DEFAULT_CAPACITY);
    assert_eq!(plain.overflow(), Overflow::DropOldest);
}

/// A size the checks accept but the allocator refuses is a `BuildError`, not an abort.
#[derive(Clone)]
struct Huge(#[allow(dead_code)] [u8; 65536]); // only its size matters
impl fanout::Event for Huge {
    fn topic(&self) -> fanout::Topic {
        fanout::topic!(0)
    }
}

#[test]
fn a_history_the_allocator_refuses_is_a_build_error() {
    let err = fanout::HistoryBus::<Huge>::builder(fanout::MAX_CAPACITY)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, BuildError::OutOfMemory { bytes } if bytes >= fanout::MAX_CAPACITY * 65536),
        "{err:?}"
    );
    assert!(err.to_string().contains("allocator refused"), "{err}");
}

#[test]
fn a_queue_the_allocator_refuses_is_a_build_error() {
    let bus = Bus::<Huge>::new();
    let err = bus
        .subscriber()
        .capacity(fanout::MAX_CAPACITY)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::OutOfMemory { .. }), "{err:?}");
    // Nothing was registered, and a sensible size still works.
    assert_eq!(bus.subscriber_count(), 0);
    assert_eq!(bus.subscriber().capacity(4).build().unwrap().capacity(), 4);
}
