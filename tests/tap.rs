//! Taps: a handler on its own thread that survives its panics, reports lag, and stops on close,
//! on `stop`, and on drop of its handle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use fanout::tap::{Received, TapEnd, TapError, TapHandle, TapHandler};
use fanout::{topic, Bus, Overflow, Topics, WaitStrategy};

mod common;
use common::Tick;

fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "condition not reached in 10 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The events a handler was told it lost: the sum of its `Lagged` items.
fn lag_reported<E>(items: &[Received<E>]) -> u64 {
    items
        .iter()
        .map(|item| match item {
            Received::Lagged(n) => *n,
            Received::Event(_) => 0,
        })
        .sum()
}

#[test]
fn a_block_tap_sees_every_event_in_order_and_ends_when_the_bus_closes() {
    let bus = Bus::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let tap = bus
        .tap()
        .name("audit")
        .capacity(8)
        .overflow(Overflow::Block)
        .spawn(move |item| match item {
            Received::Event(Tick(n)) => log.lock().unwrap().push(n),
            Received::Lagged(n) => panic!("a Block tap lagged {n}"),
        })
        .unwrap();
    assert_eq!(tap.name(), "audit");
    for i in 0..10_000 {
        bus.publish(Tick(i)).unwrap();
    }
    bus.close();
    let report = tap.join();
    assert_eq!(report.end, TapEnd::Closed);
    assert_eq!(report.name, "audit");
    assert_eq!(
        (
            report.stats.events,
            report.stats.lagged,
            report.stats.panics
        ),
        (10_000, 0, 0)
    );
    assert_eq!(report.unhandled, 0);
    assert_eq!(*seen.lock().unwrap(), (0..10_000).collect::<Vec<_>>());
}

#[test]
fn the_tap_thread_carries_the_subscriber_name() {
    let bus = Bus::new();
    let name = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&name);
    let tap = bus
        .tap()
        .name("exporter")
        .spawn(move |_: Received<Tick>| {
            *slot.lock().unwrap() = std::thread::current().name().map(str::to_owned);
        })
        .unwrap();
    bus.publish(Tick(0)).unwrap();
    bus.close();
    tap.join();
    assert_eq!(name.lock().unwrap().as_deref(), Some("exporter"));
}

#[test]
fn panics_in_the_handler_are_counted_and_the_tap_goes_on() {
    let bus = Bus::new();
    let handled = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&handled);
    let tap = bus
        .tap()
        .overflow(Overflow::Block)
        .spawn(move |item| {
            if let Received::Event(Tick(n)) = item {
                if n % 10 == 3 {
                    panic!("handler bug on {n}");
                }
                count.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap();
    for i in 0..100 {
        bus.publish(Tick(i)).unwrap();
    }
    wait_until(|| tap.stats().events == 100);
    bus.close();
    let report = tap.join();
    assert_eq!(report.end, TapEnd::Closed);
    assert_eq!(report.stats.events, 100);
    assert_eq!(report.stats.panics, 10);
    assert_eq!(handled.load(Ordering::Relaxed), 90);
}

#[test]
fn lag_is_handed_to_the_handler_with_exact_counts() {
    let bus = Bus::new();
    // Park the tap inside its handler on the first event until the test has overflowed it.
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
    let items = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&items);
    let tap = bus
        .tap()
        .capacity(4)
        .overflow(Overflow::DropNewest)
        .spawn(move |item: Received<Tick>| {
            let first = log.lock().unwrap().is_empty();
            log.lock().unwrap().push(item);
            if first {
                let _ = gate_rx.recv();
            }
        })
        .unwrap();
    bus.publish(Tick(0)).unwrap();
    wait_until(|| tap.stats().events == 1);
    // The handler holds Tick(0): 4 fit in the queue, 6 are dropped.
    for i in 1..=10 {
        bus.publish(Tick(i)).unwrap();
    }
    drop(gate_tx);
    bus.close();
    let report = tap.join();
    assert_eq!((report.stats.events, report.stats.lagged), (5, 6));
    let items = items.lock().unwrap();
    let events: Vec<u32> = items
        .iter()
        .filter_map(|i| match i {
            Received::Event(Tick(n)) => Some(*n),
            Received::Lagged(_) => None,
        })
        .collect();
    assert_eq!(events, [0, 1, 2, 3, 4]);
    assert_eq!(lag_reported(&items), 6);
    let stats = bus.stats();
    assert!(stats.subscribers.is_empty(), "the tap's subscriber is gone");
}

#[test]
fn stop_ends_a_tap_blocked_waiting_for_events() {
    let bus = Bus::<Tick>::new();
    let tap = bus.tap().name("idle").spawn(|_| {}).unwrap();
    assert_eq!(bus.subscriber_count(), 1);
    let started = Instant::now();
    let report = tap.stop();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.end, TapEnd::Stopped);
    assert_eq!(bus.subscriber_count(), 0);
    // The bus is still open: stopping a tap does not close it.
    assert!(!bus.is_closed());
}

