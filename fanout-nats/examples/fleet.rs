//! A fleet: two agent-host processes export their sessions to NATS, one dashboard process imports
//! all of them into its own bus, and the numbers must add up.
//!
//! ```text
//! cargo run --release -p fanout-nats --example fleet
//! cargo run --release -p fanout-nats --example fleet -- --sessions 8 --runs 4 --deltas 200
//! ```
//!
//! The parent starts a `nats-server` (found or installed by `fanout_nats::server`), then runs
//! itself three times as children: `dashboard` (a durable JetStream consumer of `fleet.>` feeding
//! a local bus, counting per session) and two `host`s (each runs simulated agent sessions on its
//! own bus, exported lossless: a `Block` subscriber and JetStream). Each host ends with a
//! `ShutdownRequested` event; the dashboard stops once it has one from every host. The parent
//! prints per-session counts and checks conservation: every event every host published reached
//! the dashboard's bus exactly once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use fanout::agent::{now_ms, topics, AgentEvent, AgentId, RunId, SessionId};
use fanout::error::RecvTimeoutError;
use fanout::{Bus, Overflow};
use fanout_nats::server::NatsServer;
use fanout_nats::{agent, Connection, Exporter, Importer, JetStreamExport, JetStreamImport};

const STREAM: &str = "FLEET";
const HOSTS: usize = 2;

struct Load {
    sessions: usize,
    runs: usize,
    deltas: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
            .unwrap_or(default)
    };
    let load = Load {
        sessions: value("--sessions", 4),
        runs: value("--runs", 3),
        deltas: value("--deltas", 100),
    };
    match args.first().map(String::as_str) {
        Some("host") => host(&args[1], &args[2], &load),
        Some("dashboard") => dashboard(&args[1]),
        _ => parent(&args, &load),
    }
}

