//! The bridge against async-nats alone, on a local nats-server (started by the bench).
//!
//! - `export_throughput`: 10,000 `TextDelta` events delivered through the server to a counting
//!   subscriber. `async-nats` publishes the same events, encoded beforehand, from its own thread;
//!   `bridge-core` publishes them into a bus whose exporter (a `Block` subscriber) encodes and
//!   publishes them. Both are timed from the first publish until the counting subscriber has all
//!   of them, so both pay the server and the subscriber alike; the difference is the bridge.
//!   `async-nats-encode-headers` is async-nats doing the bridge's per-event work as well (JSON
//!   encoding, the keyed subject, the three sequence headers): the rest of the difference is the
//!   bus and the hand-offs. Each event is of a session of its own (10,000 keys, the same ones
//!   every iteration: 10,000 distinct subjects); `bridge-core-16-sessions` is the bridge with
//!   the same events spread over 16 sessions (16 subjects, 625 events each), as a host with a
//!   few busy sessions sends them.
//! - `round_trip_latency`: one event bus → exporter → server → importer → bus, timed from the
//!   publish until the far subscriber has it, one at a time.
//!
//! ```text
//! cargo bench -p fanout-nats --bench bridge
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fanout::agent::{AgentEvent, RunId, SessionId};
use fanout::Event;
use fanout::{Bus, Overflow};
use fanout_nats::sequence::{KEY_SEQUENCE_HEADER, ORIGIN_HEADER, SEQUENCE_HEADER};
use fanout_nats::server::NatsServer;
use fanout_nats::{Codec, Connection, Exporter, Importer, JsonCodec};
use futures_util::StreamExt;

const EVENTS: u64 = 10_000;
const SUBJECT: &str = "bench.7";

fn delta(i: u64) -> AgentEvent {
    AgentEvent::text_delta(SessionId::new(), RunId::new(), format!("token {i} "))
}

/// A subscriber to `bench.>` on a thread of its own, counting what arrives.
fn counting_subscriber(url: String) -> Arc<AtomicU64> {
    let count = Arc::new(AtomicU64::new(0));
    let (ready_tx, ready_rx) = mpsc::channel();
    let counter = count.clone();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = async_nats::ConnectOptions::new()
                .subscription_capacity(1 << 20)
                .connect(url)
                .await
                .unwrap();
            let mut sub = client.subscribe("bench.>").await.unwrap();
            fanout_nats::server_round_trip(&client, Duration::from_secs(30))
                .await
                .unwrap();
            ready_tx.send(()).unwrap();
            while sub.next().await.is_some() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
    });
    ready_rx.recv().unwrap();
    count
}

fn wait_for(count: &AtomicU64, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < target {
        assert!(
            Instant::now() < deadline,
            "the subscriber stalled at {}",
            count.load(Ordering::Relaxed)
        );
        thread::yield_now();
    }
}

