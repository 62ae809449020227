//! A simulated AI-agent host whose UI clients are async tasks: the agent loops publish from
//! plain threads (as in `agent_loop`), and 8 browser-tab-like clients on a tokio runtime each
//! follow one session over `recv_async`, the way a WebSocket or SSE handler would.
//!
//! Each client subscribes to the UI topics with a filter on its session (run by the publisher,
//! so other sessions' events never enter its queue) and a small `DropOldest` queue (a slow tab
//! sees the newest events and is told how many it missed). Each "send to the browser" takes
//! `--ui-delay-us`, so the clients fall behind the token stream and lose deltas, counted and
//! reported in-stream as `Lagged(n)`. A run waiter per session awaits the last run's terminal
//! event asynchronously, whatever the client lost.
//!
//! At the end, for every client, events received + events reported lost must equal the events
//! its session published on the UI topics: the example exits non-zero if not.
//!
//! ```text
//! cargo run --release --example async_ui --features fanout-examples/async -- --help
//! cargo run --release --example async_ui --features fanout-examples/async -- \
//!     --runs 3 --deltas 400 --token-us 50 --ui-delay-us 300
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fanout::agent::{now_ms, topics, AgentEvent, AgentId, RunId, RunWaiter, SessionId};
use fanout::error::RecvError;
use fanout::{Bus, Overflow, Publisher};

const CLIENTS: usize = 8;
const CLIENT_CAPACITY: usize = 16;

mod flags;
use flags::{whole, Command, Flag};

#[derive(Debug)]
struct Args {
    runs: u32,
    deltas: u32,
    token_us: u64,
    ui_delay_us: u64,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            runs: 3,
            deltas: 400,
            token_us: 50,
            ui_delay_us: 300,
        }
    }
}

const FLAGS: &[Flag<Args>] = &[
    Flag {
        name: "--runs",
        value: Some("N"),
        help: "runs per session, one after the other, 1..=1000 (default 3)",
        set: |a, v| whole(v, 1, 1000).map(|x| a.runs = x as u32),
    },
    Flag {
        name: "--deltas",
        value: Some("N"),
        help: "text deltas per run, 1..=1000000 (default 400)",
        set: |a, v| whole(v, 1, 1_000_000).map(|x| a.deltas = x as u32),
    },
    Flag {
        name: "--token-us",
        value: Some("N"),
        help: "pause between deltas, µs, 0..=1000000 (default 50)",
        set: |a, v| whole(v, 0, 1_000_000).map(|x| a.token_us = x as u64),
    },
    Flag {
        name: "--ui-delay-us",
        value: Some("N"),
        help: "a client's send time per event, µs, 0..=1000000\n(default 300)",
        set: |a, v| whole(v, 0, 1_000_000).map(|x| a.ui_delay_us = x as u64),
    },
];