/// Starts the server and the three processes, collects their counts, checks conservation.
fn parent(args: &[String], load: &Load) -> ExitCode {
    let server = match NatsServer::start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{} on {}", server.version(), server.url());
    println!(
        "{HOSTS} hosts x {} sessions x {} runs x {} deltas",
        load.sessions, load.runs, load.deltas
    );
    let exe = std::env::current_exe().expect("own path");
    let child = |role: &[&str]| {
        Command::new(&exe)
            .args(role)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn a child process")
    };
    // The stream must exist before the dashboard's consumer: the first host creates it, so the
    // dashboard retries until it is there.
    let dashboard = child(&["dashboard", &server.url()]);
    let hosts: Vec<_> = (0..HOSTS)
        .map(|h| child(&["host", &server.url(), &h.to_string()]))
        .collect();

    let mut exported: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for (h, host) in hosts.into_iter().enumerate() {
        for (session, count) in read_counts(host) {
            exported.insert(session, (format!("host-{h}"), count));
        }
    }
    let imported: BTreeMap<String, u64> = read_counts(dashboard).into_iter().collect();

    println!(
        "\n{:<8} {:<38} {:>9} {:>9}",
        "host", "session", "exported", "imported"
    );
    let mut ok = true;
    for (session, (host, sent)) in &exported {
        let got = imported.get(session).copied().unwrap_or(0);
        ok &= got == *sent;
        println!(
            "{host:<8} {session:<38} {sent:>9} {got:>9}{}",
            if got == *sent { "" } else { "  MISMATCH" }
        );
    }
    let unknown: Vec<_> = imported
        .keys()
        .filter(|s| !exported.contains_key(*s))
        .collect();
    ok &= unknown.is_empty();
    let (sent, got): (u64, u64) = (
        exported.values().map(|v| v.1).sum(),
        imported.values().sum(),
    );
    println!(
        "\nsession events: {sent} exported by {HOSTS} hosts, {got} imported: {}",
        if ok && sent == got { "OK" } else { "FAILED" }
    );
    println!(
        "(each host also exports one end marker, ShutdownRequested, which is not\n\
         a session's: the hosts' lines above count it, the table does not)"
    );
    if ok && sent == got {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reads `COUNT <session> <n>` lines from a child's stdout (its other lines are echoed), waits for
/// it to exit.
fn read_counts(mut child: std::process::Child) -> Vec<(String, u64)> {
    let mut counts = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped"))
        .lines()
        .map_while(Result::ok)
    {
        let parts: Vec<_> = line.split_whitespace().collect();
        match parts[..] {
            ["COUNT", session, n] => {
                counts.push((session.to_string(), n.parse().expect("a count")))
            }
            _ => println!("{line}"),
        }
    }
    let status = child.wait().expect("child exit");
    assert!(status.success(), "a child process failed: {status}");
    counts
}

/// An agent host: simulated sessions on its own bus, exported lossless to JetStream.
fn host(url: &str, name: &str, load: &Load) -> ExitCode {
    let bus = Bus::<AgentEvent>::new();
    let sub = bus
        .subscriber()
        .topics(topics::ALL)
        .capacity(1024)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let exporter = Exporter::builder(sub, Connection::new(url).name(format!("host-{name}")))
        .subject(agent::session_subject("fleet"))
        .jetstream(JetStreamExport::new(STREAM).subjects(["fleet.>"]))
        .start()
        .expect("the exporter starts");

    let started = Instant::now();
    let mut counts = BTreeMap::new();
    let workers: Vec<_> = (0..load.sessions)
        .map(|_| {
            let publisher = bus.publisher();
            let (runs, deltas) = (load.runs, load.deltas);
            std::thread::spawn(move || {
                let session = SessionId::new();
                let mut sent = 0u64;
                let mut emit = |event| {
                    publisher.publish(event).expect("the bus is open");
                    sent += 1;
                };
                emit(AgentEvent::SessionStarted {
                    session,
                    timestamp_ms: now_ms(),
                });
                for _ in 0..runs {
                    let (run, agent) = (RunId::new(), AgentId::new());
                    let model = "sim-1".to_string();
                    emit(AgentEvent::RunStarted {
                        session: Some(session),
                        run,
                        agent,
                        model: model.clone(),
                        timestamp_ms: now_ms(),
                    });
                    for d in 0..deltas {
                        emit(AgentEvent::text_delta(session, run, format!("token{d} ")));
                    }
                    emit(AgentEvent::TokenUsage {
                        session: Some(session),
                        run: Some(run),
                        model,
                        input_tokens: 100,
                        output_tokens: deltas as u64,
                        cost_usd: 0.0001 * deltas as f64,
                        timestamp_ms: now_ms(),
                    });
                    emit(AgentEvent::run_completed(session, run, 1));
                }
                emit(AgentEvent::SessionEnded {
                    session,
                    timestamp_ms: now_ms(),
                });
                (session, sent)
            })
        })
        .collect();
    for worker in workers {
        let (session, sent) = worker.join().expect("a session thread");
        counts.insert(session, sent);
    }
    // Last, from this host: the dashboard stops once it has one from every host.
    bus.publish(AgentEvent::ShutdownRequested {
        reason: format!("host-{name} done"),
        timestamp_ms: now_ms(),
    })
    .unwrap();
    bus.close();
    let stats = exporter.shutdown();
    // Every event of this bus, the end marker included.
    eprintln!(
        "host-{name}: {} events exported in {:.2} s: {} stored, {} retried, {} lost",
        stats.received,
        started.elapsed().as_secs_f64(),
        stats.acknowledged,
        stats.retried,
        stats.lost()
    );
    for (session, sent) in counts {
        println!("COUNT {session} {sent}");
    }
    if stats.lost() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The dashboard: every session of every host, imported into its own bus, counted per session.
fn dashboard(url: &str) -> ExitCode {
    let bus = Bus::<AgentEvent>::new();
    let mut all = bus
        .subscriber()
        .topics(topics::ALL)
        .capacity(4096)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let importer = loop {
        let attempt = Importer::builder(bus.publisher(), Connection::new(url).name("dashboard"))
            .jetstream(JetStreamImport::new(STREAM, "dashboard").filter_subject("fleet.>"))
            .start();
        match attempt {
            Ok(importer) => break importer,
            Err(e) if Instant::now() < deadline => {
                let _ = e; // the stream is not there yet: a host creates it
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{e}"),
        }
    };
    let mut counts: BTreeMap<SessionId, u64> = BTreeMap::new();
    let mut hosts_done = 0;
    while hosts_done < HOSTS && Instant::now() < deadline {
        match all.recv_timeout(Duration::from_millis(200)) {
            Ok(AgentEvent::ShutdownRequested { .. }) => hosts_done += 1,
            Ok(event) => {
                *counts
                    .entry(event.session_id().expect("session events only"))
                    .or_default() += 1
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    let stats = importer.shutdown();
    eprintln!(
        "dashboard: {} imported ({} end markers), {} duplicates, {} lost, \
         {} undecodable",
        stats.published, hosts_done, stats.duplicates, stats.lost, stats.decode_failed
    );
    for (session, n) in counts {
        println!("COUNT {session} {n}");
    }
    if hosts_done == HOSTS && stats.lost == 0 && stats.decode_failed == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("dashboard: heard the end of {hosts_done} of {HOSTS} hosts");
        ExitCode::FAILURE
    }
}
