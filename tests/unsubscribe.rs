//! Leaving the bus: dropping a subscriber unsubscribes (and frees what it had queued), a `Block`
//! publish waiting on a subscriber that goes away returns, and `set_topics` under concurrent
//! publishing takes effect for every publish that starts after it returns.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use fanout::error::TryRecvError;
use fanout::{topic, Bus, Event, Overflow, Topic, Topics};

mod common;
use common::{bounded, ev, Ev};

#[test]
fn dropping_a_subscriber_unsubscribes() {
    let bus = Bus::new();
    let a = bus.subscribe(topic!(0));
    let mut b = bus.subscribe(topic!(1));
    let c = bus.subscribe(topic!(0) | topic!(2));
    assert_eq!(bus.subscriber_count(), 3);
    assert_eq!(bus.publish(ev(0, 0)).unwrap().delivered(), 2);

    drop(a);
    assert_eq!(bus.subscriber_count(), 2);
    assert_eq!(bus.interest(), topic!(0) | topic!(1) | topic!(2));
    assert_eq!(bus.publish(ev(0, 1)).unwrap().delivered(), 1);

    drop(c);
    assert_eq!(bus.subscriber_count(), 1);
    assert_eq!(bus.interest(), Topics::only(topic!(1)));
    assert!(bus.publish(ev(0, 2)).unwrap().is_empty());
    assert!(bus.publish(ev(2, 3)).unwrap().is_empty());

    assert_eq!(bus.publish(ev(1, 4)).unwrap().delivered(), 1);
    assert_eq!(b.try_recv(), Ok(ev(1, 4)));
    assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    let ids: Vec<_> = bus.stats().subscribers.iter().map(|s| s.id).collect();
    assert_eq!(ids, [b.id()]);
    drop(b);
    assert_eq!(bus.subscriber_count(), 0);
    assert_eq!(bus.interest(), Topics::NONE);
    assert!(!bus.is_closed(), "unsubscribing never closes the bus");
}

