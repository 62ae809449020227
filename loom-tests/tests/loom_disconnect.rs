//! Model 9: `Overflow::Disconnect` cutting a subscriber off while another publish that loaded the
//! table before the cut still delivers to it.
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::{Bus, Overflow};
use fanout::error::TryRecvError;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Invariant: the end of a stream is final. A subscriber cut off by one publish may still be
/// reached by another publish that loaded the table before the cut; everything such a publish
/// delivered is received before `Overflowed`, nothing after it, and received + lagged adds up
/// to what the publishes say they delivered or dropped for this subscriber.
///
/// Threads: two publishers, one event each, into a `Disconnect` queue of capacity 1 that already
/// holds one event; the consumer (main thread) polls it until `Overflowed` (or, if it kept up and
/// nobody was cut off, until both publishers are done and it is empty), then, once the
/// publishers are joined, checks that nothing follows.
#[test]
fn nothing_follows_overflowed() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut cut = bus
            .subscriber()
            .capacity(1)
            .overflow(Overflow::Disconnect)
            .build()
            .unwrap();
        bus.publish(ledger.event(0, 0, 0)).unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let publishers: Vec<_> = (1..=2u8)
            .map(|p| {
                let publisher = bus.publisher();
                let events = ledger.clone();
                let done = done.clone();
                thread::spawn(move || {
                    let delivery = publisher.publish(events.event(p, 0, 0)).unwrap();
                    done.fetch_add(1, Ordering::Release);
                    (delivery.delivered() as u64, delivery.dropped() as u64)
                })
            })
            .collect();

        let (mut received, mut lagged, mut ended) = (0u64, 0u64, false);
        // Set once both publishers are done: then an empty queue is final unless cut off.
        let mut settled = false;
        loop {
            match cut.try_recv() {
                Ok(_) => received += 1,
                Err(TryRecvError::Lagged(n)) => lagged += n,
                Err(TryRecvError::Overflowed) => {
                    ended = true;
                    break;
                }
                Err(TryRecvError::Empty) => {
                    if settled && !cut.is_overflowed() {
                        break; // it kept up: nobody was cut off
                    }
                    // Everything the publishers did happens-before this acquire: one more pass.
                    settled = done.load(Ordering::Acquire) == 2;
                    if !settled {
                        thread::yield_now();
                    }
                }
                Err(TryRecvError::Disconnected) => panic!("the bus is not closed"),
            }
        }
        let (delivered, dropped) = publishers
            .into_iter()
            .map(|p| p.join().unwrap())
            .fold((1, 0), |(d, l), (d2, l2)| (d + d2, l + l2));
        if ended {
            assert_eq!(cut.try_recv().err(), Some(TryRecvError::Overflowed), "not final");
        }
        assert_eq!((received, lagged), (delivered, dropped));
        drop((cut, bus));
        ledger.assert_all_dropped();
    });
}
