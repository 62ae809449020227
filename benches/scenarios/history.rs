//! Issue 12: what a history costs. The publish call with history off (`Bus`) and on
//! (`HistoryBus`, keeping the last 1,024 events) on the selective shape, and a replay of 10,000
//! events into a new subscriber. (Instruction counts of the same comparison, which a busy
//! machine does not disturb: `examples/publish_path.rs`, scenarios `selective` and
//! `history-selective`; allocations of the replay: `tests/allocation.rs`.)

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use fanout::history::Replay;
use fanout::{Bus, HistoryBus, Topics};

use crate::support::events::{topic, Msg, Small};

/// Times bursts of `BURST` publishes by `publish`, draining every subscriber (untimed) between
/// bursts, so that no queue is ever full and no wake-up is paid: the publish call alone.
fn bursts(iters: u64, mut publish: impl FnMut(u64), mut drain: impl FnMut()) -> Duration {
    const BURST: u64 = 64;
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BURST.min(iters - done);
        let start = Instant::now();
        for i in done..done + n {
            publish(i);
        }
        total += start.elapsed();
        done += n;
        drain();
    }
    total
}

/// The publish call alone, history off vs on, one thread: 16 subscribers on 8 topics (the
/// selective shape: 2 deliveries per publish).
pub fn publish_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("history_publish_only");
    group.throughput(Throughput::Elements(1));
    let mask = |i: usize| Topics::from(topic(i % 8));

    let bus: Bus<Small> = Bus::new();
    let mut subs: Vec<_> = (0..16)
        .map(|i| {
            bus.subscriber()
                .topics(mask(i))
                .capacity(256)
                .build()
                .unwrap()
        })
        .collect();
    let mut buf = Vec::with_capacity(64);
    group.bench_function(BenchmarkId::new("no-history", 16), |b| {
        b.iter_custom(|iters| {
            bursts(
                iters,
                |i| {
                    let _ = bus.publish(black_box(Small::make(i, topic(i as usize % 8))));
                },
                || {
                    for sub in &mut subs {
                        let _ = sub.drain_into(&mut buf, usize::MAX);
                        buf.clear();
                    }
                },
            )
        })
    });

    let history: HistoryBus<Small> = HistoryBus::builder(1024).build().unwrap();
    let mut subs: Vec<_> = (0..16)
        .map(|i| {
            history
                .subscriber()
                .topics(mask(i))
                .capacity(256)
                .build()
                .unwrap()
        })
        .collect();
    let mut buf = Vec::with_capacity(64);
    group.bench_function(BenchmarkId::new("history-1024", 16), |b| {
        b.iter_custom(|iters| {
            bursts(
                iters,
                |i| {
                    let _ = history.publish(black_box(Small::make(i, topic(i as usize % 8))));
                },
                || {
                    for sub in &mut subs {
                        let _ = sub.drain_into(&mut buf, usize::MAX);
                        buf.clear();
                    }
                },
            )
        })
    });
    group.finish();
}

/// A new subscriber that asks for the whole history of 10,000 events (`Replay::Since(0)`): the
/// subscribe call, copying every wanted event into its queue; then it is dropped (untimed).
pub fn replay(c: &mut Criterion) {
    const EVENTS: usize = 10_000;
    let mut group = c.benchmark_group("history_replay");
    group.throughput(Throughput::Elements(EVENTS as u64));
    let bus: HistoryBus<Small> = HistoryBus::builder(EVENTS).build().unwrap();
    for seq in 0..EVENTS as u64 {
        bus.publish(Small::make(seq, topic(seq as usize % 8)))
            .unwrap();
    }
    for (name, topics) in [
        ("all-topics", Topics::ALL),
        ("one-of-8-topics", Topics::from(topic(0))),
    ] {
        group.bench_function(BenchmarkId::new(name, EVENTS), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let sub = bus
                        .subscriber()
                        .topics(topics)
                        .capacity(EVENTS)
                        .replay(Replay::Since(0))
                        .build()
                        .unwrap();
                    black_box(sub.len());
                    sub
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}
