//! `fanout::broadcast`: tokio's broadcast API and observable behaviour, each written from the
//! behaviour (tokio's own test files are run outside the repository: see the module docs), plus
//! the point of the facade (a slow receiver lags alone) and its opt-ins.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use fanout::broadcast::error::{RecvError, SendError, TryRecvError};
use fanout::broadcast::{self, Receiver, Sender, WeakSender};
use fanout::{topic, Bus, Event, Overflow, Topic, MAX_CAPACITY};

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountingWaker>, Waker) {
    let waker = Arc::new(CountingWaker::default());
    let w = Waker::from(Arc::clone(&waker));
    (waker, w)
}

fn drain<T: Clone>(rx: &mut Receiver<T>) -> Vec<Result<T, TryRecvError>> {
    let mut items = Vec::new();
    loop {
        match rx.try_recv() {
            Err(TryRecvError::Empty) => return items,
            Err(TryRecvError::Closed) => {
                items.push(Err(TryRecvError::Closed));
                return items;
            }
            item => items.push(item),
        }
    }
}

fn panic_message(result: thread::Result<()>) -> String {
    let payload = result.unwrap_err();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn capacity_zero_and_over_the_limit_panic_with_a_message() {
    let zero = std::panic::catch_unwind(|| drop(broadcast::channel::<u8>(0)));
    assert_eq!(
        panic_message(zero),
        "broadcast channel capacity cannot be zero"
    );
    let zero = std::panic::catch_unwind(|| drop(Sender::<u8>::new(0)));
    assert!(panic_message(zero).contains("cannot be zero"));
    let big = std::panic::catch_unwind(|| drop(broadcast::channel::<u8>(MAX_CAPACITY + 1)));
    assert!(panic_message(big).contains("exceeded `fanout::MAX_CAPACITY`"));
}

#[test]
fn capacity_is_rounded_up_to_a_power_of_two() {
    for (asked, slots) in [(1, 1), (2, 2), (3, 4), (5, 8), (100, 128)] {
        let (tx, mut rx) = broadcast::channel(asked);
        for i in 0..slots {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.subscriber().capacity(), slots);
        assert_eq!(rx.len(), slots, "capacity {asked}: {slots} values fit");
        tx.send(slots).unwrap();
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Lagged(1)),
            "capacity {asked}"
        );
        assert_eq!(rx.try_recv(), Ok(1));
    }
}

#[test]
fn send_hands_the_value_back_without_receivers_and_counts_them_otherwise() {
    let tx = Sender::new(4);
    let SendError(back) = tx.send(String::from("nobody")).unwrap_err();
    assert_eq!(back, "nobody");
    let mut a = tx.subscribe();
    assert_eq!(tx.send(String::from("one")).unwrap(), 1);
    let b = tx.subscribe();
    assert_eq!(tx.send(String::from("two")).unwrap(), 2);
    assert_eq!(tx.receiver_count(), 2);
    drop(b);
    assert_eq!(tx.receiver_count(), 1);
    assert_eq!(a.try_recv().unwrap(), "one");
    drop(a);
    assert_eq!(tx.send(String::from("gone")).unwrap_err().0, "gone");
}

#[test]
fn a_lagging_receiver_gets_the_exact_count_then_the_oldest_value_it_still_has() {
    let (tx, mut rx) = broadcast::channel(4);
    for i in 0..11 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(7)));
    assert_eq!(drain(&mut rx), [Ok(7), Ok(8), Ok(9), Ok(10)]);
}

#[test]
fn a_slow_receiver_lags_alone() {
    let (tx, mut slow) = broadcast::channel(2);
    let mut fast = tx.subscribe();
    let mut got = Vec::new();
    for i in 0..100 {
        tx.send(i).unwrap();
        got.push(fast.try_recv().unwrap());
    }
    assert_eq!(
        got,
        (0..100).collect::<Vec<_>>(),
        "the fast receiver lost nothing"
    );
    assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(98)));
    assert_eq!(drain(&mut slow), [Ok(98), Ok(99)]);
}

