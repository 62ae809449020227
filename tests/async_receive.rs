//! `recv_async`, `poll_recv`, `recv_into_async` and the `Stream`: the same items as `recv`, on
//! every kind of executor (tokio current-thread and multi-thread, futures' `block_on`,
//! async-executor), cancel-safe, and woken by publishes, close and cut-off.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{bounded, Tick};
use fanout::error::RecvError;
use fanout::{Bus, Overflow, Publisher, Subscriber, Topics};

const N: u32 = 2_000;

/// Publishes `Tick(0..n)` from a thread, with a short pause now and then so that the consumer
/// really waits (and registers its waker) between bursts.
fn publish_from_thread(publisher: Publisher<Tick>, n: u32) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for i in 0..n {
            publisher.publish(Tick(i)).unwrap();
            if i % 64 == 0 {
                thread::sleep(Duration::from_micros(200));
            }
        }
    })
}

/// Receives until `Disconnected`, asserting order and that nothing was lost.
async fn receive_all(mut sub: Subscriber<Tick>, n: u32) {
    for i in 0..n {
        assert_eq!(sub.recv_async().await, Ok(Tick(i)));
    }
    assert_eq!(sub.recv_async().await, Err(RecvError::Disconnected));
}

/// A lossless subscriber, a publishing thread, and the bus's own handle dropped (so the bus
/// closes when the thread is done).
fn setup() -> (Subscriber<Tick>, thread::JoinHandle<()>) {
    let bus = Bus::new();
    let sub = bounded(&bus, 16, Overflow::Block);
    let publisher = publish_from_thread(bus.publisher(), N);
    (sub, publisher)
}

#[test]
fn tokio_current_thread() {
    let (sub, publisher) = setup();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(receive_all(sub, N));
    publisher.join().unwrap();
}

#[test]
fn tokio_multi_thread() {
    let (sub, publisher) = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { tokio::spawn(receive_all(sub, N)).await.unwrap() });
    publisher.join().unwrap();
}

#[test]
fn futures_block_on() {
    let (sub, publisher) = setup();
    futures_executor::block_on(receive_all(sub, N));
    publisher.join().unwrap();
}

#[test]
fn async_executor() {
    let (sub, publisher) = setup();
    let ex = async_executor::Executor::new();
    futures_lite::future::block_on(ex.run(ex.spawn(receive_all(sub, N))));
    publisher.join().unwrap();
}

/// The same overflowing scenario received with `recv` and with `recv_async` gives the same
/// items: `Lagged` in-stream at the same place, then the end.
#[test]
fn same_items_as_recv() {
    for overflow in [
        Overflow::DropOldest,
        Overflow::DropNewest,
        Overflow::Disconnect,
    ] {
        let run = |use_async: bool| {
            let bus = Bus::new();
            let mut sub = bounded(&bus, 3, overflow);
            for i in 0..10 {
                let _ = bus.publish(Tick(i));
            }
            bus.close();
            let mut items = Vec::new();
            loop {
                let item = if use_async {
                    futures_executor::block_on(sub.recv_async())
                } else {
                    sub.recv()
                };
                let end = matches!(item, Err(RecvError::Disconnected | RecvError::Overflowed));
                items.push(item);
                if end {
                    return items;
                }
            }
        };
        let sync_items = run(false);
        assert!(sync_items
            .iter()
            .any(|i| matches!(i, Err(RecvError::Lagged(_)))));
        assert_eq!(run(true), sync_items, "{overflow:?}");
    }
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Cancel safety, deterministically: a `recv_async` polled to `Pending` and dropped loses
/// nothing; the publish after it wakes the dropped future's waker (spuriously, harmlessly) and
/// the event is received by the next call.
#[test]
fn dropped_pending_recv_loses_nothing() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 4, Overflow::DropOldest);
    let waker = Arc::new(CountingWaker::default());
    let w = Waker::from(Arc::clone(&waker));
    {
        let mut fut = pin!(sub.recv_async());
        assert!(fut.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
    }
    bus.publish(Tick(1)).unwrap();
    assert_eq!(waker.count(), 1, "the publish woke the registered task");
    bus.publish(Tick(2)).unwrap();
    assert_eq!(waker.count(), 1, "one wake-up per registration");
    assert_eq!(sub.try_recv(), Ok(Tick(1)));
    assert_eq!(futures_executor::block_on(sub.recv_async()), Ok(Tick(2)));
}