fn export_throughput(c: &mut Criterion) {
    let server = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let count = counting_subscriber(server.url());
    let mut group = c.benchmark_group("export_throughput");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(20);

    // async-nats alone: the same events, encoded beforehand, published from its runtime's thread.
    let events: Vec<AgentEvent> = (0..EVENTS).map(delta).collect();
    let payloads: Vec<bytes::Bytes> = events
        .iter()
        .map(|e| {
            let mut buf = Vec::new();
            JsonCodec::new().encode(e, &mut buf).unwrap();
            buf.into()
        })
        .collect();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let url = server.url();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = async_nats::connect(url).await.unwrap();
            while go_rx.recv().is_ok() {
                for payload in &payloads {
                    client.publish(SUBJECT, payload.clone()).await.unwrap();
                }
                client.flush().await.unwrap();
            }
        });
    });
    group.bench_function(BenchmarkId::new("async-nats", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let target = count.load(Ordering::Relaxed) + EVENTS;
                let started = Instant::now();
                go_tx.send(()).unwrap();
                wait_for(&count, target);
                total += started.elapsed();
            }
            total
        })
    });

    // async-nats alone doing the bridge's per-event work too: encode each event, name its keyed
    // subject, attach the same three headers (origin, sequence number, key stream and its
    // number: here every key's first event, as each event is of its own session). What is left
    // between this and the bridge is the bus, the thread hand-offs, the batching and the key
    // streams' table.
    let (go_tx2, go_rx2) = mpsc::channel::<()>();
    let url = server.url();
    let to_encode = events.clone();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = async_nats::connect(url).await.unwrap();
            let (mut seq, mut buf) = (0u64, Vec::new());
            while go_rx2.recv().is_ok() {
                for event in &to_encode {
                    buf.clear();
                    JsonCodec::new().encode(event, &mut buf).unwrap();
                    seq += 1;
                    let key = event.key().expect("a delta has a session");
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(ORIGIN_HEADER, "0123456789abcdef0123456789abcdef");
                    headers.insert(SEQUENCE_HEADER, seq.to_string().as_str());
                    headers.insert(KEY_SEQUENCE_HEADER, format!("{seq}-1").as_str());
                    let payload = bytes::Bytes::copy_from_slice(&buf);
                    client
                        .publish_with_headers(format!("bench.{key}.7"), headers, payload)
                        .await
                        .unwrap();
                }
                client.flush().await.unwrap();
            }
        });
    });
    group.bench_function(BenchmarkId::new("async-nats-encode-headers", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let target = count.load(Ordering::Relaxed) + EVENTS;
                let started = Instant::now();
                go_tx2.send(()).unwrap();
                wait_for(&count, target);
                total += started.elapsed();
            }
            total
        })
    });

    // The bridge: the host publishes into its bus; the exporter does the rest.
    let bus = Bus::<AgentEvent>::new();
    let sub = bus
        .subscriber()
        .capacity(4096)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let exporter = Exporter::builder(sub, Connection::new(server.url()))
        .subject_prefix("bench")
        .start()
        .unwrap();
    group.bench_function(BenchmarkId::new("bridge-core", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = events.clone();
                let target = count.load(Ordering::Relaxed) + EVENTS;
                let started = Instant::now();
                for event in batch {
                    bus.publish(event).unwrap();
                }
                wait_for(&count, target);
                total += started.elapsed();
            }
            total
        })
    });
    let sessions: Vec<SessionId> = (0..16).map(|_| SessionId::new()).collect();
    let few: Vec<AgentEvent> = (0..EVENTS)
        .map(|i| {
            AgentEvent::text_delta(
                sessions[i as usize % 16],
                RunId::new(),
                format!("token {i} "),
            )
        })
        .collect();
    group.bench_function(BenchmarkId::new("bridge-core-16-sessions", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = few.clone();
                let target = count.load(Ordering::Relaxed) + EVENTS;
                let started = Instant::now();
                for event in batch {
                    bus.publish(event).unwrap();
                }
                wait_for(&count, target);
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
    bus.close();
    let stats = exporter.shutdown();
    assert_eq!(stats.lost(), 0, "{stats:?}");
}

fn round_trip_latency(c: &mut Criterion) {
    let server = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (host, dashboard) = (Bus::<AgentEvent>::new(), Bus::<AgentEvent>::new());
    let mut far = dashboard.subscriber().capacity(1024).build().unwrap();
    let importer = Importer::builder(dashboard.publisher(), Connection::new(server.url()))
        .subject("bench.>")
        .start()
        .unwrap();
    let sub = host
        .subscriber()
        .capacity(1024)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let exporter = Exporter::builder(sub, Connection::new(server.url()))
        .subject_prefix("bench")
        .start()
        .unwrap();
    let mut group = c.benchmark_group("round_trip_latency");
    group.sample_size(20);
    group.bench_function("bus-nats-bus", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                let event = delta(i);
                let started = Instant::now();
                host.publish(event).unwrap();
                far.recv_timeout(Duration::from_secs(10))
                    .expect("the event came back");
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
    host.close();
    exporter.shutdown();
    importer.shutdown();
}

criterion_group!(benches, export_throughput, round_trip_latency);
criterion_main!(benches);
