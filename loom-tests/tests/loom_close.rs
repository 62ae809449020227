//! Model 6: close racing publish and receive (close takes the queues' senders out of the table;
//! a publish that loaded an older snapshot still holds them until it is done).
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::Bus;
use fanout::error::{PublishError, RecvError};
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Invariant: every publish racing a close either is accepted (returns `Ok` with the event
/// delivered to the one subscriber) or is rejected (returns `Err(Closed)` with that very event);
/// a publish that starts after `close` returned (release/acquire flag) is rejected; the
/// subscriber, receiving concurrently, gets exactly the accepted events, in order, then
/// `Disconnected` (a `recv` parked on the empty queue is woken by the close or by the last
/// racing publish finishing).
///
/// Threads: a publisher publishing two events (reading the flag before each); a thread closing
/// the bus and raising the flag; the subscriber (on the main thread) calling `recv` until
/// `Disconnected`. Capacity 2, so no overflow policy is involved.
#[test]
fn close_racing_publish_and_receive() {
    model(Some(4), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = bus.subscriber().capacity(2).build().unwrap();
        let closed = Arc::new(AtomicBool::new(false));

        let publisher = bus.publisher();
        let events = ledger.clone();
        let flag = closed.clone();
        let publishing = thread::spawn(move || {
            let mut accepted = Vec::new();
            for seq in 0..2 {
                let after_close = flag.load(Ordering::Acquire);
                match publisher.publish(events.event(1, seq, 0)) {
                    Ok(delivery) => {
                        assert!(!after_close, "publish #{seq} accepted after close returned");
                        assert_eq!(delivery.delivered(), 1, "publish #{seq}: {delivery:?}");
                        accepted.push(seq);
                    }
                    Err(PublishError::Closed(ev)) => assert_eq!(ev.key(), (1, seq)),
                    Err(other) => panic!("a plain publish has no deadline: {other:?}"),
                }
            }
            accepted
        });
        let closing = thread::spawn(move || {
            bus.close();
            closed.store(true, Ordering::Release);
        });

        let mut got = Vec::new();
        loop {
            match sub.recv() {
                Ok(ev) => got.push(ev.seq),
                Err(RecvError::Disconnected) => break,
                Err(other) => panic!("unexpected {other:?} after {got:?}"),
            }
        }
        let accepted = publishing.join().unwrap();
        closing.join().unwrap();
        assert_eq!(got, accepted, "received vs accepted");
        drop(sub);
        ledger.assert_all_dropped();
    });
}

/// Invariant: close ends every stream even while a publish waits for room in the full queue of a
/// `Block` subscriber that never reads. The waiting publish stops waiting (the bus's close signal
/// wakes it), counts the event as lost for the stuck subscriber, still delivers to the
/// subscriber after it, and releases its snapshot, so both queues disconnect: the other
/// subscriber gets the event then `Disconnected`, the stuck one its queue, `Lagged(1)`, then
/// `Disconnected`. If the wake-up were lost, loom reports a deadlock.
///
/// Threads: a publisher whose second event finds the stuck queue (capacity 1) full; a closer;
/// the main thread receives the other subscriber's stream to its end, then the stuck one's.
#[test]
fn close_ends_a_publish_waiting_on_a_full_block_queue() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut stuck = bus
            .subscriber()
            .capacity(1)
            .overflow(fanout::Overflow::Block)
            .build()
            .unwrap();
        let mut other = bus.subscriber().capacity(2).build().unwrap();
        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            let mut accepted = 0;
            for seq in 0..2 {
                if publisher.publish(events.event(1, seq, 0)).is_ok() {
                    accepted += 1;
                }
            }
            accepted
        });
        let closing = thread::spawn(move || bus.close());

        let mut got = Vec::new();
        loop {
            match other.recv() {
                Ok(ev) => got.push(ev.seq),
                Err(RecvError::Disconnected) => break,
                Err(lag) => panic!("unexpected {lag:?} after {got:?}"),
            }
        }
        let accepted = publishing.join().unwrap();
        closing.join().unwrap();
        assert_eq!(got, (0..accepted).collect::<Vec<_>>(), "other");

        let mut stuck_got = Vec::new();
        let mut lagged = 0;
        loop {
            match stuck.recv() {
                Ok(ev) => stuck_got.push(ev.seq),
                Err(RecvError::Lagged(n)) => lagged += n,
                Err(RecvError::Disconnected) => break,
                Err(end) => panic!("unexpected {end:?}"),
            }
        }
        // Event 0 fills the stuck queue; event 1, if accepted, could only be lost at the close.
        assert_eq!(stuck_got.len() as u64 + lagged, u64::from(accepted));
        assert_eq!(stuck_got.first().copied(), (accepted > 0).then_some(0));
        drop((stuck, other));
        ledger.assert_all_dropped();
    });
}
