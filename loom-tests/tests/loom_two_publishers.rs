//! Model 4: two publishers filling one `DropOldest` subscriber (concurrent evictions: each
//! publisher may evict the other's event, or find the slot refilled and evict again).
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::{Bus, Overflow};
use fanout::error::TryRecvError;
use loom::thread;

/// Invariant: with two publishers overflowing one capacity-1 `DropOldest` queue, events from each
/// publisher are received in that publisher's order (FIFO per publisher), received + lag reported
/// == published (4) and equals what the loss counter and `stats()` say, and every event not
/// received was dropped exactly once (nothing alive once the queue is drained).
///
/// Threads: two publishers (`Publisher` handles), two events each; the subscriber drains after
/// both are done.
#[test]
fn two_publishers_fifo_and_conservation() {
    model(Some(5), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = bus
            .subscriber()
            .capacity(1)
            .overflow(Overflow::DropOldest)
            .build()
            .unwrap();

        let handles: Vec<_> = [1u8, 2]
            .into_iter()
            .map(|p| {
                let publisher = bus.publisher();
                let events = ledger.clone();
                thread::spawn(move || {
                    let mut dropped = 0;
                    for seq in 0..2 {
                        dropped += publisher
                            .publish(events.event(p, seq, 0))
                            .unwrap()
                            .dropped();
                    }
                    dropped
                })
            })
            .collect();
        let dropped: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();

        let mut received = Vec::new();
        let mut lag = 0;
        loop {
            match sub.try_recv() {
                Ok(ev) => received.push(ev.key()),
                Err(TryRecvError::Lagged(n)) => lag += n,
                Err(TryRecvError::Empty) => break,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        for p in [1, 2] {
            let seqs: Vec<u8> = received.iter().filter(|k| k.0 == p).map(|k| k.1).collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "publisher {p} out of order: {received:?}"
            );
        }
        assert_eq!(
            received.len() as u64 + lag,
            4,
            "conservation: {received:?}, lag {lag}"
        );
        assert_eq!(dropped as u64, lag, "Delivery::dropped vs lag reported");
        let stats = bus.stats();
        let s = &stats.subscribers[0];
        assert_eq!(
            (s.received, s.dropped, s.lag_reported),
            (received.len() as u64, lag, lag)
        );
        assert_eq!(
            ledger.live(),
            0,
            "an event outlived its eviction or receipt"
        );
        drop((sub, bus));
        ledger.assert_all_dropped();
    });
}
