//! Model 1: publish racing subscribe and unsubscribe (the subscriber table: a mutex for writers,
//! a lock-free snapshot for publishers).
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::Bus;
use fanout::error::TryRecvError;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Drains what is queued now, as `(publisher, seq)` keys; a lag report here fails the model.
fn drain(sub: &mut fanout::Subscriber<common::Ev>) -> Vec<(u8, u8)> {
    let mut got = Vec::new();
    loop {
        match sub.try_recv() {
            Ok(ev) => got.push(ev.key()),
            Err(TryRecvError::Empty) => return got,
            Err(other) => panic!("unexpected {other:?} after {got:?}"),
        }
    }
}

/// Invariant: a subscriber that unsubscribes while a publish is under way costs nothing
/// afterwards: once the racing threads are done, no copy of an event delivered to its queue is
/// still alive (the queue went with the last snapshot naming it); and a subscriber that stays
/// loses nothing: it receives both events, in publish order.
///
/// Threads: a publisher publishing two events; a thread that takes one event from a second
/// subscriber (if one is there) and drops it. Capacity 2, so no overflow policy is involved.
#[test]
fn unsubscribe_racing_publish_leaks_nothing() {
    model(Some(5), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut stays = bus.subscriber().capacity(2).build().unwrap();
        let mut leaves = bus.subscriber().capacity(2).build().unwrap();

        let publisher = bus.publisher();
        let events = ledger.clone();
        let publishing = thread::spawn(move || {
            for seq in 0..2 {
                publisher.publish(events.event(1, seq, 0)).unwrap();
            }
        });
        let leaving = thread::spawn(move || {
            let _ = leaves.try_recv();
            drop(leaves);
        });
        publishing.join().unwrap();
        leaving.join().unwrap();

        // Only the stayer's two copies may still be alive; anything delivered to the leaver is gone.
        assert_eq!(ledger.live(), 2, "a dropped subscriber's queue was leaked");
        assert_eq!(bus.subscriber_count(), 1);
        assert_eq!(drain(&mut stays), [(1, 0), (1, 1)]);
        drop((stays, bus));
        ledger.assert_all_dropped();
    });
}

/// Invariant: a subscribe that has returned before a publish starts receives that publish's event
/// ("starts after" is established by a release/acquire flag the subscribing thread sets once
/// `subscribe` has returned and the publisher reads before each publish); and every event the new
/// subscriber receives comes in publish order, with no lag.
///
/// Threads: a publisher publishing two events (reading the flag before each); a thread
/// subscribing and raising the flag. A subscriber present from the start must get both.
#[test]
fn subscribe_racing_publish_gets_every_later_event() {
    model(Some(5), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut early = bus.subscriber().capacity(2).build().unwrap();
        let subscribed = Arc::new(AtomicBool::new(false));

        let publisher = bus.publisher();
        let events = ledger.clone();
        let flag = subscribed.clone();
        let publishing = thread::spawn(move || {
            let mut after = Vec::new();
            for seq in 0..2 {
                if flag.load(Ordering::Acquire) {
                    after.push((1, seq));
                }
                publisher.publish(events.event(1, seq, 0)).unwrap();
            }
            after
        });
        let joiner = bus.clone();
        let subscribing = thread::spawn(move || {
            let sub = joiner.subscriber().capacity(2).build().unwrap();
            subscribed.store(true, Ordering::Release);
            sub
        });
        let after = publishing.join().unwrap();
        let mut late = subscribing.join().unwrap();

        let got = drain(&mut late);
        for key in &after {
            assert!(
                got.contains(key),
                "{key:?} was published after the subscribe returned but not received: {got:?}"
            );
        }
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
        assert_eq!(drain(&mut early), [(1, 0), (1, 1)]);
        drop((early, late, bus));
        ledger.assert_all_dropped();
    });
}
