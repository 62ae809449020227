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
//! - `--subscribers N` extra fast consumers of everything;
//! - with `--late-ui`, a `history-feed` subscriber (lossless, the UI topics) forwards into a
//!   `HistoryBus`, the way a UI gateway would, and a second UI joins that bus halfway through:
//!   it replays the backlog from the history, then follows the live stream, and checks that every
//!   sequence number came exactly once (no gap and no duplicate at the hand-off).
//!
//! Every latency and cost printed is measured: events carry the `Instant` they were published at
//! (the example's own event type wraps `Arc<AgentEvent>`), consumers time their arrival, and each
//! publish is timed with `Instant` on both sides.
//!
//! The simulation is seeded and runs on a simulated clock (see `SimClock`): how many runs, events
//! per topic, tool calls, failures and budget crossings there are is the same on every run and
//! machine for the same flags. What depends on timing, and is said so in the output: what the
//! slow UI (and, on a very busy machine, another lossy subscriber) drops, and every latency.
//!
//! ```text
//! cargo run --release -p fanout-examples --example agent_loop -- --help
//! cargo run --release -p fanout-examples --example agent_loop -- --seconds 10 --runs 4 \
//!     --token-rate 200 --ui-capacity 64 --ui-delay-us 2000 --subscribers 2 --budget-usd 0.10 \
//!     --audit audit.jsonl
//! ```
//!
//! The flags are the table `FLAGS` (one entry each); `cargo test --example agent_loop` checks the
//! parsing and that the help and the progress line fit 80 columns.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use fanout::agent::{
    now_ms, topics, AgentEvent, AgentId, JsonLinesRecorder, MessageRole, RunId, RunLifecycle,
    RunWaiter, SessionId,
};
use fanout::error::RecvError;
use fanout::history::Replay;
use fanout::tap::{Received, TapEnd, TapHandler};
use fanout::{Bus, Event, HistoryBus, Overflow, Publisher, Topic};

mod flags;
use flags::{number, whole, Command, Flag};

/// Ctrl-C: the first one ends the runs early, as if their time were up, so that the subscribers
/// drain, the table is printed and the temporary audit file removed; a second one exits at once.
mod interrupt {
    use std::sync::atomic::{AtomicBool, Ordering};

    static REQUESTED: AtomicBool = AtomicBool::new(false);

    /// Whether Ctrl-C was pressed.
    pub fn requested() -> bool {
        REQUESTED.load(Ordering::Relaxed)
    }

    #[cfg(unix)]
    pub fn install() {
        // The C library's `signal` and `_exit` (std links it on every unix); no crate needed.
        extern "C" {
            fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
            fn _exit(status: i32) -> !;
        }
        const SIGINT: i32 = 2; // the same number on every unix
        extern "C" fn on_sigint(_: i32) {
            if REQUESTED.swap(true, Ordering::Relaxed) {
                // SAFETY: `_exit` is async-signal-safe (POSIX) and takes any status.
                unsafe { _exit(130) }
            }
        }
        // SAFETY: `on_sigint` is async-signal-safe: it does one lock-free atomic swap and, on a
        // second signal, calls `_exit`. Installing a handler has no other precondition.
        unsafe {
            signal(SIGINT, on_sigint);
        }
    }

    #[cfg(not(unix))]
    pub fn install() {}
}

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

/// The run helpers (`RunWaiter`) ask the agent event inside.
impl RunLifecycle for Stamped {
    type RunId = RunId;
    const TERMINAL_TOPICS: fanout::Topics = AgentEvent::TERMINAL_TOPICS;

    fn run_id(&self) -> Option<&RunId> {
        RunLifecycle::run_id(&*self.event)
    }

    fn is_terminal(&self) -> bool {
        self.event.is_terminal()
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
    /// A history bus fed with the UI topics, and a UI that joins it halfway.
    late_ui: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seconds: 10.0,
            runs: 4,
            token_rate: 200.0,
            ui_capacity: 64,
            ui_delay_us: 2000,
            subscribers: 2,
            budget_usd: 0.10,
            audit: None,
            late_ui: false,
        }
    }
}

