//! A simulated AI-agent host on a `fanout` bus: no network, no model, real threads and real
//! numbers.
//!
//! Several concurrent runs (one thread each, each a `Publisher`) stream text deltas at token rate,
//! call tools, stream tool arguments and report token usage. Around them, the subscribers a real
//! host has:
//!
//! - `ui`: a slow renderer (drop-oldest, small queue, sleeps per event): it loses deltas and says
//!   how many;
//! - `telemetry`: a tap on the content-free topics only (no deltas, no custom payloads);
//! - `audit`: a JSON-lines recorder tap, lossless (`Block`), deltas excluded, writing a file
//!   (`--audit PATH` keeps it; by default a file in the temp directory, removed once checked);
//! - `cost`: a cost tracker that publishes `BudgetExhausted` when a session crosses its budget;
//! - a run waiter for every run, which must see every run's terminal event whatever the UI lost;
//! - `--subscribers N` extra fast consumers of everything.
//!
//! Every latency and cost printed is measured: events carry the `Instant` they were published at
//! (the example's own event type wraps `Arc<AgentEvent>`), consumers time their arrival, and each
//! publish is timed with `Instant` on both sides.
//!
//! ```text
//! cargo run --release --example agent_loop -- --seconds 10 --runs 4 --token-rate 200 \
//!     --ui-capacity 64 --ui-delay-us 2000 --subscribers 2 --budget-usd 0.10
//! ```

use std::borrow::Borrow;
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use fanout::agent::{
    now_ms, topics, AgentEvent, AgentId, JsonLinesRecorder, MessageRole, RunId, RunWaiter,
    SessionId,
};
use fanout::{Bus, Event, Overflow, Publisher, Received, RecvError, TapEnd, TapHandler, Topic};

/// The example's event: an agent event plus the instant it was published, for measuring
/// publish→receive latency. `Arc` so that a fan-out clones a pointer, not the strings.
#[derive(Clone)]
struct Stamped {
    sent: Instant,
    event: Arc<AgentEvent>,
}

impl Event for Stamped {
    fn topic(&self) -> Topic {
        self.event.topic()
    }
}

impl Borrow<AgentEvent> for Stamped {
    fn borrow(&self) -> &AgentEvent {
        &self.event
    }
}

/// The audit log records the agent event alone; the stamp is a measurement side channel.
impl serde::Serialize for Stamped {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.event.serialize(serializer)
    }
}

/// The topics, in table order.
const TOPIC_NAMES: [(Topic, &str); 10] = [
    (topics::DELTA, "delta"),
    (topics::RUN, "run"),
    (topics::LLM, "llm"),
    (topics::TOOL, "tool"),
    (topics::COST, "cost"),
    (topics::SESSION, "session"),
    (topics::AGENT, "agent"),
    (topics::APPROVAL, "approval"),
    (topics::SYSTEM, "system"),
    (topics::CUSTOM, "custom"),
];

#[derive(Clone, Debug)]
struct Config {
    seconds: f64,
    runs: usize,
    token_rate: f64,
    ui_capacity: usize,
    ui_delay_us: u64,
    subscribers: usize,
    budget_usd: f64,
    /// Where to keep the audit log; `None`: a temp file, removed after the check.
    audit: Option<std::path::PathBuf>,
}

