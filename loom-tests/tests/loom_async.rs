//! Model 9: the async wake-up protocols of `src/notify.rs`, driven by `loom::future::block_on`,
//! whose waker is a loom notification: a task that returns `Pending` and is never woken blocks
//! its thread forever, which loom reports as a deadlock. So every model here fails on a lost
//! wake-up.
//!
//! - publish vs `recv_async` registering its waker, including the switch-on of the subscriber's
//!   wake-ups on its first `Pending` (a publish that loaded the table from before the switch
//!   enqueues without waking; the old table's drop must wake instead);
//! - a pending `recv_async` dropped (cancelled), then a new one: nothing lost, the new task woken;
//! - `publish_async` waiting for room in a full `Block` queue vs the consumer freeing a slot;
//! - close vs a pending `publish_async` and vs a pending `recv_async`.
#![cfg(loom)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::{model, Ev, Ledger};
use fanout::{Bus, Overflow, Subscriber};
use fanout::error::{PublishError, RecvError, TryRecvError};
use loom::future::block_on;
use loom::thread;

/// Polls the inner future once: its output if ready, `None` if it was pending (and is then
/// dropped with this future: a cancelled wait).
struct PollOnce<F>(Pin<Box<F>>);

impl<F: Future> Future for PollOnce<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match self.0.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    }
}

fn key(item: Result<Ev, RecvError>) -> Result<(u8, u8), RecvError> {
    item.map(|ev| ev.key())
}

/// `try_recv` as a comparable item (`Empty` and the ends map to `Disconnected`).
fn try_key(sub: &mut Subscriber<Ev>) -> Result<(u8, u8), RecvError> {
    match sub.try_recv() {
        Ok(ev) => Ok(ev.key()),
        Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
        Err(_) => Err(RecvError::Disconnected),
    }
}

fn block_subscriber(bus: &Bus<Ev>) -> Subscriber<Ev> {
    bus.subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap()
}

/// Invariant: no lost wake-up between a publish and `recv_async` registering its waker. The
/// subscriber has never waited asynchronously, so its first `Pending` poll switches its wake-ups
/// on while the publish runs: the publish may load the table from before the switch and enqueue
/// without waking; the model then relies on that old table's drop to wake the task.
#[test]
fn recv_async_wakes_on_publish() {
    model(Some(4), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        let mut sub = bus.subscriber().capacity(1).build().unwrap();
        let consumer = thread::spawn(move || key(block_on(sub.recv_async())));
        bus.publish(ledger.event(1, 0, 0)).unwrap();
        assert_eq!(consumer.join().unwrap(), Ok((1, 0)));
        drop(bus);
        ledger.assert_all_dropped();
    });
}

/// Invariant: cancelling a pending `recv_async` loses nothing, and the next `recv_async`, from
/// another "task" (a new `block_on`, a new waker), is woken. Two events are published while the
/// consumer polls once, drops that future, then receives twice.
#[test]
fn cancelled_recv_async_loses_nothing() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        let mut sub = bus.subscriber().capacity(2).build().unwrap();
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            if let Some(item) = block_on(PollOnce(Box::pin(sub.recv_async()))) {
                got.push(key(item));
            }
            while got.len() < 2 {
                got.push(key(block_on(sub.recv_async())));
            }
            got
        });
        bus.publish(ledger.event(1, 0, 0)).unwrap();
        bus.publish(ledger.event(1, 1, 0)).unwrap();
        assert_eq!(consumer.join().unwrap(), [Ok((1, 0)), Ok((1, 1))]);
        drop(bus);
        ledger.assert_all_dropped();
    });
}

