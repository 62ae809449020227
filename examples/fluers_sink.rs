//! fluers' event seam on fanout (issue 21): the runtime's own `RunEvent` and `EventSink` trait,
//! kept as they are, with the bus behind them.
//!
//! ```sh
//! cargo run -p fanout-examples --example fluers_sink
//! ```
//!
//! fluers' contract is "`emit` is non-blocking; returns immediately": the agent loop calls it
//! inline. Two failures of the first port are exercised here:
//!
//! - a lossless (`Block`) exporter that stops reading made `EventSink for Bus` wait in the agent
//!   loop: `fanout::sink::NonBlocking` never waits; what the stuck exporter misses is counted and
//!   reported to it as `Lagged`, and every other subscriber gets everything;
//! - a lossless watchdog tap that emits into the same bus waited on its own full queue: a tap's
//!   publish into its own full `Block` queue does not wait (the event is lost to the tap, and
//!   reported to it). Here its queue holds the whole run, so whether one of its `RunFailed`s
//!   meets it full depends on the timing; `tests/tap_owned.rs` forces that case.
//!
//! `fluers_core` and `fluers_runtime` stand for fluers' two crates: the trait lives in the core
//! crate, which does not depend on fanout, so the runtime crate puts the bus behind it with a
//! newtype (the orphan rule refuses `impl fluers_core::EventSink for fanout::Publisher<_>` there).
//! In real crates `impl fanout::Event for RunEvent` would sit in `fluers_core` behind an optional
//! `fanout` feature.

use std::time::Duration;

use fanout::error::RecvError;
use fanout::tap::Received;
use fanout::{topic, Overflow, Topic};

/// fluers' core crate: the event, the seam, the agent loop. No fanout in sight (but for the
/// `Event` impl, behind a feature in the real crate).
mod fluers_core {
    /// An observable run-lifecycle event: structural metadata only, no content.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum RunEvent {
        SessionStarted {
            session: u64,
        },
        TurnStarted {
            session: u64,
            turn: usize,
        },
        ToolFinished {
            session: u64,
            turn: usize,
            tool: String,
            ok: bool,
        },
        TurnFinished {
            session: u64,
            turn: usize,
        },
        RunFailed {
            session: u64,
            error: String,
        },
    }

    /// The seam: implementations must be non-blocking.
    pub trait EventSink: Send + Sync {
        /// Emit `event` to all subscribers. Non-blocking; returns immediately.
        fn emit(&self, event: RunEvent);
    }

    /// The agent loop: emits inline, as fluers' runner does.
    pub fn run_agent(sink: &dyn EventSink, session: u64, turns: usize) {
        sink.emit(RunEvent::SessionStarted { session });
        for turn in 1..=turns {
            sink.emit(RunEvent::TurnStarted { session, turn });
            let ok = turn % 7 != 0;
            sink.emit(RunEvent::ToolFinished {
                session,
                turn,
                tool: "grep".into(),
                ok,
            });
            sink.emit(RunEvent::TurnFinished { session, turn });
        }
    }
}

use fluers_core::{EventSink, RunEvent};

const LIFECYCLE: Topic = topic!(0);
const TOOL: Topic = topic!(1);

impl fanout::Event for RunEvent {
    fn topic(&self) -> Topic {
        match self {
            RunEvent::ToolFinished { .. } => TOOL,
            _ => LIFECYCLE,
        }
    }
}

/// fluers' runtime crate: the bus behind the core's trait.
mod fluers_runtime {
    use super::fluers_core::{EventSink, RunEvent};

    /// The newtype the orphan rule asks for: `fluers_core::EventSink` on a fanout publisher.
    #[derive(Clone)]
    pub struct BusSink(pub fanout::sink::NonBlocking<RunEvent>);

    impl EventSink for BusSink {
        fn emit(&self, event: RunEvent) {
            fanout::EventSink::emit(&self.0, event); // try_publish: never waits
        }
    }
}

use fluers_runtime::BusSink;

/// What one run of the scenario saw.
#[derive(Debug)]
struct Outcome {
    ui_events: usize,
    exporter_received: usize,
    exporter_lost: u64,
    watchdog_handled: u64,
    watchdog_lost: u64,
    failures_emitted: usize,
}

