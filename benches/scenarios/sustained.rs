//! Sustained load (issue 22): the selective and broadcast scenarios with many more events per
//! run than queue slots, so lossless queues are full much of the time and a publish keeps
//! meeting a full `Block` queue; the bursts of `throughput` never fill one. Peers: the floor
//! (a `Vec<(mask, crossbeam Sender)>` making one blocking `send`) and the naive mutex bus.

use criterion::{BenchmarkId, Criterion, Throughput};
use fanout::Topics;

use super::{all, record, timed_run};
use crate::strategies::fanout::Fanout;
use crate::strategies::floor::Floor;
use crate::strategies::mutex::NaiveMutex;
use crate::support::events::{topic, Small};
use crate::support::strategy::Strategy;

/// Events one iteration publishes: 20 times the 1,024 slots of each queue.
pub const EVENTS: u64 = 20_480;

fn run<S: Strategy>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    s: &S,
    scenario: &str,
    subs: &[Topics],
) {
    let n = subs.len();
    let key = format!("{scenario}/{}/{n}", s.name());
    group.bench_function(BenchmarkId::new(s.name(), n), |b| {
        b.iter_custom(|iters| {
            let events = iters * EVENTS;
            let (time, tally) = timed_run::<S, Small>(s, subs, 1, 8, events);
            record(&key, events, tally);
            time
        })
    });
}

/// Runs every peer on `subs`, alternating, in one group.
fn peers(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    scenario: &str,
    subs: &[Topics],
) {
    run(group, &Fanout::BLOCK_PARK, scenario, subs);
    run(group, &Floor, scenario, subs);
    run(group, &NaiveMutex, scenario, subs);
}

/// 1 publisher, 16 subscriber threads each wanting one of 8 topics, lossless, sustained.
pub fn selective(c: &mut Criterion) {
    let mut group = c.benchmark_group("sustained_selective");
    group.throughput(Throughput::Elements(EVENTS));
    let subs: Vec<Topics> = (0..16).map(|i| Topics::from(topic(i % 8))).collect();
    peers(&mut group, "sustained_selective", &subs);
    group.finish();
}

/// 1 publisher, 4 and 16 subscriber threads wanting everything, lossless, sustained.
pub fn broadcast(c: &mut Criterion) {
    let mut group = c.benchmark_group("sustained_broadcast");
    group.throughput(Throughput::Elements(EVENTS));
    for n in [4, 16] {
        peers(&mut group, "sustained_broadcast", &all(n));
    }
    group.finish();
}
