//! Model 11: the weak handle and "no subscriber left" (issue 20).
//!
//! - `WeakBus::upgrade` racing the drop of the last strong handle: the drop that takes the handle
//!   count to zero closes the bus, so an upgrade must never count up from zero (it would hand out
//!   a publisher of a bus whose subscribers are being told `Disconnected`).
//! - `Bus::no_subscribers` racing the drop of the last subscriber: the waiter registers, then
//!   looks at the table under its lock; the removal empties the table under the lock, then wakes.
//!   A lost wake-up is a deadlock loom reports.
#![cfg(loom)]

mod common;

use common::{model, Ledger};
use fanout::error::RecvError;
use fanout::{Bus, Topics};
use loom::future::block_on;
use loom::thread;

/// Invariant: an upgrade racing the last strong drop either fails (the count is down to zero and
/// the bus closed or closing), or
/// returns a handle of an open bus through which a publish is accepted and delivered; the
/// subscriber receives exactly that event (if any), then `Disconnected`, so the bus closes only
/// once the upgraded handle is gone too.
///
/// Threads: the last `Bus` handle dropped; an upgrader (publishes once through its handle, then
/// drops it); the subscriber on the main thread, receiving to the end.
#[test]
fn upgrade_racing_the_last_drop_never_reopens() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::new();
        let mut sub = bus.subscriber().capacity(2).build().unwrap();
        let weak = bus.downgrade();
        let watcher = weak.clone();

        let dropping = thread::spawn(move || drop(bus));
        let events = ledger.clone();
        let upgrading = thread::spawn(move || match weak.upgrade() {
            Some(strong) => {
                let delivery = strong
                    .publish(events.event(1, 0, 0))
                    .unwrap_or_else(|_| panic!("an upgraded handle's bus was closed"));
                assert_eq!(delivery.delivered(), 1);
                true
            }
            None => {
                // The last drop has counted down (its close may still be under way).
                assert_eq!(weak.strong_count(), 0, "upgrade failed while a handle lives");
                false
            }
        });

        let mut got = Vec::new();
        loop {
            match sub.recv() {
                Ok(ev) => got.push(ev.seq),
                Err(RecvError::Disconnected) => break,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        dropping.join().unwrap();
        let published = upgrading.join().unwrap();
        assert_eq!(got.len(), usize::from(published));
        assert!(watcher.is_closed() && watcher.upgrade().is_none());
        drop(sub);
        ledger.assert_all_dropped();
    });
}

/// Invariant: `no_subscribers()` awaited while the last two subscribers are dropped on other
/// threads completes (no lost wake-up), and completes only once both are gone.
///
/// Threads: two subscribers dropped on two threads; the main thread awaits the future with
/// `loom::future::block_on` (a loom notification: a missed wake is a deadlock).
#[test]
fn no_subscribers_wakes_when_the_last_leaves() {
    model(Some(3), || {
        let bus = Bus::<common::Ev>::new();
        let a = bus.subscribe(Topics::ALL);
        let b = bus.subscribe(Topics::ALL);
        let first = thread::spawn(move || drop(a));
        let second = thread::spawn(move || drop(b));
        block_on(bus.no_subscribers());
        assert_eq!(bus.subscriber_count(), 0);
        first.join().unwrap();
        second.join().unwrap();
    });
}