/// Invariant: a `publish_async` waiting for room in a full capacity-1 `Block` queue is woken by
/// the consumer's dequeue (a thread `recv`): it delivers, nothing is lost, order is kept.
#[test]
fn publish_async_woken_by_receive() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        let mut sub = block_subscriber(&bus);
        bus.publish(ledger.event(1, 0, 0)).unwrap(); // full
        let publisher = bus.publisher();
        let event = ledger.event(1, 1, 0);
        let publishing = thread::spawn(move || {
            let delivery = block_on(publisher.publish_async(event)).unwrap();
            (delivery.delivered(), delivery.dropped())
        });
        let consumer = thread::spawn(move || [key(sub.recv()), key(sub.recv())]);
        assert_eq!(publishing.join().unwrap(), (1, 0));
        assert_eq!(consumer.join().unwrap(), [Ok((1, 0)), Ok((1, 1))]);
        drop(bus);
        ledger.assert_all_dropped();
    });
}

/// Invariant: close resolves a `publish_async` waiting for room. Either the close came first
/// (the event is handed back) or the publish was accepted and, the queue staying full, the
/// event is counted as lost to the subscriber, which reports it before its end: conservation.
#[test]
fn close_resolves_pending_publish_async() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        let mut sub = block_subscriber(&bus);
        bus.publish(ledger.event(1, 0, 0)).unwrap(); // full
        let publisher = bus.publisher();
        let event = ledger.event(1, 1, 0);
        let publishing = thread::spawn(move || match block_on(publisher.publish_async(event)) {
            Ok(delivery) => Some((delivery.delivered(), delivery.dropped())),
            Err(PublishError::Closed(event)) => {
                assert_eq!(event.key(), (1, 1));
                None
            }
        });
        bus.close();
        let outcome = publishing.join().unwrap();
        let items: Vec<_> = sub.iter().map(key).collect();
        match outcome {
            Some(delivery) => {
                assert_eq!(delivery, (0, 1));
                assert_eq!(items, [Err(RecvError::Lagged(1)), Ok((1, 0))]);
            }
            None => assert_eq!(items, [Ok((1, 0))]),
        }
        drop(bus);
        ledger.assert_all_dropped();
    });
}

/// Invariant: close wakes a `recv_async` waiting on an empty queue: it returns `Disconnected`.
#[test]
fn close_wakes_pending_recv_async() {
    model(Some(4), || {
        let bus = Bus::<Ev>::new();
        let mut sub = bus.subscriber().capacity(1).build().unwrap();
        let consumer = thread::spawn(move || key(block_on(sub.recv_async())));
        drop(bus); // the last handle: closes the bus
        assert_eq!(consumer.join().unwrap(), Err(RecvError::Disconnected));
    });
}

/// Invariant: a `publish_async` dropped while it waits for room counts the event as lost to
/// every interested subscriber it had not served, and wakes one that waits asynchronously: `B`
/// (full `Block` queue, served first) and `S` (empty, its task waiting in `recv_async`) both
/// report `Lagged(1)`. The loss count is the only state change `S`'s task can see (nothing is
/// enqueued for it), so this is also the wake-up handshake with no queue lock in between.
#[test]
fn cancelled_publish_async_counts_and_wakes() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        let mut b = block_subscriber(&bus);
        let mut s = bus.subscriber().capacity(1).build().unwrap();
        bus.publish(ledger.event(1, 0, 0)).unwrap(); // fills B; S takes it too
        assert_eq!(try_key(&mut s), Ok((1, 0)));
        let publisher = bus.publisher();
        let event = ledger.event(1, 1, 0);
        let publishing = thread::spawn(move || {
            // Polled once: B is full, so it is pending; then dropped.
            let outcome = block_on(PollOnce(Box::pin(publisher.publish_async(event))));
            assert!(outcome.is_none(), "B's queue was full");
        });
        let waiting = thread::spawn(move || {
            let item = key(block_on(s.recv_async()));
            (s, item)
        });
        publishing.join().unwrap();
        let (_s, item) = waiting.join().unwrap();
        assert_eq!(item, Err(RecvError::Lagged(1)));
        assert_eq!(try_key(&mut b), Err(RecvError::Lagged(1)));
        assert_eq!(try_key(&mut b), Ok((1, 0)));
        drop(bus);
        ledger.assert_all_dropped();
    });
}
