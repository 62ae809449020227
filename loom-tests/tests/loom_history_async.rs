//! Model 14: the turn of a history bus (`src/history/order.rs`) taken by threads and by tasks:
//! `HistoryBus::publish_async` awaits it, a synchronous publish sleeps for it, and a release
//! wakes both kinds of waiter. Driven by `loom::future::block_on`, whose waker is a loom
//! notification: a task that returned `Pending` and is never woken blocks its thread forever,
//! which loom reports as a deadlock. So a lost wake-up fails these models.
#![cfg(loom)]

mod common;

use common::{model, Ev, Ledger};
use fanout::error::RecvError;
use fanout::history::Sequenced;
use fanout::{HistoryBus, Overflow, Subscriber};
use loom::future::block_on;
use loom::thread;

/// Everything received until `Disconnected`, as `(seq, (publisher, n))`; a `Lagged` is a bug
/// here (nothing can overflow).
fn drain(sub: &mut Subscriber<Sequenced<Ev>>) -> Vec<(u64, (u8, u8))> {
    let mut got = Vec::new();
    loop {
        match sub.recv() {
            Ok(item) => got.push((item.seq(), item.key())),
            Err(RecvError::Disconnected) => return got,
            Err(other) => panic!("unexpected {other:?} after {got:?}"),
        }
    }
}

/// Invariant: a task awaiting the turn that a thread's publish holds is woken when that publish
/// releases it (the task registers, then looks again; the release lowers the turn, then wakes),
/// and both events arrive numbered 1 and 2 in the order of their turns.
#[test]
fn a_task_awaiting_the_turn_is_woken_by_its_release() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = HistoryBus::builder(2).capacity(2).build().unwrap();
        let mut sub = bus.subscriber().build().unwrap();
        let publisher = bus.publisher();
        let events = ledger.clone();
        let thread_publish = thread::spawn(move || {
            publisher.publish(events.event(1, 0, 0)).unwrap();
        });
        let delivery = block_on(bus.publish_async(ledger.event(2, 0, 0))).unwrap();
        assert_eq!(delivery.delivered(), 1);
        thread_publish.join().unwrap();
        drop(bus);
        let got = drain(&mut sub);
        let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [1, 2], "{got:?}");
        drop(sub);
        ledger.assert_all_dropped();
    });
}

/// Invariant: a task that holds the turn while it awaits room in a full `Block` queue does not
/// keep a thread's publish from its turn once it is done: the consumer frees the room, the task
/// completes and releases, the sleeping thread is notified and publishes. Every event arrives
/// once, numbered in one order.
#[test]
fn a_thread_sleeping_for_the_turn_a_waiting_task_holds_gets_it() {
    model(Some(2), || {
        let ledger = Ledger::new();
        let bus = HistoryBus::builder(3).capacity(1).build().unwrap();
        let mut audit = bus
            .subscriber()
            .overflow(Overflow::Block)
            .build()
            .unwrap();
        bus.publish(ledger.event(0, 0, 0)).unwrap();
        let publisher = bus.publisher();
        let events = ledger.clone();
        let thread_publish = thread::spawn(move || {
            publisher.publish(events.event(1, 0, 0)).unwrap();
        });
        let consumer = thread::spawn(move || drain(&mut audit));
        block_on(bus.publish_async(ledger.event(2, 0, 0))).unwrap();
        thread_publish.join().unwrap();
        drop(bus);
        let got = consumer.join().unwrap();
        let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, [1, 2, 3], "{got:?}");
        ledger.assert_all_dropped();
    });
}
