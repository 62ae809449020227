//! Ordering and copies: FIFO per publisher per subscriber under several concurrent publishers,
//! and exactly one clone per interested subscriber but the last, which gets the original.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use fanout::error::RecvError;
use fanout::{topic, Bus, Event, Overflow, Subscriber, Topic, Topics};

#[derive(Clone, Debug, PartialEq)]
struct Tagged {
    publisher: usize,
    seq: u64,
}

impl Event for Tagged {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

/// Collects a subscriber's whole stream on its own thread until the bus closes.
fn collect(sub: Subscriber<Tagged>) -> mpsc::Receiver<Vec<Result<Tagged, RecvError>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        tx.send(sub.into_iter().collect()).unwrap();
    });
    rx
}

#[test]
fn fifo_per_publisher_per_subscriber_with_concurrent_publishers() {
    const PUBLISHERS: usize = 4;
    const PER_PUBLISHER: u64 = 3_000;
    let bus = Bus::new();
    // Lossless subscribers see every publisher's whole sequence, in order.
    let lossless: Vec<_> = (0..3)
        .map(|_| {
            collect(
                bus.subscriber()
                    .capacity(16)
                    .overflow(Overflow::Block)
                    .build()
                    .unwrap(),
            )
        })
        .collect();
    // Lossy subscribers see, per publisher, a strictly increasing subsequence.
    let lossy: Vec<_> = [Overflow::DropOldest, Overflow::DropNewest]
        .into_iter()
        .map(|policy| {
            collect(
                bus.subscriber()
                    .capacity(4)
                    .overflow(policy)
                    .build()
                    .unwrap(),
            )
        })
        .collect();

    let barrier = Arc::new(Barrier::new(PUBLISHERS));
    let threads: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = bus.publisher();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for seq in 0..PER_PUBLISHER {
                    publisher.publish(Tagged { publisher: p, seq }).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    bus.close();

    for rx in lossless {
        let stream = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("consumer hung");
        let mut per_publisher = vec![Vec::new(); PUBLISHERS];
        for item in stream {
            let e = item.expect("a Block subscriber never lags");
            per_publisher[e.publisher].push(e.seq);
        }
        for seqs in per_publisher {
            assert_eq!(seqs, (0..PER_PUBLISHER).collect::<Vec<_>>());
        }
    }
    for rx in lossy {
        let stream = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("consumer hung");
        let mut last: Vec<Option<u64>> = vec![None; PUBLISHERS];
        let (mut received, mut lagged) = (0u64, 0u64);
        for item in stream {
            match item {
                Ok(e) => {
                    if let Some(prev) = last[e.publisher] {
                        assert!(e.seq > prev, "publisher {} went back", e.publisher);
                    }
                    last[e.publisher] = Some(e.seq);
                    received += 1;
                }
                Err(RecvError::Lagged(n)) => lagged += n,
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(received + lagged, PUBLISHERS as u64 * PER_PUBLISHER);
    }
}

/// An event that counts its clones and knows whether it is one.
#[derive(Debug)]
struct Counted {
    clones: Arc<AtomicUsize>,
    is_clone: bool,
    wanted: bool,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Counted {
            clones: Arc::clone(&self.clones),
            is_clone: true,
            wanted: self.wanted,
        }
    }
}

impl Event for Counted {
    fn topic(&self) -> Topic {
        topic!(1)
    }
}

fn counted(clones: &Arc<AtomicUsize>) -> Counted {
    Counted {
        clones: Arc::clone(clones),
        is_clone: false,
        wanted: true,
    }
}

#[test]
fn the_event_is_moved_into_the_last_queue_and_cloned_for_the_others() {
    for interested in 0..6usize {
        let clones = Arc::new(AtomicUsize::new(0));
        let bus = Bus::new();
        // Uninterested neighbours, interleaved: they must cost no clone.
        let mut subs = Vec::new();
        let mut others = Vec::new();
        for _ in 0..interested {
            others.push(bus.subscribe(topic!(0)));
            subs.push(bus.subscribe(topic!(1)));
        }
        others.push(bus.subscribe(Topics::ALL - topic!(1)));
        let d = bus.publish(counted(&clones)).unwrap();
        assert_eq!(d.delivered(), interested);
        assert_eq!(
            clones.load(Ordering::SeqCst),
            interested.saturating_sub(1),
            "{interested} interested subscribers"
        );
        let originals = subs
            .iter_mut()
            .map(|s| s.try_recv().unwrap())
            .filter(|e| !e.is_clone)
            .count();
        assert_eq!(originals, usize::from(interested > 0));
        for other in &mut others {
            assert!(other.try_recv().is_err());
        }
    }
}

#[test]
fn filtered_out_subscribers_cost_no_clone_and_full_ones_still_do() {
    let clones = Arc::new(AtomicUsize::new(0));
    let bus = Bus::new();
    // Filter rejects: no clone for it.
    let _picky = bus
        .subscriber()
        .filter(|e: &Counted| !e.wanted)
        .build()
        .unwrap();
    let mut a = bus.subscribe(topic!(1));
    let mut b = bus.subscribe(topic!(1));
    bus.publish(counted(&clones)).unwrap();
    assert_eq!(clones.load(Ordering::SeqCst), 1);
    assert_eq!(
        [
            a.try_recv().unwrap().is_clone,
            b.try_recv().unwrap().is_clone
        ]
        .iter()
        .filter(|c| !**c)
        .count(),
        1
    );

    // Single interested subscriber: no clone at all, over many publishes.
    drop(b);
    clones.store(0, Ordering::SeqCst);
    for _ in 0..100 {
        bus.publish(counted(&clones)).unwrap();
        assert!(!a.try_recv().unwrap().is_clone);
    }
    assert_eq!(clones.load(Ordering::SeqCst), 0);

    // A full DropNewest subscriber is still interested: it is offered a clone, which it drops.
    let mut full = bus
        .subscriber()
        .topics(topic!(1))
        .capacity(1)
        .overflow(Overflow::DropNewest)
        .build()
        .unwrap();
    bus.publish(counted(&clones)).unwrap();
    assert_eq!(clones.load(Ordering::SeqCst), 1);
    let d = bus.publish(counted(&clones)).unwrap();
    assert_eq!((d.delivered(), d.dropped()), (1, 1));
    assert_eq!(clones.load(Ordering::SeqCst), 2);
    assert_eq!(a.try_iter().count(), 2);
    assert_eq!(full.try_iter().count(), 2); // Lagged(1), then the first event
}