fn usage() -> String {
    flags::usage(
        "8 async UI clients (tokio tasks) follow one session each of a simulated\n\
         agent host; every event is received or reported lost, or it exits 1.\n\n\
         usage: cargo run --release --example async_ui --features \\\n\
         \x20   fanout-examples/async -- [FLAGS]   (`--name VALUE` or `--name=VALUE`)\n\n",
        FLAGS,
    )
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command<Args>, String> {
    flags::parse("async_ui", FLAGS, args)
}

/// One session's agent loop on its own thread: `runs` runs, each a `RunStarted`, `deltas` text
/// deltas at token rate and a `RunCompleted`. Returns how many events it published on the UI
/// topics (all of them here).
fn agent_loop(
    publisher: Publisher<Arc<AgentEvent>>,
    session: SessionId,
    runs: &[RunId],
    deltas: u32,
    token: Duration,
) -> u64 {
    let agent = AgentId::new();
    let mut published = 0;
    let mut publish = |event: AgentEvent| {
        assert!(topics::UI.contains(event.topic()));
        publisher.publish(Arc::new(event)).expect("the bus is open");
        published += 1;
    };
    for &run in runs {
        publish(AgentEvent::RunStarted {
            session: Some(session),
            run,
            agent,
            model: "simulated-model".into(),
            timestamp_ms: now_ms(),
        });
        for i in 0..deltas {
            publish(AgentEvent::text_delta(session, run, format!("tok{i} ")));
            thread::sleep(token);
        }
        publish(AgentEvent::run_completed(session, run, 1));
    }
    published
}

/// What one client saw.
#[derive(Debug, Default)]
struct ClientReport {
    received: u64,
    lagged: u64,
    lag_reports: u64,
    completed_runs: u64,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("async_ui: {err}");
            eprintln!("(`--help` lists the flags)");
            return ExitCode::from(2);
        }
    };
    let bus = Bus::<Arc<AgentEvent>>::new();
    let sessions: Vec<SessionId> = (0..CLIENTS).map(|_| SessionId::new()).collect();
    let runs: Vec<Vec<RunId>> = sessions
        .iter()
        .map(|_| (0..args.runs).map(|_| RunId::new()).collect())
        .collect();

    // Subscribe every client and waiter before any agent starts: a subscriber sees only what is
    // published after it subscribed.
    let clients: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(i, &session)| {
            bus.subscriber()
                .name(format!("tab-{i}"))
                .topics(topics::UI)
                .filter(move |e: &Arc<AgentEvent>| e.session_id() == Some(session))
                .capacity(CLIENT_CAPACITY)
                .overflow(Overflow::DropOldest)
                .build()
                .expect("the bus is open")
        })
        .collect();
    let waiters: Vec<_> = runs
        .iter()
        .filter_map(|session_runs| session_runs.last())
        .map(|&run| RunWaiter::new(&bus, run).expect("the bus is open"))
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let ui_delay = Duration::from_micros(args.ui_delay_us);
    let client_tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            runtime.spawn(async move {
                let mut report = ClientReport::default();
                loop {
                    match client.recv_async().await {
                        Ok(event) => {
                            report.received += 1;
                            if matches!(*event, AgentEvent::RunCompleted { .. }) {
                                report.completed_runs += 1;
                            }
                            // "Send it to the browser": a slow WebSocket write.
                            tokio::time::sleep(ui_delay).await;
                        }
                        Err(RecvError::Lagged(n)) => {
                            report.lagged += n;
                            report.lag_reports += 1;
                        }
                        Err(RecvError::Disconnected) => return report,
                        Err(RecvError::Overflowed) => unreachable!("DropOldest never cuts off"),
                    }
                }
            })
        })
        .collect();
    let waiter_tasks: Vec<_> = waiters
        .into_iter()
        .map(|mut waiter| runtime.spawn(async move { waiter.wait_async().await.is_ok() }))
        .collect();

    let started = Instant::now();
    let agents: Vec<_> = sessions
        .iter()
        .zip(&runs)
        .map(|(&session, session_runs)| {
            let publisher = bus.publisher();
            let session_runs = session_runs.clone();
            let (deltas, token) = (args.deltas, Duration::from_micros(args.token_us));
            thread::spawn(move || agent_loop(publisher, session, &session_runs, deltas, token))
        })
        .collect();
    let published: Vec<u64> = agents
        .into_iter()
        .map(|agent| agent.join().expect("an agent loop panicked"))
        .collect();
    let elapsed = started.elapsed();
    drop(bus); // the last publishing handle: the clients drain and see `Disconnected`

    let (reports, waited) = runtime.block_on(async {
        let mut reports = Vec::new();
        for task in client_tasks {
            reports.push(task.await.expect("a client task panicked"));
        }
        let mut waited = 0;
        for task in waiter_tasks {
            waited += usize::from(task.await.expect("a waiter task panicked"));
        }
        (reports, waited)
    });

    println!(
        "{CLIENTS} sessions x {} runs x {} deltas published from threads in {elapsed:.2?}; \
         clients: tokio, capacity {CLIENT_CAPACITY}, DropOldest, {:?} per event",
        args.runs, args.deltas, ui_delay
    );
    println!("client  published  received  lagged (reports)  runs completed seen  conserved");
    let mut all_conserved = true;
    for (i, (report, &published)) in reports.iter().zip(&published).enumerate() {
        let conserved = report.received + report.lagged == published;
        all_conserved &= conserved;
        println!(
            "tab-{i}   {published:>9}  {:>8}  {:>6} ({:>4})  {:>19}  {}",
            report.received,
            report.lagged,
            report.lag_reports,
            report.completed_runs,
            if conserved { "yes" } else { "NO" }
        );
    }
    println!("run waiters (async) that saw their run end: {waited}/{CLIENTS}");
    if all_conserved && waited == CLIENTS {
        println!("conservation holds: every event was received or reported lost");
        ExitCode::SUCCESS
    } else {
        eprintln!("async_ui: conservation FAILED");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        match parse_args(args.iter().map(|a| a.to_string()))? {
            Command::Run(args) => Ok(args),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn help_is_help_and_bad_flags_are_named() {
        assert_eq!(parse(&["--help"]).unwrap_err(), "help");
        assert_eq!(parse(&["-h"]).unwrap_err(), "help");
        assert_eq!(parse(&["--bogus"]).unwrap_err(), "unknown flag --bogus");
        assert!(parse(&["--runs"])
            .unwrap_err()
            .contains("--runs needs a value"));
        assert!(parse(&["bogus"])
            .unwrap_err()
            .contains("unexpected argument"));
    }

    #[test]
    fn zero_runs_is_refused_not_run() {
        assert!(parse(&["--runs", "0"]).unwrap_err().starts_with("--runs:"));
        assert!(parse(&["--deltas=0"]).unwrap_err().starts_with("--deltas:"));
        let args = parse(&["--runs", "2", "--ui-delay-us=0"]).unwrap();
        assert_eq!((args.runs, args.deltas, args.ui_delay_us), (2, 400, 0));
    }

    #[test]
    fn help_lists_every_flag_within_80_columns() {
        let text = usage();
        for flag in FLAGS {
            assert!(text.contains(flag.name), "{} missing", flag.name);
        }
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line}");
        }
    }
}