/// An event that counts how many of its copies are alive.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Counted(Arc::clone(live))
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(&self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Event for Counted {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

#[test]
fn dropping_a_subscriber_frees_its_queued_events() {
    let live = Arc::new(AtomicUsize::new(0));
    let bus = Bus::new();
    let a = bus.subscriber().capacity(8).build().unwrap();
    let b = bus.subscriber().capacity(8).build().unwrap();
    for _ in 0..5 {
        bus.publish(Counted::new(&live)).unwrap();
    }
    assert_eq!(live.load(Ordering::SeqCst), 10);
    drop(a);
    assert_eq!(live.load(Ordering::SeqCst), 5);
    drop(b);
    assert_eq!(live.load(Ordering::SeqCst), 0);
    // Evictions and refusals free their events too.
    let mut oldest = bus.subscriber().capacity(2).build().unwrap();
    let newest = bounded(&bus, 2, Overflow::DropNewest);
    for _ in 0..6 {
        bus.publish(Counted::new(&live)).unwrap();
    }
    assert_eq!(live.load(Ordering::SeqCst), 4);
    assert_eq!(oldest.try_iter().count(), 3); // Lagged(4) + 2 events, dropped as they go
    assert_eq!(live.load(Ordering::SeqCst), 2);
    bus.close();
    drop(newest);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[test]
fn a_block_publish_waiting_on_a_full_queue_returns_when_that_subscriber_is_dropped() {
    let bus = Bus::new();
    let full = bounded(&bus, 1, Overflow::Block);
    let mut other = bus.subscriber().capacity(8).build().unwrap();
    bus.publish(ev(0, 0)).unwrap();

    let publisher = bus.publisher();
    let (result_tx, result_rx) = mpsc::channel();
    let t = thread::spawn(move || {
        result_tx.send(publisher.publish(ev(0, 1))).unwrap();
    });
    // The queue is full and nobody drains it: the publish must be waiting.
    assert!(
        result_rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "a Block publish into a full queue returned without room"
    );
    drop(full);
    let delivery = result_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the Block publish did not return after its subscriber was dropped")
        .expect("bus is open");
    t.join().unwrap();
    // `other` got it (it was served first or last; either way it is delivered); the dropped one
    // is owed nothing.
    assert_eq!(delivery.delivered(), 1);
    assert_eq!(delivery.dropped(), 0);
    assert_eq!(delivery.timed_out(), 0);
    assert_eq!(other.try_recv(), Ok(ev(0, 0)));
    assert_eq!(other.try_recv(), Ok(ev(0, 1)));
    assert_eq!(bus.subscriber_count(), 1);
    // The bus keeps working.
    assert_eq!(bus.publish(ev(0, 2)).unwrap().delivered(), 1);
}

#[test]
fn a_block_publish_waiting_on_a_full_queue_returns_when_the_subscriber_is_dropped_on_its_thread() {
    // The subscriber lives on another thread that drops it on command; the waiting publisher is
    // the test thread.
    let bus = Bus::new();
    let full = bounded(&bus, 2, Overflow::Block);
    bus.publish(ev(0, 0)).unwrap();
    bus.publish(ev(0, 1)).unwrap();
    let (drop_tx, drop_rx) = mpsc::channel::<()>();
    let (gone_tx, gone_rx) = mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        drop_rx.recv().unwrap();
        drop(full);
        gone_tx.send(()).unwrap();
    });
    let (result_tx, result_rx) = mpsc::channel();
    let publisher = bus.publisher();
    let waiter = thread::spawn(move || {
        result_tx
            .send(publisher.publish_all([ev(0, 2), ev(0, 3)]))
            .unwrap();
    });
    assert!(result_rx.recv_timeout(Duration::from_millis(50)).is_err());
    drop_tx.send(()).unwrap();
    gone_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let delivery = result_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("publish still blocked")
        .unwrap();
    assert_eq!((delivery.delivered(), delivery.dropped()), (0, 0));
    holder.join().unwrap();
    waiter.join().unwrap();
    assert_eq!(bus.subscriber_count(), 0);
}

fn mask(epoch: u64) -> Topics {
    match epoch % 4 {
        0 => Topics::only(topic!(0)),
        1 => Topics::only(topic!(1)),
        2 => Topics::only(topic!(2)),
        _ => topic!(0) | topic!(2),
    }
}

/// What the publisher knew about one publish.
struct Published {
    seq: u64,
    topic: Topic,
    /// `done` epoch read before the publish: every `set_topics` up to it had returned.
    settled: u64,
    /// `started` epoch read after the publish: no `set_topics` beyond it had begun.
    begun: u64,
}

#[test]
fn set_topics_while_another_thread_publishes() {
    const ROUNDS: u64 = 100;
    const PER_ROUND: u64 = 25;
    let bus = Bus::new();
    let mut sub = bus
        .subscriber()
        .topics(mask(0))
        .capacity(4096)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let started = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let publisher = bus.publisher();
    let t = {
        let (started, done, count, stop) = (
            Arc::clone(&started),
            Arc::clone(&done),
            Arc::clone(&count),
            Arc::clone(&stop),
        );
        thread::spawn(move || {
            let mut log = Vec::new();
            let mut seq = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let topic = Topic::new((seq % 3) as u8).unwrap();
                let settled = done.load(Ordering::SeqCst);
                publisher.publish(Ev { topic, seq }).unwrap();
                let begun = started.load(Ordering::SeqCst);
                log.push(Published {
                    seq,
                    topic,
                    settled,
                    begun,
                });
                seq += 1;
                count.store(seq, Ordering::SeqCst);
            }
            log
        })
    };

    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    for epoch in 1..=ROUNDS {
        started.store(epoch, Ordering::SeqCst);
        sub.set_topics(mask(epoch));
        assert_eq!(sub.topics(), mask(epoch));
        done.store(epoch, Ordering::SeqCst);
        let target = count.load(Ordering::SeqCst) + PER_ROUND;
        while count.load(Ordering::SeqCst) < target {
            assert!(Instant::now() < deadline, "publisher stalled");
            received.extend(sub.try_iter().map(|r| r.unwrap().seq));
            thread::yield_now();
        }
        received.extend(sub.try_iter().map(|r| r.unwrap().seq));
    }
    stop.store(true, Ordering::SeqCst);
    let log = t.join().unwrap();
    received.extend(sub.try_iter().map(|r| r.unwrap().seq));

    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "FIFO, no duplicates"
    );
    let received: std::collections::HashSet<u64> = received.into_iter().collect();
    let mut exact = 0;
    for p in &log {
        let got = received.contains(&p.seq);
        if p.settled == p.begun {
            // Started after set_topics(settled) returned, finished before the next one began.
            exact += 1;
            assert_eq!(
                got,
                mask(p.settled).contains(p.topic),
                "seq {} topic {:?} under mask {:?}",
                p.seq,
                p.topic,
                mask(p.settled)
            );
        } else if got {
            // Raced with set_topics: it obeyed one of the masks in force during it.
            let allowed = (p.settled..=p.begun).fold(Topics::NONE, |acc, e| acc | mask(e));
            assert!(
                allowed.contains(p.topic),
                "seq {} topic {:?} delivered, masks during it {:?}",
                p.seq,
                p.topic,
                allowed
            );
        }
    }
    assert!(
        exact as u64 >= ROUNDS,
        "too few publishes to check exactly: {exact}"
    );
    assert_eq!(sub.lost(), 0);
}

#[test]
fn subscribers_come_and_go_while_publishing() {
    // Churn on one thread while another publishes: no panic, no hang, and a subscriber that was
    // present for a whole window of publishes gets every one of them.
    let bus = Bus::new();
    let publisher = bus.publisher();
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let t = {
        let (stop, published) = (Arc::clone(&stop), Arc::clone(&published));
        thread::spawn(move || {
            let mut seq = 0;
            while !stop.load(Ordering::SeqCst) {
                publisher.publish(ev(0, seq)).unwrap();
                seq += 1;
                published.store(seq, Ordering::SeqCst);
            }
        })
    };
    for round in 0..50u64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        // Block: lossless, so every publish in the window must be there.
        let mut sub = bounded(&bus, 4096, Overflow::Block);
        let from = published.load(Ordering::SeqCst);
        // Publishes that started after `from` was read began after the subscribe returned.
        while published.load(Ordering::SeqCst) < from + 20 {
            assert!(Instant::now() < deadline, "publisher stalled");
            thread::yield_now();
        }
        let to = published.load(Ordering::SeqCst);
        let seqs: Vec<u64> = sub.try_iter().map(|r| r.unwrap().seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "gap or reorder");
        // Every publish numbered in from+1..to started after the subscribe returned and finished
        // before we looked; the received run is gap-free, so its ends must cover that range.
        let (first, last) = (seqs.first().copied(), seqs.last().copied());
        assert!(
            first.is_some_and(|f| f <= from + 1) && last.is_some_and(|l| l + 1 >= to),
            "round {round}: received {first:?}..={last:?}, must cover {}..{to}",
            from + 1
        );
        drop(sub);
    }
    stop.store(true, Ordering::SeqCst);
    t.join().unwrap();
    assert_eq!(bus.subscriber_count(), 0);
}