/// The flags; a new flag is one entry here (plus its `Config` field).
const FLAGS: &[Flag<Config>] = &[
    Flag {
        name: "--seconds",
        value: Some("S"),
        help: "simulated seconds of streaming, (0, 3600] (default 10)",
        set: |c, v| number(v, 0.0, 3600.0).map(|x| c.seconds = x),
    },
    Flag {
        name: "--runs",
        value: Some("N"),
        help: "concurrent runs, a thread each, 1..=1000 (default 4)",
        set: |c, v| whole(v, 1, 1000).map(|x| c.runs = x),
    },
    Flag {
        name: "--token-rate",
        value: Some("X"),
        help: "deltas per second per run, (0, 1000000] (default 200)",
        set: |c, v| number(v, 0.0, 1e6).map(|x| c.token_rate = x),
    },
    Flag {
        name: "--ui-capacity",
        value: Some("N"),
        help: "the UI's drop-oldest queue, 1..=16777216 (default 64)",
        set: |c, v| whole(v, 1, fanout::MAX_CAPACITY).map(|x| c.ui_capacity = x),
    },
    Flag {
        name: "--ui-delay-us",
        value: Some("N"),
        help: "UI render time per event, µs, 0..=1000000 (default 2000)",
        set: |c, v| whole(v, 0, 1_000_000).map(|x| c.ui_delay_us = x as u64),
    },
    Flag {
        name: "--subscribers",
        value: Some("N"),
        help: "extra fast subscribers to all topics, 0..=256 (default 2)",
        set: |c, v| whole(v, 0, 256).map(|x| c.subscribers = x),
    },
    Flag {
        name: "--budget-usd",
        value: Some("X"),
        help: "per-session budget of the cost tracker, > 0 (default 0.10)",
        set: |c, v| number(v, 0.0, f64::MAX).map(|x| c.budget_usd = x),
    },
    Flag {
        name: "--audit",
        value: Some("PATH"),
        help: "keep the audit log (JSON lines) at PATH (default: a temp\n\
               file, removed after the checks)",
        set: |c, v| {
            if v.is_empty() {
                return Err("is empty, not a path".into());
            }
            c.audit = Some(v.into());
            Ok(())
        },
    },
    Flag {
        name: "--late-ui",
        value: None,
        help: "a second UI joins halfway through, on a history bus: it\n\
               replays the backlog, then goes live, and checks no gap",
        set: |c, _| {
            c.late_ui = true;
            Ok(())
        },
    },
];

