//! Each overflow policy, with exact lag counts and the `Delivery` each publish reports.

use std::ops::Range;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fanout::error::{RecvError, TryRecvError};
use fanout::{topic, Bus, Overflow, Topics};

mod common;
use common::{bounded, Tick};

/// Publishes `Tick(i)` for every `i` in `seqs`, checking each publish's
/// `(delivered, dropped, disconnected, timed_out)`.
fn publish_expecting(bus: &Bus<Tick>, seqs: Range<u32>, expected: (usize, usize, usize, usize)) {
    for i in seqs {
        let d = bus.publish(Tick(i)).unwrap();
        assert_eq!(
            (d.delivered(), d.dropped(), d.disconnected(), d.timed_out()),
            expected,
            "publish of {i}"
        );
    }
}

/// Everything queued now, as stream items.
fn drain(sub: &mut fanout::Subscriber<Tick>) -> Vec<Result<u32, RecvError>> {
    sub.try_iter().map(|item| item.map(|t| t.0)).collect()
}

#[test]
fn drop_oldest_reports_exact_lag_then_newest_survivors_in_order() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 4, Overflow::DropOldest);

    publish_expecting(&bus, 0..4, (1, 0, 0, 0));
    // Each new event goes in; exactly one old one is evicted.
    publish_expecting(&bus, 4..10, (1, 1, 0, 0));
    assert_eq!(sub.lost(), 6);
    assert_eq!(
        drain(&mut sub),
        [Err(RecvError::Lagged(6)), Ok(6), Ok(7), Ok(8), Ok(9)]
    );
    assert_eq!(sub.received(), 4);

    // The subscription goes on; a second gap is reported with its own count.
    for i in 10..17 {
        bus.publish(Tick(i)).unwrap();
    }
    assert_eq!(
        drain(&mut sub),
        [Err(RecvError::Lagged(3)), Ok(13), Ok(14), Ok(15), Ok(16)]
    );
    assert_eq!(sub.lost(), 9);
    bus.close();
    assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn drop_oldest_capacity_one_keeps_only_the_newest() {
    let bus = Bus::new();
    let mut sub = bus.subscriber().capacity(1).build().unwrap();
    assert_eq!(sub.overflow(), Overflow::DropOldest);
    for i in 0..100 {
        bus.publish(Tick(i)).unwrap();
    }
    assert_eq!(drain(&mut sub), [Err(RecvError::Lagged(99)), Ok(99)]);
}

#[test]
fn drop_newest_keeps_the_oldest_and_counts_exactly() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 3, Overflow::DropNewest);
    publish_expecting(&bus, 0..3, (1, 0, 0, 0));
    publish_expecting(&bus, 3..8, (0, 1, 0, 0));
    // The report comes at the first dequeue (before older queued events): documented behaviour.
    assert_eq!(
        drain(&mut sub),
        [Err(RecvError::Lagged(5)), Ok(0), Ok(1), Ok(2)]
    );
    // After draining, the queue takes events again.
    bus.publish(Tick(8)).unwrap();
    assert_eq!(drain(&mut sub), [Ok(8)]);
    assert_eq!((sub.received(), sub.lost()), (4, 5));
}

#[test]
fn overflow_of_one_subscriber_does_not_affect_another() {
    let bus = Bus::new();
    let mut small = bounded(&bus, 1, Overflow::DropNewest);
    let mut big = bus.subscriber().capacity(16).build().unwrap();
    for i in 0..4 {
        let d = bus.publish(Tick(i)).unwrap();
        let expect = if i == 0 { (2, 0) } else { (1, 1) };
        assert_eq!((d.delivered(), d.dropped()), expect);
    }
    assert_eq!(drain(&mut small), [Err(RecvError::Lagged(3)), Ok(0)]);
    assert_eq!(drain(&mut big), [Ok(0), Ok(1), Ok(2), Ok(3)]);
}

#[test]
fn block_is_lossless_with_a_slow_consumer() {
    const N: u32 = 2_000;
    let bus = Bus::new();
    let sub = bounded(&bus, 2, Overflow::Block);
    let (done_tx, done_rx) = mpsc::channel();
    let consumer = thread::spawn(move || {
        let mut sub = sub;
        let items: Vec<Result<u32, RecvError>> = sub.iter().map(|r| r.map(|t: Tick| t.0)).collect();
        done_tx.send(()).unwrap();
        items
    });
    let publisher = bus.publisher();
    for i in 0..N {
        let d = publisher.publish(Tick(i)).unwrap();
        assert_eq!(
            (d.delivered(), d.dropped(), d.timed_out()),
            (1, 0, 0),
            "publish {i}"
        );
    }
    drop(publisher);
    bus.close();
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("consumer did not finish");
    let items = consumer.join().unwrap();
    let expected: Vec<Result<u32, RecvError>> = (0..N).map(Ok).collect();
    assert_eq!(items, expected);
}

