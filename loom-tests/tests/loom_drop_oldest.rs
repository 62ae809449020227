//! Model 3: `DropOldest` eviction racing a consumer (a publisher dequeues through the evictor
//! while the subscriber dequeues; every eviction is counted in the loss counter the subscriber
//! reports as `Lagged`).
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::{Bus, Overflow};
use fanout::error::RecvError;
use loom::thread;

/// What the consumer saw: `Ok(seq)` for an event, `Err(n)` for a `Lagged(n)` report.
type Stream = Vec<Result<u8, u64>>;

const PUBLISHED: u8 = 3;

/// One run: a publisher (the only publishing handle: dropping it closes the bus) publishes three
/// events into a `DropOldest` queue of `capacity`, while a consumer calls `recv` until
/// `Disconnected`. Returns the stream, once every copy that should be gone is gone.
fn race(capacity: usize) -> Stream {
    let ledger = Ledger::new();
    let bus = Bus::new();
    let mut sub = bus
        .subscriber()
        .capacity(capacity)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let publisher = bus.publisher();
    drop(bus);

    let events = ledger.clone();
    let publishing = thread::spawn(move || {
        for seq in 0..PUBLISHED {
            publisher.publish(events.event(1, seq, 0)).unwrap();
        }
        // `publisher`, the last handle, drops here and closes the bus.
    });
    let consuming = thread::spawn(move || {
        let mut stream = Stream::new();
        loop {
            match sub.recv() {
                Ok(ev) => stream.push(Ok(ev.seq)),
                Err(RecvError::Lagged(n)) => stream.push(Err(n)),
                Err(RecvError::Disconnected) => return (stream, sub),
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    });
    publishing.join().unwrap();
    let (stream, sub) = consuming.join().unwrap();

    let lag: u64 = stream.iter().filter_map(|i| i.err()).sum();
    assert_eq!(sub.lost(), lag, "loss counter vs reports: {stream:?}");
    // Received copies were dropped by the consumer, evicted ones by the publisher.
    assert_eq!(
        ledger.live(),
        0,
        "an evicted event is still alive: {stream:?}"
    );
    drop(sub);
    ledger.assert_all_dropped();
    stream
}

/// Checks conservation, order and that no `Lagged` report is late.
fn check(stream: &Stream) {
    let mut received = 0u64;
    let mut reported = 0u64;
    let mut last = None;
    for item in stream {
        match *item {
            Ok(seq) => {
                assert!(last < Some(seq), "out of order: {stream:?}");
                last = Some(seq);
                // Every event older than this one that was not received is lost (one publisher,
                // FIFO), and its loss must have been reported before this event.
                let lost_before = u64::from(seq) - received;
                assert!(reported >= lost_before, "late Lagged report: {stream:?}");
                received += 1;
            }
            Err(n) => reported += n,
        }
    }
    assert_eq!(
        received + reported,
        u64::from(PUBLISHED),
        "conservation: {stream:?}"
    );
}

/// Invariant: with a consumer receiving while a publisher overflows its queue (capacity 1 and 2),
/// received + lag reported == published (3) == what the loss counter says; received events come
/// in publish order; a `Lagged` report is never late (it comes before the first event after the
/// gap); every event not received was dropped (evicted) exactly once, and none is alive at the end.
#[test]
fn eviction_racing_consumer_conserves_and_drops_once() {
    for capacity in [1, 2] {
        model(Some(3), move || check(&race(capacity)));
    }
}

/// Invariant (the `Overflow::DropOldest` docs: "the subscriber always sees the most recent
/// events"): the newest event, published after every other, is never the one lost: it is the
/// last item the consumer gets before `Disconnected`.
#[test]
fn newest_event_survives_eviction_race() {
    model(Some(3), || {
        let stream = race(1);
        assert_eq!(
            stream.last(),
            Some(&Ok(PUBLISHED - 1)),
            "newest event lost: {stream:?}"
        );
    });
}