/// Every wait strategy: the tap sees every event and a lag report with its exact count, ends
/// when the bus closes, and stops while it is waiting (spinning, for `BusySpin`, which never
/// parks: the stop signal must be noticed from the spin loop).
#[test]
fn a_tap_waits_the_way_its_wait_strategy_says_and_still_sees_everything() {
    for wait in [
        WaitStrategy::Park,
        WaitStrategy::SpinThenPark(Duration::from_micros(200)),
        WaitStrategy::BusySpin,
    ] {
        let bus = Bus::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let tap = bus
            .tap()
            .wait(wait)
            .capacity(4)
            .overflow(Overflow::DropOldest)
            .spawn(move |item| log.lock().unwrap().push(item))
            .unwrap();
        for i in 0..1000 {
            bus.publish(Tick(i)).unwrap();
        }
        bus.close();
        let report = tap.join();
        assert_eq!(report.end, TapEnd::Closed, "{wait}");
        let seen = seen.lock().unwrap();
        let lagged = lag_reported(&seen);
        assert_eq!(report.stats.events + lagged, 1000, "{wait}: {report:?}");
        assert_eq!(report.stats.lagged, lagged, "{wait}");
        assert_eq!(seen.last(), Some(&Received::Event(Tick(999))), "{wait}");

        let bus = Bus::<Tick>::new();
        let idle = bus.tap().wait(wait).spawn(|_| {}).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let (done_tx, done) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || done_tx.send(idle.stop()).unwrap());
        let report = done
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{wait}: a waiting tap did not stop in 10 s"));
        assert_eq!(report.end, TapEnd::Stopped, "{wait}");
        assert_eq!(bus.subscriber_count(), 0, "{wait}");
    }
}

#[test]
fn dropping_the_handle_stops_the_tap_and_unsubscribes() {
    let bus = Bus::<Tick>::new();
    let stops = Arc::new(Mutex::new(Vec::new()));
    struct Handler(Arc<Mutex<Vec<TapEnd>>>);
    impl TapHandler<Tick> for Handler {
        fn on_item(&mut self, _: Received<Tick>) {}
        fn on_stop(&mut self, end: TapEnd) {
            self.0.lock().unwrap().push(end);
        }
    }
    let tap = bus.tap().spawn(Handler(Arc::clone(&stops))).unwrap();
    bus.publish(Tick(1)).unwrap();
    wait_until(|| tap.stats().events == 1);
    drop(tap);
    // `drop` joined the thread: the hook has run and the subscriber is gone.
    assert_eq!(*stops.lock().unwrap(), [TapEnd::Stopped]);
    assert_eq!(bus.subscriber_count(), 0);
    assert_eq!(bus.interest(), Topics::NONE);
}

/// A tap whose handler parks inside its first event, `Tick(0)`, until the returned gate is
/// dropped; `Tick(1..=5)` are published behind it, six events in all.
fn parked_tap(
    bus: &Bus<Tick>,
    capacity: usize,
    overflow: Overflow,
) -> (TapHandle<impl TapHandler<Tick>>, Sender<()>) {
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
    let tap = bus
        .tap()
        .capacity(capacity)
        .overflow(overflow)
        .spawn(move |_: Received<Tick>| {
            let _ = gate_rx.recv();
        })
        .unwrap();
    bus.publish(Tick(0)).unwrap();
    wait_until(|| tap.stats().events == 1);
    for i in 1..=5 {
        bus.publish(Tick(i)).unwrap();
    }
    (tap, gate_tx)
}

