//! Load: N concurrent keyed SSE connections to a gateway on loopback, from a second process;
//! memory per connection (the gateway process's live heap, counted by its allocator, and its
//! resident set, before and after the connections open; a process per scenario) and the cost of a publish at N connections, each event for one key.
//! Every connection's stream is checked: only its key's events, in order, and received + gap
//! frames = published for its key.
//!
//! ```text
//! cargo run --release -p fanout-web --example load               # 16 and 1,000 connections
//! cargo run --release -p fanout-web --example load -- 1000 200000 # connections, events
//! ```
//!
//! The numbers it prints are for BENCHMARKS.md ("fanout-web"). The machine is shared and has two
//! cores: the client process, the server's two runtime threads and the publisher oversubscribe
//! them, so read the ratios of one run, not the absolute times.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fanout::{topic, Event, HistoryBus, Topic};
use fanout_web::{AllowAll, Gateway, WebEvent};

/// The live heap of this process, counted by a wrapper around the system allocator.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is `System::dealloc`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is `System::realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One keyed event.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Ev {
    key: u32,
    n: u64,
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        topic!(0)
    }
    // The bus routes by it: a publish reaches only its key's connection.
    fn key(&self) -> Option<fanout::Key> {
        Some(self.key.into())
    }
}

impl WebEvent for Ev {
    type Key = u32;
    fn key(&self) -> Option<u32> {
        Some(self.key)
    }
    fn topic_names() -> &'static [(&'static str, Topic)] {
        &[("ev", topic!(0))]
    }
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client") {
        return client(&args[1], args[2].parse().unwrap());
    }
    if args.first().map(String::as_str) == Some("--scenario") {
        let number = |i: usize| args[i].parse::<u64>().unwrap();
        let ok = scenario(number(1) as u32, number(2) as usize, number(3));
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let connections: Vec<u32> = match args.first() {
        Some(n) => vec![n.parse().expect("a number of connections")],
        None => vec![16, 1000],
    };
    let events: u64 = args
        .get(1)
        .map_or(200_000, |e| e.parse().expect("a number of events"));
    println!(
        "| connections | queue | heap per connection | RSS per connection | publish p50 | publish p99 | publishes/s | received | in gap frames | repaired |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut ok = true;
    for &n in &connections {
        for capacity in [1024, 64] {
            if n < 1000 && capacity == 64 {
                continue;
            }
            // A process per scenario, so that its resident set starts from nothing.
            let status = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--scenario",
                    &n.to_string(),
                    &capacity.to_string(),
                    &events.to_string(),
                ])
                .status()
                .unwrap();
            ok &= status.success();
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn scenario(connections: u32, capacity: usize, events: u64) -> bool {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let bus = HistoryBus::<Ev>::builder(1 << 16).build().unwrap();
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .capacity(capacity)
        .keep_alive(Duration::from_secs(600))
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let router = gateway.router();
    runtime.spawn(async move { axum::serve(listener, router).await });
    std::thread::sleep(Duration::from_millis(100));
    let (heap_before, rss_before) = (LIVE.load(Ordering::Relaxed), rss_bytes());

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--client", &addr.to_string(), &connections.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the client process opened its connections"
    );
    while gateway.connections() < connections as usize {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let heap = LIVE.load(Ordering::Relaxed).saturating_sub(heap_before) / connections as usize;
    let rss = rss_bytes().saturating_sub(rss_before) / connections as usize;

    // Each event for one key, keys in turn; every publish timed.
    let mut times = Vec::with_capacity(events as usize);
    let started = Instant::now();
    for i in 0..events {
        let key = (i % u64::from(connections)) as u32;
        let event = Ev {
            key,
            n: i / u64::from(connections),
        };
        let t = Instant::now();
        bus.publish(event).unwrap();
        times.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    bus.close();
    line.clear();
    out.read_line(&mut line).unwrap();
    child.wait().unwrap();
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let per_key = events / u64::from(connections);
    let (received, missed) = (
        report["received"].as_u64().unwrap(),
        report["missed"].as_u64().unwrap(),
    );
    let wrong = report["wrong"].as_u64().unwrap();
    let unbalanced = report["unbalanced"].as_u64().unwrap();
    times.sort();
    let p = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    println!(
        "| {connections} | {capacity} | {:.1} KiB | {:.1} KiB | {:?} | {:?} | {:.0} | {received} | {missed} | {} |",
        heap as f64 / 1024.0,
        rss as f64 / 1024.0,
        p(0.5),
        p(0.99),
        events as f64 / elapsed.as_secs_f64(),
        gateway.repaired(),
    );
    let ok = wrong == 0 && unbalanced == 0 && received + missed == per_key * u64::from(connections);
    if !ok {
        println!("FAILED: {wrong} events of another key, {unbalanced} keys with received + missed != {per_key}");
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    ok
}

/// The client process: `connections` keyed streams; prints `ready` once all are open, then one
/// JSON line once every stream has its close frame.
fn client(addr: &str, connections: u32) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let mut streams = Vec::new();
        for key in 0..connections {
            let response = client
                .get(format!("http://{addr}/events?key={key}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            streams.push((key, response));
        }
        println!("ready");
        std::io::stdout().flush().unwrap();
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|(key, mut response)| {
                tokio::spawn(async move {
                    let (mut received, mut missed, mut wrong, mut last) = (0u64, 0u64, 0u64, None);
                    let mut buffer = String::new();
                    let mut in_order = true;
                    'read: while let Some(chunk) = response.chunk().await.unwrap() {
                        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
                        while let Some(end) = buffer.find("\n\n") {
                            let frame: String = buffer.drain(..end + 2).collect();
                            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
                            if frame.contains("event: close") {
                                break 'read;
                            } else if frame.contains("event: gap") {
                                let v: serde_json::Value =
                                    serde_json::from_str(data.unwrap()).unwrap();
                                missed += v["missed"].as_u64().unwrap();
                            } else if let Some(data) = data {
                                let ev: Ev = serde_json::from_str(data).unwrap();
                                wrong += u64::from(ev.key != key);
                                in_order &= last.map_or(true, |n| ev.n > n);
                                last = Some(ev.n);
                                received += 1;
                            }
                        }
                    }
                    (received, missed, wrong + u64::from(!in_order))
                })
            })
            .collect();
        let (mut received, mut missed, mut wrong) = (0, 0, 0);
        let mut per_key = Vec::new();
        for task in tasks {
            let (r, m, w) = task.await.unwrap();
            received += r;
            missed += m;
            wrong += w;
            per_key.push(r + m);
        }
        let expected = per_key.iter().copied().max().unwrap_or(0);
        let unbalanced = per_key.iter().filter(|&&t| t != expected).count();
        println!(
            "{}",
            serde_json::json!({ "received": received, "missed": missed, "wrong": wrong,
                "unbalanced": unbalanced })
        );
    });
    ExitCode::SUCCESS
}