/// Cancel safety under a real race: a consumer that races every `recv_async` against a short
/// timer (`select!`, so the receive future is dropped whenever the timer wins) still receives
/// every event, in order, exactly once.
#[test]
fn select_with_timer_loses_nothing() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 8, Overflow::Block);
    // Pauses (of a few timer ticks) now and then, so that the timer wins some of the races.
    let publisher = bus.publisher();
    let publisher = thread::spawn(move || {
        for i in 0..N {
            publisher.publish(Tick(i)).unwrap();
            if i % 200 == 0 {
                thread::sleep(Duration::from_millis(3));
            }
        }
    });
    drop(bus);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (received, timeouts) = rt.block_on(async move {
        let (mut received, mut timeouts) = (Vec::new(), 0u32);
        loop {
            tokio::select! {
                item = sub.recv_async() => match item {
                    Ok(tick) => received.push(tick.0),
                    Err(RecvError::Disconnected) => break,
                    Err(err) => panic!("unexpected {err:?}"),
                },
                _ = tokio::time::sleep(Duration::from_micros(50)) => timeouts += 1,
            }
        }
        (received, timeouts)
    });
    publisher.join().unwrap();
    assert_eq!(received, (0..N).collect::<Vec<_>>());
    // The race must actually have happened for the test to mean anything.
    assert!(timeouts > 0, "the timer never won");
}

/// The hand-over: a subscriber that received on a thread while publishes were running switches
/// to async receiving mid-stream (its first `Pending` turns on wake-ups); publishes that loaded
/// the table from before the switch must not strand it. Repeated, with a timeout as the judge.
#[test]
fn thread_to_task_mid_stream() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..50 {
        let bus = Bus::new();
        let mut sub = bounded(&bus, 1024, Overflow::Block);
        let publisher = publish_from_thread(bus.publisher(), 300);
        drop(bus);
        let first = sub.recv().unwrap(); // on this thread
        assert_eq!(first, Tick(0));
        let rest = rt.block_on(async move {
            let task = tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(tick) = sub.recv_async().await {
                    got.push(tick.0);
                }
                got
            });
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("a lost wake-up: the task never saw the rest")
                .unwrap()
        });
        publisher.join().unwrap();
        assert_eq!(rest, (1..300).collect::<Vec<_>>());
    }
}

/// Close wakes a task waiting on an empty queue: it gets `Disconnected`.
#[test]
fn close_wakes_pending_recv() {
    let bus = Bus::<Tick>::new();
    let mut sub = bus.subscribe(Topics::ALL);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let item = rt.block_on(async move {
        let closer = tokio::task::spawn_blocking(move || {
            thread::sleep(Duration::from_millis(20));
            bus.close();
        });
        let item = tokio::time::timeout(Duration::from_secs(10), sub.recv_async()).await;
        closer.await.unwrap();
        item
    });
    assert_eq!(item, Ok(Err(RecvError::Disconnected)));
}

