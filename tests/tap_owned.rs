//! Issue 21: taps that publish into their own bus, and taps the bus owns.

use std::sync::{Arc, Mutex};

use fanout::error::TryRecvError;
use fanout::tap::{Received, TapEnd};
use fanout::{topic, Bus, Event, Overflow, Topic};

#[derive(Clone, Debug, PartialEq)]
struct Ev(u32);

impl Event for Ev {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

/// A lossless tap whose handler emits into the bus it taps, more than its queue holds: the
/// handler's own thread is the only one that frees a slot, so a waiting publish never returned
/// (with plain `publish` this test deadlocked). Now the events that do not fit are lost to the
/// tap, reported to it, and every other subscriber still gets them all.
#[test]
fn a_tap_publishing_into_its_own_full_block_queue_does_not_wait_on_itself() {
    let bus = Bus::new();
    let mut other = bus
        .subscriber()
        .capacity(64)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let publisher = bus.publisher();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let deliveries = Arc::new(Mutex::new(Vec::new()));
    let out = Arc::clone(&deliveries);
    let tap = bus
        .tap()
        .name("self-emitting")
        .capacity(4)
        .overflow(Overflow::Block)
        .spawn(move |item: Received<Ev>| {
            if let Received::Event(Ev(0)) = item {
                for i in 1..=10 {
                    let d = publisher.publish(Ev(1000 + i)).unwrap();
                    out.lock().unwrap().push((d.delivered(), d.dropped()));
                }
            }
            log.lock().unwrap().push(item);
        })
        .unwrap();
    bus.publish(Ev(0)).unwrap();
    // The tap's handler published 10: the first 4 filled its queue, the other 6 could not wait.
    let mut got = Vec::new();
    while got.len() < 11 {
        got.push(other.recv().unwrap());
    }
    assert_eq!(got[0], Ev(0));
    assert_eq!(got[1..], (1..=10).map(|i| Ev(1000 + i)).collect::<Vec<_>>()[..]);
    bus.close();
    let report = tap.join();
    assert_eq!(report.end, TapEnd::Closed);
    assert_eq!((report.stats.events, report.stats.lagged), (5, 6));
    let deliveries = deliveries.lock().unwrap().clone();
    assert_eq!(deliveries[..4], [(2, 0); 4]);
    assert_eq!(deliveries[4..], [(1, 1); 6]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], Received::Event(Ev(0)));
    assert!(seen.contains(&Received::Lagged(6)));
    assert_eq!(other.try_recv(), Err(TryRecvError::Disconnected));
}
