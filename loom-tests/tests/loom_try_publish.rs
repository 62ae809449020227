//! Model 12: `try_publish`, the publish that never waits (issue 21), into a full `Block` queue.
//!
//! - It never waits: the consumer does not read until both publishes returned, so a publish
//!   that waited for room would block every thread (loom reports the deadlock).
//! - Against an async consumer draining the queue: each event is delivered or counted lost,
//!   never both, never neither; received + reported lost = published; received events in order;
//!   and a consumer parked in `recv_async` while the last loss is counted is woken (a lost
//!   wake-up would leave it parked forever: a deadlock).
#![cfg(loom)]

mod common;

use common::{model, Ev, Ledger};
use fanout::error::{RecvError, TryRecvError};
use fanout::{Bus, Overflow, Subscriber};
use loom::future::block_on;
use loom::thread;

fn full_block_queue(bus: &Bus<Ev>, ledger: &std::sync::Arc<Ledger>) -> Subscriber<Ev> {
    let sub = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    bus.publish(ledger.event(1, 0, 0)).unwrap(); // the queue is now full
    sub
}

/// Invariant: `try_publish` returns while a `Block` queue stays full, and counts the event lost.
#[test]
fn try_publish_never_waits_on_a_full_block_queue() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = full_block_queue(&bus, &ledger);
        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            (1..3)
                .map(|seq| {
                    publisher
                        .try_publish(events.event(1, seq, 0))
                        .unwrap()
                        .dropped()
                })
                .sum::<usize>()
        });
        // Nobody reads until the publishes are done.
        assert_eq!(publishing.join().unwrap(), 2);
        assert_eq!(
            sub.try_recv().map(|e| e.key()),
            Err(TryRecvError::Lagged(2))
        );
        assert_eq!(sub.try_recv().map(|e| e.key()), Ok((1, 0)));
        drop((sub, bus));
        ledger.assert_all_dropped();
    });
}

/// Invariant: racing a consumer, every `try_publish` is delivered or reported lost exactly once,
/// in order, and the consumer's task is woken for a loss as for an event.
#[test]
fn try_publish_racing_an_async_consumer_conserves_and_wakes() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = full_block_queue(&bus, &ledger);
        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            (1..3)
                .map(|seq| {
                    let d = publisher.try_publish(events.event(1, seq, 0)).unwrap();
                    assert_eq!(d.delivered() + d.dropped(), 1);
                    d.delivered()
                })
                .sum::<usize>()
        });
        // The bus stays open (`bus` lives on this thread): the consumer ends only by accounting
        // for all three events, each through an event or a loss report that woke it.
        let consuming = thread::spawn(move || {
            let (mut received, mut lost) = (Vec::new(), 0);
            while received.len() as u64 + lost < 3 {
                match block_on(sub.recv_async()) {
                    Ok(ev) => received.push(ev.seq),
                    Err(RecvError::Lagged(n)) => lost += n,
                    Err(end) => panic!("{end:?}"),
                }
            }
            (received, lost, sub)
        });
        let delivered = publishing.join().unwrap();
        let (received, lost, sub) = consuming.join().unwrap();
        assert_eq!(received.len(), delivered + 1);
        assert_eq!(lost as usize, 2 - delivered);
        assert!(received.windows(2).all(|w| w[0] < w[1]), "{received:?}");
        assert_eq!(received[0], 0);
        drop((sub, bus));
        ledger.assert_all_dropped();
    });
}
