//! Scenario 6: publish→receive latency at one event per 50 µs, one subscriber; a custom
//! measurement (criterion reports means and medians, not tail percentiles). Prints a table and
//! writes `<criterion dir>/latency.json` for the chart.

use std::thread;
use std::time::{Duration, Instant};

use fanout::{Overflow, Topics, WaitStrategy};

use crate::strategies::bus_crate::BusCrate;
use crate::strategies::disruptor::Disruptor;
use crate::strategies::fanout::Fanout;
use crate::strategies::floor::Floor;
use crate::strategies::tokio::TokioBroadcast;
use crate::support::events::{now_ns, topic, Msg, Small};
use crate::support::strategy::{Recv, Rx, Strategy, Tx};

/// The gap between two publishes.
const GAP: Duration = Duration::from_micros(50);

/// Percentiles of one strategy's run, in nanoseconds.
pub struct Percentiles {
    /// Label.
    pub name: String,
    /// Samples kept.
    pub samples: usize,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
}

fn measure<S: Strategy>(label: &str, s: &S, samples: usize) -> Percentiles {
    let (mut tx, mut rxs) = s.build::<Small>(&[Topics::ALL], crate::support::CAPACITY);
    let mut rx = rxs.pop().expect("one receiver");
    let receiver = thread::spawn(move || {
        let mut lat = Vec::with_capacity(samples);
        loop {
            match rx.recv() {
                Recv::Event(e) => {
                    let now = now_ns();
                    lat.push(now.saturating_sub(e.stamp()));
                }
                Recv::Lost(_) => {}
                Recv::Closed => return lat,
            }
        }
    });
    // 5% warm-up, dropped from the results.
    let warm = samples / 20;
    let start = Instant::now();
    for i in 0..(samples + warm) as u32 {
        let due = start + GAP * (i + 1);
        // Wait by yielding, not spinning: on 2 cores a spinning publisher would take the core
        // a parked receiver needs to wake on.
        while Instant::now() < due {
            thread::yield_now();
        }
        tx.publish(Small::make(u64::from(i), topic(0)).stamped());
    }
    drop(tx);
    let mut lat = receiver.join().expect("receiver");
    let mut lat = lat.split_off(warm.min(lat.len()));
    lat.sort_unstable();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Percentiles {
        name: label.to_string(),
        samples: lat.len(),
        p50: pick(0.50),
        p99: pick(0.99),
        p999: pick(0.999),
    }
}

/// Runs the latency scenario for every strategy, prints the table, writes the JSON.
pub fn run(quick: bool) {
    let samples = if quick { 4_000 } else { 20_000 };
    let lossless = |wait| Fanout {
        overflow: Overflow::Block,
        wait,
        batch: 0,
        publish_batch: 0,
    };
    let results = [
        measure("fanout-park", &lossless(WaitStrategy::Park), samples),
        measure(
            "fanout-spin-then-park",
            &lossless(WaitStrategy::spin_then_park()),
            samples,
        ),
        measure(
            "fanout-busy-spin",
            &lossless(WaitStrategy::BusySpin),
            samples,
        ),
        measure("crossbeam-raw", &Floor, samples),
        measure("tokio-broadcast", &TokioBroadcast, samples),
        measure("bus-crate", &BusCrate, samples),
        measure("disruptor-busy-spin", &Disruptor, samples),
    ];
    println!("\nlatency (publish -> receive, 1 event / 50 us, {samples} samples each)");
    println!(
        "{:<24} {:>10} {:>10} {:>10}",
        "strategy", "p50 ns", "p99 ns", "p99.9 ns"
    );
    let mut json = String::from("[\n");
    for (i, r) in results.iter().enumerate() {
        println!("{:<24} {:>10} {:>10} {:>10}", r.name, r.p50, r.p99, r.p999);
        json.push_str(&format!(
            "  {{\"name\": \"{}\", \"samples\": {}, \"p50_ns\": {}, \"p99_ns\": {}, \"p999_ns\": {}}}{}\n",
            r.name,
            r.samples,
            r.p50,
            r.p99,
            r.p999,
            if i + 1 < results.len() { "," } else { "" }
        ));
    }
    json.push_str("]\n");
    let dir = crate::support::criterion_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let path = dir.join("latency.json");
        match std::fs::write(&path, json) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(err) => eprintln!("could not write {}: {err}", path.display()),
        }
    }
}
