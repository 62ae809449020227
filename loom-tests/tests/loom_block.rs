//! Model 5: a `Block` publish waiting on a full queue while the subscriber is dropped.
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::{Bus, Overflow};
use loom::thread;

/// One run: the capacity-1 `Block` queue is full; a publisher publishes two more events while the
/// subscriber, on its own thread, takes one event (if `receive_first`) and drops itself. Every
/// publish that finds the queue full can only return through the subscriber's departure.
fn race(receive_first: bool) {
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
    let publishing = thread::spawn(move || {
        let mut delivered = 0;
        for seq in 1..3 {
            let delivery = publisher.publish(events.event(1, seq, 0)).unwrap();
            assert_eq!(delivery.dropped(), 0, "a Block publish lost an event");
            delivered += delivery.delivered();
        }
        delivered
    });
    let leaving = thread::spawn(move || {
        if receive_first {
            assert_eq!(sub.try_recv().map(|ev| ev.seq), Ok(0));
        }
        drop(sub);
    });
    let delivered = publishing.join().unwrap();
    leaving.join().unwrap();

    // Only a slot the subscriber freed can have taken an event.
    assert!(
        delivered <= usize::from(receive_first),
        "{delivered} delivered"
    );
    assert_eq!(
        ledger.live(),
        0,
        "the dropped subscriber's queue was leaked"
    );
    assert_eq!(bus.subscriber_count(), 0);
    drop(bus);
    ledger.assert_all_dropped();
}

/// Invariant: a publish blocked on a full `Block` queue returns once the subscriber is dropped
/// (if it did not, every thread would be blocked and loom would report a deadlock), whether or
/// not the subscriber received anything first; a `Block` publish never counts a loss; only a
/// slot the subscriber freed takes an event; and once both threads are done no copy of any
/// event is alive (the dropped subscriber's queue, and what a late publish put in it, are freed).
#[test]
fn block_publish_returns_when_subscriber_drops() {
    // Without the receive the search is exhaustive; with it, bounded (unbounded: ~455 k
    // executions, about a minute).
    for (receive_first, bound) in [(false, None), (true, Some(4))] {
        model(bound, move || race(receive_first));
    }
}