#[test]
fn block_publish_timeout_on_full_queue_times_out_and_is_reported_as_lag() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 2, Overflow::Block);
    let mut other = bus.subscribe(Topics::ALL);
    bus.publish(Tick(0)).unwrap();
    bus.publish(Tick(1)).unwrap();

    let d = bus
        .publish_timeout(Tick(2), Duration::from_millis(5))
        .unwrap();
    assert_eq!(
        (d.delivered(), d.dropped(), d.timed_out(), d.disconnected()),
        (1, 1, 1, 0),
        "the non-blocking subscriber got it, the full Block one timed out"
    );
    let publisher = bus.publisher();
    let d = publisher
        .publish_timeout(Tick(3), Duration::from_millis(5))
        .unwrap();
    assert_eq!((d.delivered(), d.dropped(), d.timed_out()), (1, 1, 1));

    assert_eq!(sub.lost(), 2);
    assert_eq!(drain(&mut sub), [Err(RecvError::Lagged(2)), Ok(0), Ok(1)]);
    assert_eq!(drain(&mut other), [Ok(0), Ok(1), Ok(2), Ok(3)]);

    // With room, publish_timeout delivers normally.
    let d = bus
        .publish_timeout(Tick(4), Duration::from_millis(5))
        .unwrap();
    assert_eq!((d.delivered(), d.dropped(), d.timed_out()), (2, 0, 0));
    assert_eq!(drain(&mut sub), [Ok(4)]);
}

#[test]
fn block_publish_timeout_succeeds_when_consumer_makes_room_in_time() {
    let bus = Bus::new();
    let sub = bounded(&bus, 1, Overflow::Block);
    bus.publish(Tick(0)).unwrap();
    let consumer = thread::spawn(move || {
        let mut sub = sub;
        let first = sub.recv_timeout(Duration::from_secs(10)).map(|t| t.0);
        let second = sub.recv_timeout(Duration::from_secs(10)).map(|t| t.0);
        (first, second)
    });
    // A generous deadline: the consumer frees the slot long before it.
    let d = bus
        .publish_timeout(Tick(1), Duration::from_secs(10))
        .unwrap();
    assert_eq!((d.delivered(), d.dropped(), d.timed_out()), (1, 0, 0));
    let (first, second) = consumer.join().unwrap();
    assert_eq!(first, Ok(0));
    assert_eq!(second, Ok(1));
}

#[test]
fn disconnect_cuts_the_subscriber_off_after_its_queue_is_drained() {
    let bus = Bus::new();
    let mut sub = bus
        .subscriber()
        .topics(topic!(0))
        .capacity(2)
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    let mut keeper = bus.subscribe(topic!(1)); // keeps a live subscriber on another topic
    assert_eq!(bus.subscriber_count(), 2);
    assert_eq!(bus.interest(), topic!(0) | topic!(1));

    publish_expecting(&bus, 0..2, (1, 0, 0, 0));
    let d = bus.publish(Tick(2)).unwrap();
    assert_eq!(
        (d.delivered(), d.dropped(), d.disconnected(), d.timed_out()),
        (0, 1, 1, 0)
    );

    // It has left the table and the interest.
    assert_eq!(bus.subscriber_count(), 1);
    assert_eq!(bus.interest(), Topics::only(topic!(1)));
    assert!(!bus.is_interested(topic!(0)));

    // Later publishes cost nothing for it: not delivered, not counted as lost.
    for i in 3..10 {
        let d = bus.publish(Tick(i)).unwrap();
        assert_eq!((d.delivered(), d.dropped(), d.disconnected()), (0, 0, 0));
    }
    assert_eq!(sub.lost(), 1);
    assert_eq!(sub.len(), 2);

    // The one lost event is reported (at the first dequeue: documented as possibly early for
    // Disconnect), everything queued before the cut is received, then the end.
    assert_eq!(
        drain(&mut sub),
        [
            Err(RecvError::Lagged(1)),
            Ok(0),
            Ok(1),
            Err(RecvError::Overflowed)
        ]
    );
    assert_eq!(sub.recv(), Err(RecvError::Overflowed));
    assert_eq!(sub.try_recv(), Err(TryRecvError::Overflowed));
    assert_eq!(
        sub.recv_timeout(Duration::from_millis(1)),
        Err(fanout::error::RecvTimeoutError::Overflowed)
    );
    // A cut-off subscriber is never revived by set_topics.
    sub.set_topics(Topics::ALL);
    assert!(!bus.is_interested(topic!(0)));
    assert_eq!(bus.publish(Tick(10)).unwrap().delivered(), 0);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Overflowed));
    assert_eq!(keeper.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn disconnect_blocking_recv_wakes_with_overflowed() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 1, Overflow::Disconnect);
    bus.publish(Tick(0)).unwrap();
    bus.publish(Tick(1)).unwrap();
    let items: Vec<Result<u32, RecvError>> = sub.iter().map(|r| r.map(|t| t.0)).collect();
    // `iter` yields Overflowed once and then ends, even though the bus is still open.
    assert_eq!(
        items,
        [Err(RecvError::Lagged(1)), Ok(0), Err(RecvError::Overflowed)]
    );
    assert!(!bus.is_closed());
}

#[test]
fn policies_report_their_settings() {
    assert!(Overflow::Block.may_block());
    assert!(!Overflow::DropOldest.may_block());
    assert!(!Overflow::DropNewest.may_block());
    assert!(!Overflow::Disconnect.may_block());
    assert_eq!(Overflow::default(), Overflow::DropOldest);
    assert_eq!(Overflow::DropNewest.to_string(), "drop-newest");
    let bus = Bus::<Tick>::builder()
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let sub = bus.subscribe(Topics::ALL);
    assert_eq!(sub.overflow(), Overflow::Block);
    let own = bus
        .subscriber()
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    assert_eq!(own.overflow(), Overflow::Disconnect);
}