#[test]
fn values_overwritten_after_a_lag_report_are_counted_as_a_ring_would() {
    // After `Lagged`, the receiver's next value is the oldest it has: when more values come in
    // before it is read, it is the first to be overwritten.
    let (tx, mut rx) = broadcast::channel(2);
    for i in 1..=3 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
    tx.send(4).unwrap(); // the ring is full again: 2 is overwritten
    assert_eq!(rx.len(), 3, "2 (lost, not yet told), 3 and 4");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(rx.len(), 2);
    for i in 5..=7 {
        tx.send(i).unwrap(); // 3, 4 and 5 are overwritten
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(3)));
    assert_eq!(drain(&mut rx), [Ok(6), Ok(7)]);
    // received + lagged adds up, and the core counted every loss.
    assert_eq!(rx.subscriber().lost(), 5);
}

#[test]
fn closed_comes_once_every_sender_is_gone_and_the_receiver_drained() {
    let (tx, mut rx) = broadcast::channel(8);
    let tx2 = tx.clone();
    let weak = tx.downgrade();
    tx.send(1).unwrap();
    drop(tx);
    assert!(!rx.is_closed());
    tx2.send(2).unwrap();
    drop(tx2);
    assert!(rx.is_closed(), "a weak sender does not keep it open");
    assert_eq!(rx.len(), 2);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.blocking_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(rx.blocking_recv(), Err(RecvError::Closed));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "Closed is final");
    assert!(weak.upgrade().is_none());
}

