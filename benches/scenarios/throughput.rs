//! Scenarios 1, 2, 3, 7, 8 and the `base` harness benchmark.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput};
use fanout::Topics;

use super::{all, record, timed_run};
use crate::strategies::bus_crate::BusCrate;
use crate::strategies::fanout::Fanout;
use crate::strategies::floor::Floor;
use crate::strategies::mutex::NaiveMutex;
use crate::strategies::tokio::TokioBroadcast;
use crate::support::events::{topic, Agent, Msg, Small};
use crate::support::strategy::{Strategy, Tx};
use crate::support::BATCH;

/// Harness overhead: building an event and dropping it, per element, one thread.
pub fn base(c: &mut Criterion) {
    let mut group = c.benchmark_group("base");
    group.throughput(Throughput::Elements(1));
    group.bench_function("make-small", |b| {
        let mut seq = 0u64;
        b.iter(|| {
            seq += 1;
            black_box(Small::make(seq, topic(seq as usize % 8)))
        })
    });
    group.bench_function("make-agent", |b| {
        let mut seq = 0u64;
        b.iter(|| {
            seq += 1;
            black_box(Agent::make(seq, topic(0)))
        })
    });
    group.finish();
}

/// Scenario 1: 16 subscribers, none interested; ns per publish on one thread.
pub fn idle(c: &mut Criterion) {
    let mut group = c.benchmark_group("idle_publish");
    group.throughput(Throughput::Elements(1));
    fn one<S: Strategy>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        s: S,
    ) {
        // Subscribers want topics 1..=16; every event is on topic 0.
        let subs: Vec<Topics> = (1..=16).map(|i| Topics::from(topic(i))).collect();
        let (mut tx, rxs) = s.build::<Small>(&subs, crate::support::CAPACITY);
        let event = Small::make(0, topic(0));
        group.bench_function(BenchmarkId::new(s.name(), 16), |b| {
            b.iter(|| tx.publish(black_box(event)))
        });
        drop(rxs);
    }
    one(&mut group, Fanout::DROP_OLDEST_PARK);
    one(&mut group, Floor);
    one(&mut group, NaiveMutex);
    // tokio has no filter: every publish writes its ring (the receivers are never drained).
    one(&mut group, TokioBroadcast);
    // `bus` is left out: it has no filter, and with readers that never drain it blocks at once.
    group.finish();
}

fn cross_thread<S: Strategy, E: Msg>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    s: &S,
    id: BenchmarkId,
    key: String,
    subs: &[Topics],
    publishers: usize,
    topics: usize,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let events = iters * BATCH;
            let (time, tally) = timed_run::<S, E>(s, subs, publishers, topics, events);
            record(&key, events, tally);
            time
        })
    });
}

/// The `fanout` configurations of the lossless scenarios: one receive per event (park, spin),
/// batch receive, batch publish, and everything together.
fn lossless_peers() -> [Fanout; 5] {
    [
        Fanout::BLOCK_PARK,
        Fanout::BLOCK_SPIN,
        Fanout::BLOCK_PARK.batched(256),
        Fanout::BLOCK_PARK.publishing_batches(64),
        Fanout::BLOCK_SPIN.batched(256).publishing_batches(64),
    ]
}

/// Runs `f` for every strategy of the lossless-throughput scenarios.
macro_rules! each_strategy {
    ($f:ident, $($arg:expr),*) => {{
        for fanout in lossless_peers() {
            $f(&fanout, $($arg),*);
        }
        $f(&Floor, $($arg),*);
        $f(&NaiveMutex, $($arg),*);
        $f(&BusCrate, $($arg),*);
        $f(&TokioBroadcast, $($arg),*);
    }};
}