const USAGE: &str =
    "usage: agent_loop [--seconds N] [--runs N] [--token-rate N] [--ui-capacity N] \
[--ui-delay-us N] [--subscribers N] [--budget-usd X] [--audit PATH]
  --seconds N       how long the runs keep streaming (default 10)
  --runs N          concurrent runs, one thread each (default 4)
  --token-rate N    streamed deltas per second per run (default 200)
  --ui-capacity N   the UI subscriber's queue (default 64, drop-oldest)
  --ui-delay-us N   the UI's render time per event, in microseconds (default 2000)
  --subscribers N   extra fast subscribers to every topic (default 2)
  --budget-usd X    per-session budget the cost tracker enforces (default 0.10)
  --audit PATH      keep the audit log (JSON lines) at PATH (default: a temp file, removed)";

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        seconds: 10.0,
        runs: 4,
        token_rate: 200.0,
        ui_capacity: 64,
        ui_delay_us: 2000,
        subscribers: 2,
        budget_usd: 0.10,
        audit: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag}: {value:?} is not {what}");
        match flag.as_str() {
            "--seconds" => config.seconds = value.parse().map_err(|_| bad("a number"))?,
            "--runs" => config.runs = value.parse().map_err(|_| bad("a whole number"))?,
            "--token-rate" => config.token_rate = value.parse().map_err(|_| bad("a number"))?,
            "--ui-capacity" => {
                config.ui_capacity = value.parse().map_err(|_| bad("a whole number"))?
            }
            "--ui-delay-us" => {
                config.ui_delay_us = value.parse().map_err(|_| bad("a whole number"))?
            }
            "--subscribers" => {
                config.subscribers = value.parse().map_err(|_| bad("a whole number"))?
            }
            "--budget-usd" => config.budget_usd = value.parse().map_err(|_| bad("a number"))?,
            "--audit" => config.audit = Some(value.into()),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !(config.seconds > 0.0 && config.seconds <= 3600.0) {
        return Err("--seconds must be in (0, 3600]".into());
    }
    if config.runs == 0 || config.runs > 1000 {
        return Err("--runs must be in 1..=1000".into());
    }
    if !(config.token_rate > 0.0 && config.token_rate <= 1_000_000.0) {
        return Err("--token-rate must be in (0, 1000000]".into());
    }
    if config.ui_capacity == 0 || config.ui_capacity > fanout::MAX_CAPACITY {
        return Err(format!(
            "--ui-capacity must be in 1..={}",
            fanout::MAX_CAPACITY
        ));
    }
    if config.subscribers > 256 {
        return Err("--subscribers must be at most 256".into());
    }
    if !(config.budget_usd > 0.0 && config.budget_usd.is_finite()) {
        return Err("--budget-usd must be a positive number".into());
    }
    Ok(config)
}

/// Latency samples (nanoseconds) and counts of one consumer.
#[derive(Default)]
struct Consumed {
    events: u64,
    lagged: u64,
    latency_ns: Vec<u64>,
}

impl Consumed {
    fn take(&mut self, item: &Result<Stamped, RecvError>) {
        match item {
            Ok(stamped) => {
                self.events += 1;
                self.latency_ns.push(elapsed_ns(stamped.sent));
            }
            Err(RecvError::Lagged(n)) => self.lagged += n,
            Err(_) => {}
        }
    }
}

