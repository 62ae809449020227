//! The scenarios of issue 4, each generic over [`Strategy`] where peers can take part.

pub mod async_delivery;
pub mod history;
pub mod keys;
pub mod latency;
pub mod policies;
pub mod sustained;
pub mod throughput;

use std::collections::BTreeMap;
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fanout::Topics;

use crate::support::events::{topic, Msg};
use crate::support::strategy::{Rx, Strategy, Tally, Tx};

/// Per-benchmark totals of what receivers got and lost, over every timed run.
static TALLIES: Mutex<BTreeMap<String, (u64, Tally)>> = Mutex::new(BTreeMap::new());

/// Adds one run's totals (`published` events, all receivers' tally) under `key`.
pub fn record(key: &str, published: u64, tally: Tally) {
    let mut map = TALLIES.lock().unwrap_or_else(|p| p.into_inner());
    let entry = map.entry(key.to_string()).or_default();
    entry.0 += published;
    entry.1 += tally;
}

/// Every recorded tally, as `(key, published, tally)`.
pub fn tallies() -> Vec<(String, u64, Tally)> {
    let map = TALLIES.lock().unwrap_or_else(|p| p.into_inner());
    map.iter().map(|(k, (p, t))| (k.clone(), *p, *t)).collect()
}

/// One timed cross-thread run: builds the strategy, starts one thread per receiver (untimed),
/// then times `publishers` threads publishing `events` events in total (topic = seq % `topics`),
/// closing, and every receiver draining to the end. Returns the time and the receivers' tally.
pub fn timed_run<S: Strategy, E: Msg>(
    strategy: &S,
    subscribers: &[Topics],
    publishers: usize,
    topics: usize,
    events: u64,
) -> (Duration, Tally) {
    let (tx, rxs) = strategy.build::<E>(subscribers, crate::support::CAPACITY);
    let receivers: Vec<_> = rxs
        .into_iter()
        .map(|rx| {
            thread::spawn(move || {
                rx.drain(|e| {
                    std::hint::black_box(e);
                })
            })
        })
        .collect();
    let mut handles: Vec<S::Tx<E>> = (1..publishers)
        .map(|_| tx.fork().expect("strategy supports several publishers"))
        .collect();
    handles.push(tx);
    let per = events / publishers as u64;
    let start = Barrier::new(publishers + 1);
    let elapsed = thread::scope(|scope| {
        for (p, mut tx) in handles.into_iter().enumerate() {
            let start = &start;
            scope.spawn(move || {
                start.wait();
                let base = p as u64 * per;
                for seq in base..base + per {
                    tx.publish(E::make(seq, topic(seq as usize % topics)));
                }
            });
        }
        let t0 = Instant::now();
        start.wait();
        // Leaving the scope joins the publishers; they drop their handles, which closes.
        t0
    });
    let mut tally = Tally::default();
    for r in receivers {
        tally += r.join().expect("receiver thread");
    }
    (elapsed.elapsed(), tally)
}

/// `n` subscribers that all want every topic.
pub fn all(n: usize) -> Vec<Topics> {
    vec![Topics::ALL; n]
}