#[test]
fn stop_reports_events_left_unhandled() {
    let bus = Bus::new();
    let (tap, gate_tx) = parked_tap(&bus, 16, Overflow::Block);
    // Stop is asked while the handler is parked; release it, then the tap must stop.
    let stopper = std::thread::spawn(move || tap.stop());
    std::thread::sleep(Duration::from_millis(20));
    drop(gate_tx);
    let report = stopper.join().unwrap();
    assert_eq!(report.end, TapEnd::Stopped);
    assert_eq!(report.stats.events + report.unhandled as u64, 6);
}

#[test]
fn a_disconnect_tap_that_falls_behind_ends_overflowed() {
    let bus = Bus::new();
    let (tap, gate_tx) = parked_tap(&bus, 2, Overflow::Disconnect);
    drop(gate_tx);
    let report = tap.join();
    assert_eq!(report.end, TapEnd::Overflowed);
    assert!(!bus.is_closed());
}

#[test]
fn on_idle_runs_when_the_queue_drains_and_a_panicking_stop_hook_is_reported() {
    struct Flusher {
        pending: u64,
        flushed: Arc<AtomicU64>,
    }
    impl TapHandler<Tick> for Flusher {
        fn on_item(&mut self, _: Received<Tick>) {
            self.pending += 1;
        }
        fn on_idle(&mut self) {
            self.flushed.fetch_add(self.pending, Ordering::Relaxed);
            self.pending = 0;
        }
        fn on_stop(&mut self, _: TapEnd) {
            panic!("stop hook bug");
        }
    }
    let bus = Bus::new();
    let flushed = Arc::new(AtomicU64::new(0));
    let tap = bus
        .tap()
        .overflow(Overflow::Block)
        .spawn(Flusher {
            pending: 0,
            flushed: Arc::clone(&flushed),
        })
        .unwrap();
    for i in 0..50 {
        bus.publish(Tick(i)).unwrap();
    }
    // Without closing: everything handled is flushed once the queue runs dry.
    wait_until(|| flushed.load(Ordering::Relaxed) == 50);
    bus.close();
    let (report, handler) = tap.join_handler();
    assert!(report.stop_panicked);
    assert_eq!(report.stats.panics, 0);
    assert_eq!(handler.pending, 0);
}

#[test]
fn a_tap_is_named_after_its_subscriber_and_bad_settings_are_errors() {
    let bus = Bus::new();
    let tap = bus
        .tap()
        .name("audit")
        .topics(topic!(0))
        .spawn(|_: Received<Tick>| {})
        .unwrap();
    assert_eq!(tap.name(), "audit");
    bus.publish(Tick(1)).unwrap();
    bus.close();
    assert_eq!(tap.join().stats.events, 1);

    let err = bus
        .tap()
        .capacity(0)
        .spawn(|_: Received<Tick>| {})
        .unwrap_err();
    assert!(matches!(
        err,
        fanout::tap::TapError::Build(fanout::error::BuildError::ZeroCapacity)
    ));
    assert!(err.to_string().contains("capacity"));
    // The bus is closed: a new tap cannot subscribe.
    let err = bus.tap().spawn(|_: Received<Tick>| {}).unwrap_err();
    assert!(matches!(
        err,
        fanout::tap::TapError::Build(fanout::error::BuildError::Closed)
    ));
}

#[test]
fn a_thread_name_with_a_nul_byte_is_an_error_not_a_panic() {
    let bus = Bus::<Tick>::new();
    let err = bus
        .tap()
        .name("a\0b")
        .spawn(|_item: Received<Tick>| {})
        .unwrap_err();
    match err {
        TapError::Spawn(io) => {
            assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
            assert!(io.to_string().contains("NUL"), "{io}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The rejected tap's subscriber is gone again.
    assert_eq!(bus.subscriber_count(), 0);
}
