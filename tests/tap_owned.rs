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
    assert_eq!(
        got[1..],
        (1..=10).map(|i| Ev(1000 + i)).collect::<Vec<_>>()[..]
    );
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

/// A tap that blocks in its handler until `gate` is released (or dropped), counting events.
fn gated_tap(
    bus: &Bus<Ev>,
    name: &str,
) -> (
    fanout::tap::TapHandle<impl fanout::tap::TapHandler<Ev>>,
    crossbeam_channel::Sender<()>,
    Arc<Mutex<Vec<u32>>>,
) {
    let (gate, wait) = crossbeam_channel::bounded::<()>(0);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let tap = bus
        .tap()
        .name(name)
        .capacity(64)
        .overflow(Overflow::Block)
        .spawn(move |item: Received<Ev>| {
            if let Received::Event(Ev(n)) = item {
                if n == 0 {
                    let _ = wait.recv(); // until the gate opens (its sender is dropped)
                }
                log.lock().unwrap().push(n);
            }
        })
        .unwrap();
    (tap, gate, seen)
}

/// oxios's audit: dropping a tap's handle at exit discarded what was still queued; a detached
/// tap is the bus's, and `shutdown` lets it drain before joining it.
#[test]
fn a_detached_tap_drains_everything_before_shutdown_returns() {
    // Before: the handle dropped (or stopped) at exit loses the queue.
    let bus = Bus::new();
    let (tap, gate, seen) = gated_tap(&bus, "audit");
    for i in 0..50 {
        bus.publish(Ev(i)).unwrap();
    }
    // The handler holds event 0 until the gate opens, which `stop` does not wait for: open it
    // from another thread only once the stop signal is out (the stop is seen after the call).
    let opener = std::thread::spawn(move || drop(gate));
    let report = tap.stop();
    opener.join().unwrap();
    assert_eq!(report.end, TapEnd::Stopped);
    assert_eq!(report.stats.events + report.unhandled as u64, 50);
    assert!(seen.lock().unwrap().len() <= 50);

    // After: detached, the bus owns it; shutdown closes, waits, joins.
    let bus = Bus::new();
    let (tap, gate, seen) = gated_tap(&bus, "audit");
    for i in 0..50 {
        bus.publish(Ev(i)).unwrap();
    }
    tap.detach();
    drop(gate);
    let done = bus.shutdown(std::time::Duration::from_secs(60));
    assert!(done.running.is_empty());
    assert_eq!(done.reports.len(), 1);
    let report = &done.reports[0];
    assert_eq!(
        (report.end, report.stats.events, report.unhandled),
        (TapEnd::Closed, 50, 0)
    );
    assert_eq!(*seen.lock().unwrap(), (0..50).collect::<Vec<_>>());
    assert!(bus.is_closed());
}

/// A tap still busy at the deadline stays the bus's, still draining; a second shutdown joins it.
#[test]
fn a_shutdown_bound_leaves_a_stuck_tap_running_and_owned() {
    let bus = Bus::new();
    let (stuck, gate, seen) = gated_tap(&bus, "stuck");
    let (quick, quick_gate, _) = gated_tap(&bus, "quick");
    drop(quick_gate); // never blocks
    bus.publish(Ev(0)).unwrap();
    bus.publish(Ev(1)).unwrap();
    stuck.detach();
    quick.detach();
    // `stuck` is held in its handler by the gate: it cannot end, whatever the bound.
    // (`quick` may or may not have drained its two events yet: either list may name it.)
    let first = bus.shutdown(std::time::Duration::ZERO);
    assert!(first.running.iter().any(|name| name == "stuck"));
    assert!(first.reports.iter().all(|report| report.name == "quick"));
    assert_eq!(first.running.len() + first.reports.len(), 2);
    drop(gate);
    let second = bus.shutdown(std::time::Duration::from_secs(60));
    assert!(second.running.is_empty());
    let mut reports: Vec<_> = first.reports.into_iter().chain(second.reports).collect();
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(reports.len(), 2);
    assert_eq!(
        (reports[1].name.as_str(), reports[1].stats.events),
        ("stuck", 2)
    );
    assert_eq!(
        (reports[0].name.as_str(), reports[0].stats.events),
        ("quick", 2)
    );
    assert_eq!(*seen.lock().unwrap(), [0, 1]);
}

#[test]
fn a_history_bus_owns_its_detached_taps_too() {
    let bus = fanout::HistoryBus::builder(8).build().unwrap();
    let seqs = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seqs);
    bus.tap()
        .overflow(Overflow::Block)
        .spawn(move |item: Received<fanout::history::Sequenced<Ev>>| {
            if let Received::Event(e) = item {
                log.lock().unwrap().push(e.seq());
            }
        })
        .unwrap()
        .detach();
    for i in 0..20 {
        bus.publish(Ev(i)).unwrap();
    }
    let done = bus.shutdown(std::time::Duration::from_secs(60));
    assert_eq!(done.reports[0].stats.events, 20);
    assert_eq!(*seqs.lock().unwrap(), (1..=20).collect::<Vec<u64>>());
}
