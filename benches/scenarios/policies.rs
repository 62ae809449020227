//! Scenarios that only `fanout` can run as specified (per-subscriber policies): 4 isolation and
//! 5 eviction, with peers where a comparison means something.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use fanout::error::{RecvError, TryRecvError};
use fanout::{Bus, Overflow};

use super::record;
use crate::support::events::{topic, Msg, Small};
use crate::support::strategy::Tally;
use crate::support::{BATCH, CAPACITY};

/// The fourth subscriber of an isolation run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fourth {
    /// None: 3 subscribers.
    Absent,
    /// A `DropOldest` subscriber that keeps up (the same work per publish, no eviction).
    Fast,
    /// A `DropOldest` subscriber that handles one event per millisecond: its queue stays full and
    /// nearly every publish evicts from it.
    Slow,
}

/// One isolation run: 3 lossless (`Block`) subscribers and maybe a fourth, `DropOldest` one.
/// Times publishing `events` and the lossless subscribers draining; returns the time and the
/// lossless subscribers' tally.
fn isolation_run(events: u64, fourth: Fourth) -> (Duration, Tally) {
    let bus = Bus::<Small>::new();
    let fast: Vec<_> = (0..3)
        .map(|_| {
            let mut sub = bus
                .subscriber()
                .capacity(CAPACITY)
                .overflow(Overflow::Block)
                .build()
                .expect("subscriber");
            thread::spawn(move || {
                let mut tally = Tally::default();
                loop {
                    match sub.recv() {
                        Ok(e) => {
                            black_box(e);
                            tally.received += 1;
                        }
                        Err(RecvError::Lagged(n)) => tally.lost += n,
                        Err(_) => return tally,
                    }
                }
            })
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let fourth_thread = (fourth != Fourth::Absent).then(|| {
        let mut sub = bus
            .subscriber()
            .capacity(CAPACITY)
            .overflow(Overflow::DropOldest)
            .build()
            .expect("subscriber");
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let got = sub.recv_timeout(Duration::from_millis(5));
                if fourth == Fourth::Slow && got.is_ok() {
                    thread::sleep(Duration::from_millis(1));
                }
            }
        })
    });
    let publisher = bus.publisher();
    drop(bus);
    let t0 = Instant::now();
    for seq in 0..events {
        let _ = publisher.publish(Small::make(seq, topic(0)));
    }
    drop(publisher);
    let mut tally = Tally::default();
    for f in fast {
        tally += f.join().expect("fast subscriber");
    }
    let time = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = fourth_thread {
        t.join().expect("fourth subscriber");
    }
    (time, tally)
}

/// Scenario 4: publisher throughput with a slow `DropOldest` subscriber, against the same run
/// with a fast one in its place and with no fourth subscriber at all.
pub fn isolation(c: &mut Criterion) {
    let mut group = c.benchmark_group("isolation");
    group.throughput(Throughput::Elements(BATCH));
    for (label, fourth) in [
        ("3-lossless", Fourth::Absent),
        ("3-lossless+fast-drop-oldest", Fourth::Fast),
        ("3-lossless+slow-drop-oldest", Fourth::Slow),
    ] {
        let key = format!("isolation/{label}");
        group.bench_function(BenchmarkId::new("fanout-block-park", label), |b| {
            b.iter_custom(|iters| {
                let events = iters * BATCH;
                let (time, tally) = isolation_run(events, fourth);
                record(&key, events, tally);
                time
            })
        });
    }
    group.finish();
}

/// Scenario 5: publish into a full `DropOldest` queue (every publish evicts) against publish into
/// a queue with room, one thread, one subscriber. tokio's ring (always overwriting) for reference.
pub fn eviction(c: &mut Criterion) {
    let mut group = c.benchmark_group("eviction");
    group.throughput(Throughput::Elements(1));
    let event = Small::make(0, topic(0));

    group.bench_function(BenchmarkId::new("fanout-drop-oldest", "enqueue"), |b| {
        let bus = Bus::<Small>::new();
        let mut sub = bus
            .subscriber()
            .capacity(CAPACITY)
            .build()
            .expect("subscriber");
        b.iter_custom(|iters| {
            timed_in_batches(
                iters,
                || {
                    let _ = bus.publish(black_box(event));
                },
                || while !matches!(sub.try_recv(), Err(TryRecvError::Empty)) {},
            )
        })
    });

    group.bench_function(BenchmarkId::new("fanout-drop-oldest", "evict"), |b| {
        let bus = Bus::<Small>::new();
        let sub = bus
            .subscriber()
            .capacity(CAPACITY)
            .build()
            .expect("subscriber");
        for _ in 0..CAPACITY {
            let _ = bus.publish(event);
        }
        b.iter(|| bus.publish(black_box(event)));
        assert_eq!(sub.len(), CAPACITY);
    });

    group.bench_function(BenchmarkId::new("tokio-broadcast", "overwrite"), |b| {
        let (tx, rx) = tokio::sync::broadcast::channel::<Small>(CAPACITY);
        b.iter(|| tx.send(black_box(event)));
        drop(rx);
    });

    group.bench_function(BenchmarkId::new("crossbeam-raw", "enqueue"), |b| {
        let (tx, rx) = crossbeam_channel::bounded::<Small>(CAPACITY);
        b.iter_custom(|iters| {
            timed_in_batches(
                iters,
                || {
                    let _ = tx.try_send(black_box(event));
                },
                || while rx.try_recv().is_ok() {},
            )
        })
    });
    group.finish();
}

/// Times `iters` calls of `enqueue` into a queue of `CAPACITY`, in batches that never fill it:
/// after each batch the clock stops and `empty` drains the queue.
fn timed_in_batches(iters: u64, mut enqueue: impl FnMut(), mut empty: impl FnMut()) -> Duration {
    let mut time = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let k = left.min(CAPACITY as u64);
        let t0 = Instant::now();
        for _ in 0..k {
            enqueue();
        }
        time += t0.elapsed();
        left -= k;
        empty();
    }
    time
}
