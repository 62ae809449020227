//! Model 13: lossless topics (`SubscriberBuilder::lossless`): two lanes, a ticket per item taken
//! before its enqueue, and the consumer's merge by ticket (`src/subscriber/lanes.rs`).
//!
//! Planted bug: built with `RUSTFLAGS="--cfg loom --cfg fanout_lane_bug"`, the merge leaves out
//! its second poll of the lossy lane (after taking the kept lane's head when the lossy lane was
//! empty); the FIFO model below then fails (`loom-tests/README.md`, mutations).
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::error::TryRecvError;
use fanout::{topic, Bus, Overflow};
use loom::thread;

const KEPT: u8 = 0;
const FLOOD: u8 = 1;

/// What the consumer saw: `Ok((publisher, seq))` for an event, `Err(n)` for a `Lagged(n)`.
type Stream = Vec<Result<(u8, u8), u64>>;

/// Invariant: publisher 1 publishes a flood event then a kept event; publisher 2 a flood event,
/// into a capacity-1 lossless-topic `DropOldest` subscriber that a consumer reads concurrently
/// (`try_recv` until `Disconnected`). The kept event is always received; each publisher's
/// events in its order (FIFO per publisher); received + lagged == 3 == the loss counter +
/// received; every evicted copy dropped exactly once, nothing alive at the end.
#[test]
fn merge_keeps_fifo_per_publisher_and_the_kept_event() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = bus
            .subscriber()
            .capacity(1)
            .overflow(Overflow::DropOldest)
            .lossless(topic!(0))
            .build()
            .unwrap();
        let first = bus.publisher();
        let second = bus.publisher();
        drop(bus);

        let events = ledger.clone();
        let one = thread::spawn(move || {
            let a = first.publish(events.event(1, 0, FLOOD)).unwrap().dropped();
            let b = first.publish(events.event(1, 1, KEPT)).unwrap().dropped();
            a + b
        });
        let events = ledger.clone();
        let two = thread::spawn(move || second.publish(events.event(2, 0, FLOOD)).unwrap().dropped());
        let consuming = thread::spawn(move || {
            let mut stream = Stream::new();
            loop {
                match sub.try_recv() {
                    Ok(ev) => stream.push(Ok(ev.key())),
                    Err(TryRecvError::Lagged(n)) => stream.push(Err(n)),
                    Err(TryRecvError::Empty) => thread::yield_now(),
                    Err(TryRecvError::Disconnected) => return (stream, sub),
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
        });
        let dropped = one.join().unwrap() + two.join().unwrap();
        let (stream, sub) = consuming.join().unwrap();

        assert!(stream.contains(&Ok((1, 1))), "the kept event was lost: {stream:?}");
        let first: Vec<u8> = stream
            .iter()
            .filter_map(|item| item.ok().filter(|(p, _)| *p == 1).map(|(_, seq)| seq))
            .collect();
        assert!(
            first.windows(2).all(|w| w[0] < w[1]),
            "publisher 1 out of order: {stream:?}"
        );
        let received = stream.iter().filter(|item| item.is_ok()).count() as u64;
        let lagged: u64 = stream.iter().filter_map(|item| item.err()).sum();
        assert_eq!(received + lagged, 3, "conservation: {stream:?}");
        assert_eq!(sub.lost(), lagged, "loss counter vs reports: {stream:?}");
        assert_eq!(dropped as u64, lagged, "Delivery::dropped vs reports: {stream:?}");
        assert_eq!(ledger.live(), 0, "an evicted event is still alive: {stream:?}");
        drop(sub);
        ledger.assert_all_dropped();
    });
}
