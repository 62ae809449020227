//! Model 7: the wait strategies' park / wake-up handshake (a subscriber polls, spins for its
//! window, then parks in the queue's blocking receive; the publisher's enqueue or the close must
//! wake it).
//!
//! Under loom the queue is the stand-in from `src/queue/model.rs` (crossbeam-channel's own waker
//! is invisible to loom and is checked by crossbeam's test suite); what this checks is the bus's
//! side of the handshake: `recv`'s try / spin / park sequence, the spin window (two polls under
//! loom, so both the spinning and the parking branch are reached), and the disconnection that
//! close and the publish path's snapshot release cause.
#![cfg(loom)]

mod common;

use std::time::Duration;

use common::{model, Ledger};
use fanout::{Bus, WaitStrategy};
use fanout::error::RecvError;
use loom::thread::{self, JoinHandle};

/// A `Park` and a `SpinThenPark` subscriber of `bus`, each calling `recv` once on its own thread
/// (returning the key of what it got).
fn blocked_consumers(bus: &Bus<common::Ev>) -> Vec<JoinHandle<Result<(u8, u8), RecvError>>> {
    [
        WaitStrategy::Park,
        WaitStrategy::SpinThenPark(Duration::from_micros(100)),
    ]
    .into_iter()
    .map(|wait| {
        let mut sub = bus.subscriber().capacity(1).wait(wait).build().unwrap();
        thread::spawn(move || sub.recv().map(|ev| ev.key()))
    })
    .collect()
}

/// Invariant: no lost wake-up. A `Park` and a `SpinThenPark` subscriber, each blocked in `recv`
/// on its own thread, both return the event a concurrent publish delivers; if either missed its
/// wake-up, every thread would be blocked and loom would report a deadlock.
#[test]
fn recv_wakes_on_publish() {
    model(Some(4), || {
        let ledger = Ledger::new();
        let bus = Bus::<common::Ev>::new();
        let consumers = blocked_consumers(&bus);
        bus.publish(ledger.event(1, 0, 0)).unwrap();
        for consumer in consumers {
            assert_eq!(consumer.join().unwrap(), Ok((1, 0)));
        }
        drop(bus);
        ledger.assert_all_dropped();
    });
}

/// Invariant: no lost wake-up on close. A `Park` and a `SpinThenPark` subscriber blocked in
/// `recv` on an empty queue both return `Disconnected` when the last publishing handle is
/// dropped concurrently.
#[test]
fn recv_wakes_on_close() {
    model(Some(4), || {
        let bus = Bus::<common::Ev>::new();
        let consumers = blocked_consumers(&bus);
        drop(bus); // the last handle: closes the bus
        for consumer in consumers {
            assert_eq!(consumer.join().unwrap(), Err(RecvError::Disconnected));
        }
    });
}

/// Invariant: a `BusySpin` subscriber, which never parks, sees an event published concurrently
/// (its poll loop yields to the model's scheduler, so the publisher always gets to run).
#[test]
fn busy_spin_sees_publish() {
    model(None, || {
        let ledger = Ledger::new();
        let bus = Bus::<common::Ev>::new();
        let mut sub = bus
            .subscriber()
            .capacity(1)
            .wait(WaitStrategy::BusySpin)
            .build()
            .unwrap();
        let consumer = thread::spawn(move || sub.recv().map(|ev| ev.key()));
        bus.publish(ledger.event(1, 0, 0)).unwrap();
        assert_eq!(consumer.join().unwrap(), Ok((1, 0)));
        drop(bus);
        ledger.assert_all_dropped();
    });
}
