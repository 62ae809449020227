//! behest's run-stream forwarder on fanout (issue 21): the runtime's own `AgentEvent` (its
//! variants, its `run_id()` and `is_terminal()`) kept, and the forwarder that streams one run to
//! a client until the run's end.
//!
//! ```sh
//! cargo run -p fanout-examples --example behest_forwarder
//! ```
//!
//! The failure of the first port: the forwarder is a subscriber filtered by run that stops at
//! `is_terminal()`. On a 64-slot drop-oldest queue read by a slow client, a flood of the run's
//! own events after its end (a provider stream that keeps sending deltas) evicted the terminal
//! event, and the forwarder never ended. Here the forwarder is a `RunStream`: behest's event type
//! implements `fanout::agent::RunLifecycle`, so the stream keeps the run's lifecycle topic
//! lossless (`SubscriberBuilder::lossless`) and always ends at the run's end, with every other
//! loss reported to the client as an exact count.
//!
//! `behest` stands for behest's crate (its event type, written for this example from its public
//! definition), `glue` for what a port adds: the two trait impls and the forwarder.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fanout::agent::RunStream;
use fanout::error::RecvError;
use fanout::{Bus, Overflow};

/// behest's event type: a subset of its variants (the run's lifecycle, the per-token deltas,
/// tool calls, usage), with behest's own accessors. No fanout in sight.
mod behest {
    // A stand-in crate: its fields are the runtime's, read by its other consumers.
    #![allow(dead_code)]

    use std::time::SystemTime;

    /// A run's id (a uuid newtype in behest).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct RunId(pub uuid::Uuid);

    impl RunId {
        pub fn new() -> Self {
            RunId(uuid::Uuid::new_v4())
        }
    }

    /// What a run emits.
    #[derive(Clone, Debug)]
    pub enum AgentEvent {
        RunStarted {
            run_id: RunId,
            model: String,
            timestamp: SystemTime,
        },
        TextDelta {
            run_id: RunId,
            delta: String,
            timestamp: SystemTime,
        },
        ToolCallStarted {
            run_id: RunId,
            call_id: String,
            tool_name: String,
            timestamp: SystemTime,
        },
        ToolCallDelta {
            run_id: RunId,
            call_id: String,
            delta: String,
            timestamp: SystemTime,
        },
        ToolExecutionFinished {
            run_id: RunId,
            call_id: String,
            duration_ms: u64,
            timestamp: SystemTime,
        },
        UsageRecorded {
            run_id: RunId,
            input_tokens: u64,
            output_tokens: u64,
            timestamp: SystemTime,
        },
        RunCompleted {
            run_id: RunId,
            iterations: usize,
            timestamp: SystemTime,
        },
        RunFailed {
            run_id: RunId,
            error: String,
            timestamp: SystemTime,
        },
        RunCancelled {
            run_id: RunId,
            timestamp: SystemTime,
        },
    }

    impl AgentEvent {
        /// The run this event belongs to (every behest event has one).
        pub fn run_id(&self) -> RunId {
            match self {
                AgentEvent::RunStarted { run_id, .. }
                | AgentEvent::TextDelta { run_id, .. }
                | AgentEvent::ToolCallStarted { run_id, .. }
                | AgentEvent::ToolCallDelta { run_id, .. }
                | AgentEvent::ToolExecutionFinished { run_id, .. }
                | AgentEvent::UsageRecorded { run_id, .. }
                | AgentEvent::RunCompleted { run_id, .. }
                | AgentEvent::RunFailed { run_id, .. }
                | AgentEvent::RunCancelled { run_id, .. } => *run_id,
            }
        }

        /// Whether this event ends its run.
        pub fn is_terminal(&self) -> bool {
            matches!(
                self,
                AgentEvent::RunCompleted { .. }
                    | AgentEvent::RunFailed { .. }
                    | AgentEvent::RunCancelled { .. }
            )
        }
    }
}