fn elapsed_ns(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A tap handler that times each event's arrival, then hands it to `inner`.
struct Measured<H> {
    consumed: Consumed,
    inner: H,
}

impl<H: TapHandler<Stamped>> TapHandler<Stamped> for Measured<H> {
    fn on_item(&mut self, item: Received<Stamped>) {
        match &item {
            Received::Event(stamped) => self.consumed.take(&Ok(stamped.clone())),
            Received::Lagged(n) => self.consumed.lagged += n,
        }
        self.inner.on_item(item);
    }
    fn on_idle(&mut self) {
        self.inner.on_idle();
    }
    fn on_stop(&mut self, end: TapEnd) {
        self.inner.on_stop(end);
    }
}

/// The telemetry exporter's work: count events by kind (content-free).
#[derive(Default)]
struct KindCounter(HashMap<&'static str, u64>);

impl TapHandler<Stamped> for KindCounter {
    fn on_item(&mut self, item: Received<Stamped>) {
        if let Received::Event(stamped) = item {
            *self.0.entry(stamped.event.kind()).or_default() += 1;
        }
    }
}

/// What one run thread did.
struct RunnerReport {
    published: [u64; 64],
    publish_ns: Vec<u64>,
    runs: u64,
}

/// Publishes one event, timing the call and counting it under its topic.
fn publish(publisher: &Publisher<Stamped>, report: &mut RunnerReport, event: AgentEvent) {
    let topic = event.topic();
    let stamped = Stamped {
        sent: Instant::now(),
        event: Arc::new(event),
    };
    let start = Instant::now();
    let outcome = publisher.publish(stamped);
    report.publish_ns.push(elapsed_ns(start));
    if outcome.is_ok() {
        report.published[usize::from(topic.index())] += 1;
    }
}

/// A tiny deterministic pseudo-random sequence (xorshift), so the example needs no `rand`.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One simulated agent: runs back to back until the deadline, each run a few model/tool turns.
fn agent_loop(
    bus: Bus<Stamped>,
    index: usize,
    config: Config,
    deadline: Instant,
    waiters: mpsc::Sender<WaitOutcome>,
) -> RunnerReport {
    let publisher = bus.publisher();
    let mut report = RunnerReport {
        published: [0; 64],
        publish_ns: Vec::new(),
        runs: 0,
    };
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
    let session = SessionId::new();
    let agent = AgentId::new();
    let token_gap = Duration::from_secs_f64(1.0 / config.token_rate);
    let model = "sim-model-1".to_string();
    publish(
        &publisher,
        &mut report,
        AgentEvent::SessionStarted {
            session,
            timestamp_ms: now_ms(),
        },
    );
    publish(
        &publisher,
        &mut report,
        AgentEvent::AgentStarted {
            session,
            agent,
            task: format!("agent {index}"),
            timestamp_ms: now_ms(),
        },
    );
    'runs: while Instant::now() < deadline {
        let run = RunId::new();
        // The waiter subscribes before the run can end, as it must.
        // One waiter per run, on its own thread (what a per-run stream forwarder does), so
        // that its latency is the bus's and not a queue of waiters'.
        let mut waiter = RunWaiter::new(&bus, run).expect("bus open");
        let outcomes = waiters.clone();
        thread::spawn(move || {
            let outcome = waiter
                .wait(Duration::from_secs(30))
                .map(|stamped| (elapsed_ns(stamped.sent), stamped.event.kind()));
            let _ = outcomes.send(outcome);
        });
        report.runs += 1;
        let ts = now_ms;
        publish(
            &publisher,
            &mut report,
            AgentEvent::RunStarted {
                session,
                run,
                agent,
                model: model.clone(),
                timestamp_ms: ts(),
            },
        );
        let turns = 2 + dice.below(3) as u32;
        for iteration in 1..=turns {
            let started = Instant::now();
            publish(
                &publisher,
                &mut report,
                AgentEvent::ModelStarted {
                    session,
                    run,
                    model: model.clone(),
                    iteration,
                    timestamp_ms: ts(),
                },
            );
            let tokens = 20 + dice.below(41);
            for t in 0..tokens {
                if Instant::now() >= deadline {
                    publish(
                        &publisher,
                        &mut report,
                        AgentEvent::RunCancelled {
                            session,
                            run,
                            reason: "demo time is up".into(),
                            timestamp_ms: ts(),
                        },
                    );
                    break 'runs;
                }
                let text = if t % 5 == 0 {
                    " the".to_string()
                } else {
                    format!(" tok{t}")
                };
                publish(
                    &publisher,
                    &mut report,
                    AgentEvent::TextDelta {
                        session,
                        run,
                        text,
                        timestamp_ms: ts(),
                    },
                );
                thread::sleep(token_gap);
            }
            publish(
                &publisher,
                &mut report,
                AgentEvent::ModelFinished {
                    session,
                    run,
                    model: model.clone(),
                    duration_ms: started.elapsed().as_millis() as u64,
                    timestamp_ms: ts(),
                },
            );
            let input_tokens = 800 + dice.below(800);
            publish(
                &publisher,
                &mut report,
                AgentEvent::TokenUsage {
                    session,
                    run,
                    model: model.clone(),
                    input_tokens,
                    output_tokens: tokens,
                    cost_usd: input_tokens as f64 * 3e-6 + tokens as f64 * 15e-6,
                    timestamp_ms: ts(),
                },
            );
            if iteration < turns {
                // The model asked for a tool: stream its arguments, run it.
                let call_id = format!("call-{index}-{}-{iteration}", report.runs);
                let tool = ["grep", "read_file", "shell"][dice.below(3) as usize].to_string();
                publish(
                    &publisher,
                    &mut report,
                    AgentEvent::ToolStarted {
                        session,
                        run,
                        call_id: call_id.clone(),
                        tool: tool.clone(),
                        timestamp_ms: ts(),
                    },
                );
                for piece in ["{\"pat", "tern\": ", "\"TODO\"}"] {
                    publish(
                        &publisher,
                        &mut report,
                        AgentEvent::ToolArgsDelta {
                            session,
                            run,
                            call_id: call_id.clone(),
                            text: piece.into(),
                            timestamp_ms: ts(),
                        },
                    );
                }
                let tool_started = Instant::now();
                thread::sleep(Duration::from_millis(5 + dice.below(20)));
                publish(
                    &publisher,
                    &mut report,
                    AgentEvent::ToolFinished {
                        session,
                        run,
                        call_id,
                        tool,
                        success: dice.below(10) != 0,
                        duration_ms: tool_started.elapsed().as_millis() as u64,
                        timestamp_ms: ts(),
                    },
                );
            }
            publish(
                &publisher,
                &mut report,
                AgentEvent::MessageCommitted {
                    session,
                    run,
                    message_id: uuid::Uuid::new_v4(),
                    role: if iteration < turns {
                        MessageRole::Tool
                    } else {
                        MessageRole::Assistant
                    },
                    timestamp_ms: ts(),
                },
            );
        }
        let end = if dice.below(6) == 0 {
            // A provider error echoing user text: the summary is cut on a character boundary.
            AgentEvent::run_failed(
                session,
                run,
                format!("provider 500: {}", "résumé 日本 🦀 ".repeat(40)),
            )
        } else {
            AgentEvent::RunCompleted {
                session,
                run,
                iterations: turns,
                timestamp_ms: ts(),
            }
        };
        publish(&publisher, &mut report, end);
    }
    publish(
        &publisher,
        &mut report,
        AgentEvent::AgentFinished {
            session,
            agent,
            success: true,
            timestamp_ms: now_ms(),
        },
    );
    publish(
        &publisher,
        &mut report,
        AgentEvent::SessionEnded {
            session,
            timestamp_ms: now_ms(),
        },
    );
    report
}

/// What one run's waiter got: publish→waiter latency and the terminal event's kind.
type WaitOutcome = Result<(u64, &'static str), fanout::agent::WaitError>;

/// What the waiters saw.
#[derive(Default)]
struct WaiterReport {
    runs: u64,
    completed: u64,
    failed: u64,
    cancelled: u64,
    missed: u64,
    latency_ns: Vec<u64>,
}

fn wait_for_runs(outcomes: mpsc::Receiver<WaitOutcome>, done: &AtomicU64) -> WaiterReport {
    let mut report = WaiterReport::default();
    for outcome in outcomes {
        report.runs += 1;
        match outcome {
            Ok((latency_ns, kind)) => {
                report.latency_ns.push(latency_ns);
                match kind {
                    "run_completed" => report.completed += 1,
                    "run_failed" => report.failed += 1,
                    "run_cancelled" => report.cancelled += 1,
                    _ => report.missed += 1,
                }
            }
            // Timeout or closed: the terminal event never came.
            Err(_) => report.missed += 1,
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    report
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn fmt_ns(ns: u64) -> String {
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn latency_cells(samples: &mut [u64]) -> (String, String) {
    samples.sort_unstable();
    if samples.is_empty() {
        return ("-".into(), "-".into());
    }
    (
        fmt_ns(percentile(samples, 50)),
        fmt_ns(percentile(samples, 99)),
    )
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(config) => config,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return if message.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    let bus: Bus<Stamped> = Bus::new();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(config.seconds);

    // ---- subscribers ----
    let mut ui = bus
        .subscriber()
        .name("ui")
        .topics(topics::UI)
        .capacity(config.ui_capacity)
        .overflow(Overflow::DropOldest)
        .build()
        .expect("ui subscriber");
    let ui_delay = Duration::from_micros(config.ui_delay_us);
    let ui_progress = Arc::new(AtomicU64::new(0));
    let ui_seen = Arc::clone(&ui_progress);
    let ui_thread = thread::Builder::new()
        .name("ui".into())
        .spawn(move || {
            let mut consumed = Consumed::default();
            loop {
                let item = ui.recv();
                if matches!(item, Err(RecvError::Disconnected | RecvError::Overflowed)) {
                    break;
                }
                consumed.take(&item);
                ui_seen.store(consumed.events, Ordering::Relaxed);
                if item.is_ok() {
                    thread::sleep(ui_delay); // "rendering"
                }
            }
            consumed
        })
        .expect("ui thread");

    let telemetry = bus
        .tap()
        .name("telemetry")
        .topics(topics::TELEMETRY)
        .capacity(1024)
        .overflow(Overflow::DropNewest)
        .spawn(Measured {
            consumed: Consumed::default(),
            inner: KindCounter::default(),
        })
        .expect("telemetry tap");

    let audit_path = config.audit.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("fanout-agent-loop-{}.jsonl", std::process::id()))
    });
    let recorder = match JsonLinesRecorder::create(&audit_path) {
        Ok(recorder) => recorder,
        Err(err) => {
            eprintln!("error: cannot create {}: {err}", audit_path.display());
            return ExitCode::FAILURE;
        }
    };
    let audit = bus
        .tap()
        .name("audit")
        .topics(topics::AUDIT)
        .capacity(1024)
        .overflow(Overflow::Block)
        .spawn(Measured {
            consumed: Consumed::default(),
            inner: recorder,
        })
        .expect("audit tap");

    // The cost tracker republishes onto the bus, so it must never wait on its own queue: it
    // filters out the `BudgetExhausted` events it publishes.
    let mut cost = bus
        .subscriber()
        .name("cost")
        .topics(topics::COST)
        .capacity(1024)
        .overflow(Overflow::Block)
        .filter(|s: &Stamped| !matches!(*s.event, AgentEvent::BudgetExhausted { .. }))
        .build()
        .expect("cost subscriber");
    let cost_publisher = bus.publisher();
    let budget = config.budget_usd;
    let cost_thread = thread::Builder::new()
        .name("cost".into())
        .spawn(move || {
            let mut consumed = Consumed::default();
            let mut spent: HashMap<SessionId, f64> = HashMap::new();
            let mut exhausted = 0u64;
            let mut published = [0u64; 64];
            let mut publish_ns = Vec::new();
            loop {
                let item = cost.recv();
                if matches!(item, Err(RecvError::Disconnected | RecvError::Overflowed)) {
                    break;
                }
                consumed.take(&item);
                let Ok(stamped) = item else { continue };
                if let AgentEvent::TokenUsage {
                    session, cost_usd, ..
                }
                | AgentEvent::CostRecorded {
                    session, cost_usd, ..
                } = *stamped.event
                {
                    let total = spent.entry(session).or_default();
                    let before = *total;
                    *total += cost_usd;
                    if before < budget && *total >= budget {
                        exhausted += 1;
                        let event = AgentEvent::BudgetExhausted {
                            session,
                            budget_usd: budget,
                            spent_usd: *total,
                            timestamp_ms: now_ms(),
                        };
                        let topic = event.topic();
                        let stamped = Stamped {
                            sent: Instant::now(),
                            event: Arc::new(event),
                        };
                        let start = Instant::now();
                        if cost_publisher.publish(stamped).is_ok() {
                            published[usize::from(topic.index())] += 1;
                        }
                        publish_ns.push(elapsed_ns(start));
                    }
                }
            }
            let total: f64 = spent.values().sum();
            (consumed, exhausted, total, published, publish_ns)
        })
        .expect("cost thread");

    let extra: Vec<_> = (0..config.subscribers)
        .map(|i| {
            let mut sub = bus
                .subscriber()
                .name(format!("extra-{i}"))
                .topics(topics::ALL)
                .build()
                .expect("extra subscriber");
            thread::spawn(move || {
                let mut consumed = Consumed::default();
                loop {
                    let item = sub.recv();
                    if matches!(item, Err(RecvError::Disconnected | RecvError::Overflowed)) {
                        break;
                    }
                    consumed.take(&item);
                }
                consumed
            })
        })
        .collect();

    // ---- runs ----
    let (waiter_tx, waiter_rx) = mpsc::channel();
    let runs_done = Arc::new(AtomicU64::new(0));
    let runs_done_w = Arc::clone(&runs_done);
    let waiter_thread = thread::spawn(move || wait_for_runs(waiter_rx, &runs_done_w));
    let runners: Vec<_> = (0..config.runs)
        .map(|i| {
            let bus = bus.clone();
            let config = config.clone();
            let waiters = waiter_tx.clone();
            thread::Builder::new()
                .name(format!("run-{i}"))
                .spawn(move || agent_loop(bus, i, config, deadline, waiters))
                .expect("run thread")
        })
        .collect();
    drop(waiter_tx);

    // ---- live progress, ~4 Hz ----
    let finished = Arc::new(AtomicBool::new(false));
    let progress = {
        let bus = bus.clone();
        let finished = Arc::clone(&finished);
        let runs_done = Arc::clone(&runs_done);
        let ui_seen = Arc::clone(&ui_progress);
        thread::spawn(move || {
            let mut stderr = std::io::stderr();
            while !finished.load(Ordering::Relaxed) {
                let stats = bus.stats();
                let ui = stats.subscribers.iter().find(|s| s.name == "ui");
                let _ = write!(
                    stderr,
                    "\r[{:5.1}s] published {:>8} | ui shown {:>7} dropped {:>7} | runs ended {:>4} ",
                    started.elapsed().as_secs_f64(),
                    stats.published,
                    ui_seen.load(Ordering::Relaxed),
                    ui.map_or(0, |s| s.dropped),
                    runs_done.load(Ordering::Relaxed),
                );
                let _ = stderr.flush();
                thread::sleep(Duration::from_millis(250));
            }
            let _ = writeln!(stderr);
        })
    };

    let mut published = [0u64; 64];
    let mut publish_ns = Vec::new();
    let mut runs = 0;
    for runner in runners {
        let report = runner.join().expect("run thread panicked");
        for (total, n) in published.iter_mut().zip(report.published) {
            *total += n;
        }
        publish_ns.extend(report.publish_ns);
        runs += report.runs;
    }
    let waiters = waiter_thread.join().expect("waiter thread panicked");

    // Let every consumer drain (the UI is slow), then snapshot the bus's own counters.
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats = bus.stats();
        if stats.subscribers.iter().all(|s| s.queued == 0) || Instant::now() > drain_deadline {
            break stats;
        }
        thread::sleep(Duration::from_millis(10));
    };
    bus.close();
    drop(bus);
    finished.store(true, Ordering::Relaxed);
    let _ = progress.join();

    let ui = ui_thread.join().expect("ui thread panicked");
    let (telemetry_report, telemetry) = telemetry.join_handler();
    let (audit_report, audit) = audit.join_handler();
    let (cost_consumed, exhausted, total_spent, cost_published, cost_publish_ns) =
        cost_thread.join().expect("cost thread panicked");
    for (total, n) in published.iter_mut().zip(cost_published) {
        *total += n;
    }
    publish_ns.extend(cost_publish_ns);
    let extras: Vec<Consumed> = extra
        .into_iter()
        .map(|t| t.join().expect("extra panicked"))
        .collect();
    let elapsed = started.elapsed();

    // ---- report ----
    let total_published: u64 = published.iter().sum();
    println!();
    println!(
        "agent_loop: {} runs on {} threads for {:.1} s, {} deltas/s per run, ui queue {} (drop-oldest, {} µs/event)",
        runs, config.runs, elapsed.as_secs_f64(), config.token_rate, config.ui_capacity, config.ui_delay_us
    );
    println!();
    println!("events published by topic");
    for (topic, name) in TOPIC_NAMES {
        let n = published[usize::from(topic.index())];
        if n > 0 {
            println!("  {name:<10} {n:>9}");
        }
    }
    println!(
        "  {:<10} {total_published:>9}   (bus counted {})",
        "total", stats.published
    );

    println!();
    println!(
        "{:<12} {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "subscriber",
        "policy",
        "delivered",
        "dropped",
        "lag rep.",
        "received",
        "lag seen",
        "lat p50",
        "lat p99"
    );
    let row = |name: &str, consumed: &mut Consumed| {
        let s = stats.subscribers.iter().find(|s| s.name == name);
        let (p50, p99) = latency_cells(&mut consumed.latency_ns);
        match s {
            Some(s) => println!(
                "{:<12} {:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
                name,
                format!("{:?}/{}", s.overflow, s.capacity),
                s.delivered,
                s.dropped,
                s.lag_reported,
                consumed.events,
                consumed.lagged,
                p50,
                p99
            ),
            None => println!("{name:<12} (gone before the snapshot)"),
        }
    };
    let mut ui = ui;
    row("ui", &mut ui);
    let mut telemetry_consumed = telemetry.consumed;
    row("telemetry", &mut telemetry_consumed);
    let mut audit_consumed = audit.consumed;
    row("audit", &mut audit_consumed);
    let mut cost_consumed = cost_consumed;
    row("cost", &mut cost_consumed);
    for (i, mut consumed) in extras.into_iter().enumerate() {
        row(&format!("extra-{i}"), &mut consumed);
    }
    println!("(delivered/dropped/lag rep.: the bus's counters; received/lag seen/latency: measured by each consumer)");

    println!();
    let (p50, p99) = latency_cells(&mut publish_ns);
    println!(
        "publish cost (one call, all subscribers): p50 {p50}, p99 {p99} over {} publishes",
        publish_ns.len()
    );
    let mut waiter_latency = waiters.latency_ns.clone();
    let (w50, w99) = latency_cells(&mut waiter_latency);
    println!(
        "run waiters: {}/{} terminal events received ({} completed, {} failed, {} cancelled, {} missed); publish→waiter p50 {w50}, p99 {w99}",
        waiters.runs - waiters.missed, waiters.runs, waiters.completed, waiters.failed, waiters.cancelled, waiters.missed
    );
    println!(
        "cost tracker: ${total_spent:.4} spent, {exhausted} session(s) crossed the ${:.2} budget -> BudgetExhausted published",
        config.budget_usd
    );
    let mut kinds: Vec<_> = telemetry.inner.0.into_iter().collect();
    kinds.sort();
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "telemetry ({:?}, {} panics): {}",
        telemetry_report.end,
        telemetry_report.stats.panics,
        kinds.join(" ")
    );
    let lines = std::fs::read_to_string(&audit_path)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    println!(
        "audit log: {}{} ({} event lines, {} gap lines, {} lines in the file, error: {})",
        audit_path.display(),
        if config.audit.is_none() {
            " (temporary: removed after the checks; --audit PATH keeps it)"
        } else {
            ""
        },
        audit.inner.lines(),
        audit.inner.lag_lines(),
        lines,
        audit
            .inner
            .error()
            .map_or("none".to_string(), ToString::to_string)
    );
    let audit_expected: u64 = TOPIC_NAMES
        .iter()
        .filter(|(t, _)| topics::AUDIT.contains(*t))
        .map(|(t, _)| published[usize::from(t.index())])
        .sum();
    let all_good = waiters.missed == 0
        && waiters.runs == runs
        && audit.inner.lines() == audit_expected
        && lines as u64 == audit_expected
        && audit_report.end == TapEnd::Closed;
    println!(
        "checks: every run's terminal event reached its waiter: {}; audit lossless ({} of {} non-delta events): {}",
        waiters.missed == 0 && waiters.runs == runs,
        audit.inner.lines(),
        audit_expected,
        audit.inner.lines() == audit_expected && lines as u64 == audit_expected
    );
    if config.audit.is_none() {
        // Checked above; a default run leaves nothing behind (`--audit PATH` keeps the log).
        if let Err(err) = std::fs::remove_file(&audit_path) {
            eprintln!("warning: cannot remove {}: {err}", audit_path.display());
        }
    }
    if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
