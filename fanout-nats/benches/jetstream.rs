//! Pipelined JetStream export against async-nats alone, on a local nats-server (started by the
//! bench, file storage, loopback).
//!
//! Each iteration stores 20,000 `TextDelta` events and waits for every acknowledgement.
//!
//! - `async-nats`: the same events, JSON-encoded beforehand, published by async-nats from its own
//!   runtime's thread with the same window (256 acknowledgements in flight, taken in order), the
//!   same two headers and the same `Nats-Msg-Id` per event (built per event, as the bridge does).
//! - `bridge`: the events published into a bus whose exporter (a `Block` subscriber, JetStream,
//!   `max_in_flight(256)`) encodes and publishes them; timed until the exporter counts them all
//!   acknowledged.
//! - `bridge-window-1`: the bridge with one publish in flight (the old one-round-trip-per-event
//!   export), on 2,000 events per iteration.
//!
//! ```text
//! cargo bench -p fanout-nats --bench jetstream
//! ```

use std::collections::VecDeque;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fanout::agent::{AgentEvent, RunId, SessionId};
use fanout::{Bus, Overflow};
use fanout_nats::sequence::{ORIGIN_HEADER, SEQUENCE_HEADER};
use fanout_nats::server::NatsServer;
use fanout_nats::{Codec, Connection, Exporter, JetStreamExport, JsonCodec};

const EVENTS: u64 = 20_000;
const WINDOW: usize = 256;
const STREAM: &str = "JSBENCH";
const SUBJECT: &str = "jsbench.7";

fn delta(i: u64) -> AgentEvent {
    AgentEvent::text_delta(SessionId::new(), RunId::new(), format!("token {i} "))
}

/// async-nats publishing `payloads` with `WINDOW` acknowledgements in flight each time it is
/// told to go; answers when every one is acknowledged.
fn async_nats_publisher(
    url: String,
    payloads: Vec<bytes::Bytes>,
) -> (mpsc::Sender<()>, mpsc::Receiver<()>) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let client = async_nats::connect(url).await.unwrap();
            let js = jetstream::ContextBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(client);
            let origin = "0123456789abcdef0123456789abcdef";
            let mut seq = 0u64;
            let mut window = VecDeque::with_capacity(WINDOW);
            while go_rx.recv().is_ok() {
                for payload in &payloads {
                    if window.len() == WINDOW {
                        let ack: jetstream::context::PublishAckFuture = window.pop_front().unwrap();
                        ack.await.unwrap();
                    }
                    seq += 1;
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(ORIGIN_HEADER, origin);
                    headers.insert(SEQUENCE_HEADER, seq.to_string().as_str());
                    let message = PublishMessage::build()
                        .payload(payload.clone())
                        .headers(headers)
                        .message_id(format!("{origin}-{seq}"));
                    window.push_back(js.send_publish(SUBJECT, message).await.unwrap());
                }
                while let Some(ack) = window.pop_front() {
                    ack.await.unwrap();
                }
                done_tx.send(()).unwrap();
            }
        });
    });
    (go_tx, done_rx)
}

/// Times `iters` runs of publishing `events` into `bus` until `exporter` has them acknowledged.
fn time_bridge(
    bus: &Bus<AgentEvent>,
    exporter: &Exporter,
    events: &[AgentEvent],
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let batch = events.to_vec();
        let target = exporter.stats().acknowledged + batch.len() as u64;
        let started = Instant::now();
        for event in batch {
            bus.publish(event).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while exporter.stats().acknowledged < target {
            assert!(Instant::now() < deadline, "stalled: {:?}", exporter.stats());
            thread::sleep(Duration::from_micros(200));
        }
        total += started.elapsed();
    }
    total
}

fn bridge(server: &NatsServer, window: usize) -> (Bus<AgentEvent>, Exporter) {
    let bus = Bus::<AgentEvent>::new();
    let sub = bus
        .subscriber()
        .capacity(4096)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let exporter = Exporter::builder(sub, Connection::new(server.url()))
        .subject_prefix("jsbench")
        .jetstream(JetStreamExport::new(STREAM).max_in_flight(window))
        .start()
        .unwrap();
    (bus, exporter)
}

fn jetstream_export(c: &mut Criterion) {
    let server = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<AgentEvent> = (0..EVENTS).map(delta).collect();
    let payloads: Vec<bytes::Bytes> = events
        .iter()
        .map(|e| {
            let mut buf = Vec::new();
            JsonCodec::new().encode(e, &mut buf).unwrap();
            buf.into()
        })
        .collect();
    // The bridge first: its exporter creates the stream the baseline publishes into too.
    let (bus, exporter) = bridge(&server, WINDOW);
    let (go, done) = async_nats_publisher(server.url(), payloads);

    let mut group = c.benchmark_group("jetstream_export");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("async-nats", EVENTS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                go.send(()).unwrap();
                done.recv().unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function(BenchmarkId::new("bridge", EVENTS), |b| {
        b.iter_custom(|iters| time_bridge(&bus, &exporter, &events, iters))
    });
    let (bus1, exporter1) = bridge(&server, 1);
    let few = &events[..2_000];
    group.throughput(Throughput::Elements(few.len() as u64));
    group.bench_function(BenchmarkId::new("bridge-window-1", few.len()), |b| {
        b.iter_custom(|iters| time_bridge(&bus1, &exporter1, few, iters))
    });
    group.finish();
    for (bus, exporter) in [(bus, exporter), (bus1, exporter1)] {
        bus.close();
        let stats = exporter.shutdown();
        assert_eq!(stats.lost(), 0, "{stats:?}");
    }
}

criterion_group!(benches, jetstream_export);
criterion_main!(benches);
