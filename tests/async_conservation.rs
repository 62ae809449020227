//! The conservation law with async subscribers: 4 publisher threads (two with `publish`, two
//! with `publish_async` under `block_on`), 16 async subscribers of mixed policies, topics and
//! filters on a multi-thread tokio runtime. For every subscriber: events received + events
//! reported as lag == the events published to it, exactly; each publisher's events arrive in
//! order, without duplicates; lossless subscribers get every one of them.

mod common;
use common::Stamped as Ev;
use std::thread;

use fanout::error::RecvError;
use fanout::{Bus, Event, Overflow, Subscriber, Topic, Topics};

const PUBLISHERS: usize = 4;
const PER_PUBLISHER: u32 = 10_000;
const SUBSCRIBERS: usize = 16;

struct Plan {
    overflow: Overflow,
    capacity: usize,
    mask: Topics,
    filtered: bool,
    batch: bool,
}

fn plan(i: usize) -> Plan {
    let overflow = [
        Overflow::DropOldest,
        Overflow::DropNewest,
        Overflow::Block,
        // Large enough never to cut the subscriber off: its count must be exact too.
        Overflow::Disconnect,
    ][i % 4];
    let capacity = match overflow {
        Overflow::Disconnect => PUBLISHERS * PER_PUBLISHER as usize,
        _ => 4 << (i % 3),
    };
    let mask = match i / 4 {
        0 => Topics::ALL,
        1 => Topic::new(0).unwrap() | Topic::new(1).unwrap(),
        2 => Topic::new(2).unwrap().into(),
        _ => Topics::ALL - Topic::new(3).unwrap(),
    };
    Plan {
        overflow,
        capacity,
        mask,
        filtered: i % 3 == 1,
        batch: i % 2 == 1,
    }
}

fn passes(filtered: bool, ev: &Ev) -> bool {
    !filtered || ev.seq % 3 != 0
}

fn expected(plan: &Plan) -> u64 {
    (0..PUBLISHERS)
        .map(|p| {
            (0..PER_PUBLISHER)
                .filter(|&seq| {
                    let ev = Ev { publisher: p, seq };
                    plan.mask.contains(ev.topic()) && passes(plan.filtered, &ev)
                })
                .count() as u64
        })
        .sum()
}

struct Tally {
    received: u64,
    lagged: u64,
    per_publisher: [u64; PUBLISHERS],
}

/// Receives until the end, checking FIFO per publisher; every few events it yields, so that
/// the small queues overflow now and then.
async fn consume(mut sub: Subscriber<Ev>, batch: bool) -> Tally {
    let mut last: [Option<u32>; PUBLISHERS] = [None; PUBLISHERS];
    let mut tally = Tally {
        received: 0,
        lagged: 0,
        per_publisher: [0; PUBLISHERS],
    };
    let mut buf = Vec::new();
    loop {
        let item = if batch {
            sub.recv_into_async(&mut buf, 16).await.map(|_| ())
        } else {
            sub.recv_async().await.map(|ev| buf.push(ev))
        };
        match item {
            Ok(()) => {}
            Err(RecvError::Lagged(n)) => tally.lagged += n,
            Err(RecvError::Disconnected) => return tally,
            Err(RecvError::Overflowed) => panic!("{} was cut off", sub.name()),
        }
        for ev in buf.drain(..) {
            if let Some(previous) = last[ev.publisher] {
                assert!(ev.seq > previous, "{}: {ev:?} after {previous}", sub.name());
            }
            last[ev.publisher] = Some(ev.seq);
            tally.received += 1;
            tally.per_publisher[ev.publisher] += 1;
        }
        if tally.received % 97 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

#[test]
fn async_subscribers_conserve_every_event() {
    let bus = Bus::<Ev>::new();
    let plans: Vec<Plan> = (0..SUBSCRIBERS).map(plan).collect();
    let subscribers: Vec<Subscriber<Ev>> = plans
        .iter()
        .enumerate()
        .map(|(i, plan)| {
            let mut builder = bus
                .subscriber()
                .name(format!("sub-{i}-{:?}", plan.overflow))
                .topics(plan.mask)
                .capacity(plan.capacity)
                .overflow(plan.overflow);
            if plan.filtered {
                builder = builder.filter(|ev: &Ev| passes(true, ev));
            }
            builder.build().unwrap()
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = subscribers
        .into_iter()
        .zip(&plans)
        .map(|(sub, plan)| rt.spawn(consume(sub, plan.batch)))
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = bus.publisher();
            thread::spawn(move || {
                for seq in 0..PER_PUBLISHER {
                    let ev = Ev { publisher: p, seq };
                    if p % 2 == 0 {
                        publisher.publish(ev).unwrap();
                    } else {
                        futures_executor::block_on(publisher.publish_async(ev)).unwrap();
                    }
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().unwrap();
    }
    drop(bus);
    let tallies: Vec<Tally> = rt.block_on(async {
        let mut tallies = Vec::new();
        for task in tasks {
            tallies.push(task.await.unwrap());
        }
        tallies
    });
    for (i, (plan, tally)) in plans.iter().zip(&tallies).enumerate() {
        let expected = expected(plan);
        assert_eq!(
            tally.received + tally.lagged,
            expected,
            "subscriber {i} ({:?}, capacity {}): received {} + lagged {}",
            plan.overflow,
            plan.capacity,
            tally.received,
            tally.lagged
        );
        if matches!(plan.overflow, Overflow::Block | Overflow::Disconnect) {
            assert_eq!(tally.lagged, 0, "lossless subscriber {i} lost events");
            assert_eq!(tally.per_publisher.iter().sum::<u64>(), expected);
        }
    }
    let lost: u64 = tallies.iter().map(|t| t.lagged).sum();
    println!("lost (and reported) by the lossy subscribers: {lost}");
}
