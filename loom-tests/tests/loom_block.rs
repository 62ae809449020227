//! Model 5: a `Block` publish waiting on a full queue while the subscriber is dropped.
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::{Bus, Overflow};
use loom::thread;

/// Invariant: a publish blocked on a full `Block` queue returns once the subscriber is dropped
/// (if it did not, every thread would be blocked and loom would report a deadlock); it reports
/// at most the one delivery the subscriber made room for; and once both threads are done no copy
/// of any event is alive (the dropped subscriber's queue, and what a late publish put in it, are
/// freed).
///
/// Threads: a publisher publishing into the full capacity-1 queue; the subscriber, which takes
/// one event (or finds none yet) and drops itself.
#[test]
fn block_publish_returns_when_subscriber_drops() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = bus
            .subscriber()
            .capacity(1)
            .overflow(Overflow::Block)
            .build()
            .unwrap();
        bus.publish(ledger.event(1, 0, 0)).unwrap(); // the queue is now full

        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || publisher.publish(events.event(1, 1, 0)).unwrap());
        let leaving = thread::spawn(move || {
            let _ = sub.try_recv();
            drop(sub);
        });
        let delivery = publishing.join().unwrap();
        leaving.join().unwrap();

        assert!(
            delivery.delivered() <= 1 && delivery.dropped() == 0,
            "{delivery:?}"
        );
        assert_eq!(
            ledger.live(),
            0,
            "the dropped subscriber's queue was leaked"
        );
        assert_eq!(bus.subscriber_count(), 0);
        drop(bus);
        ledger.assert_all_dropped();
    });
}
