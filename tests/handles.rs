//! Handles beyond `Bus` and `Subscriber` themselves: `Subscriber::resubscribe` (same settings,
//! starts at the tail), the weak handle `WeakBus` (does not keep the bus open, upgrades only
//! while a strong handle lives), `Subscriber::is_closed`, and awaiting "no subscriber left".

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use fanout::error::{BuildError, RecvError, TryRecvError};
use fanout::{topic, Bus, Overflow, Topics, WaitStrategy};

mod common;
use common::{Ev, Tick};

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn resubscribe_keeps_every_setting_and_starts_at_the_tail() {
    let bus = Bus::new();
    let wait = WaitStrategy::SpinThenPark(Duration::from_micros(7));
    let mut first = bus
        .subscriber()
        .topics(topic!(1) | topic!(2))
        .capacity(3)
        .overflow(Overflow::DropNewest)
        .wait(wait)
        .name("ui")
        .filter(|e: &Ev| e.seq % 2 == 0)
        .build()
        .unwrap();
    bus.publish(Ev {
        topic: topic!(1),
        seq: 0,
    })
    .unwrap();
    let mut second = first.resubscribe();
    assert_eq!(second.topics(), topic!(1) | topic!(2));
    assert_eq!(second.capacity(), 3);
    assert_eq!(second.overflow(), Overflow::DropNewest);
    assert_eq!(second.wait_strategy(), wait);
    assert_eq!(second.name(), "ui");
    assert_ne!(second.id(), first.id());
    // Starts at the tail: nothing of what `first` has queued.
    assert_eq!(second.try_recv(), Err(TryRecvError::Empty));

    for seq in 1..=10 {
        bus.publish(Ev {
            topic: topic!(1),
            seq,
        })
        .unwrap(); // odd ones: filtered out
        bus.publish(Ev {
            topic: topic!(5),
            seq: 100 + seq,
        })
        .unwrap(); // topic not wanted
    }
    // The filter: only even seqs; capacity 3 with DropNewest: 2, 4, 6 kept, 8 and 10 refused.
    let got: Vec<_> = second.try_iter().collect();
    assert_eq!(
        got,
        [
            Err(RecvError::Lagged(2)),
            Ok(Ev {
                topic: topic!(1),
                seq: 2
            }),
            Ok(Ev {
                topic: topic!(1),
                seq: 4
            }),
            Ok(Ev {
                topic: topic!(1),
                seq: 6
            }),
        ]
    );
    // The original is untouched: its own queue, 0 then 2, 4 (full at 3: DropNewest).
    assert_eq!(first.try_recv(), Err(TryRecvError::Lagged(3)));
    assert_eq!(first.try_recv().unwrap().seq, 0);
}