/// An agent loop emitting through a `BusSink` while a lossless exporter never reads (until the
/// end) and a lossless watchdog tap, slower than the loop, emits `RunFailed` for each failed tool
/// into the same bus.
fn scenario(turns: usize) -> Outcome {
    let bus = fanout::Bus::new();
    let mut ui = bus.subscriber().capacity(4096).build().expect("open");
    let mut exporter = bus
        .subscriber()
        .name("otel-exporter")
        .capacity(16)
        .overflow(Overflow::Block)
        .build()
        .expect("open");
    let watchdog_sink = BusSink(bus.publisher().into());
    let (caught_up, wait_caught_up) = std::sync::mpsc::channel();
    let watchdog = bus
        .tap()
        .name("watchdog")
        // Room for the loop's own events of the whole run, not for what the watchdog adds: its
        // `RunFailed`s may find its own queue full, and must not wait on it.
        .capacity(3 * turns + 2)
        .overflow(Overflow::Block)
        .spawn(move |item: Received<RunEvent>| {
            if let Received::Event(RunEvent::TurnFinished { turn, .. }) = &item {
                if *turn == turns {
                    let _ = caught_up.send(()); // it has seen the whole run
                }
            }
            if let Received::Event(RunEvent::ToolFinished {
                session, ok, tool, ..
            }) = item
            {
                // Slower than the loop (it checks a policy): its queue fills up.
                std::thread::sleep(Duration::from_micros(50));
                if ok {
                    return;
                }
                // Into its own bus, and into its own (often full) queue: never waits on itself.
                watchdog_sink.emit(RunEvent::RunFailed {
                    session,
                    error: format!("{tool} failed"),
                });
            }
        })
        .expect("open");

    let sink = BusSink(bus.publisher().into());
    fluers_core::run_agent(&sink, 1, turns); // returns although the exporter never reads
    drop(sink);
    // Close once the watchdog has seen the whole run (so its emits reach the bus); it then
    // handles what is still queued and ends.
    wait_caught_up
        .recv()
        .expect("the watchdog sees the last turn");
    bus.close();
    let watchdog = watchdog.join();
    let ui_items: Vec<_> = ui.iter().collect();
    let (mut exporter_received, mut exporter_lost) = (0, 0);
    for item in exporter.iter() {
        match item {
            Ok(_) => exporter_received += 1,
            Err(RecvError::Lagged(n)) => exporter_lost += n,
            Err(end) => panic!("{end}"),
        }
    }
    let failures_emitted = ui_items
        .iter()
        .filter(|item| matches!(item, Ok(RunEvent::RunFailed { .. })))
        .count();
    Outcome {
        ui_events: ui_items.len(),
        exporter_received,
        exporter_lost,
        watchdog_handled: watchdog.stats.events,
        watchdog_lost: watchdog.stats.lagged,
        failures_emitted,
    }
}

fn main() {
    let turns = 70;
    let out = scenario(turns);
    println!(
        "agent loop: {turns} turns, {} events emitted, emit never waited",
        1 + 3 * turns
    );
    println!(
        "ui: {} events; exporter (Block, stuck): {} received, {} lost and reported",
        out.ui_events, out.exporter_received, out.exporter_lost
    );
    println!(
        "watchdog tap: {} handled, {} of its own RunFailed lost to it (not waited for), {} emitted",
        out.watchdog_handled, out.watchdog_lost, out.failures_emitted
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_never_waits_and_every_loss_is_reported_to_whom_it_concerns() {
        let turns = 70;
        let out = scenario(turns);
        let failed = turns / 7;
        // Everything the loop emitted plus the watchdog's RunFailed events reached the UI.
        assert_eq!(out.ui_events, 1 + 3 * turns + out.failures_emitted);
        // The stuck exporter: its 16 slots, the rest counted lost (nothing silently gone).
        assert_eq!(out.exporter_received, 16);
        assert_eq!(
            out.exporter_received as u64 + out.exporter_lost,
            (out.ui_events) as u64
        );
        // The watchdog saw every failed tool and emitted a RunFailed for each, into its own bus;
        // those that found its own queue full were lost to it, not waited for.
        assert_eq!(out.failures_emitted, failed);
        assert_eq!(
            out.watchdog_handled + out.watchdog_lost,
            (1 + 3 * turns + failed) as u64
        );
    }
}
