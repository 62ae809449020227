//! Shared by the bridge's tests: a real server, a report collector, bounded waits, a small event.
#![allow(dead_code)]

#[path = "../../../tests/common/agent_variants.rs"]
pub mod variants;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fanout::{topic, Bus, Event, Overflow, Subscriber, Topic};
use fanout_nats::server::{NatsServer, ServerOptions};
use fanout_nats::Connection;
use serde::{Deserialize, Serialize};

/// A server for one test: found or installed, never skipped (a missing one fails the test with
/// the message that says how to get one).
pub fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|e| panic!("{e}"))
}

pub fn server_with(options: ServerOptions) -> NatsServer {
    NatsServer::start_with(options).unwrap_or_else(|e| panic!("{e}"))
}

/// The bridge's report lines, collected.
#[derive(Clone, Default)]
pub struct Reports(Arc<Mutex<Vec<String>>>);

impl Reports {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn any(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

/// A connection to `server` whose reports go to `reports`.
pub fn connect(server: &NatsServer, reports: &Reports) -> Connection {
    let sink = reports.0.clone();
    Connection::new(server.url()).on_report(move |line| sink.lock().unwrap().push(line.to_owned()))
}

/// Polls `done` until it holds or `timeout` passes; whether it held.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    done()
}

/// A small numbered event: which publisher, and its number there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Numbered {
    pub publisher: u32,
    pub n: u64,
}

pub const NUMBERED: Topic = topic!(3);

impl Event for Numbered {
    fn topic(&self) -> Topic {
        NUMBERED
    }
}

/// A name no other test uses (streams and consumers live on a shared server only per test, but
/// names keep reports readable).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A lossless (`Block`) subscriber of every topic with `capacity` slots: what a test reads the
/// importing bus through, so that nothing the importer publishes is lost on this side.
pub fn lossless_view<E: Event>(bus: &Bus<E>, capacity: usize) -> Subscriber<E> {
    bus.subscriber()
        .capacity(capacity)
        .overflow(Overflow::Block)
        .build()
        .unwrap()
}