#[test]
fn a_lag_is_reported_before_closed() {
    let (tx, mut rx) = broadcast::channel(1);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn resubscribe_starts_at_the_tail_and_leaves_the_original_alone() {
    let (tx, mut rx) = broadcast::channel(4);
    tx.send(1).unwrap();
    let mut again = rx.resubscribe();
    assert!(again.same_channel(&rx));
    assert_eq!(again.try_recv(), Err(TryRecvError::Empty));
    tx.send(2).unwrap();
    assert_eq!(drain(&mut again), [Ok(2)]);
    assert_eq!(drain(&mut rx), [Ok(1), Ok(2)]);
    assert_eq!(tx.receiver_count(), 2);
}

#[test]
fn resubscribe_to_a_closed_channel_is_closed() {
    let (tx, rx) = broadcast::channel::<u8>(4);
    drop(tx);
    let mut again = rx.resubscribe();
    assert!(again.is_closed());
    assert_eq!(again.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn resubscribe_keeps_the_opt_in_settings() {
    let (tx, _rx) = broadcast::channel::<u32>(2);
    let audit: Receiver<u32> = tx
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .filter(|v| v % 10 == 0)
        .build()
        .unwrap()
        .into();
    let mut again = audit.resubscribe();
    drop(audit);
    let sender = tx.clone();
    let producer = thread::spawn(move || {
        for i in 0..100 {
            sender.send(i).unwrap();
        }
    });
    let got: Vec<u32> = (0..10).map(|_| again.blocking_recv().unwrap()).collect();
    assert_eq!(
        got,
        (0..100).step_by(10).collect::<Vec<_>>(),
        "filtered, lossless"
    );
    producer.join().unwrap();
}

#[test]
fn sender_len_counts_what_the_slowest_receiver_has_not_read() {
    let (tx, mut a) = broadcast::channel(4);
    let mut b = tx.subscribe();
    assert!(tx.is_empty());
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!(tx.len(), 3);
    a.try_recv().unwrap();
    a.try_recv().unwrap();
    assert_eq!(tx.len(), 3, "b has read nothing");
    b.try_recv().unwrap();
    assert_eq!(tx.len(), 2);
    for i in 3..10 {
        tx.send(i).unwrap();
    }
    assert_eq!(tx.len(), 4, "at most the capacity");
    assert_eq!(b.len(), 9, "b read 1 of 10: 5 overwritten, 4 held");
    drain(&mut a);
    drain(&mut b);
    assert!(tx.is_empty());
    assert!(a.is_empty() && b.is_empty());
}

#[test]
fn same_channel_tells_channels_apart() {
    let (tx1, rx1) = broadcast::channel::<u8>(2);
    let (tx2, rx2) = broadcast::channel::<u8>(2);
    assert!(tx1.same_channel(&tx1.clone()));
    assert!(!tx1.same_channel(&tx2));
    assert!(rx1.same_channel(&tx1.subscribe()));
    assert!(rx1.same_channel(&rx1));
    assert!(!rx1.same_channel(&rx2));
}

#[test]
fn closed_completes_when_the_last_receiver_goes() {
    let (woken, w) = counting();
    let mut cx = Context::from_waker(&w);
    let new = Sender::<u8>::new(4);
    assert_eq!(
        pin!(new.closed()).poll(&mut cx),
        Poll::Ready(()),
        "no receiver yet"
    );

    let (tx, rx) = broadcast::channel::<u8>(4);
    let rx2 = tx.subscribe();
    let mut closed = pin!(tx.closed());
    assert_eq!(closed.as_mut().poll(&mut cx), Poll::Pending);
    drop(rx);
    assert_eq!(woken.0.load(Ordering::SeqCst), 0);
    assert_eq!(closed.as_mut().poll(&mut cx), Poll::Pending);
    drop(rx2);
    assert_eq!(woken.0.load(Ordering::SeqCst), 1);
    assert_eq!(closed.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn weak_senders_upgrade_while_a_sender_lives_and_count_right() {
    let (tx, rx) = broadcast::channel::<u8>(4);
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 0));
    let weak: WeakSender<u8> = tx.downgrade();
    let weak2 = weak.clone();
    let tx2 = tx.clone();
    assert_eq!((tx.strong_count(), tx.weak_count()), (2, 2));
    assert_eq!((weak.strong_count(), weak.weak_count()), (2, 2));
    assert_eq!((rx.sender_strong_count(), rx.sender_weak_count()), (2, 2));
    drop(weak2);
    assert_eq!(rx.sender_weak_count(), 1);
    let up = weak.upgrade().unwrap();
    assert!(up.same_channel(&tx));
    assert_eq!(rx.sender_strong_count(), 3);
    drop((tx, tx2));
    assert!(!rx.is_closed(), "the upgraded sender keeps it open");
    assert_eq!(up.send(5).unwrap(), 1);
    drop(up);
    assert!(rx.is_closed());
    assert_eq!(rx.sender_strong_count(), 0);
    assert!(weak.upgrade().is_none());
}

#[test]
fn errors_display_debug_and_error_as_tokio_does() {
    assert_eq!(SendError(3).to_string(), "channel closed");
    assert_eq!(format!("{:?}", SendError(3)), "SendError(3)");
    assert_eq!(RecvError::Closed.to_string(), "channel closed");
    assert_eq!(RecvError::Lagged(7).to_string(), "channel lagged by 7");
    assert_eq!(format!("{:?}", RecvError::Lagged(7)), "Lagged(7)");
    assert_eq!(TryRecvError::Empty.to_string(), "channel empty");
    assert_eq!(TryRecvError::Closed.to_string(), "channel closed");
    assert_eq!(TryRecvError::Lagged(2).to_string(), "channel lagged by 2");
    assert_eq!(format!("{:?}", TryRecvError::Empty), "Empty");
    fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    is_error(&SendError(3));
    is_error(&RecvError::Closed);
    is_error(&TryRecvError::Empty);
    assert_eq!(RecvError::Lagged(1).clone(), RecvError::Lagged(1));
    let (tx, rx) = broadcast::channel::<u8>(1);
    assert_eq!(
        format!("{tx:?} {:?} {rx:?}", tx.downgrade()),
        "broadcast::Sender broadcast::WeakSender broadcast::Receiver"
    );
}

#[test]
fn bounds_are_tokios() {
    // Sync for a `T` that is only `Send`, as tokio's.
    struct OnlySend(std::cell::Cell<u8>);
    impl Clone for OnlySend {
        fn clone(&self) -> Self {
            OnlySend(self.0.clone())
        }
    }
    fn send_sync<T: Send + Sync>() {}
    fn unpin<T: Unpin>() {}
    send_sync::<Sender<OnlySend>>();
    send_sync::<WeakSender<OnlySend>>();
    send_sync::<Receiver<OnlySend>>();
    send_sync::<broadcast::Recv<'static, OnlySend>>();
    unpin::<Receiver<OnlySend>>();
    unpin::<Sender<OnlySend>>();
    let (tx, mut rx) = broadcast::channel(2);
    assert_eq!(tx.send(OnlySend(std::cell::Cell::new(4))).ok(), Some(1));
    assert_eq!(rx.try_recv().unwrap().0.get(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recv_await_across_tasks_then_closed() {
    let (tx, mut rx) = broadcast::channel(16);
    let mut rx2 = tx.subscribe();
    let producer = tokio::spawn(async move {
        for i in 0..1000u32 {
            while tx.len() >= 8 {
                tokio::task::yield_now().await; // stay within capacity: no lag
            }
            tx.send(i).unwrap();
        }
    });
    let second = tokio::spawn(async move {
        let mut n = 0u32;
        loop {
            match rx2.recv().await {
                Ok(v) => {
                    assert_eq!(v, n);
                    n += 1;
                }
                Err(RecvError::Closed) => return n,
                Err(RecvError::Lagged(k)) => panic!("lagged {k}"),
            }
        }
    });
    let mut got = 0u32;
    while let Ok(v) = rx.recv().await {
        assert_eq!(v, got);
        got += 1;
    }
    producer.await.unwrap();
    assert_eq!(got, 1000);
    assert_eq!(second.await.unwrap(), 1000);
    assert_eq!(rx.recv().await, Err(RecvError::Closed));
}

#[tokio::test]
async fn recv_is_cancel_safe() {
    let (tx, mut rx) = broadcast::channel(8);
    let (_, w) = counting();
    let mut cx = Context::from_waker(&w);
    {
        let mut pending = pin!(rx.recv());
        assert_eq!(pending.as_mut().poll(&mut cx), Poll::Pending);
    } // dropped while waiting
    tx.send(1).unwrap();
    // A select! branch that loses takes nothing.
    tokio::select! {
        biased;
        _ = std::future::ready(()) => {}
        _ = rx.recv() => panic!("the ready branch wins"),
    }
    assert_eq!(rx.recv().await, Ok(1));
}

#[tokio::test(flavor = "current_thread")]
async fn recv_yields_to_the_other_tasks_of_its_executor() {
    let (tx, mut rx) = broadcast::channel(256);
    for i in 0..256 {
        tx.send(i).unwrap();
    }
    let other_ran = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&other_ran);
    let other = tokio::spawn(async move { flag.store(1, Ordering::SeqCst) });
    let mut seen_before_other = 0;
    for _ in 0..256 {
        rx.recv().await.unwrap();
        if other_ran.load(Ordering::SeqCst) == 0 {
            seen_before_other += 1;
        }
    }
    assert_eq!(
        seen_before_other, 128,
        "the receive yields after 128 ready values"
    );
    other.await.unwrap();
}

#[test]
fn blocking_recv_waits_for_a_sender_thread() {
    let (tx, mut rx) = broadcast::channel(4);
    let sender = thread::spawn(move || {
        for i in 0..3 {
            tx.send(i).unwrap();
        }
    });
    assert_eq!(rx.blocking_recv(), Ok(0));
    assert_eq!(rx.blocking_recv(), Ok(1));
    assert_eq!(rx.blocking_recv(), Ok(2));
    assert_eq!(rx.blocking_recv(), Err(RecvError::Closed));
    sender.join().unwrap();
}

#[test]
fn a_block_receiver_is_lossless_while_a_ring_receiver_lags() {
    let (tx, mut ring) = broadcast::channel(2);
    let mut audit: Receiver<u32> = tx
        .subscriber()
        .capacity(4)
        .overflow(Overflow::Block)
        .build()
        .unwrap()
        .into();
    let producer = thread::spawn(move || {
        for i in 0..1000 {
            assert_eq!(tx.send(i).unwrap(), 2);
        }
    });
    let got: Vec<u32> = std::iter::from_fn(|| audit.blocking_recv().ok()).collect();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    producer.join().unwrap();
    let (mut received, mut lagged) = (0, 0);
    loop {
        match ring.try_recv() {
            Ok(_) => received += 1,
            Err(TryRecvError::Lagged(n)) => lagged += n,
            Err(TryRecvError::Closed) => break,
            Err(TryRecvError::Empty) => unreachable!("every sender is gone"),
        }
    }
    assert_eq!(received + lagged, 1000);
}

#[test]
fn the_full_subscriber_api_is_one_call_away() {
    let (tx, rx) = broadcast::channel(2);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    assert_eq!(tx.bus().stats().published, 5);
    let mut sub = rx.into_subscriber();
    assert_eq!(sub.lost(), 3);
    assert_eq!(sub.try_recv(), Err(fanout::error::TryRecvError::Lagged(3)));
    let rx: Receiver<u32> = sub.into();
    drop(tx);
    let mut rx = rx;
    assert_eq!(drain(&mut rx), [Ok(3), Ok(4), Err(TryRecvError::Closed)]);
}

#[test]
fn a_bus_of_an_event_type_becomes_a_sender_with_topics() {
    #[derive(Clone, Debug, PartialEq)]
    enum Ev {
        Token(u8),
        Done,
    }
    impl Event for Ev {
        fn topic(&self) -> Topic {
            match self {
                Ev::Token(_) => topic!(0),
                Ev::Done => topic!(1),
            }
        }
    }
    let bus = Bus::new();
    let mut lifecycle = bus.subscribe(topic!(1));
    let tx = Sender::from(bus);
    assert_eq!(
        tx.send(Ev::Token(1)).unwrap_err().0,
        Ev::Token(1),
        "nobody wants tokens"
    );
    let mut all = tx.subscribe();
    assert_eq!(tx.send(Ev::Token(2)).unwrap(), 1);
    assert_eq!(tx.send(Ev::Done).unwrap(), 2);
    assert_eq!(lifecycle.try_recv(), Ok(Ev::Done));
    assert_eq!(drain(&mut all), [Ok(Ev::Token(2)), Ok(Ev::Done)]);
}

#[test]
fn a_panicking_clone_in_send_is_reported_as_lag() {
    #[derive(Debug, PartialEq)]
    struct Fragile(u8);
    impl Clone for Fragile {
        fn clone(&self) -> Self {
            assert_ne!(self.0, 0, "clone of 0");
            Fragile(self.0)
        }
    }
    let (tx, mut a) = broadcast::channel(4);
    // One receiver: the value is moved, never cloned.
    tx.send(Fragile(0)).unwrap();
    assert_eq!(a.try_recv(), Ok(Fragile(0)));
    let mut b = tx.subscribe();
    let sent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.send(Fragile(0))));
    assert!(sent.is_err(), "the sender clones, so the sender panics");
    tx.send(Fragile(1)).unwrap();
    for rx in [&mut a, &mut b] {
        assert_eq!(drain(rx), [Err(TryRecvError::Lagged(1)), Ok(Fragile(1))]);
    }
}

#[test]
fn a_ring_receiver_conserves_under_concurrent_senders() {
    // Received + lagged == sent, in each sender's order, however the receiver's reads and the
    // senders' overwrites interleave (the held-back value counted as overwritten included).
    for round in 0..20 {
        let (tx, mut rx) = broadcast::channel::<(u8, u32)>(4);
        let senders: Vec<_> = (0..2u8)
            .map(|who| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..2000 {
                        tx.send((who, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let (mut received, mut lagged) = (0u64, 0u64);
        let mut last = [None::<u32>; 2];
        loop {
            match rx.blocking_recv() {
                Ok((who, i)) => {
                    let prev = last[usize::from(who)].replace(i);
                    assert!(
                        prev.map_or(true, |p| p < i),
                        "round {round}: {who} out of order"
                    );
                    received += 1;
                    if received % 64 == 0 {
                        thread::yield_now(); // let the senders overwrite
                    }
                }
                Err(RecvError::Lagged(n)) => lagged += n,
                Err(RecvError::Closed) => break,
            }
        }
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(received + lagged, 4000, "round {round}");
        assert_eq!(rx.subscriber().lost(), lagged);
    }
}
