//! Closing: everything accepted before the close is received, then `Disconnected`; later
//! publishes hand their event back; the last handle's drop closes; subscribing to a closed bus.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fanout::error::{BuildError, PublishError, RecvError, RecvTimeoutError, TryRecvError};
use fanout::{topic, Bus, EventSink, Overflow, Topics};

mod common;
use common::{bounded, Tick};

#[test]
fn close_then_drain_delivers_everything_accepted_then_disconnected() {
    let bus = Bus::new();
    let mut a = bus.subscriber().capacity(64).build().unwrap();
    let mut b = bounded(&bus, 64, Overflow::Block);
    for i in 0..50 {
        assert_eq!(bus.publish(Tick(i)).unwrap().delivered(), 2);
    }
    assert!(!bus.is_closed());
    bus.close();
    assert!(bus.is_closed());
    bus.close(); // idempotent
    assert!(bus.is_closed());

    for sub in [&mut a, &mut b] {
        let got: Vec<u32> = sub.iter().map(|r| r.unwrap().0).collect();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert_eq!(sub.recv(), Err(RecvError::Disconnected));
        assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(
            sub.recv_timeout(Duration::from_secs(1)),
            Err(RecvTimeoutError::Disconnected)
        );
    }
    assert_eq!(bus.subscriber_count(), 0);
    assert_eq!(bus.interest(), Topics::NONE);
}

#[test]
fn lag_before_close_is_still_reported_before_disconnected() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 1, Overflow::DropNewest);
    bus.publish(Tick(0)).unwrap();
    bus.publish(Tick(1)).unwrap();
    bus.close();
    assert_eq!(sub.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(sub.recv(), Ok(Tick(0)));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
}

#[test]
fn close_wakes_a_parked_receiver() {
    let bus = Bus::<Tick>::new();
    let sub = bus.subscribe(Topics::ALL);
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        let mut sub = sub;
        tx.send(sub.recv()).unwrap();
    });
    thread::sleep(Duration::from_millis(20)); // let it park (the test holds either way)
    bus.close();
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("close did not wake the receiver");
    assert_eq!(got, Err(RecvError::Disconnected));
    t.join().unwrap();
}

#[test]
fn publish_after_close_hands_the_event_back() {
    let bus = Bus::new();
    let mut sub = bus.subscribe(Topics::ALL);
    let publisher = bus.publisher();
    bus.close();
    assert!(publisher.is_closed());

    let err = bus.publish(Tick(1)).unwrap_err();
    assert!(err.is_closed());
    assert_eq!(err, PublishError::Closed(Tick(1)));
    assert_eq!(err.to_string(), "publishing on a closed bus");
    assert_eq!(format!("{err:?}"), "Closed(..)");
    assert_eq!(err.into_inner(), Tick(1));

    assert_eq!(
        publisher.publish(Tick(2)).unwrap_err().into_inner(),
        Tick(2)
    );
    assert_eq!(
        bus.publish_timeout(Tick(3), Duration::from_millis(1))
            .unwrap_err()
            .into_inner(),
        Tick(3)
    );
    // publish_with builds the event to hand it back, even though nobody is interested any more.
    assert_eq!(
        bus.publish_with(topic!(0), || Tick(4))
            .unwrap_err()
            .into_inner(),
        Tick(4)
    );
    assert_eq!(
        publisher
            .publish_with(topic!(5), || Tick(5))
            .unwrap_err()
            .into_inner(),
        Tick(5)
    );
    match publisher.publish_all([Tick(6), Tick(7)]) {
        Err(PublishError::Closed(event)) => assert_eq!(event, Tick(6)),
        Err(other) => panic!("not a close: {other:?}"),
        Ok(d) => panic!("published after close: {d:?}"),
    }
    assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(bus.stats().published, 0);
}

#[test]
fn publish_all_stops_at_first_error_and_sums_deliveries() {
    let bus = Bus::new();
    let mut a = bus.subscribe(Topics::ALL);
    let _b = bounded(&bus, 1, Overflow::DropNewest);
    let d = bus.publisher().publish_all((0..3).map(Tick)).unwrap();
    // a takes 3, b takes 1 and drops 2.
    assert_eq!((d.delivered(), d.dropped()), (4, 2));
    assert_eq!(a.try_iter().count(), 3);
}

