//! Issue 19: targeting one subscriber among N (a tab among open tabs). One thread publishes
//! events, each for one key (the keys in turn), to N subscribers of one key each, N = 16, 100,
//! 1,000, 10,000; every subscriber is drained (untimed) between bursts. The cost of one targeted
//! event, compared three ways:
//!
//! - `keyed`: fanout with `SubscriberBuilder::key` (the key index; timed: the publish call),
//!   the keys in turn, so that every publish reaches a subscriber whose queue is cold in the
//!   cache (the worst case for a large N);
//! - `keyed-stream`: the same, but each burst of 64 events is for one key (a run streaming its
//!   tokens to one tab), the key changing from burst to burst;
//! - `filter`: fanout with a `filter` per subscriber comparing the key (what targeting cost
//!   before keys; timed: the publish call, which runs N filters);
//! - `tokio-filter`: `tokio::sync::broadcast` with the filter after receipt (timed: the send and
//!   every receiver's `try_recv` and filter: where that design pays for targeting).
//!
//! Throughput is in events per second; each event is delivered to exactly one subscriber, so it
//! is also deliveries per second. One thread: no wake-up and no contention is measured.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use fanout::{topic, Bus, Event, Key, Topic};

/// A 48-byte event for one key.
#[derive(Clone, Copy)]
struct Targeted {
    key: u64,
    _payload: [u64; 5],
}

impl Event for Targeted {
    fn topic(&self) -> Topic {
        topic!(0)
    }
    fn key(&self) -> Option<Key> {
        Some(Key::from(self.key))
    }
}

fn targeted(i: u64, n: u64) -> Targeted {
    Targeted {
        key: i % n,
        _payload: [i; 5],
    }
}

/// Times bursts of `BURST` calls of `step`, running `drain` (untimed) between bursts.
fn bursts(iters: u64, mut step: impl FnMut(u64), mut drain: impl FnMut()) -> Duration {
    const BURST: u64 = 64;
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = BURST.min(iters - done);
        let start = Instant::now();
        for i in done..done + n {
            step(i);
        }
        total += start.elapsed();
        done += n;
        drain();
    }
    total
}

pub fn targeted_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("keys_targeted_publish");
    group.throughput(Throughput::Elements(1));
    for n in [16u64, 100, 1_000, 10_000] {
        let bus: Bus<Targeted> = Bus::new();
        let mut subs: Vec<_> = (0..n)
            .map(|k| bus.subscriber().key(k).capacity(64).build().unwrap())
            .collect();
        group.bench_function(BenchmarkId::new("keyed", n), |b| {
            b.iter_custom(|iters| {
                bursts(
                    iters,
                    |i| {
                        let _ = bus.publish(black_box(targeted(i, n)));
                    },
                    || drain(&mut subs),
                )
            })
        });
        group.bench_function(BenchmarkId::new("keyed-stream", n), |b| {
            b.iter_custom(|iters| {
                bursts(
                    iters,
                    |i| {
                        let _ = bus.publish(black_box(targeted(i / 64, n)));
                    },
                    || drain(&mut subs),
                )
            })
        });
        drop(subs);

        let bus: Bus<Targeted> = Bus::new();
        let mut subs: Vec<_> = (0..n)
            .map(|k| {
                bus.subscriber()
                    .filter(move |e: &Targeted| e.key == k)
                    .capacity(64)
                    .build()
                    .unwrap()
            })
            .collect();
        group.bench_function(BenchmarkId::new("filter", n), |b| {
            b.iter_custom(|iters| {
                bursts(
                    iters,
                    |i| {
                        let _ = bus.publish(black_box(targeted(i, n)));
                    },
                    || drain(&mut subs),
                )
            })
        });
        drop(subs);

        let (tx, _) = tokio::sync::broadcast::channel::<Targeted>(64);
        let mut rxs: Vec<_> = (0..n).map(|k| (k, tx.subscribe())).collect();
        group.bench_function(BenchmarkId::new("tokio-filter", n), |b| {
            b.iter_custom(|iters| {
                // The whole burst is one timed step here: send, then every receiver takes what
                // it was sent and filters it (the receiving side is where targeting happens).
                let mut total = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let burst = 64.min(iters - done);
                    let start = Instant::now();
                    for i in done..done + burst {
                        let _ = tx.send(black_box(targeted(i, n)));
                    }
                    for (k, rx) in &mut rxs {
                        while let Ok(e) = rx.try_recv() {
                            if e.key == *k {
                                black_box(e);
                            }
                        }
                    }
                    total += start.elapsed();
                    done += burst;
                }
                total
            })
        });
    }
    group.finish();
}

fn drain(subs: &mut [fanout::Subscriber<Targeted>]) {
    for sub in subs {
        while let Ok(e) = sub.try_recv() {
            black_box(e);
        }
    }
}