/// A task that registered on an empty queue is woken by the first publish; the subscriber is
/// then cut off by `Overflow::Disconnect` and its stream ends with `Overflowed`.
#[test]
fn cut_off_subscriber_ends_with_overflowed() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 2, Overflow::Disconnect);
    let publisher = bus.publisher();
    let items = futures_executor::block_on(async {
        let first_wait = sub.recv_async(); // registers before anything is published
        let mut first_wait = pin!(first_wait);
        let waker = Arc::new(CountingWaker::default());
        let w = Waker::from(Arc::clone(&waker));
        assert!(first_wait
            .as_mut()
            .poll(&mut Context::from_waker(&w))
            .is_pending());
        for i in 0..3 {
            let _ = publisher.publish(Tick(i));
        }
        assert!(waker.count() >= 1);
        let mut items = vec![first_wait.await];
        loop {
            let item = sub.recv_async().await;
            let end = item == Err(RecvError::Overflowed);
            items.push(item);
            if end {
                return items;
            }
        }
    });
    assert_eq!(
        items,
        // As with `recv`: the loss (Tick(2), newer than the queue) is reported at the first
        // dequeue after it, ahead of the events queued before it.
        [
            Err(RecvError::Lagged(1)),
            Ok(Tick(0)),
            Ok(Tick(1)),
            Err(RecvError::Overflowed)
        ]
    );
}

/// `recv_into_async`: one wake-up, a batch; a batch never spans a loss.
#[test]
fn recv_into_async_batches() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 4, Overflow::DropOldest);
    let mut buf = Vec::new();
    futures_executor::block_on(async {
        for i in 0..3 {
            bus.publish(Tick(i)).unwrap();
        }
        assert_eq!(sub.recv_into_async(&mut buf, 10).await, Ok(3));
        for i in 3..9 {
            bus.publish(Tick(i)).unwrap(); // 3, 4 evicted
        }
        assert_eq!(
            sub.recv_into_async(&mut buf, 10).await,
            Err(RecvError::Lagged(2))
        );
        assert_eq!(sub.recv_into_async(&mut buf, 2).await, Ok(2));
        assert_eq!(sub.recv_into_async(&mut buf, 0).await, Ok(0));
    });
    let got: Vec<u32> = buf.iter().map(|t| t.0).collect();
    assert_eq!(got, [0, 1, 2, 5, 6]);
}

/// One subscriber type for threads and tasks: handed from a thread to a task and back.
#[test]
fn handed_between_thread_and_task() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 8, Overflow::Block);
    bus.publish(Tick(0)).unwrap();
    let sub2 = thread::spawn(move || {
        assert_eq!(sub.recv(), Ok(Tick(0)));
        sub
    })
    .join()
    .unwrap();
    let publisher = bus.publisher();
    let mut sub3 = futures_executor::block_on(async move {
        let mut sub = sub2;
        let p = thread::spawn(move || publisher.publish(Tick(1)).unwrap());
        assert_eq!(sub.recv_async().await, Ok(Tick(1)));
        p.join().unwrap();
        sub
    });
    bus.publish(Tick(2)).unwrap();
    assert_eq!(sub3.recv(), Ok(Tick(2)));
}

#[cfg(feature = "stream")]
mod stream {
    use super::*;
    use futures_lite::StreamExt;

    /// The `Stream` yields what `iter` yields: events and `Lagged` items, `Overflowed` last if
    /// cut off, and ends at `Disconnected`; it is fused.
    #[test]
    fn stream_items_match_iter() {
        for overflow in [Overflow::DropOldest, Overflow::Disconnect] {
            let make = || {
                let bus = Bus::new();
                let sub = bounded(&bus, 3, overflow);
                for i in 0..8 {
                    let _ = bus.publish(Tick(i));
                }
                sub
            };
            let mut blocking = make();
            let expected: Vec<_> = blocking.iter().collect();
            let mut sub = make();
            let items: Vec<_> = futures_executor::block_on((&mut sub).collect());
            assert_eq!(items, expected, "{overflow:?}");
            assert!(futures_core::stream::FusedStream::is_terminated(&sub));
            assert_eq!(futures_executor::block_on(sub.next()), None);
        }
    }

    /// A stream fed from a thread, consumed on tokio.
    #[test]
    fn stream_on_tokio() {
        let (sub, publisher) = setup();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got: Vec<u32> = rt.block_on(sub.map(|item| item.unwrap().0).collect());
        publisher.join().unwrap();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
    }
}