/// Scenario 2: 1 publisher, 16 subscriber threads, 8 topics, each subscriber wants one.
pub fn selective(c: &mut Criterion) {
    let mut group = c.benchmark_group("selective");
    group.throughput(Throughput::Elements(BATCH));
    let subs: Vec<Topics> = (0..16).map(|i| Topics::from(topic(i % 8))).collect();
    fn run<S: Strategy>(
        s: &S,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        subs: &[Topics],
    ) {
        let key = format!("selective/{}/16", s.name());
        cross_thread::<S, Small>(group, s, BenchmarkId::new(s.name(), 16), key, subs, 1, 8);
    }
    each_strategy!(run, &mut group, &subs);
    group.finish();
}

/// Scenario 3: every subscriber wants every event; 4 and 16 subscribers.
pub fn broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast");
    group.throughput(Throughput::Elements(BATCH));
    fn run<S: Strategy>(
        s: &S,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        n: usize,
    ) {
        let key = format!("broadcast/{}/{n}", s.name());
        cross_thread::<S, Small>(group, s, BenchmarkId::new(s.name(), n), key, &all(n), 1, 8);
    }
    for n in [4, 16] {
        each_strategy!(run, &mut group, n);
    }
    group.finish();
}

/// Scenario 10: cost per delivery. One publisher, N = 1, 4, 16, 64 subscribers that want every
/// event and keep up (`Block` queues, so the publisher waits for the slowest): the throughput
/// criterion reports is deliveries per second (`Throughput::Elements(1000 * N)`), so its inverse
/// is the time per delivery, the curve a user reads to size a bus. 64 subscriber threads on 2
/// cores: this measures scheduling as much as queues.
pub fn per_delivery(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_delivery");
    fn run<S: Strategy>(
        s: &S,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        n: usize,
    ) {
        group.throughput(Throughput::Elements(BATCH * n as u64));
        let key = format!("per_delivery/{}/{n}", s.name());
        cross_thread::<S, Small>(group, s, BenchmarkId::new(s.name(), n), key, &all(n), 1, 8);
    }
    for n in [1, 4, 16, 64] {
        run(&Fanout::BLOCK_PARK, &mut group, n);
        run(&Fanout::BLOCK_PARK.publishing_batches(64), &mut group, n);
        run(&Floor, &mut group, n);
    }
    group.finish();
}

/// Scenario 7: 2 and 4 publishers into 8 subscribers that want everything.
pub fn multi_publisher(c: &mut Criterion) {
    let mut group = c.benchmark_group("multi_publisher");
    group.throughput(Throughput::Elements(BATCH));
    fn run<S: Strategy>(
        s: &S,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        p: usize,
    ) {
        let key = format!("multi_publisher/{}/{p}", s.name());
        cross_thread::<S, Small>(group, s, BenchmarkId::new(s.name(), p), key, &all(8), p, 8);
    }
    for p in [2, 4] {
        run(&Fanout::BLOCK_PARK, &mut group, p);
        run(&Fanout::BLOCK_SPIN, &mut group, p);
        run(&Floor, &mut group, p);
        run(&NaiveMutex, &mut group, p);
        run(&TokioBroadcast, &mut group, p);
    }
    group.finish();
}

/// Scenario 8: full broadcast to 4 subscribers with each payload, as `E` and as `Arc<E>`.
pub fn payload(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload");
    group.throughput(Throughput::Elements(BATCH));
    fn run<S: Strategy, E: Msg>(
        s: &S,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        label: &str,
    ) {
        let key = format!("payload/{}/{label}", s.name());
        cross_thread::<S, E>(
            group,
            s,
            BenchmarkId::new(s.name(), label),
            key,
            &all(4),
            1,
            1,
        );
    }
    fn each<S: Strategy>(
        s: &S,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    ) {
        run::<S, Small>(s, group, "small-48B");
        run::<S, Arc<Small>>(s, group, "arc-small-48B");
        run::<S, Agent>(s, group, "agent-string");
        run::<S, Arc<Agent>>(s, group, "arc-agent-string");
    }
    each(&Fanout::BLOCK_PARK, &mut group);
    each(&Floor, &mut group);
    each(&BusCrate, &mut group);
    group.finish();
}
