//! `publish_async` on a history bus: it awaits its turn and room in full `Block` queues without
//! blocking its executor's thread, takes turns with synchronous publishes (sequence order stays
//! every queue's order), and a future dropped before its turn publishes nothing.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use fanout::error::{PublishError, TryRecvError};
use fanout::history::{Replay, Sequenced};
use fanout::{HistoryBus, Overflow, Subscriber};

#[derive(Clone, Debug, PartialEq)]
struct Ping(u32);
impl fanout::Event for Ping {
    fn topic(&self) -> fanout::Topic {
        fanout::topic!(0)
    }
}

fn block(bus: &HistoryBus<Ping>, capacity: usize) -> Subscriber<Sequenced<Ping>> {
    bus.subscriber()
        .capacity(capacity)
        .overflow(Overflow::Block)
        .build()
        .unwrap()
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(Noop));
    fut.poll(&mut Context::from_waker(&waker))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The future can be spawned on a multi-threaded executor (it holds the turn across `.await`s,
/// possibly resuming on another thread).
#[test]
fn the_future_is_send() {
    fn send<T: Send>(_: &T) {}
    let bus = HistoryBus::<Ping>::builder(4).build().unwrap();
    let publisher = bus.publisher();
    send(&bus.publish_async(Ping(1)));
    send(&publisher.publish_async(Ping(1)));
}

/// Two tasks on one current-thread executor publish into a capacity-1 `Block` queue drained by a
/// third task of the same executor. The first holds the turn while it awaits room; the second
/// awaits the turn. Had either blocked the thread, the consumer task could never run: this
/// would hang. Every event arrives, numbered in one order, none twice.
#[test]
fn tasks_await_the_turn_and_room_on_one_thread() {
    const N: u32 = 200;
    let bus = Arc::new(HistoryBus::<Ping>::builder(16).build().unwrap());
    let mut audit = block(&bus, 1);
    let rt = current_thread();
    let received = rt.block_on(async {
        let consumer = tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < 2 * N as usize {
                let item = audit.recv_async().await.unwrap();
                got.push(item.into_parts());
            }
            got
        });
        let tasks: Vec<_> = (0..2)
            .map(|t| {
                let publisher = bus.publisher();
                tokio::spawn(async move {
                    for i in 0..N {
                        let delivery = publisher.publish_async(Ping(t * N + i)).await.unwrap();
                        assert_eq!(delivery.delivered(), 1);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        consumer.await.unwrap()
    });
    let seqs: Vec<u64> = received.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=2 * N as u64).collect::<Vec<_>>());
    // Each task's events in its own order.
    for t in 0..2 {
        let mine: Vec<u32> = received
            .iter()
            .map(|(_, ping)| ping.0)
            .filter(|v| v / N == t)
            .collect();
        assert_eq!(mine, (t * N..(t + 1) * N).collect::<Vec<_>>());
    }
}

/// Synchronous publishers on threads and asynchronous ones on a multi-threaded executor, into a
/// small lossless queue and a lossy one: every subscriber sees strictly increasing numbers, the
/// lossless one sees every number once, and the lossy one's losses are all reported.
#[test]
fn threads_and_tasks_take_turns_in_one_order() {
    const PER: u32 = 2_000;
    let bus = HistoryBus::<Ping>::builder(64).build().unwrap();
    let mut lossless = block(&bus, 4);
    let mut lossy = bus
        .subscriber()
        .capacity(4)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let total = 4 * PER as u64;
    let drain = thread::spawn(move || {
        let mut seqs = Vec::new();
        while let Ok(item) = lossless.recv() {
            seqs.push(item.seq());
        }
        seqs
    });
    let lossy_drain = thread::spawn(move || {
        let (mut last, mut seen, mut lost) = (0, 0u64, 0u64);
        loop {
            match lossy.recv() {
                Ok(item) => {
                    assert!(item.seq() > last, "{} after {last}", item.seq());
                    last = item.seq();
                    seen += 1;
                }
                Err(fanout::error::RecvError::Lagged(n)) => lost += n,
                Err(fanout::error::RecvError::Disconnected) => return seen + lost,
                Err(other) => panic!("{other:?}"),
            }
        }
    });
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let publisher = bus.publisher();
            thread::spawn(move || {
                for i in 0..PER {
                    publisher.publish(Ping(t * PER + i)).unwrap();
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (2..4)
            .map(|t| {
                let publisher = bus.publisher();
                tokio::spawn(async move {
                    for i in 0..PER {
                        publisher.publish_async(Ping(t * PER + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    for thread in threads {
        thread.join().unwrap();
    }
    bus.close();
    assert_eq!(drain.join().unwrap(), (1..=total).collect::<Vec<_>>());
    assert_eq!(lossy_drain.join().unwrap(), total);
}

/// A future dropped while another publish holds the turn has published nothing: no number, no
/// loss reported to anyone; the next publish takes the next number.
#[test]
fn dropped_before_its_turn_it_publishes_nothing() {
    let bus = HistoryBus::<Ping>::builder(16).build().unwrap();
    let mut audit = block(&bus, 1);
    let mut ui = bus.subscribe(fanout::Topics::ALL);
    bus.publish(Ping(1)).unwrap();
    // Holds the turn, waiting for room.
    let mut first = Box::pin(bus.publish_async(Ping(2)));
    assert!(poll_once(first.as_mut()).is_pending());
    let mut second = Box::pin(bus.publish_async(Ping(3)));
    assert!(poll_once(second.as_mut()).is_pending());
    drop(second);
    assert_eq!(audit.try_recv().unwrap().into_parts(), (1, Ping(1)));
    match poll_once(first.as_mut()) {
        Poll::Ready(delivery) => assert_eq!(delivery.unwrap().delivered(), 2),
        Poll::Pending => panic!("room was made"),
    }
    assert_eq!(audit.try_recv().unwrap().into_parts(), (2, Ping(2)));
    bus.publish(Ping(4)).unwrap();
    let numbers = |sub: &mut Subscriber<Sequenced<Ping>>| -> Vec<(u64, Ping)> {
        sub.try_iter()
            .map(|item| item.unwrap().into_parts())
            .collect()
    };
    // Nothing reported lost (no `Lagged`): the dropped publish owed nobody anything.
    assert_eq!(numbers(&mut audit), [(3, Ping(4))]);
    assert_eq!(numbers(&mut ui), [(1, Ping(1)), (2, Ping(2)), (3, Ping(4))]);
    let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    assert_eq!(
        numbers(&mut late),
        [(1, Ping(1)), (2, Ping(2)), (3, Ping(4))]
    );
}

/// A future dropped while it awaits room, holding the turn: the subscriber it was serving gets
/// the event counted as lost (`Lagged`), and the turn is released so the next publish proceeds.
#[test]
fn dropped_mid_fan_out_it_reports_the_loss_and_releases_the_turn() {
    let bus = HistoryBus::<Ping>::builder(16).build().unwrap();
    let mut audit = block(&bus, 1);
    bus.publish(Ping(1)).unwrap();
    let mut stuck = Box::pin(bus.publish_async(Ping(2)));
    assert!(poll_once(stuck.as_mut()).is_pending());
    drop(stuck);
    // The loss is reported first (it is known before the queued event is taken).
    assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(audit.try_recv().unwrap().into_parts(), (1, Ping(1)));
    // The turn is free: a bounded publish gets it at once.
    let delivery = bus
        .publish_timeout(Ping(3), Duration::from_secs(10))
        .unwrap();
    assert_eq!(delivery.delivered(), 1);
    assert_eq!(audit.try_recv().unwrap().into_parts(), (3, Ping(3)));
}

/// A thread's `publish_timeout` waiting for the turn an awaiting task holds gives up in time;
/// when the task's publish completes, the thread's next publish goes through.
#[test]
fn a_bounded_thread_publish_is_not_held_by_an_awaiting_task() {
    let bus = HistoryBus::<Ping>::builder(16).build().unwrap();
    let mut audit = block(&bus, 1);
    bus.publish(Ping(1)).unwrap();
    let mut holding = pin!(bus.publish_async(Ping(2)));
    assert!(poll_once(holding.as_mut()).is_pending());
    let publisher = bus.publisher();
    let timed =
        thread::spawn(move || publisher.publish_timeout(Ping(3), Duration::from_millis(50)));
    assert_eq!(
        timed.join().unwrap().unwrap_err(),
        PublishError::Timeout(Ping(3))
    );
    assert_eq!(audit.try_recv().unwrap().seq(), 1);
    assert!(poll_once(holding.as_mut()).is_ready());
    assert_eq!(audit.try_recv().unwrap().into_parts(), (2, Ping(2)));
}

/// A task waiting for its turn is woken by the release and then meets the closed bus: its
/// event is handed back, unnumbered.
#[test]
fn closed_while_it_awaits_its_turn_it_hands_the_event_back() {
    let bus = HistoryBus::<Ping>::builder(16).build().unwrap();
    let mut audit = block(&bus, 1);
    bus.publish(Ping(1)).unwrap();
    let rt = current_thread();
    rt.block_on(async {
        let holder = bus.publisher();
        let waiter = bus.publisher();
        let first = tokio::spawn(async move { holder.publish_async(Ping(2)).await });
        tokio::task::yield_now().await;
        let second = tokio::spawn(async move { waiter.publish_async(Ping(3)).await });
        tokio::task::yield_now().await;
        bus.close();
        // The holder's publish was accepted before the close: it resolves Ok (its event is
        // counted as lost to the full queue); the waiter's turn comes after the close.
        assert!(first.await.unwrap().is_ok());
        assert_eq!(second.await.unwrap(), Err(PublishError::Closed(Ping(3))));
    });
    assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(audit.try_recv().unwrap().seq(), 1);
    assert_eq!(audit.try_recv(), Err(TryRecvError::Disconnected));
}

/// Nobody interested and the history does not keep the topic: resolves at once, no number.
#[test]
fn an_unwanted_topic_costs_no_turn() {
    let bus = HistoryBus::<Ping>::builder(16)
        .history_topics(fanout::Topics::NONE)
        .build()
        .unwrap();
    let rt = current_thread();
    let delivery = rt.block_on(bus.publish_async(Ping(1))).unwrap();
    assert!(delivery.is_empty());
    assert_eq!(bus.last_seq(), 0);
}
