//! Model 9: the async wake-up protocols of `src/notify.rs`, driven by `loom::future::block_on`,
//! whose waker is a loom notification: a task that returns `Pending` and is never woken blocks
//! its thread forever, which loom reports as a deadlock. So every model here fails on a lost
//! wake-up.
//!
//! - publish vs `recv_async` registering its waker;
//! - a publish that enqueues into an async subscriber and then waits on another subscriber's full
//!   `Block` queue, holding its copy of the table: the task is woken by the enqueue, not by the
//!   end of that publish (issue 18's lost wake-up: the first design woke it only when the old
//!   table was dropped);
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

/// Invariant: no lost wake-up between a publish and `recv_async` registering its waker (the
/// task's first `Pending` poll races the publish's enqueue and its wake-up check).
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

/// Invariant: a publish that enqueued into an async subscriber wakes its task even while that
/// publish then waits for room in another subscriber's full `Block` queue (holding its copy of
/// the table). The main thread receives asynchronously first and reads the `Block` queue only
/// once it has its event: if the enqueue did not wake it, nobody would (the publish is stuck
/// until the `Block` queue is read), and loom reports the deadlock.
#[test]
fn a_publish_waiting_on_another_queue_still_wakes() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        // Served first: the async subscriber, topic 1 only.
        let mut task_side = bus
            .subscriber()
            .topics(fanout::topic!(1))
            .capacity(1)
            .build()
            .unwrap();
        // Served second: a capacity-1 `Block` queue, made full by a topic-0 event.
        let mut stuck = bus
            .subscriber()
            .topics(fanout::topic!(0) | fanout::topic!(1))
            .capacity(1)
            .overflow(Overflow::Block)
            .build()
            .unwrap();
        bus.publish(ledger.event(0, 0, 0)).unwrap();
        let publisher = bus.publisher();
        let event = ledger.event(1, 0, 1);
        let publishing = thread::spawn(move || publisher.publish(event).unwrap().delivered());
        assert_eq!(key(block_on(task_side.recv_async())), Ok((1, 0)));
        assert_eq!(key(stuck.recv()), Ok((0, 0)));
        assert_eq!(publishing.join().unwrap(), 2);
        assert_eq!(key(stuck.recv()), Ok((1, 0)));
        drop((bus, task_side, stuck));
        ledger.assert_all_dropped();
    });
}

/// Invariant: the waker a second poll replaces is dropped with no lock of the bus held: its
/// `Drop` publishes to the very subscriber being polled (tokio's `send_in_waker_drop`), racing a
/// publish from another thread; the poll returns and both events are received.
#[test]
fn a_replaced_waker_may_publish_from_its_drop() {
    model(Some(3), || {
        let ledger = Ledger::new();
        let bus = Bus::<Ev>::new();
        let mut sub = bus.subscriber().capacity(2).build().unwrap();
        let from_drop = (bus.publisher(), ledger.event(2, 0, 0));
        let publisher = bus.publisher();
        let event = ledger.event(1, 0, 0);
        let publishing = thread::spawn(move || publisher.publish(event).unwrap());
        let first = common::waker_dropping_with(move || {
            let (publisher, event) = from_drop;
            publisher.publish(event).unwrap();
        });
        let mut got = Vec::new();
        let mut context = std::task::Context::from_waker(&first);
        if let Poll::Ready(item) = Box::pin(sub.recv_async()).as_mut().poll(&mut context) {
            got.push(key(item));
        }
        drop(first); // the subscriber's slot may hold its last clone
        while got.len() < 2 {
            got.push(key(block_on(sub.recv_async()))); // replaces (and drops) that waker
        }
        let mut got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
        got.sort();
        assert_eq!(got, [(1, 0), (2, 0)]);
        publishing.join().unwrap();
        drop((bus, sub));
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
            Err(other) => panic!("a plain publish has no deadline: {other:?}"),
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
