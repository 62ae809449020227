//! What every benchmark shares: the event types, the strategy trait, quick mode, helpers.

pub mod events;
pub mod strategy;

use std::time::Duration;

use criterion::Criterion;

/// Whether `FANOUT_BENCH_QUICK=1` asked for the short suite (< 5 minutes on 2 cores).
pub fn quick() -> bool {
    std::env::var("FANOUT_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The criterion configuration: full or quick.
pub fn criterion() -> Criterion {
    let c = Criterion::default();
    let c = if quick() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1000))
            .without_plots()
    } else {
        c.sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
    };
    c.configure_from_args()
}

/// Queue capacity used by every strategy (per subscriber, or the shared ring's size).
pub const CAPACITY: usize = 1024;

/// Events one criterion iteration publishes in the cross-thread scenarios.
pub const BATCH: u64 = 1000;

/// Where criterion writes its results (`$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else the workspace's `target/criterion`, as criterion itself decides); the latency and tally
/// JSON files go next to them. Cargo runs this bench in `benches/`, so a bare `target` would miss.
pub fn criterion_dir() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}