/// The port: behest's event on the bus, and its forwarder.
mod glue {
    use fanout::agent::{RunLifecycle, RunStream};
    use fanout::error::BuildError;
    use fanout::{topic, Bus, Event, Topic, Topics};

    use super::behest::{AgentEvent, RunId};

    pub const LIFECYCLE: Topic = topic!(0);
    pub const DELTA: Topic = topic!(1);
    pub const TOOL: Topic = topic!(2);
    pub const USAGE: Topic = topic!(3);

    impl Event for AgentEvent {
        fn topic(&self) -> Topic {
            match self {
                AgentEvent::TextDelta { .. } | AgentEvent::ToolCallDelta { .. } => DELTA,
                AgentEvent::ToolCallStarted { .. } | AgentEvent::ToolExecutionFinished { .. } => {
                    TOOL
                }
                AgentEvent::UsageRecorded { .. } => USAGE,
                _ => LIFECYCLE,
            }
        }
    }

    impl RunLifecycle for AgentEvent {
        type RunId = RunId;
        const TERMINAL_TOPICS: Topics = Topics::only(LIFECYCLE);
        // behest's `run_id()` returns a copy; the trait wants a reference (filters never clone).
        fn run_id(&self) -> Option<&RunId> {
            Some(match self {
                AgentEvent::RunStarted { run_id, .. }
                | AgentEvent::TextDelta { run_id, .. }
                | AgentEvent::ToolCallStarted { run_id, .. }
                | AgentEvent::ToolCallDelta { run_id, .. }
                | AgentEvent::ToolExecutionFinished { run_id, .. }
                | AgentEvent::UsageRecorded { run_id, .. }
                | AgentEvent::RunCompleted { run_id, .. }
                | AgentEvent::RunFailed { run_id, .. }
                | AgentEvent::RunCancelled { run_id, .. } => run_id,
            })
        }
        fn is_terminal(&self) -> bool {
            AgentEvent::is_terminal(self)
        }
    }

    /// behest's forwarder: one run's events, in order, until its end. On a `DropOldest`
    /// subscriber the run's lifecycle topic is lossless, so the end always comes.
    pub fn stream_run(
        bus: &Bus<AgentEvent>,
        run: RunId,
        capacity: usize,
    ) -> Result<RunStream<AgentEvent>, BuildError> {
        RunStream::with(
            bus.subscriber().capacity(capacity).name("run-forwarder"),
            run,
        )
    }
}

use behest::{AgentEvent, RunId};

/// What the client of the forwarder received.
#[derive(Debug, Default)]
pub struct Forwarded {
    /// Events forwarded.
    pub events: usize,
    /// Events reported lost (`Lagged`), summed.
    pub lost: u64,
    /// Whether the last event forwarded ended the run.
    pub ended: bool,
    /// Whether the stream was cut (the bus closed) before the run ended.
    pub cut: bool,
    /// The run's events still queued when the stream ended (published after the run's end).
    pub after_end: usize,
}

