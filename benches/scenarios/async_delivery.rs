//! Issue 10's scenarios: async subscribers (tasks on a tokio multi-thread runtime) against thread
//! subscribers and `tokio::sync::broadcast`'s `recv().await` on the same runtime.
//!
//! - `async_selective`: the selective scenario (1 publisher thread, 16 subscribers, 8 topics,
//!   each subscriber wants one; lossless `Block` queues) with the subscribers as threads
//!   (`recv`, parking), as tasks (`recv_async`), as tasks receiving batches
//!   (`recv_into_async`), and tokio broadcast receivers as tasks (`recv().await`, filtering after
//!   receipt, lossy). Target: tasks ≥ 0.8× the threads' throughput.
//! - `run_latency` (a custom measurement, like `latency.rs`): publish→`recv_async` at one event
//!   per 50 µs, one task on a 2-worker tokio runtime, against tokio broadcast's `recv().await` on
//!   an identical runtime. Target: p50 ≤ 1.2× tokio's.

use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use fanout::error::RecvError;
use fanout::{Bus, Event, Overflow, Topics, WaitStrategy};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;

use crate::support::events::{now_ns, topic, Msg, Small};
use crate::support::BATCH;

/// How the subscribers of one run receive.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `fanout`, one thread per subscriber, `recv` (parks).
    FanoutThreads,
    /// `fanout`, one task per subscriber, `recv_async`.
    FanoutTasks,
    /// `fanout`, one task per subscriber, `recv_into_async` batches of 256.
    FanoutTasksBatch,
    /// `tokio::sync::broadcast`, one task per receiver, `recv().await`.
    TokioTasks,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::FanoutThreads => "fanout-block-threads",
            Kind::FanoutTasks => "fanout-block-tasks",
            Kind::FanoutTasksBatch => "fanout-block-tasks-batch",
            Kind::TokioTasks => "tokio-broadcast-tasks",
        }
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One timed run: subscribers started (untimed), then one publisher thread publishes `events`
/// (topic = seq % 8), closes, and every subscriber drains to the end.
fn timed(kind: Kind, rt: &Runtime, subs: &[Topics], events: u64) -> Duration {
    let capacity = crate::support::CAPACITY;
    match kind {
        Kind::TokioTasks => {
            let (tx, _) = broadcast::channel::<Small>(capacity);
            let tasks: Vec<_> = subs
                .iter()
                .map(|mask| {
                    let mut rx = tx.subscribe();
                    let mask = mask.bits();
                    rt.spawn(async move {
                        let mut got = 0u64;
                        loop {
                            match rx.recv().await {
                                Ok(e) if e.topic().bit() & mask != 0 => got += 1,
                                Ok(_) => {}
                                Err(broadcast::error::RecvError::Lagged(_)) => {}
                                Err(broadcast::error::RecvError::Closed) => return got,
                            }
                        }
                    })
                })
                .collect();
            let start = Instant::now();
            for seq in 0..events {
                let _ = tx.send(Small::make(seq, topic(seq as usize % 8)));
            }
            drop(tx);
            rt.block_on(async {
                for task in tasks {
                    std::hint::black_box(task.await.expect("receiver task"));
                }
            });
            start.elapsed()
        }
        _ => {
            let bus = Bus::<Small>::new();
            let subscribers: Vec<_> = subs
                .iter()
                .map(|mask| {
                    bus.subscriber()
                        .topics(*mask)
                        .capacity(capacity)
                        .overflow(Overflow::Block)
                        .wait(WaitStrategy::Park)
                        .build()
                        .expect("open bus")
                })
                .collect();
            let mut threads = Vec::new();
            let mut tasks = Vec::new();
            for mut sub in subscribers {
                match kind {
                    Kind::FanoutThreads => threads.push(thread::spawn(move || {
                        let mut got = 0u64;
                        while sub.recv().is_ok() {
                            got += 1;
                        }
                        got
                    })),
                    Kind::FanoutTasks => tasks.push(rt.spawn(async move {
                        let mut got = 0u64;
                        while sub.recv_async().await.is_ok() {
                            got += 1;
                        }
                        got
                    })),
                    Kind::FanoutTasksBatch => tasks.push(rt.spawn(async move {
                        let mut got = 0u64;
                        let mut buf = Vec::with_capacity(256);
                        loop {
                            match sub.recv_into_async(&mut buf, 256).await {
                                Ok(n) => got += n as u64,
                                Err(RecvError::Lagged(_)) => {}
                                Err(_) => return got,
                            }
                            buf.clear();
                        }
                    })),
                    Kind::TokioTasks => unreachable!(),
                }
            }
            let start = Instant::now();
            for seq in 0..events {
                bus.publish(Small::make(seq, topic(seq as usize % 8)))
                    .expect("open bus");
            }
            drop(bus);
            for t in threads {
                std::hint::black_box(t.join().expect("receiver thread"));
            }
            rt.block_on(async {
                for task in tasks {
                    std::hint::black_box(task.await.expect("receiver task"));
                }
            });
            start.elapsed()
        }
    }
}

