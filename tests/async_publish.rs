//! `publish_async`: awaits room in full `Block` queues without blocking the executor, FIFO per
//! publisher; dropped mid-wait, the unserved subscribers get the event counted as lost; close and
//! a departing subscriber resolve a pending publish.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{bounded, Tick};
use fanout::error::{RecvError, TryRecvError};
use fanout::{Bus, Overflow};

/// Polls `fut` once with a waker that only records that it was woken.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(Flag::default()));
    fut.poll(&mut Context::from_waker(&waker))
}

/// Events published by one task with `publish_async` into a capacity-1 `Block` queue drained by
/// a slow thread arrive complete and in order, and the (current-thread) executor keeps running
/// other tasks while the publisher waits for room.
#[test]
fn awaits_room_without_blocking_the_executor() {
    const N: u32 = 500;
    let bus = Bus::<Tick>::new();
    let mut sub = bounded(&bus, 1, Overflow::Block);
    let consumer = thread::spawn(move || {
        let mut got = Vec::new();
        while let Ok(tick) = sub.recv() {
            got.push(tick.0);
            if got.len() % 50 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
        got
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ticks = rt.block_on(async {
        let alive = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&alive);
        // A task that only runs if the publisher yields the thread while it waits.
        let heartbeat = tokio::spawn(async move {
            let mut ticks = 0u32;
            while flag.load(Ordering::Relaxed) {
                ticks += 1;
                tokio::task::yield_now().await;
            }
            ticks
        });
        for i in 0..N {
            let delivery = bus.publish_async(Tick(i)).await.unwrap();
            assert_eq!(delivery.delivered(), 1);
        }
        alive.store(false, Ordering::Relaxed);
        let ticks = heartbeat.await.unwrap();
        drop(bus);
        ticks
    });
    assert!(ticks > 0, "the executor was blocked while publishing");
    assert_eq!(consumer.join().unwrap(), (0..N).collect::<Vec<_>>());
}

/// Dropped while waiting for room in B: A (served first) keeps the event, B (waited for) and C
/// (not reached) get it counted as lost and report `Lagged(1)`; nothing is lost silently.
#[test]
fn dropped_mid_wait_counts_the_unserved() {
    let bus = Bus::new();
    let mut a = bounded(&bus, 4, Overflow::Block);
    let mut b = bounded(&bus, 1, Overflow::Block);
    let mut c = bounded(&bus, 4, Overflow::DropOldest);
    bus.publish(Tick(0)).unwrap(); // fills B
    {
        let mut fut = pin!(bus.publish_async(Tick(1)));
        assert!(poll_once(fut.as_mut()).is_pending());
        assert!(poll_once(fut.as_mut()).is_pending());
    }
    assert_eq!(a.try_recv(), Ok(Tick(0)));
    assert_eq!(a.try_recv(), Ok(Tick(1)));
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(b.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(b.try_recv(), Ok(Tick(0)));
    assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(c.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(c.try_recv(), Ok(Tick(0)));
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    let stats = bus.stats();
    assert_eq!(stats.published, 2);
    for sub in [&a, &b, &c] {
        assert_eq!(sub.received() + sub.lost(), 2, "{}", sub.name());
    }
}

/// The consumer's receive wakes the waiting publisher's task.
#[test]
fn receive_wakes_waiting_publisher() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 1, Overflow::Block);
    bus.publish(Tick(0)).unwrap();
    let waker = Arc::new(Flag::default());
    let w = Waker::from(Arc::clone(&waker));
    let mut fut = pin!(bus.publish_async(Tick(1)));
    assert!(fut.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
    assert!(!waker.0.load(Ordering::SeqCst));
    assert_eq!(sub.try_recv(), Ok(Tick(0)));
    assert!(
        waker.0.load(Ordering::SeqCst),
        "the dequeue did not wake the publisher"
    );
    match fut.as_mut().poll(&mut Context::from_waker(&w)) {
        Poll::Ready(Ok(delivery)) => assert_eq!(delivery.delivered(), 1),
        other => panic!("not delivered: {other:?}"),
    }
    assert_eq!(sub.try_recv(), Ok(Tick(1)));
}

#[derive(Default)]
struct Flag(AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Close while a publish waits for room: the future is woken and resolves `Ok` with the event
/// counted as lost to the full subscriber, which drains, reports `Lagged(1)`, then ends.
#[test]
fn close_resolves_pending_publish() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 1, Overflow::Block);
    let publisher = bus.publisher();
    bus.publish(Tick(0)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let delivery = rt.block_on(async move {
        let pending = tokio::spawn(async move {
            let delivery = publisher.publish_async(Tick(1)).await;
            drop(publisher);
            delivery
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        bus.close();
        tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .expect("close did not resolve the pending publish")
            .unwrap()
    });
    let delivery = delivery.unwrap();
    assert_eq!((delivery.delivered(), delivery.dropped()), (0, 1));
    assert_eq!(sub.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(sub.recv(), Ok(Tick(0)));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
}

/// A subscriber dropped while a publish waits for room in its queue: the publish resolves, and
/// nothing is owed to the departed subscriber.
#[test]
fn dropped_subscriber_resolves_pending_publish() {
    let bus = Bus::new();
    let sub = bounded(&bus, 1, Overflow::Block);
    bus.publish(Tick(0)).unwrap();
    let publisher = bus.publisher();
    let delivery = futures_executor::block_on(async move {
        let dropper = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            drop(sub);
        });
        let delivery = publisher.publish_async(Tick(1)).await.unwrap();
        dropper.join().unwrap();
        delivery
    });
    assert_eq!((delivery.delivered(), delivery.dropped()), (0, 0));
}

/// On a closed bus the event is handed back; a topic nobody wants resolves at once.
#[test]
fn closed_and_idle() {
    let bus = Bus::new();
    let _sub = bus.subscribe(fanout::Topics::NONE);
    let delivery = futures_executor::block_on(bus.publish_async(Tick(0))).unwrap();
    assert!(delivery.is_empty());
    bus.close();
    match futures_executor::block_on(bus.publish_async(Tick(5))) {
        Err(fanout::error::PublishError::Closed(Tick(5))) => {}
        other => panic!("{other:?}"),
    }
}

/// An async publisher and an async subscriber on one async-executor: the publisher waits for
/// room, the subscriber for events; each wakes the other. Every other policy behaves as in
/// `publish`.
#[test]
fn async_to_async_on_async_executor() {
    const N: u32 = 2_000;
    let bus = Bus::<Tick>::new();
    let mut block = bounded(&bus, 2, Overflow::Block);
    let mut newest = bounded(&bus, 2, Overflow::DropNewest);
    let ex = async_executor::Executor::new();
    let consumer = ex.spawn(async move {
        let mut got = Vec::new();
        while let Ok(tick) = block.recv_async().await {
            got.push(tick.0);
        }
        got
    });
    let publisher = ex.spawn(async move {
        let mut dropped = 0;
        for i in 0..N {
            dropped += bus.publish_async(Tick(i)).await.unwrap().dropped();
        }
        dropped
    });
    let (got, dropped) = futures_lite::future::block_on(ex.run(async {
        let dropped = publisher.await;
        (consumer.await, dropped)
    }));
    assert_eq!(got, (0..N).collect::<Vec<_>>());
    let mut received = 0;
    let mut lagged = 0;
    while let Some(item) = newest.iter().next() {
        match item {
            Ok(_) => received += 1,
            Err(RecvError::Lagged(n)) => lagged += n,
            Err(err) => panic!("{err:?}"),
        }
    }
    assert_eq!(lagged, dropped as u64);
    assert_eq!(received + lagged, u64::from(N));
}

/// An event whose `Drop` panics once, when the shared switch is on (then turns it off).
#[derive(Clone, Debug)]
struct DropBomb {
    seq: u32,
    armed: Arc<AtomicBool>,
}

impl fanout::Event for DropBomb {
    fn topic(&self) -> fanout::Topic {
        fanout::topic!(0)
    }
}

impl Drop for DropBomb {
    fn drop(&mut self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            panic!("DropBomb {} exploded", self.seq);
        }
    }
}

/// Dropped while waiting for room in B, with the event's `Drop` panicking: every subscriber not
/// served yet (B, which was waited for, and C after it) still gets the event counted as lost
/// and reports `Lagged(1)`; the panic reaches the code that dropped the future.
#[test]
fn dropped_mid_wait_counts_the_unserved_even_when_drop_panics() {
    let armed = Arc::new(AtomicBool::new(false));
    let bomb = |seq| DropBomb {
        seq,
        armed: Arc::clone(&armed),
    };
    let bus = Bus::new();
    let mut b = bounded(&bus, 1, Overflow::Block);
    let mut c = bounded(&bus, 4, Overflow::DropOldest);
    bus.publish(bomb(0)).unwrap(); // fills B
    let mut fut = Box::pin(bus.publish_async(bomb(1)));
    assert!(poll_once(fut.as_mut()).is_pending());
    armed.store(true, Ordering::SeqCst);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(fut)));
    assert!(
        dropped.is_err(),
        "the event's Drop did not run (or did not panic)"
    );
    let seqs = |sub: &mut fanout::Subscriber<DropBomb>| {
        std::iter::from_fn(|| match sub.try_recv() {
            Ok(e) => Some(Ok(e.seq)),
            Err(TryRecvError::Empty) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Vec<_>>()
    };
    assert_eq!(seqs(&mut b), [Err(TryRecvError::Lagged(1)), Ok(0)]);
    assert_eq!(seqs(&mut c), [Err(TryRecvError::Lagged(1)), Ok(0)]);
}