/// The agent loop's run: a start, a tool call, `deltas` text deltas, usage, the end, and then
/// `late` more deltas of the same run (a provider stream that does not stop at the end); other
/// runs' events in between, which the forwarder's filter never lets in.
fn run_agent(bus: &Bus<AgentEvent>, run: RunId, deltas: usize, late: usize) -> usize {
    let now = std::time::SystemTime::now;
    let other = RunId::new();
    let mut published = 0;
    let mut publish = |event: AgentEvent| {
        if event.run_id() == run {
            published += 1;
        }
        bus.publish(event).unwrap();
    };
    publish(AgentEvent::RunStarted {
        run_id: run,
        model: "m".into(),
        timestamp: now(),
    });
    publish(AgentEvent::ToolCallStarted {
        run_id: run,
        call_id: "c1".into(),
        tool_name: "grep".into(),
        timestamp: now(),
    });
    for i in 0..20 {
        publish(AgentEvent::ToolCallDelta {
            run_id: run,
            call_id: "c1".into(),
            delta: format!("{i}"),
            timestamp: now(),
        });
    }
    publish(AgentEvent::ToolExecutionFinished {
        run_id: run,
        call_id: "c1".into(),
        duration_ms: 3,
        timestamp: now(),
    });
    for i in 0..deltas {
        publish(AgentEvent::TextDelta {
            run_id: run,
            delta: format!("tok{i} "),
            timestamp: now(),
        });
        publish(AgentEvent::TextDelta {
            run_id: other,
            delta: "another run".into(),
            timestamp: now(),
        });
    }
    publish(AgentEvent::UsageRecorded {
        run_id: run,
        input_tokens: 100,
        output_tokens: deltas as u64,
        timestamp: now(),
    });
    publish(AgentEvent::RunCompleted {
        run_id: run,
        iterations: 1,
        timestamp: now(),
    });
    for i in 0..late {
        publish(AgentEvent::TextDelta {
            run_id: run,
            delta: format!("late{i} "),
            timestamp: now(),
        });
    }
    published
}

/// The client end: reads the forwarder's items slowly (an SSE connection), only once the agent
/// has published everything, so the 64-slot queue overflows.
fn forward(stream: &mut RunStream<AgentEvent>) -> Forwarded {
    let mut out = Forwarded::default();
    for item in stream.iter() {
        match item {
            Ok(event) => {
                out.events += 1;
                out.ended = event.is_terminal();
            }
            Err(RecvError::Lagged(n)) => out.lost += n, // a `gap { missed: n }` frame
            Err(_) => out.cut = true,
        }
        thread::sleep(Duration::from_micros(20));
    }
    out
}

/// The scenario: the forwarder subscribes before the run, the agent publishes the whole run and
/// the flood, then the slow client drains. The bus stays open: the stream ends because the run
/// did, or not at all (`deadline`).
pub fn scenario(deltas: usize, late: usize) -> (usize, Forwarded) {
    let bus = Bus::<AgentEvent>::builder()
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let run = RunId::new();
    let mut stream = glue::stream_run(&bus, run, 64).unwrap();
    let published = run_agent(&bus, run, deltas, late);
    let (done_tx, done) = mpsc::channel();
    let client = thread::spawn(move || {
        let out = forward(&mut stream);
        done_tx.send(()).unwrap();
        (out, stream)
    });
    // A forwarder that never ends is the bug: give it ten seconds, then close the bus (which
    // ends the stream, `cut`) so that a failing run reports instead of hanging.
    if done.recv_timeout(Duration::from_secs(10)).is_err() {
        bus.close();
    }
    let (mut out, stream) = client.join().unwrap();
    out.after_end = stream.subscriber().len();
    drop(bus);
    (published, out)
}

fn main() {
    let (published, out) = scenario(200, 300);
    println!(
        "run published {published} events (300 after its end) into a 64-slot drop-oldest forwarder"
    );
    println!(
        "client got {} events (the run's start and end among them) and {} reported lost; \
         {} published after the end were left unread; ended at the run's end: {}",
        out.events,
        out.lost,
        out.after_end,
        out.ended && !out.cut
    );
    assert!(
        out.ended && !out.cut,
        "the forwarder did not end at the run's end"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarder_ends_at_the_run_end_and_reports_exact_loss() {
        let (published, out) = scenario(200, 300);
        assert!(out.ended, "the stream did not end with the terminal event");
        assert!(!out.cut, "the stream was cut, not ended");
        // Exact: what the client got, what it was told it lost, and what came after the end.
        assert_eq!(
            out.events as u64 + out.lost + out.after_end as u64,
            published as u64
        );
        // The 64-slot lossy lane holds the last 64 late deltas; the lifecycle lane kept the
        // start and the end, so the client gets those two, with the gap between reported.
        assert_eq!((out.events, out.after_end), (2, 64));
    }
}