#[test]
fn resubscribe_takes_the_topics_of_now() {
    let bus = Bus::new();
    let first = bus.subscribe(topic!(1));
    first.set_topics(topic!(3).into());
    let mut second = first.resubscribe();
    bus.publish(Ev {
        topic: topic!(1),
        seq: 1,
    })
    .unwrap();
    bus.publish(Ev {
        topic: topic!(3),
        seq: 3,
    })
    .unwrap();
    assert_eq!(second.try_recv().unwrap().seq, 3);
    assert_eq!(second.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn resubscribe_of_a_block_subscriber_is_lossless_too() {
    let bus = Bus::new();
    let first = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let mut second = first.resubscribe();
    drop(first);
    let publisher = bus.publisher();
    let producer = thread::spawn(move || {
        for i in 0..100 {
            publisher.publish(Tick(i)).unwrap();
        }
    });
    drop(bus);
    let got: Vec<u32> = second.iter().map(|r| r.unwrap().0).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    producer.join().unwrap();
}

#[test]
fn resubscribe_on_a_closed_bus_is_born_disconnected() {
    let bus = Bus::<Tick>::new();
    let sub = bus.subscriber().capacity(8).build().unwrap();
    bus.close();
    let mut again = sub.resubscribe();
    assert!(again.is_closed());
    assert_eq!(again.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(again.capacity(), 8);
}

#[test]
fn is_closed_turns_true_at_close_while_the_queue_still_drains() {
    let bus = Bus::new();
    let mut sub = bus.subscribe(Topics::ALL);
    let publisher = bus.publisher();
    publisher.publish(Tick(1)).unwrap();
    assert!(!sub.is_closed());
    drop(bus);
    assert!(!sub.is_closed(), "a publisher still holds the bus open");
    drop(publisher);
    assert!(sub.is_closed());
    assert_eq!(sub.recv(), Ok(Tick(1)));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    assert!(sub.is_closed());
}

#[test]
fn weak_handle_does_not_keep_the_bus_open() {
    let bus = Bus::new();
    let weak = bus.downgrade();
    let weak2 = weak.clone();
    assert_eq!((weak.strong_count(), weak.weak_count()), (1, 2));
    let mut sub = weak.subscribe(Topics::ALL);
    let mut built = weak.subscriber().capacity(2).build().unwrap();
    assert_eq!(weak.subscriber_count(), 2);
    bus.publish(Tick(1)).unwrap();
    assert_eq!(weak.stats().published, 1);
    drop(weak2);
    assert_eq!(weak.weak_count(), 1);
    drop(bus);
    assert!(weak.is_closed());
    assert_eq!(weak.strong_count(), 0);
    assert!(weak.upgrade().is_none());
    for s in [&mut sub, &mut built] {
        assert_eq!(s.recv(), Ok(Tick(1)));
        assert_eq!(s.recv(), Err(RecvError::Disconnected));
    }
    // Subscribing through a weak handle of a closed bus: born disconnected, or an error.
    assert_eq!(
        weak.subscribe(Topics::ALL).try_recv(),
        Err(TryRecvError::Disconnected)
    );
    assert_eq!(weak.subscriber().build().unwrap_err(), BuildError::Closed);
}

#[test]
fn upgrade_gives_a_handle_that_keeps_the_bus_open() {
    let bus = Bus::new();
    let weak = bus.downgrade();
    let publisher = bus.publisher();
    let mut sub = bus.subscribe(Topics::ALL);
    let strong = weak.upgrade().expect("a Bus is alive");
    assert!(weak.same_bus(&strong));
    assert_eq!(weak.strong_count(), 3);
    drop(bus);
    drop(publisher);
    assert!(!weak.is_closed(), "the upgraded handle keeps it open");
    strong.publish(Tick(7)).unwrap();
    drop(strong);
    assert!(weak.is_closed());
    assert_eq!(sub.recv(), Ok(Tick(7)));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
}

#[test]
fn a_publisher_alone_keeps_upgrades_possible() {
    let bus = Bus::<Tick>::new();
    let weak = bus.downgrade();
    let publisher = bus.publisher();
    drop(bus);
    let again = weak.upgrade().expect("the Publisher keeps the bus open");
    drop(publisher);
    assert!(!again.is_closed());
    drop(again);
    assert!(weak.upgrade().is_none());
}

#[test]
fn upgrade_of_an_explicitly_closed_bus_is_a_handle_of_the_closed_bus() {
    let bus = Bus::new();
    let weak = bus.downgrade();
    bus.close();
    let strong = weak.upgrade().expect("a handle is alive");
    assert!(strong.is_closed());
    assert!(strong.publish(Tick(1)).is_err());
}

#[test]
fn upgrade_racing_the_last_drop_never_reopens_the_bus() {
    // Many rounds of an upgrade on one thread against the last strong drop on another: an
    // upgrade either fails, or returns a handle of an open bus that stays open until it goes.
    for _ in 0..200 {
        let bus = Bus::new();
        let mut sub = bus.subscribe(Topics::ALL);
        let weak = bus.downgrade();
        let dropper = thread::spawn(move || drop(bus));
        let upgraded = weak.upgrade();
        match &upgraded {
            Some(strong) => {
                assert!(!strong.is_closed());
                strong.publish(Tick(1)).unwrap();
            }
            None => assert!(weak.is_closed()),
        }
        dropper.join().unwrap();
        let delivered = upgraded.is_some();
        drop(upgraded);
        if delivered {
            assert_eq!(sub.recv(), Ok(Tick(1)));
        }
        assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    }
}

#[test]
fn no_subscribers_completes_once_the_last_one_leaves() {
    let bus = Bus::<Tick>::new();
    let waker = Arc::new(CountingWaker::default());
    let w = Waker::from(Arc::clone(&waker));
    let mut cx = Context::from_waker(&w);

    assert_eq!(pin!(bus.no_subscribers()).poll(&mut cx), Poll::Ready(()));

    let a = bus.subscribe(Topics::ALL);
    let b = bus.subscribe(topic!(9));
    let mut waiting = pin!(bus.no_subscribers());
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Pending);
    drop(a);
    assert_eq!(waker.wakes(), 0, "one subscriber is left");
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Pending);
    drop(b);
    assert_eq!(waker.wakes(), 1);
    // A subscriber that joins before the next poll keeps it waiting.
    let c = bus.subscribe(Topics::ALL);
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Pending);
    drop(c);
    assert_eq!(waker.wakes(), 2);
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn no_subscribers_completes_at_close_and_at_a_cut_off() {
    let bus = Bus::new();
    let waker = Arc::new(CountingWaker::default());
    let w = Waker::from(Arc::clone(&waker));
    let mut cx = Context::from_waker(&w);

    let cut = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    let mut waiting = pin!(bus.no_subscribers());
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Pending);
    bus.publish(Tick(1)).unwrap();
    bus.publish(Tick(2)).unwrap(); // cuts it off: it leaves the table
    assert!(cut.is_overflowed());
    assert_eq!(waker.wakes(), 1);
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(()));

    let _kept = bus.subscribe(Topics::ALL);
    let weak = bus.downgrade();
    let mut waiting = pin!(weak.no_subscribers());
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Pending);
    bus.close();
    assert_eq!(waker.wakes(), 2);
    assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn wait_no_subscribers_blocks_until_the_last_leaves() {
    let bus = Bus::<Tick>::new();
    let subs: Vec<_> = (0..4).map(|_| bus.subscribe(Topics::ALL)).collect();
    let left = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&left);
    let consumers = thread::spawn(move || {
        for sub in subs {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(sub);
        }
    });
    bus.wait_no_subscribers();
    assert_eq!(left.load(Ordering::SeqCst), 4);
    assert_eq!(bus.subscriber_count(), 0);
    consumers.join().unwrap();
}

#[test]
fn no_subscribers_across_threads_on_an_executor() {
    for _ in 0..50 {
        let bus = Bus::<Tick>::new();
        let subs: Vec<_> = (0..3).map(|_| bus.subscribe(Topics::ALL)).collect();
        let droppers: Vec<_> = subs
            .into_iter()
            .map(|s| thread::spawn(move || drop(s)))
            .collect();
        futures_executor::block_on(bus.no_subscribers());
        assert_eq!(bus.subscriber_count(), 0);
        for d in droppers {
            d.join().unwrap();
        }
    }
}

#[test]
fn bus_counts_its_handles_and_knows_its_own() {
    let bus = Bus::<Tick>::new();
    let other = Bus::<Tick>::new();
    assert_eq!((bus.strong_count(), bus.weak_count()), (1, 0));
    let publisher = bus.publisher();
    let clone = bus.clone();
    let weak = bus.downgrade();
    assert_eq!((bus.strong_count(), bus.weak_count()), (3, 1));
    assert!(bus.same_bus(&clone) && !bus.same_bus(&other));
    drop((publisher, clone, weak));
    assert_eq!((bus.strong_count(), bus.weak_count()), (1, 0));
}
