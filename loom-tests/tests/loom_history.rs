//! Model 10: the history hand-off (`src/history.rs`): a publish racing a subscribe with replay.
#![cfg(loom)]

mod common;

use common::{model, Ev, Ledger};
use fanout::{HistoryBus, Overflow, Subscriber};
use fanout::error::RecvError;
use fanout::history::{Replay, Sequenced};
use loom::thread;

/// Everything the subscriber receives until `Disconnected`: `Ok((seq, key))` and `Err(lagged)`.
fn drain(sub: &mut Subscriber<Sequenced<Ev>>) -> Vec<Result<(u64, (u8, u8)), u64>> {
    let mut got = Vec::new();
    loop {
        match sub.recv() {
            Ok(item) => got.push(Ok((item.seq(), item.key()))),
            Err(RecvError::Lagged(n)) => got.push(Err(n)),
            Err(RecvError::Disconnected) => return got,
            Err(other) => panic!("unexpected {other:?} after {got:?}"),
        }
    }
}

/// Invariant: a subscriber that joins with `Replay::Since(0)` while a publisher publishes gets
/// every event exactly once, in sequence order: those whose ring section came before its own
/// from the history, the others live; never both (a duplicate), never neither (a gap). Nothing
/// leaks.
///
/// Threads: a publisher publishing two events (one was published before the threads start); a
/// thread subscribing with replay. History and queue both hold 3 events, so nothing overflows
/// and any `Lagged` is a bug.
#[test]
fn replay_racing_publish_is_received_exactly_once_in_order() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = HistoryBus::builder(3).capacity(3).build().unwrap();
        bus.publish(ledger.event(1, 0, 0)).unwrap();

        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            for seq in 1..3 {
                publisher.publish(events.event(1, seq, 0)).unwrap();
            }
        });
        let joiner = bus.clone();
        let joining = thread::spawn(move || {
            joiner
                .subscriber()
                .replay(Replay::Since(0))
                .build()
                .unwrap()
        });
        publishing.join().unwrap();
        let mut late = joining.join().unwrap();
        drop(bus);
        let got = drain(&mut late);
        assert_eq!(got, [Ok((1, (1, 0))), Ok((2, (1, 1))), Ok((3, (1, 2)))]);
        drop(late);
        ledger.assert_all_dropped();
    });
}

/// Invariant: the hand-off under overflow: a capacity-1 `DropOldest` subscriber joining with
/// `Replay::Since(0)` while a publisher publishes receives strictly increasing sequence numbers,
/// and received + reported lost == every event (3), the last one always received.
#[test]
fn replay_racing_publish_into_a_full_queue_conserves() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = HistoryBus::builder(3).build().unwrap();
        bus.publish(ledger.event(1, 0, 0)).unwrap();

        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            for seq in 1..3 {
                publisher.publish(events.event(1, seq, 0)).unwrap();
            }
        });
        let joiner = bus.clone();
        let joining = thread::spawn(move || {
            joiner
                .subscriber()
                .capacity(1)
                .overflow(Overflow::DropOldest)
                .replay(Replay::Since(0))
                .build()
                .unwrap()
        });
        publishing.join().unwrap();
        let mut late = joining.join().unwrap();
        drop(bus);
        let got = drain(&mut late);
        let seqs: Vec<u64> = got.iter().filter_map(|i| i.ok()).map(|(s, _)| s).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        let lagged: u64 = got.iter().filter_map(|i| i.err()).sum();
        assert_eq!(seqs.len() as u64 + lagged, 3, "{got:?}");
        assert_eq!(seqs.last(), Some(&3), "{got:?}");
        drop(late);
        ledger.assert_all_dropped();
    });
}

/// Invariant: a subscribe with replay never waits for a publish blocked on a full `Block` queue
/// (it takes only the ring lock; the blocked publish holds the order lock). Here the thread that
/// subscribes is the very consumer of that queue: were the subscribe to wait, nobody would ever
/// receive and loom would report a deadlock.
///
/// Threads: a publisher whose second event finds the capacity-1 `Block` queue full; the main
/// thread subscribes with `Replay::Since(0)`, then receives from the full queue.
#[test]
fn subscribe_with_replay_never_waits_for_a_blocked_publish() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = HistoryBus::builder(3).build().unwrap();
        let mut stuck = bus
            .subscriber()
            .capacity(1)
            .overflow(Overflow::Block)
            .build()
            .unwrap();
        bus.publish(ledger.event(1, 0, 0)).unwrap(); // fills `stuck`

        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            publisher.publish(events.event(1, 1, 0)).unwrap();
        });
        let mut late = bus
            .subscriber()
            .capacity(3)
            .replay(Replay::Since(0))
            .build()
            .unwrap();
        assert_eq!(stuck.recv().unwrap().seq(), 1);
        publishing.join().unwrap();
        drop(bus);
        assert_eq!(stuck.recv().unwrap().seq(), 2);
        let got = drain(&mut late);
        assert_eq!(got, [Ok((1, (1, 0))), Ok((2, (1, 1)))]);
        drop((late, stuck));
        ledger.assert_all_dropped();
    });
}