fn usage() -> String {
    flags::usage(
        "A simulated agent host on a fanout bus: runs stream events to a slow UI,\n\
         telemetry, an audit log, a cost tracker and run waiters, then a table\n\
         of what every subscriber got and lost.\n\n\
         usage: cargo run --release -p fanout-examples --example agent_loop -- [FLAGS]\n\
         (flags as `--name VALUE` or `--name=VALUE`)\n\n",
        FLAGS,
    )
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command<Config>, String> {
    flags::parse("agent_loop", FLAGS, args)
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

/// A run thread's simulated clock. What a run does (how many runs, tokens, tool calls, when time
/// is up) follows from this clock and the seeded dice only, never from the wall clock, so the
/// event counts repeat from run to run however busy the machine is. The thread sleeps to keep
/// the wall clock close to it (on a loaded machine the demo takes longer, with the same counts).
struct SimClock {
    start: Instant,
    now: Duration,
    limit: Duration,
}

impl SimClock {
    fn new(start: Instant, seconds: f64) -> Self {
        SimClock {
            start,
            now: Duration::ZERO,
            limit: Duration::from_secs_f64(seconds),
        }
    }

    /// Simulated time is up, or the user pressed Ctrl-C (the runs then end as at the limit).
    fn time_is_up(&self) -> bool {
        self.now >= self.limit || interrupt::requested()
    }

    /// Moves simulated time on by `by` and sleeps until the wall clock has caught up.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        if let Some(wait) = (self.start + self.now).checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }

    fn ms_since(&self, then: Duration) -> u64 {
        (self.now - then).as_millis() as u64
    }
}

/// One simulated agent: runs back to back until its simulated time is up, each run a few
/// model/tool turns.
fn agent_loop(
    bus: Bus<Stamped>,
    index: usize,
    config: Config,
    started: Instant,
    waiters: mpsc::Sender<WaitOutcome>,
) -> RunnerReport {
    let publisher = bus.publisher();
    let mut report = RunnerReport {
        published: [0; 64],
        publish_ns: Vec::new(),
        runs: 0,
    };
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
    let mut clock = SimClock::new(started, config.seconds);
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
            session: Some(session),
            agent,
            task: format!("agent {index}"),
            timestamp_ms: now_ms(),
        },
    );
    'runs: while !clock.time_is_up() {
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
                session: Some(session),
                run,
                agent,
                model: model.clone(),
                timestamp_ms: ts(),
            },
        );
        let turns = 2 + dice.below(3) as u32;
        for iteration in 1..=turns {
            let started = clock.now;
            publish(
                &publisher,
                &mut report,
                AgentEvent::ModelStarted {
                    session: Some(session),
                    run: Some(run),
                    model: model.clone(),
                    iteration,
                    request_id: None,
                    timestamp_ms: ts(),
                },
            );
            let tokens = 20 + dice.below(41);
            for t in 0..tokens {
                if clock.time_is_up() {
                    publish(
                        &publisher,
                        &mut report,
                        AgentEvent::RunCancelled {
                            session: Some(session),
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
                        session: Some(session),
                        run: Some(run),
                        text,
                        message_id: None,
                        timestamp_ms: ts(),
                    },
                );
                clock.advance(token_gap);
            }
            publish(
                &publisher,
                &mut report,
                AgentEvent::ModelFinished {
                    session: Some(session),
                    run: Some(run),
                    model: model.clone(),
                    duration_ms: clock.ms_since(started),
                    iteration: None,
                    request_id: None,
                    finish_reason: None,
                    input_tokens: None,
                    output_tokens: None,
                    timestamp_ms: ts(),
                },
            );
            let input_tokens = 800 + dice.below(800);
            publish(
                &publisher,
                &mut report,
                AgentEvent::TokenUsage {
                    session: Some(session),
                    run: Some(run),
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
                        session: Some(session),
                        run: Some(run),
                        call_id: call_id.clone(),
                        tool: tool.clone(),
                        iteration: None,
                        parent_message_id: None,
                        timestamp_ms: ts(),
                    },
                );
                for piece in ["{\"pat", "tern\": ", "\"TODO\"}"] {
                    publish(
                        &publisher,
                        &mut report,
                        AgentEvent::ToolArgsDelta {
                            session: Some(session),
                            run: Some(run),
                            call_id: call_id.clone(),
                            text: piece.into(),
                            timestamp_ms: ts(),
                        },
                    );
                }
                let tool_started = clock.now;
                clock.advance(Duration::from_millis(5 + dice.below(20)));
                publish(
                    &publisher,
                    &mut report,
                    AgentEvent::ToolFinished {
                        session: Some(session),
                        run: Some(run),
                        call_id,
                        tool,
                        success: dice.below(10) != 0,
                        duration_ms: clock.ms_since(tool_started),
                        iteration: None,
                        output: None,
                        error: None,
                        timestamp_ms: ts(),
                    },
                );
            }
            publish(
                &publisher,
                &mut report,
                AgentEvent::MessageCommitted {
                    session: Some(session),
                    run: Some(run),
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
                session: Some(session),
                run,
                iterations: turns,
                finish_reason: None,
                timestamp_ms: ts(),
            }
        };
        publish(&publisher, &mut report, end);
    }
    publish(
        &publisher,
        &mut report,
        AgentEvent::AgentFinished {
            session: Some(session),
            agent,
            success: true,
            error: None,
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

/// `println!` into a `String` (the report is printed in one piece at the end).
macro_rules! say {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// The p50 and p99 of `samples` (sorted in place), both in one unit, the one that suits the
/// larger: "p50 16.9 µs, p99 238.2 µs", or "no samples".
fn p50_p99(samples: &mut [u64]) -> String {
    samples.sort_unstable();
    if samples.is_empty() {
        return "no samples".into();
    }
    let (p50, p99) = (percentile(samples, 50), percentile(samples, 99));
    let (scale, unit) = match p99 {
        0..=9_999 => (1.0, "ns"),
        10_000..=9_999_999 => (1e3, "µs"),
        _ => (1e6, "ms"),
    };
    let show = |ns: u64| {
        let x = ns as f64 / scale;
        if unit == "ns" {
            format!("{ns}")
        } else if x < 10.0 {
            format!("{x:.2}")
        } else {
            format!("{x:.1}")
        }
    };
    format!("p50 {} {unit}, p99 {} {unit}", show(p50), show(p99))
}

/// Microseconds, whole, for the table's latency columns ("-" without samples).
fn micros(samples: &mut [u64], p: usize) -> String {
    samples.sort_unstable();
    if samples.is_empty() {
        return "-".into();
    }
    format!("{}", (percentile(samples, p) + 500) / 1000)
}

/// Appends `words` after `head` to `out`, wrapped at 80 columns, continuation lines indented by 2.
fn print_wrapped(out: &mut String, head: &str, words: &[String]) {
    let mut line = head.to_string();
    for word in words {
        if line.chars().count() + 1 + word.chars().count() > 80 {
            say!(out, "{line}");
            line = format!("  {word}");
        } else {
            if !line.is_empty() && !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    say!(out, "{line}");
}

/// The live progress line (at most 79 columns, so it never wraps on an 80-column terminal).
fn progress_line(
    elapsed: Duration,
    published: u64,
    shown: u64,
    dropped: u64,
    ended: u64,
) -> String {
    format!(
        "\r[{:5.1}s] published {published:>7} | ui shown {shown:>7} dropped {dropped:>7} \
         | runs ended {ended:>4}",
        elapsed.as_secs_f64()
    )
}

fn main() -> ExitCode {
    interrupt::install();
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}");
            eprintln!("(`--help` lists the flags)");
            return ExitCode::from(2);
        }
    };
    let bus: Bus<Stamped> = Bus::new();
    let started = Instant::now();

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
            // The receive loop that survives loss: `Lagged(n)` is an item of the stream, and
            // the iterator ends only when the bus is closed and the queue drained.
            for item in ui.iter() {
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
    // Items the cost tracker has finished with (including its own publish): the final drain
    // waits for it to be idle, so that no `BudgetExhausted` is published after the snapshot.
    let cost_handled = Arc::new(AtomicU64::new(0));
    let cost_done = Arc::clone(&cost_handled);
    let cost_thread = thread::Builder::new()
        .name("cost".into())
        .spawn(move || {
            let mut consumed = Consumed::default();
            let mut spent: HashMap<Option<SessionId>, f64> = HashMap::new();
            let mut exhausted = 0u64;
            let mut published = [0u64; 64];
            let mut publish_ns = Vec::new();
            for item in cost.iter() {
                consumed.take(&item);
                if let Ok(stamped) = item {
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
                cost_done.fetch_add(1, Ordering::Release);
            }
            // Summed in a fixed order (and from +0.0: an empty f64 sum is -0.0).
            let mut totals: Vec<f64> = spent.values().copied().collect();
            totals.sort_by(f64::total_cmp);
            let total = totals.iter().fold(0.0, |sum, x| sum + x);
            let sessions = spent.len();
            (consumed, sessions, exhausted, total, published, publish_ns)
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
                for item in sub.iter() {
                    consumed.take(&item);
                }
                consumed
            })
        })
        .collect();

    let late_ui = config.late_ui.then(|| {
        let join_at = started + Duration::from_secs_f64(config.seconds / 2.0);
        spawn_late_ui(&bus, join_at)
    });

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
                .spawn(move || agent_loop(bus, i, config, started, waiters))
                .expect("run thread")
        })
        .collect();
    drop(waiter_tx);

    // ---- live progress on stderr, ~4 Hz, only on a terminal ----
    let live = std::io::stderr().is_terminal();
    let finished = Arc::new(AtomicBool::new(false));
    let progress = live.then(|| {
        let bus = bus.clone();
        let finished = Arc::clone(&finished);
        let runs_done = Arc::clone(&runs_done);
        let ui_seen = Arc::clone(&ui_progress);
        thread::spawn(move || {
            let mut stderr = std::io::stderr();
            while !finished.load(Ordering::Relaxed) {
                let stats = bus.stats();
                let ui = stats.subscribers.iter().find(|s| s.name == "ui");
                let line = progress_line(
                    started.elapsed(),
                    stats.published,
                    ui_seen.load(Ordering::Relaxed),
                    ui.map_or(0, |s| s.dropped),
                    runs_done.load(Ordering::Relaxed),
                );
                let _ = write!(stderr, "{line}");
                let _ = stderr.flush();
                thread::sleep(Duration::from_millis(250));
            }
        })
    });

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

    // Let every consumer drain (the UI is slow) and the cost tracker go idle (it publishes),
    // then snapshot the bus's own counters: nothing is published after this.
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let handled = cost_handled.load(Ordering::Acquire);
        let stats = bus.stats();
        let cost_idle = stats
            .subscribers
            .iter()
            .any(|s| s.name == "cost" && s.received == handled);
        let drained = stats.subscribers.iter().all(|s| s.queued == 0);
        if (cost_idle && drained) || Instant::now() > drain_deadline {
            break stats;
        }
        thread::sleep(Duration::from_millis(10));
    };
    bus.close();
    drop(bus);
    finished.store(true, Ordering::Relaxed);
    if let Some(progress) = progress {
        let _ = progress.join();
    }

    let ui = ui_thread.join().expect("ui thread panicked");
    let (telemetry_report, telemetry) = telemetry.join_handler();
    let (audit_report, audit) = audit.join_handler();
    let (cost_consumed, sessions, exhausted, total_spent, cost_published, cost_publish_ns) =
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
    let of = |name: &str| stats.subscribers.iter().find(|s| s.name == name);
    if live {
        // The last progress line, from the same numbers as the table below.
        eprintln!(
            "{}",
            progress_line(
                elapsed,
                stats.published,
                ui.events,
                of("ui").map_or(0, |s| s.dropped),
                waiters.runs,
            )
        );
    }

    // ---- report (every line at most 80 columns) ----
    // Written to stdout in one piece at the end: a closed pipe (`| head`) ends the output quietly
    // instead of panicking halfway, and the audit file is still removed.
    let mut out = String::new();
    let total_published: u64 = published.iter().sum();
    say!(out);
    say!(
        out,
        "agent_loop: {runs} runs on {} threads, {} deltas/s per run",
        config.runs,
        config.token_rate
    );
    if interrupt::requested() {
        say!(
            out,
            "interrupted (Ctrl-C): the runs were cancelled early; below is what ran,"
        );
        say!(out, "so the counts are not the seeded run's");
    }
    say!(
        out,
        "time: {} s simulated, {:.1} s wall",
        config.seconds,
        elapsed.as_secs_f64()
    );
    say!(
        out,
        "ui: {} slots, drop-oldest, {} µs to render each event",
        config.ui_capacity,
        config.ui_delay_us
    );
    say!(out);
    say!(
        out,
        "events published by topic (seeded simulation: the same on every run)"
    );
    for (topic, name) in TOPIC_NAMES {
        let n = published[usize::from(topic.index())];
        if n > 0 {
            say!(out, "  {name:<10} {n:>9}");
        }
    }
    say!(
        out,
        "  {:<10} {total_published:>9}   (the bus counted {})",
        "total",
        stats.published
    );
    say!(
        out,
        "  runs: {} completed, {} failed, {} cancelled when time was up",
        waiters.completed,
        waiters.failed,
        waiters.cancelled
    );

    say!(out);
    say!(
        out,
        "{:<11}{:<15}{:>8}{:>9}{:>8}{:>9}{:>8}{:>8}",
        "subscriber",
        "policy",
        "offered",
        "received",
        "dropped",
        "lag seen",
        "p50 µs",
        "p99 µs"
    );
    let mut every_loss_reported = true;
    let mut row = |name: &str, consumed: &mut Consumed| match of(name) {
        Some(s) => {
            every_loss_reported &= consumed.lagged == s.dropped && s.lag_reported == s.dropped;
            say!(
                out,
                "{:<11}{:<15}{:>8}{:>9}{:>8}{:>9}{:>8}{:>8}",
                name,
                format!("{:?}/{}", s.overflow, s.capacity),
                s.received + s.queued as u64 + s.dropped,
                consumed.events,
                s.dropped,
                consumed.lagged,
                micros(&mut consumed.latency_ns, 50),
                micros(&mut consumed.latency_ns, 99),
            );
        }
        None => say!(out, "{name:<11}(gone before the snapshot)"),
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
    say!(
        out,
        "offered: events the bus had for it (topic and filter matched) = received"
    );
    say!(
        out,
        "+ dropped. dropped: counted by the bus; lag seen: the Lagged(n) the"
    );
    say!(
        out,
        "subscriber read in its stream; p50/p99: publish-to-receive latency."
    );
    say!(
        out,
        "What is dropped (the ui's, mostly) and every time depend on the machine."
    );

    say!(out);
    say!(
        out,
        "publish, one call to all subscribers: {} ({} calls)",
        p50_p99(&mut publish_ns),
        publish_ns.len()
    );
    let mut waiter_latency = waiters.latency_ns.clone();
    say!(
        out,
        "run waiters: {} of {} runs' terminal events received, {} missed;",
        waiters.runs - waiters.missed,
        waiters.runs,
        waiters.missed
    );
    say!(out, "  publish to waiter {}", p50_p99(&mut waiter_latency));
    say!(
        out,
        "cost tracker: ${total_spent:.4} spent in {sessions} session(s), budget ${:.2} each;",
        config.budget_usd
    );
    if exhausted == 0 {
        say!(out, "  none crossed it: no BudgetExhausted published");
    } else {
        say!(
            out,
            "  {exhausted} crossed it: {exhausted} BudgetExhausted event(s) published"
        );
    }
    let mut kinds: Vec<_> = telemetry.inner.0.into_iter().collect();
    kinds.sort();
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let ended = match telemetry_report.end {
        TapEnd::Closed => "stopped when the bus closed (queue handled)",
        TapEnd::Overflowed => "cut off by its overflow policy",
        TapEnd::Stopped => "stopped before the bus closed",
    };
    say!(
        out,
        "telemetry tap: {ended}, {} panics; by kind:",
        telemetry_report.stats.panics
    );
    print_wrapped(&mut out, "  ", &kinds);
    let lines = std::fs::read_to_string(&audit_path)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    say!(out, "audit log: {}", audit_path.display());
    say!(
        out,
        "  {} event lines, {} gap lines, {} lines in the file, write error: {}",
        audit.inner.lines(),
        audit.inner.lag_lines(),
        lines,
        audit
            .inner
            .error()
            .map_or("none".to_string(), ToString::to_string)
    );
    if config.audit.is_none() {
        say!(
            out,
            "  (a temporary file, removed after the checks; --audit PATH keeps it)"
        );
    }
    let audit_expected: u64 = TOPIC_NAMES
        .iter()
        .filter(|(t, _)| topics::AUDIT.contains(*t))
        .map(|(t, _)| published[usize::from(t.index())])
        .sum();
    let ui_published: u64 = TOPIC_NAMES
        .iter()
        .filter(|(t, _)| topics::UI.contains(*t))
        .map(|(t, _)| published[usize::from(t.index())])
        .sum();
    let late_ui_ok = match late_ui {
        Some(late_ui) => {
            let report = late_ui.join().expect("late ui thread panicked");
            report.print(&mut out, ui_published);
            report.is_exact(ui_published)
        }
        None => true,
    };
    let waiters_ok = waiters.missed == 0 && waiters.runs == runs;
    let audit_ok = audit.inner.lines() == audit_expected && lines as u64 == audit_expected;
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    say!(out, "checks:");
    say!(
        out,
        "  every run's terminal event reached its waiter: {}",
        yes(waiters_ok)
    );
    say!(
        out,
        "  audit lossless ({} of {} non-delta events): {}",
        audit.inner.lines(),
        audit_expected,
        yes(audit_ok)
    );
    say!(
        out,
        "  every dropped event reported in its subscriber's stream: {}",
        yes(every_loss_reported)
    );
    if config.late_ui {
        say!(
            out,
            "  late UI got the backlog, then live, no gap, no duplicate: {}",
            yes(late_ui_ok)
        );
    }
    if config.audit.is_none() {
        // Checked above; a default run leaves nothing behind (`--audit PATH` keeps the log).
        if let Err(err) = std::fs::remove_file(&audit_path) {
            eprintln!("warning: cannot remove {}: {err}", audit_path.display());
        }
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    if waiters_ok
        && audit_ok
        && every_loss_reported
        && late_ui_ok
        && audit_report.end == TapEnd::Closed
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The history bus's size and the late UI's queue: a default run's UI events fit, so the late
/// UI loses nothing (a longer run would see the history's oldest reported as `Lagged`).
const LATE_UI_HISTORY: usize = 1 << 16;

/// What the late UI saw.
struct LateUiReport {
    /// The history bus's last sequence number just before the UI subscribed.
    joined_after: u64,
    /// Events received with a number up to `joined_after`: from the history.
    backlog: u64,
    /// Events received with a later number: live.
    live: u64,
    /// Numbers reported lost (`Lagged`: the history had dropped them).
    lagged: u64,
    /// Numbers that were not the one expected (a gap or a duplicate not covered by a `Lagged`).
    breaks: u64,
    /// The last number received.
    last: u64,
}

impl LateUiReport {
    /// Every number from 1 to the last, each once or reported lost, and as many as the main bus
    /// published on the UI topics (the feed is lossless).
    fn is_exact(&self, ui_published: u64) -> bool {
        self.breaks == 0
            && self.last == ui_published
            && self.backlog + self.live + self.lagged == self.last
    }

    fn print(&self, out: &mut String, ui_published: u64) {
        say!(out);
        say!(
            out,
            "late ui (joined a history bus fed with the {ui_published} UI-topic events)"
        );
        say!(
            out,
            "  joined after seq {}: {} backlog events replayed, then {} live",
            self.joined_after,
            self.backlog,
            self.live
        );
        say!(
            out,
            "  lagged {}, sequence breaks {}, last seq {}",
            self.lagged,
            self.breaks,
            self.last
        );
    }
}

/// The `--late-ui` pieces: a lossless subscriber of the UI topics on the main bus that forwards
/// into a [`HistoryBus`] (a UI gateway's job), and a UI that joins that bus at `join_at`, asks
/// for everything the history holds (`Replay::Since(0)`), then follows the live stream,
/// checking the sequence numbers as it goes.
fn spawn_late_ui(bus: &Bus<Stamped>, join_at: Instant) -> thread::JoinHandle<LateUiReport> {
    let history: HistoryBus<Stamped> = HistoryBus::builder(LATE_UI_HISTORY)
        .build()
        .expect("history bus");
    let mut feed = bus
        .subscriber()
        .name("history-feed")
        .topics(topics::UI)
        .capacity(1024)
        .overflow(Overflow::Block)
        .build()
        .expect("history feed");
    let gateway = history.clone();
    thread::Builder::new()
        .name("history-feed".into())
        .spawn(move || {
            // `Block`: nothing is lost, so every item is an event (were one lost, the late UI's
            // count would not match what the main bus published, and the run would say so).
            for stamped in feed.iter().flatten() {
                let _ = gateway.publish(stamped);
            }
            // The main bus closed: dropping the last handle closes the history bus too.
        })
        .expect("history feed thread");
    thread::Builder::new()
        .name("late-ui".into())
        .spawn(move || {
            thread::sleep(join_at.saturating_duration_since(Instant::now()));
            let joined_after = history.last_seq();
            let mut ui = history
                .subscriber()
                .name("late-ui")
                .capacity(LATE_UI_HISTORY)
                .replay(Replay::Since(0))
                .build()
                .expect("late ui subscriber");
            drop(history); // the feed holds the bus; this thread only receives
            let mut report = LateUiReport {
                joined_after,
                backlog: 0,
                live: 0,
                lagged: 0,
                breaks: 0,
                last: 0,
            };
            let mut expected = 1;
            for item in ui.iter() {
                match item {
                    Ok(item) => {
                        let seq = item.seq();
                        report.breaks += u64::from(seq != expected);
                        if seq <= joined_after {
                            report.backlog += 1;
                        } else {
                            report.live += 1;
                        }
                        report.last = seq;
                        expected = seq + 1;
                    }
                    Err(RecvError::Lagged(n)) => {
                        report.lagged += n;
                        expected += n;
                    }
                    Err(_) => break,
                }
            }
            report
        })
        .expect("late ui thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        match parse_args(args.iter().map(|a| a.to_string()))? {
            Command::Run(config) => Ok(config),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn late_ui_is_a_switch() {
        assert!(!parse(&[]).unwrap().late_ui);
        assert!(parse(&["--late-ui", "--runs", "2"]).unwrap().late_ui);
        assert!(parse(&["--late-ui=yes"])
            .unwrap_err()
            .contains("--late-ui takes no value"));
    }

    #[test]
    fn both_flag_forms_set_the_value() {
        assert_eq!(parse(&["--seconds", "3"]).unwrap().seconds, 3.0);
        assert_eq!(parse(&["--seconds=3"]).unwrap().seconds, 3.0);
        let config = parse(&["--runs=2", "--audit", "/tmp/a.jsonl", "--budget-usd=0.5"]).unwrap();
        assert_eq!(config.runs, 2);
        assert_eq!(config.audit, Some("/tmp/a.jsonl".into()));
        assert_eq!(config.budget_usd, 0.5);
    }

    #[test]
    fn bad_input_is_named_in_the_error() {
        let err = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(err(&["--unknown-flag"]), "unknown flag --unknown-flag");
        assert_eq!(err(&["--unknown=3"]), "unknown flag --unknown");
        assert!(err(&["foo"]).contains("unexpected argument \"foo\""));
        assert!(err(&["--seconds"]).contains("--seconds needs a value"));
        assert!(err(&["--seconds", "--runs", "2"]).contains("--seconds needs a value"));
        assert!(err(&["--seconds=abc"]).contains("\"abc\" is not a number"));
        assert!(err(&["--seconds", "0"]).starts_with("--seconds:"));
        assert!(err(&["--seconds", "NaN"]).starts_with("--seconds:"));
        assert!(err(&["--runs", "1.5"]).contains("not a whole number"));
        assert!(err(&["--audit="]).starts_with("--audit:"));
    }

    #[test]
    fn help_lists_every_flag_within_80_columns() {
        assert_eq!(parse(&["--runs", "2", "--help"]).unwrap_err(), "help");
        let text = usage();
        for flag in FLAGS {
            assert!(
                text.contains(flag.name),
                "{} missing from --help",
                flag.name
            );
        }
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line}");
        }
    }

    #[test]
    fn the_progress_line_fits_80_columns() {
        let line = progress_line(
            Duration::from_secs(3599),
            9_999_999,
            9_999_999,
            9_999_999,
            9999,
        );
        assert!(
            line.trim_start_matches('\r').chars().count() <= 80,
            "{line}"
        );
    }

    #[test]
    fn a_line_of_latencies_has_one_unit() {
        assert_eq!(
            p50_p99(&mut [785, 785, 363_000]),
            "p50 0.79 µs, p99 363.0 µs"
        );
        assert_eq!(p50_p99(&mut [900, 900, 9_000]), "p50 900 ns, p99 9000 ns");
        assert_eq!(p50_p99(&mut []), "no samples");
    }
}