/// The selective scenario with thread, task and tokio-task subscribers.
pub fn selective(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_selective");
    group.throughput(Throughput::Elements(BATCH));
    let subs: Vec<Topics> = (0..16).map(|i| Topics::from(topic(i % 8))).collect();
    let rt = runtime();
    for kind in [
        Kind::FanoutThreads,
        Kind::FanoutTasks,
        Kind::FanoutTasksBatch,
        Kind::TokioTasks,
    ] {
        group.bench_function(BenchmarkId::new(kind.name(), 16), |b| {
            b.iter_custom(|iters| timed(kind, &rt, &subs, iters * BATCH))
        });
    }
    group.finish();
}

/// The gap between two publishes.
const GAP: Duration = Duration::from_micros(50);

/// Publishes `samples` (+5% warm-up) stamped events, one per 50 µs, from this thread through
/// `publish`; `received` collects the receiving task's latencies.
fn paced(samples: usize, mut publish: impl FnMut(Small)) {
    let warm = samples / 20;
    let start = Instant::now();
    for i in 0..(samples + warm) as u32 {
        let due = start + GAP * (i + 1);
        while Instant::now() < due {
            thread::yield_now();
        }
        publish(Small::make(u64::from(i), topic(0)).stamped());
    }
}

fn percentiles(name: &str, lat: Vec<u64>, samples: usize) -> (String, u64, u64, u64) {
    let warm = samples / 20;
    let mut lat = lat;
    let mut lat = lat.split_off(warm.min(lat.len()));
    lat.sort_unstable();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    (name.to_string(), pick(0.5), pick(0.99), pick(0.999))
}

fn fanout_latency(samples: usize) -> (String, u64, u64, u64) {
    let rt = runtime();
    let bus = Bus::<Small>::new();
    let mut sub = bus
        .subscriber()
        .capacity(crate::support::CAPACITY)
        .overflow(Overflow::Block)
        .build()
        .expect("open bus");
    let task = rt.spawn(async move {
        let mut lat = Vec::with_capacity(samples + samples / 20);
        while let Ok(e) = sub.recv_async().await {
            lat.push(now_ns().saturating_sub(e.stamp()));
        }
        lat
    });
    paced(samples, |e| {
        bus.publish(e).expect("open bus");
    });
    drop(bus);
    let lat = rt.block_on(task).expect("receiver task");
    percentiles("fanout-recv-async", lat, samples)
}

fn tokio_latency(samples: usize) -> (String, u64, u64, u64) {
    let rt = runtime();
    let (tx, mut rx) = broadcast::channel::<Small>(crate::support::CAPACITY);
    let task = rt.spawn(async move {
        let mut lat = Vec::with_capacity(samples + samples / 20);
        loop {
            match rx.recv().await {
                Ok(e) => lat.push(now_ns().saturating_sub(e.stamp())),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return lat,
            }
        }
    });
    paced(samples, |e| {
        let _ = tx.send(e);
    });
    drop(tx);
    let lat = rt.block_on(task).expect("receiver task");
    percentiles("tokio-broadcast-recv-await", lat, samples)
}

/// Publish→receive latency of one async receiver: fanout's `recv_async` vs tokio broadcast's
/// `recv().await`, alternated three times each so that both see the same machine load.
pub fn run_latency(quick: bool) {
    let samples = if quick { 4_000 } else { 20_000 };
    println!("\nasync latency (publish -> task, 1 event / 50 us, {samples} samples each, tokio 2 workers)");
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "receiver", "p50 ns", "p99 ns", "p99.9 ns"
    );
    let mut json = String::from("[\n");
    let mut first = true;
    for round in 0..3 {
        for (name, p50, p99, p999) in [fanout_latency(samples), tokio_latency(samples)] {
            println!(
                "{:<28} {p50:>10} {p99:>10} {p999:>10}",
                format!("{name} #{round}")
            );
            json.push_str(&format!(
                "{}  {{\"name\": \"{name}\", \"round\": {round}, \"p50_ns\": {p50}, \"p99_ns\": {p99}, \"p999_ns\": {p999}}}",
                if first { "" } else { ",\n" }
            ));
            first = false;
        }
    }
    json.push_str("\n]\n");
    let dir = crate::support::criterion_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("async_latency.json"), json);
    }
}
