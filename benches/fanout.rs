//! The benchmark suite of issue 4: `fanout` against its peers on the same scenarios, in one run.
//!
//! ```text
//! cargo bench --bench fanout                             # everything (~25 min)
//! FANOUT_BENCH_QUICK=1 cargo bench --bench fanout        # quick mode (< 5 min)
//! FANOUT_BENCH_QUICK=1 cargo bench --bench fanout -- broadcast   # one scenario
//! python3 benches/chart.py                               # docs/benchmarks.svg from the results
//! ```
//!
//! A package of its own (`fanout-benches`, benches/Cargo.toml) so that its dependencies never
//! build for the library's tests and examples; run the commands above from the repository root.
//!
//! Layout: `support/` (events, the [`Strategy`](support::strategy::Strategy) trait, quick mode),
//! `strategies/` (one file per strategy: add yours there), `scenarios/` (one function per scenario).

mod scenarios;
mod strategies;
mod support;

/// The positional filter criterion was given, if any (`cargo bench -- <filter>`).
fn filter() -> Option<String> {
    let mut args = std::env::args().skip(1);
    let mut found = None;
    while let Some(arg) = args.next() {
        if arg.starts_with("--") {
            // Options that take a value.
            if matches!(
                arg.as_str(),
                "--save-baseline"
                    | "--baseline"
                    | "--load-baseline"
                    | "--profile-time"
                    | "--sample-size"
                    | "--warm-up-time"
                    | "--measurement-time"
                    | "--output-format"
                    | "--color"
                    | "--format"
                    | "--logfile"
            ) {
                args.next();
            }
        } else if !arg.starts_with('-') {
            found = Some(arg);
        }
    }
    found
}

fn main() {
    let quick = support::quick();
    let mut c = support::criterion();
    scenarios::throughput::base(&mut c);
    scenarios::throughput::idle(&mut c);
    scenarios::throughput::selective(&mut c);
    scenarios::throughput::broadcast(&mut c);
    scenarios::sustained::selective(&mut c);
    scenarios::sustained::broadcast(&mut c);
    scenarios::throughput::per_delivery(&mut c);
    scenarios::policies::isolation(&mut c);
    scenarios::policies::eviction(&mut c);
    scenarios::throughput::multi_publisher(&mut c);
    scenarios::throughput::payload(&mut c);
    scenarios::async_delivery::selective(&mut c);
    scenarios::history::publish_only(&mut c);
    scenarios::history::replay(&mut c);
    scenarios::keys::targeted_publish(&mut c);
    c.final_summary();

    // `cargo test --benches` runs each benchmark once, without `--bench`: a smoke test. The
    // latency scenario and the loss report only mean something in a real run.
    let args: Vec<String> = std::env::args().collect();
    let measuring =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list" || a == "--test");
    if !measuring {
        return;
    }
    if filter().map_or(true, |f| "latency".contains(&f) || f.contains("latency")) {
        scenarios::latency::run(quick);
    }
    if filter().map_or(true, |f| {
        "async_latency".contains(&f) || f.contains("async_latency")
    }) {
        scenarios::async_delivery::run_latency(quick);
    }
    report_tallies();
}

/// Prints (and saves as JSON) what receivers got and lost in every cross-thread benchmark.
fn report_tallies() {
    let tallies = scenarios::tallies();
    if tallies.is_empty() {
        return;
    }
    println!("\nreceived / lost per benchmark (summed over every timed run)");
    println!(
        "{:<52} {:>12} {:>12} {:>12} {:>8}",
        "benchmark", "published", "received", "lost", "lost %"
    );
    let mut json = String::from("[\n");
    for (i, (key, published, t)) in tallies.iter().enumerate() {
        let seen = t.received + t.skipped + t.lost;
        let pct = if seen == 0 {
            0.0
        } else {
            100.0 * t.lost as f64 / seen as f64
        };
        println!(
            "{key:<52} {published:>12} {:>12} {:>12} {pct:>7.1}%",
            t.received, t.lost
        );
        json.push_str(&format!(
            "  {{\"bench\": \"{key}\", \"published\": {published}, \"received\": {}, \"skipped\": {}, \"lost\": {}}}{}\n",
            t.received,
            t.skipped,
            t.lost,
            if i + 1 < tallies.len() { "," } else { "" }
        ));
    }
    json.push_str("]\n");
    let dir = support::criterion_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("tallies.json"), json);
    }
}
