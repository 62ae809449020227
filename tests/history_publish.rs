//! The publish forms of a history bus: a deadline that holds while another publish has the bus's
//! turn, and batches that take consecutive numbers.

use std::thread;
use std::time::{Duration, Instant};

use fanout::error::PublishError;
use fanout::history::Replay;
use fanout::{HistoryBus, Overflow};

#[derive(Clone, Debug, PartialEq)]
struct Ping(u32);
impl fanout::Event for Ping {
    fn topic(&self) -> fanout::Topic {
        fanout::topic!(0)
    }
}

type Audit = fanout::Subscriber<fanout::history::Sequenced<Ping>>;
type StuckPublish = thread::JoinHandle<Result<fanout::Delivery, PublishError<Ping>>>;

/// A bus whose only subscriber is a full `Block` queue, and a publish stuck waiting on it (it
/// holds the bus's turn). Returns the subscriber, to keep it alive, and the stuck publish.
fn stuck_publish(bus: &HistoryBus<Ping>) -> (Audit, StuckPublish) {
    let audit = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    bus.publish(Ping(1)).unwrap();
    let taken = bus.last_seq() + 1;
    let stuck = bus.publisher();
    let handle = thread::spawn(move || stuck.publish(Ping(2)));
    // It has taken its number (so it holds the turn) once the history holds it.
    while bus.last_seq() < taken {
        thread::yield_now();
    }
    (audit, handle)
}

#[test]
fn publish_timeout_holds_its_bound_while_another_publish_holds_the_turn() {
    let bus = HistoryBus::builder(16).build().unwrap();
    let (mut audit, stuck) = stuck_publish(&bus);
    let started = Instant::now();
    let err = bus
        .publish_timeout(Ping(3), Duration::from_millis(50))
        .unwrap_err();
    // Returned (it used to wait for as long as the other publish did: here, forever).
    assert_eq!(err, PublishError::Timeout(Ping(3)));
    assert!(err.is_timeout() && !err.is_closed());
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(bus.last_seq(), 2, "the timed-out event took no number");
    // The stuck publish goes on once there is room; nothing else was published.
    assert_eq!(audit.recv().unwrap().into_parts(), (1, Ping(1)));
    stuck.join().unwrap().unwrap();
    assert_eq!(audit.recv().unwrap().into_parts(), (2, Ping(2)));
    assert!(audit.try_recv().is_err());
    // Through a publisher handle too.
    let (_audit, stuck) = stuck_publish(&bus);
    let err = bus
        .publisher()
        .publish_timeout(Ping(9), Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(err.into_inner(), Ping(9));
    bus.close();
    stuck.join().unwrap().unwrap();
}

#[test]
fn a_batch_takes_consecutive_numbers_while_others_publish() {
    let bus = HistoryBus::builder(4096).build().unwrap();
    let mut all = bus
        .subscriber()
        .capacity(4096)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let other = bus.publisher();
    let noise = thread::spawn(move || {
        for i in 0..500 {
            other.publish(Ping(1_000_000 + i)).unwrap();
        }
    });
    let publisher = bus.publisher();
    let mut batch = Vec::new();
    for round in 0..50u32 {
        batch.extend((0..10).map(|i| Ping(round * 10 + i)));
        let delivery = publisher.publish_batch(&mut batch).unwrap();
        assert_eq!(delivery.delivered(), 10);
        assert!(batch.is_empty());
    }
    noise.join().unwrap();
    bus.close();
    let items: Vec<(u64, Ping)> = all.iter().map(|i| i.unwrap().into_parts()).collect();
    assert_eq!(items.len(), 1000);
    // Each batch of ten is a run of ten consecutive numbers, in order.
    let mine: Vec<&(u64, Ping)> = items.iter().filter(|(_, p)| p.0 < 1_000_000).collect();
    for run in mine.chunks(10) {
        for (k, (seq, ping)) in run.iter().enumerate() {
            assert_eq!(
                *seq,
                run[0].0 + k as u64,
                "batch of {:?} interleaved",
                run[0].1
            );
            assert_eq!(ping.0 % 10, k as u32);
        }
    }
    // Every number once, in order.
    assert!(items.windows(2).all(|w| w[0].0 + 1 == w[1].0));
}

#[test]
fn publish_all_and_batch_on_a_closed_bus_hand_the_events_back() {
    let bus = HistoryBus::builder(8).build().unwrap();
    let _sub = bus.subscribe(fanout::Topics::ALL);
    let total = bus.publish_all([Ping(1), Ping(2)]).unwrap();
    assert_eq!(total.delivered(), 2);
    let mut batch = vec![Ping(3)];
    assert_eq!(bus.publish_batch(&mut batch).unwrap().delivered(), 1);
    let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    let seqs: Vec<u64> = late.try_iter().map(|e| e.unwrap().seq()).collect();
    assert_eq!(seqs, [1, 2, 3]);
    bus.close();
    assert_eq!(
        bus.publish_all([Ping(4), Ping(5)]).unwrap_err(),
        PublishError::Closed(Ping(4))
    );
    let mut after = vec![Ping(6), Ping(7)];
    assert_eq!(
        bus.publish_batch(&mut after).unwrap_err().into_inner(),
        [Ping(6), Ping(7)]
    );
    assert_eq!(bus.last_seq(), 3);
}