#[test]
fn dropping_the_last_bus_and_publisher_handle_closes() {
    let bus = Bus::new();
    let mut sub = bus.subscribe(Topics::ALL);
    let publisher = bus.publisher();
    let second_bus = bus.clone();
    let second_publisher = publisher.clone();
    bus.publish(Tick(0)).unwrap();

    drop(bus);
    drop(publisher);
    drop(second_bus);
    // One handle left: still open.
    assert!(!second_publisher.is_closed());
    second_publisher.publish(Tick(1)).unwrap();
    assert_eq!(sub.try_recv(), Ok(Tick(0)));
    assert_eq!(sub.try_recv(), Ok(Tick(1)));
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));

    // A publisher on another thread is the last handle: when it goes, the bus closes.
    let t = thread::spawn(move || {
        second_publisher.publish(Tick(2)).unwrap();
    });
    t.join().unwrap();
    assert_eq!(sub.recv(), Ok(Tick(2)));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
}

#[test]
fn subscribing_to_a_closed_bus() {
    let bus = Bus::<Tick>::new();
    bus.close();
    // subscribe(): a subscriber born disconnected, not in the table.
    let mut sub = bus.subscribe(Topics::ALL);
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(bus.subscriber_count(), 0);
    assert_eq!(bus.interest(), Topics::NONE);
    // The builder says so.
    assert_eq!(bus.subscriber().build().unwrap_err(), BuildError::Closed);
    assert_eq!(BuildError::Closed.to_string(), "the bus is closed");
    // Capacity errors take precedence over the closed bus: the settings are checked first.
    assert_eq!(
        bus.subscriber().capacity(0).build().unwrap_err(),
        BuildError::ZeroCapacity
    );
    drop(sub);
    assert_eq!(bus.subscriber_count(), 0);
}

#[test]
fn emit_after_close_is_counted_as_rejected() {
    let bus = Bus::new();
    let publisher = bus.publisher();
    let mut sub = bus.subscribe(Topics::ALL);
    let sinks: [&dyn EventSink<Tick>; 2] = [&bus, &publisher];
    for sink in sinks {
        assert!(sink.is_interested(topic!(0)));
        sink.emit(Tick(1));
    }
    assert_eq!(sub.try_recv(), Ok(Tick(1)));
    assert_eq!(sub.try_recv(), Ok(Tick(1)));
    assert_eq!(bus.stats().rejected_after_close, 0);

    bus.close();
    for sink in sinks {
        assert!(!sink.is_interested(topic!(0)));
        sink.emit(Tick(2));
        sink.emit(Tick(3));
    }
    let stats = bus.stats();
    assert_eq!(stats.rejected_after_close, 4);
    assert!(stats.closed);
    assert_eq!(stats.published, 2);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn close_during_concurrent_publishes_loses_nothing_accepted() {
    // Every publish is either accepted (Ok) and then received, or handed back; never both,
    // never neither.
    const PER_THREAD: u32 = 5_000;
    let bus = Bus::new();
    let mut sub = bus
        .subscriber()
        .capacity(4 * PER_THREAD as usize)
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let mut threads = Vec::new();
    for p in 0..2u32 {
        let publisher = bus.publisher();
        let tx = tx.clone();
        threads.push(thread::spawn(move || {
            let mut accepted = Vec::new();
            for i in 0..PER_THREAD {
                let id = p * PER_THREAD + i;
                match publisher.publish(Tick(id)) {
                    Ok(d) => {
                        assert_eq!(d.delivered(), 1);
                        accepted.push(id);
                    }
                    Err(e) => assert_eq!(e.into_inner(), Tick(id)),
                }
            }
            tx.send(accepted).unwrap();
        }));
    }
    drop(tx);
    // Close while the publishers are under way (once some events are in).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sub.len() < 100 {
        assert!(std::time::Instant::now() < deadline, "publishers stalled");
        thread::yield_now();
    }
    bus.close();
    let mut accepted: Vec<u32> = Vec::new();
    for _ in 0..2 {
        accepted.extend(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("publisher hung"),
        );
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut received: Vec<u32> = sub.iter().map(|r| r.unwrap().0).collect();
    accepted.sort_unstable();
    received.sort_unstable();
    assert_eq!(received, accepted);
    assert_eq!(sub.lost(), 0);
}
