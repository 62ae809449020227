//! Bus → NATS: the [`Exporter`] and its builder.
//!
//! Two threads per exporter. The *reader* takes events from the exporter's own bus subscriber with
//! the blocking [`Subscriber::recv`](fanout::Subscriber::recv) (in batches, with
//! `drain_into`), names their subjects and encodes them, and hands each batch to the *sender*
//! through a small bounded channel. The sender runs a single-threaded tokio runtime that owns the
//! NATS client and publishes. When NATS cannot keep up (or is down), the channel fills, the reader
//! stops taking events, and the subscriber's own overflow policy decides: `Block` holds the bus's
//! publishers back, the others drop events and the exporter counts them from the `Lagged` reports.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use async_nats::header::HeaderMap;
use async_nats::jetstream::context::PublishError;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self, message::PublishMessage};
use async_nats::{Client, Subject};
use bytes::Bytes;
use fanout::error::RecvTimeoutError;
use fanout::topic::TOPIC_COUNT;
use fanout::{Event, Key, Subscriber, Topic};
use futures_util::FutureExt;
use tokio::sync::mpsc;

use crate::connection::Reporter;
use crate::key_stream::{KeyNumber, KeyStreams};
use crate::sequence::{KEY_SEQUENCE_HEADER, MAX_KEY_STREAMS, ORIGIN_HEADER, SEQUENCE_HEADER};
use crate::stats::{add, ExportCounters};
use crate::subject::{is_valid_subject, UNKEYED_TOKEN};
use crate::{BridgeError, Codec, Connection, ExportStats, JsonCodec};

/// Events the reader takes from the bus per batch, at most.
const BATCH: usize = 256;
/// Batches in flight between the reader and the sender.
const CHANNEL_BATCHES: usize = 8;
/// How often a reader blocked in `recv` looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How long shutdown waits for the client to write out what it was given.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// The first and the longest pause before a JetStream window is re-sent.
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(10);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(250);
/// JetStream publishes awaiting their acknowledgement at once, by default.
const DEFAULT_IN_FLIGHT: usize = 256;

/// How an exporter publishes.
#[derive(Clone, Debug, Default)]
pub enum ExportMode {
    /// Core NATS: at-most-once. Each event is written to the connection and forgotten; what the
    /// network or a server restart loses shows up at the importer (as
    /// [`ImportStats::lost`](crate::ImportStats::lost)), what the client refuses in
    /// [`ExportStats::publish_failed`].
    #[default]
    Core,
    /// JetStream: each event is stored in a stream and acknowledged; see [`JetStreamExport`].
    JetStream(JetStreamExport),
}

/// JetStream settings for an exporter: the stream, how many publishes may await their
/// acknowledgement at once, and how long an unacknowledged event is retried.
///
/// Each event is published with `Nats-Msg-Id` = `<origin>-<seq>`. Up to
/// [`max_in_flight`](Self::max_in_flight) publishes (256 by default) are sent before the first
/// is acknowledged; acknowledgements are taken in order. When one fails or does not come within
/// [`ack_timeout`](Self::ack_timeout), every publish still in flight is sent again, in order,
/// under the same ids (the stream stores each id once), until each is acknowledged or
/// `retry_window` has passed since its first attempt. Across a server restart the stream can so
/// hold an event after later ones from the same exporter (those lost with the old connection are
/// re-sent after those the client queued for the new one); a JetStream
/// [`Importer`](crate::Importer) puts them back in order by their sequence numbers (see
/// [`sequence`](crate::sequence#reordering-jetstream)). With a [`Block`](fanout::Overflow::Block)
/// subscriber, nothing is lost across an outage shorter than the window: the bus holds its
/// publishers back meanwhile.
///
/// ```
/// use std::time::Duration;
/// use fanout_nats::JetStreamExport;
/// let js = JetStreamExport::new("AGENTS")
///     .subjects(["agent.>"])
///     .max_in_flight(512)
///     .retry_window(Duration::from_secs(60));
/// # drop(js);
/// ```
#[derive(Clone, Debug)]
pub struct JetStreamExport {
    stream: String,
    subjects: Vec<String>,
    retry_window: Duration,
    ack_timeout: Duration,
    max_in_flight: usize,
}

impl JetStreamExport {
    /// Publish into the stream `stream`, created (file storage) if it does not exist. Defaults:
    /// the stream covers `<prefix>.>` (see [`ExportBuilder::subject_prefix`]), 256 publishes in
    /// flight, a 30 s retry window, a 1 s acknowledgement timeout.
    pub fn new(stream: impl Into<String>) -> Self {
        JetStreamExport {
            stream: stream.into(),
            subjects: Vec::new(),
            retry_window: Duration::from_secs(30),
            ack_timeout: Duration::from_secs(1),
            max_in_flight: DEFAULT_IN_FLIGHT,
        }
    }

    /// The subjects the stream covers if the exporter creates it (needed with
    /// [`ExportBuilder::subject`]).
    pub fn subjects<S: Into<String>>(mut self, subjects: impl IntoIterator<Item = S>) -> Self {
        self.subjects = subjects.into_iter().map(Into::into).collect();
        self
    }

    /// How long one event is retried before it is given up and counted in
    /// [`ExportStats::publish_failed`]. The stream's duplicate window is made at least this long.
    pub fn retry_window(mut self, window: Duration) -> Self {
        self.retry_window = window;
        self
    }

    /// How long to wait for one acknowledgement before sending the window again (each further
    /// attempt at the same event waits longer, up to 8 times this, and takes the acknowledgement
    /// of the attempt before if that one comes first).
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// How many publishes may await their acknowledgement at once (default 256, at least 1, at
    /// most [`MAX_HELD`](crate::sequence::MAX_HELD), 2,048: what a JetStream importer holds of
    /// one exporter's events for reordering). 1 is one round trip per event.
    pub fn max_in_flight(mut self, publishes: usize) -> Self {
        self.max_in_flight = publishes.clamp(1, crate::sequence::MAX_HELD);
        self
    }
}

/// How an event's subject is chosen.
enum Subjects<E> {
    /// `<prefix>.<key token>.<name of the topic>` (`keyed`), or `<prefix>.<name of the topic>`.
    Prefix {
        prefix: String,
        names: fn(Topic) -> Cow<'static, str>,
        keyed: bool,
    },
    /// A caller's function of the event.
    Custom(Box<dyn Fn(&E) -> String + Send>),
}

/// The default topic name: its index (`fanout.7`).
fn topic_index(topic: Topic) -> Cow<'static, str> {
    Cow::Owned(topic.index().to_string())
}

/// Builds an [`Exporter`]: see [`Exporter::builder`].
pub struct ExportBuilder<E, C = JsonCodec<E>> {
    subscriber: Subscriber<E>,
    connection: Connection,
    subjects: Subjects<E>,
    mode: ExportMode,
    codec: C,
}

impl<E: Event, C: Codec<E>> ExportBuilder<E, C> {
    /// Subjects are `<prefix>.<key token>.<topic name>` (the default prefix is `fanout`): the
    /// event's routing key ([`Event::key`]) as 32 hex digits, or `_` for an event without one
    /// (see [`key_token`](crate::key_token)), so NATS routes by key as the bus does: an importer
    /// following one key ([`ImportBuilder::key`](crate::ImportBuilder::key)) subscribes to
    /// `<prefix>.<key token>.>`, one that wants everything to `<prefix>.>`.
    ///
    /// ```
    /// # use fanout::Bus;
    /// # use fanout_nats::{Connection, Exporter};
    /// # let bus = Bus::<fanout::agent::AgentEvent>::new();
    /// # let sub = bus.subscribe(fanout::Topics::ALL);
    /// // `agent.<session>.delta`, `agent._.system`, ...
    /// let exporter = Exporter::builder(sub, Connection::new("nats://127.0.0.1:4222"))
    ///     .subject_prefix("agent")
    ///     .topic_names(fanout_nats::agent::topic_name);
    /// # drop(exporter);
    /// ```
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        let (names, keyed) = match self.subjects {
            Subjects::Prefix { names, keyed, .. } => (names, keyed),
            Subjects::Custom(_) => (topic_index as fn(Topic) -> Cow<'static, str>, true),
        };
        self.subjects = Subjects::Prefix {
            prefix: prefix.into(),
            names,
            keyed,
        };
        self
    }

    /// Whether a prefix's subjects carry the event's key (default `true`):
    /// `keyed_subjects(false)` gives `<prefix>.<topic name>`, the form of this crate before
    /// keys, which an importer following a key cannot tell apart. The key streams' numbers
    /// ([`sequence`](crate::sequence#per-key-sequences)) are sent either way.
    pub fn keyed_subjects(mut self, keyed: bool) -> Self {
        self.subjects = match self.subjects {
            Subjects::Prefix { prefix, names, .. } => Subjects::Prefix {
                prefix,
                names,
                keyed,
            },
            Subjects::Custom(_) => Subjects::Prefix {
                prefix: "fanout".into(),
                names: topic_index,
                keyed,
            },
        };
        self
    }

    /// How a topic is named in the subject (default: its index, `fanout.<key>.7`). For
    /// [`AgentEvent`](fanout::agent::AgentEvent)s, [`agent::topic_name`](crate::agent::topic_name)
    /// gives `fanout.<key>.delta`, `fanout.<key>.run`, ...
    pub fn topic_names(mut self, names: fn(Topic) -> Cow<'static, str>) -> Self {
        if let Subjects::Prefix { prefix, keyed, .. } = self.subjects {
            self.subjects = Subjects::Prefix {
                prefix,
                names,
                keyed,
            };
        } else {
            self.subjects = Subjects::Prefix {
                prefix: "fanout".into(),
                names,
                keyed: true,
            };
        }
        self
    }

    /// Subjects computed from each event, e.g. `agent.<session>.<topic>`
    /// ([`agent::session_subject`](crate::agent::session_subject)). An importer following a key
    /// ([`ImportBuilder::key`](crate::ImportBuilder::key)) subscribes to
    /// `<prefix>.<key token>.>`: a function meant for one should name each event so. An invalid subject (empty,
    /// with spaces, wildcards or empty tokens) is counted in
    /// [`ExportStats::encode_failed`] and reported; the event is skipped.
    pub fn subject(mut self, subject: impl Fn(&E) -> String + Send + 'static) -> Self {
        self.subjects = Subjects::Custom(Box::new(subject));
        self
    }

    /// Publish through JetStream instead of core NATS.
    pub fn jetstream(mut self, jetstream: JetStreamExport) -> Self {
        self.mode = ExportMode::JetStream(jetstream);
        self
    }

    /// Publish in `mode`.
    pub fn mode(mut self, mode: ExportMode) -> Self {
        self.mode = mode;
        self
    }

    /// Encode with `codec` instead of serde JSON.
    pub fn codec<C2: Codec<E>>(self, codec: C2) -> ExportBuilder<E, C2> {
        ExportBuilder {
            subscriber: self.subscriber,
            connection: self.connection,
            subjects: self.subjects,
            mode: self.mode,
            codec,
        }
    }

    /// Connects (and in JetStream mode creates or finds the stream), then starts the exporter's
    /// threads.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Unauthorized`] for rejected credentials, [`BridgeError::Connect`] if the
    /// server cannot be reached within the connect timeout, [`BridgeError::JetStream`] if the
    /// stream cannot be created, [`BridgeError::Runtime`] if a thread cannot be started.
    pub fn start(self) -> Result<Exporter, BridgeError> {
        let counters = Arc::new(ExportCounters::default());
        let reporter = self.connection.reporter("exporter");
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BridgeError::Runtime)?;
        let events_reporter = reporter.clone();
        let (client, jetstream) = runtime.block_on(async {
            let client = self
                .connection
                .connect(None, move |event| connection_event(&events_reporter, event))
                .await?;
            let jetstream = match &self.mode {
                ExportMode::Core => None,
                ExportMode::JetStream(js) => Some(open_stream(&client, js, &self.subjects).await?),
            };
            Ok::<_, BridgeError>((client, jetstream))
        })?;

        let (tx, rx) = mpsc::channel::<Vec<Outgoing>>(CHANNEL_BATCHES);
        let stop = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            subscriber: self.subscriber,
            subjects: resolve(self.subjects),
            codec: self.codec,
            max_payload: client.server_info().max_payload,
            counters: counters.clone(),
            reporter: reporter.clone(),
            stop: stop.clone(),
        };
        let reader = thread::Builder::new()
            .name("fanout-nats-export-read".into())
            .spawn(move || reader.run(tx))
            .map_err(BridgeError::Runtime)?;
        let sender = Sender {
            client,
            jetstream,
            origin,
            counters: counters.clone(),
            reporter,
        };
        let sender = thread::Builder::new()
            .name("fanout-nats-export-send".into())
            .spawn(move || runtime.block_on(sender.run(rx)))
            .map_err(BridgeError::Runtime)?;
        Ok(Exporter {
            counters,
            stop,
            reader: Some(reader),
            sender: Some(sender),
        })
    }
}

impl<E, C> fmt::Debug for ExportBuilder<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportBuilder")
            .field("connection", &self.connection)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Publishes a bus's events to NATS until the bus closes or [`shutdown`](Self::shutdown).
///
/// The exporter reads through a [`Subscriber`] the caller builds, so the caller chooses its
/// topics, filter, capacity and overflow policy: `Block` for an audit path that must lose nothing
/// (the bus waits for NATS), `DropOldest` for live telemetry that must never slow the host (its
/// losses are counted in [`ExportStats::bus_lost`]).
///
/// ```no_run
/// use fanout::agent::{topics, AgentEvent};
/// use fanout::{Bus, Overflow};
/// use fanout_nats::{agent, Connection, Exporter, JetStreamExport};
///
/// let bus = Bus::<AgentEvent>::new();
/// let audit = bus.subscriber().topics(topics::AUDIT).overflow(Overflow::Block).build().unwrap();
/// let exporter = Exporter::builder(audit, Connection::new("nats://127.0.0.1:4222"))
///     .subject(agent::session_subject("agent"))
///     .jetstream(JetStreamExport::new("AGENTS").subjects(["agent.>"]))
///     .start()
///     .unwrap();
/// // ... the host publishes into `bus` ...
/// bus.close();
/// let stats = exporter.shutdown();
/// assert_eq!(stats.lost(), 0);
/// ```
#[derive(Debug)]
pub struct Exporter {
    counters: Arc<ExportCounters>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    sender: Option<JoinHandle<()>>,
}

impl Exporter {
    /// An exporter of `subscriber`'s events to the server `connection` names: core NATS,
    /// subjects `fanout.<key token>.<topic index>` (see
    /// [`subject_prefix`](ExportBuilder::subject_prefix)), serde JSON, until changed on the
    /// builder.
    pub fn builder<E: Event>(
        subscriber: Subscriber<E>,
        connection: Connection,
    ) -> ExportBuilder<E> {
        ExportBuilder {
            subscriber,
            connection,
            subjects: Subjects::Prefix {
                prefix: "fanout".into(),
                names: topic_index,
                keyed: true,
            },
            mode: ExportMode::Core,
            codec: JsonCodec::new(),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> ExportStats {
        self.counters.snapshot()
    }

    /// Whether it has stopped by itself (its bus closed, or its subscriber was cut off by
    /// `Overflow::Disconnect`) and published everything it took.
    pub fn is_finished(&self) -> bool {
        self.sender.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops taking events, publishes everything already queued for it on the bus and everything
    /// it took, waits for the client to write it out (and, in JetStream mode, for the
    /// acknowledgements or the retry window), and returns the final stats. If the bus closed
    /// first, this is where the exporter's work ends.
    pub fn shutdown(mut self) -> ExportStats {
        self.stop_and_join();
        self.counters.snapshot()
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for handle in [self.reader.take(), self.sender.take()]
            .into_iter()
            .flatten()
        {
            // The threads catch nothing: a panic there is a bug in the bridge (or a codec).
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Drop for Exporter {
    /// Shuts down as [`shutdown`](Self::shutdown) does.
    fn drop(&mut self) {
        if !thread::panicking() {
            self.stop_and_join();
        } else {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// One encoded event on its way.
struct Outgoing {
    subject: Subject,
    payload: Bytes,
    /// Its routing key: which key stream numbers it.
    key: Option<Key>,
}

/// Subjects ready for the reader: per topic (precomputed for unkeyed events), or a function.
enum Resolved<E> {
    PerTopic {
        /// `<prefix>.<topic>` or, keyed, `<prefix>._.<topic>`, for all 64 topics.
        unkeyed: Vec<Subject>,
        /// With keyed subjects: `<prefix>.` and the 64 topic names, for `<prefix>.<key>.<topic>`.
        keyed: Option<(String, Vec<String>)>,
    },
    Custom(Box<dyn Fn(&E) -> String + Send>),
}

fn resolve<E>(subjects: Subjects<E>) -> Resolved<E> {
    match subjects {
        Subjects::Prefix {
            prefix,
            names,
            keyed,
        } => {
            let names: Vec<String> = (0..TOPIC_COUNT)
                .map(|i| names(Topic::new(i).expect("index below TOPIC_COUNT")).into_owned())
                .collect();
            let unkeyed = names
                .iter()
                .map(|name| match keyed {
                    true => Subject::from(format!("{prefix}.{UNKEYED_TOKEN}.{name}")),
                    false => Subject::from(format!("{prefix}.{name}")),
                })
                .collect();
            Resolved::PerTopic {
                unkeyed,
                keyed: keyed.then(|| (format!("{prefix}."), names)),
            }
        }
        Subjects::Custom(f) => Resolved::Custom(f),
    }
}

/// `<prefix.><key>.<name>`, written at once.
fn keyed_subject(prefix: &str, key: Key, name: &str) -> Subject {
    use std::fmt::Write;
    let mut subject = String::with_capacity(prefix.len() + 33 + name.len());
    subject.push_str(prefix);
    let _ = write!(subject, "{key}.");
    subject.push_str(name);
    Subject::from(subject)
}

struct Reader<E, C> {
    subscriber: Subscriber<E>,
    subjects: Resolved<E>,
    codec: C,
    max_payload: usize,
    counters: Arc<ExportCounters>,
    reporter: Reporter,
    stop: Arc<AtomicBool>,
}

impl<E: Event, C: Codec<E>> Reader<E, C> {
    fn run(mut self, tx: mpsc::Sender<Vec<Outgoing>>) {
        let mut events = Vec::with_capacity(BATCH);
        let mut buf = Vec::new();
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            let first = if stopping {
                // Shutdown: take what is queued now, nothing more.
                match self.subscriber.try_recv() {
                    Ok(e) => Ok(e),
                    Err(fanout::error::TryRecvError::Lagged(n)) => Err(RecvTimeoutError::Lagged(n)),
                    Err(_) => break,
                }
            } else {
                self.subscriber.recv_timeout(STOP_POLL)
            };
            match first {
                Ok(event) => events.push(event),
                Err(RecvTimeoutError::Lagged(n)) => {
                    add(&self.counters.bus_lost, n);
                    self.reporter.report(format_args!(
                        "the bus dropped {n} events before export (subscriber overflow)"
                    ));
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Overflowed) => break,
            }
            // More of what is already queued, without waiting (a Lagged report is left for the
            // next `recv`, which returns it first).
            let _ = self.subscriber.drain_into(&mut events, BATCH - 1);
            add(&self.counters.received, events.len() as u64);
            let batch = self.encode(&mut events, &mut buf);
            if !batch.is_empty() && tx.blocking_send(batch).is_err() {
                return; // the sender is gone: only after a panic there
            }
        }
    }

    fn encode(&self, events: &mut Vec<E>, buf: &mut Vec<u8>) -> Vec<Outgoing> {
        let mut batch = Vec::with_capacity(events.len());
        for event in events.drain(..) {
            let key = event.key();
            let subject = match &self.subjects {
                Resolved::PerTopic { unkeyed, keyed } => {
                    let topic = event.topic().index() as usize;
                    match (key, keyed) {
                        (Some(key), Some((prefix, names))) => {
                            keyed_subject(prefix, key, &names[topic])
                        }
                        _ => unkeyed[topic].clone(),
                    }
                }
                Resolved::Custom(f) => {
                    let subject = f(&event);
                    if !is_valid_subject(&subject) {
                        add(&self.counters.encode_failed, 1);
                        self.reporter.report(format_args!(
                            "skipped an event: {subject:?} is not a valid NATS subject"
                        ));
                        continue;
                    }
                    Subject::from(subject)
                }
            };
            buf.clear();
            if let Err(e) = self.codec.encode(&event, buf) {
                add(&self.counters.encode_failed, 1);
                self.reporter.report(format_args!(
                    "skipped an event on {subject}: cannot encode it: {e}"
                ));
                continue;
            }
            if buf.len() > self.max_payload {
                add(&self.counters.oversized, 1);
                self.reporter.report(format_args!(
                    "skipped an event on {subject}: {} bytes encoded, the server takes at most {}",
                    buf.len(),
                    self.max_payload
                ));
                continue;
            }
            batch.push(Outgoing {
                subject,
                payload: Bytes::copy_from_slice(buf),
                key,
            });
        }
        batch
    }
}

struct Sender {
    client: Client,
    jetstream: Option<(jetstream::Context, JetStreamExport)>,
    origin: String,
    counters: Arc<ExportCounters>,
    reporter: Reporter,
}

/// A JetStream acknowledgement on its way.
type AckFuture = Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>;

/// One JetStream publish awaiting its acknowledgement.
struct InFlight {
    seq: u64,
    out: Outgoing,
    headers: HeaderMap,
    /// When it was first sent: the retry window runs from here.
    first_sent: Instant,
    /// The acknowledgement of its latest attempt, due by `due`; `Err` if it could not be sent or
    /// failed (a finished future is never polled again).
    ack: Result<AckFuture, PublishError>,
    due: Instant,
    /// The acknowledgement of the attempt before, if it was still pending when this one was
    /// sent: either one will do.
    earlier: Option<AckFuture>,
    /// Acknowledged already (found while re-sending the window).
    acked: bool,
    attempts: u32,
}

impl Sender {
    async fn run(self, mut rx: mpsc::Receiver<Vec<Outgoing>>) {
        let mut keys = KeyStreams::new(MAX_KEY_STREAMS);
        match &self.jetstream {
            None => {
                let mut seq = 0u64;
                while let Some(batch) = rx.recv().await {
                    for out in batch {
                        seq += 1;
                        let headers = self.headers(seq, out.key, &mut keys);
                        self.publish_core(out, headers).await;
                    }
                }
            }
            Some((js, settings)) => self.publish_pipelined(js, settings, rx, &mut keys).await,
        }
        match tokio::time::timeout(FLUSH_TIMEOUT, self.client.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self
                .reporter
                .report(format_args!("final flush failed: {e}")),
            Err(_) => self.reporter.report(format_args!(
                "final flush timed out after {FLUSH_TIMEOUT:?}"
            )),
        }
    }

    /// The headers of the exporter's event `seq`, numbered in its key's stream too.
    fn headers(&self, seq: u64, key: Option<Key>, keys: &mut KeyStreams) -> HeaderMap {
        let number: KeyNumber = keys.next(key, seq);
        let evicted = keys.evicted();
        if evicted != self.counters.key_streams_evicted.load(Ordering::Relaxed) {
            self.counters
                .key_streams_evicted
                .store(evicted, Ordering::Relaxed);
        }
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN_HEADER, self.origin.as_str());
        headers.insert(SEQUENCE_HEADER, seq.to_string().as_str());
        headers.insert(KEY_SEQUENCE_HEADER, number.header_value().as_str());
        headers
    }

    async fn publish_core(&self, out: Outgoing, headers: HeaderMap) {
        match self
            .client
            .publish_with_headers(out.subject, headers, out.payload)
            .await
        {
            Ok(()) => add(&self.counters.published, 1),
            Err(e) => {
                add(&self.counters.publish_failed, 1);
                self.reporter.report(format_args!("publish failed: {e}"));
            }
        }
    }

    /// JetStream: keeps up to `max_in_flight` publishes awaiting acknowledgement, takes the
    /// acknowledgements in order, and on a failure re-sends the whole window in order.
    async fn publish_pipelined(
        &self,
        js: &jetstream::Context,
        settings: &JetStreamExport,
        mut rx: mpsc::Receiver<Vec<Outgoing>>,
        keys: &mut KeyStreams,
    ) {
        let mut window: VecDeque<InFlight> = VecDeque::with_capacity(settings.max_in_flight);
        let mut pending: VecDeque<Outgoing> = VecDeque::new();
        let mut open = true;
        let mut seq = 0u64;
        let mut backoff = RETRY_BACKOFF_MIN;
        // Re-sent since the last acknowledgement: the first one after says so (once, not once
        // per event of the window).
        let mut recovering = false;
        loop {
            while window.len() < settings.max_in_flight {
                let Some(out) = pending.pop_front() else {
                    break;
                };
                seq += 1;
                let headers = self.headers(seq, out.key, keys);
                let now = Instant::now();
                let ack = self.send(js, seq, &out, &headers).await;
                window.push_back(InFlight {
                    seq,
                    out,
                    headers,
                    first_sent: now,
                    ack,
                    due: Instant::now() + settings.ack_timeout,
                    earlier: None,
                    acked: false,
                    attempts: 0,
                });
            }
            let in_flight = window.len();
            let want_more = open && pending.is_empty() && in_flight < settings.max_in_flight;
            let Some(front) = window.front_mut() else {
                if !open {
                    return;
                }
                match rx.recv().await {
                    Some(batch) => pending.extend(batch),
                    None => open = false,
                }
                continue;
            };
            let result = if front.acked {
                Ok(())
            } else {
                tokio::select! {
                    biased;
                    result = ack_of(front) => result,
                    batch = rx.recv(), if want_more => {
                        match batch {
                            Some(batch) => pending.extend(batch),
                            None => open = false,
                        }
                        continue;
                    }
                }
            };
            match result {
                Ok(()) => {
                    let done = window.pop_front().expect("the front");
                    add(&self.counters.acknowledged, 1);
                    add(&self.counters.published, 1);
                    if std::mem::take(&mut recovering) {
                        self.reporter.report(format_args!(
                            "{}-{} on {} acknowledged after {} retries",
                            self.origin, done.seq, done.out.subject, done.attempts
                        ));
                    }
                    backoff = RETRY_BACKOFF_MIN;
                }
                Err(e) if front.first_sent.elapsed() >= settings.retry_window => {
                    let given_up = window.pop_front().expect("the front");
                    add(&self.counters.publish_failed, 1);
                    self.reporter.report(format_args!(
                        "gave up {}-{} on {} after {:?} ({} retries): {e}",
                        self.origin,
                        given_up.seq,
                        given_up.out.subject,
                        settings.retry_window,
                        given_up.attempts
                    ));
                }
                Err(e) => {
                    if front.attempts == 0 {
                        self.reporter.report(format_args!(
                            "{}-{} on {} not acknowledged ({e}); re-sending the {} in flight",
                            self.origin, front.seq, front.out.subject, in_flight
                        ));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
                    recovering = true;
                    self.resend(js, settings, &mut window).await;
                }
            }
        }
    }

    /// Sends again, in order, every publish in `window` not yet known to be acknowledged.
    async fn resend(
        &self,
        js: &jetstream::Context,
        settings: &JetStreamExport,
        window: &mut VecDeque<InFlight>,
    ) {
        for entry in window.iter_mut() {
            if entry.acked {
                continue;
            }
            // An acknowledgement that already came is kept; anything else is sent again. (A
            // finished acknowledgement is never polled again: `acked`, or replaced below.) One
            // still pending is kept beside the new attempt: on a server that is only slow, it
            // is the one that comes first, and waiting for it keeps re-sends from piling up.
            let mut pending = None;
            if let Ok(ack) = &mut entry.ack {
                match ack.as_mut().now_or_never() {
                    Some(Ok(_)) => {
                        entry.acked = true;
                        continue;
                    }
                    Some(Err(_)) => {}
                    None => pending = Some(()),
                }
            }
            entry.attempts += 1;
            add(&self.counters.retried, 1);
            let previous = std::mem::replace(
                &mut entry.ack,
                self.send(js, entry.seq, &entry.out, &entry.headers).await,
            );
            if pending.is_some() {
                entry.earlier = previous.ok();
            }
            // Each attempt waits longer (up to 8 times the timeout): a loaded server gets time.
            entry.due = Instant::now() + settings.ack_timeout * (entry.attempts + 1).min(8);
        }
    }

    /// One attempt at publishing `out` as `<origin>-<seq>`.
    async fn send(
        &self,
        js: &jetstream::Context,
        seq: u64,
        out: &Outgoing,
        headers: &HeaderMap,
    ) -> Result<AckFuture, PublishError> {
        let message = PublishMessage::build()
            .payload(out.payload.clone())
            .headers(headers.clone())
            .message_id(format!("{}-{seq}", self.origin));
        let ack = js.send_publish(out.subject.clone(), message).await?;
        Ok(ack.into_future())
    }
}

/// The acknowledgement of `entry`'s latest attempt (or of the one before, if still pending), or
/// its failure: an error, or no acknowledgement by `due`.
async fn ack_of(entry: &mut InFlight) -> Result<(), String> {
    enum Outcome {
        Acked,
        Failed(PublishError),
        EarlierFailed,
        Late,
    }
    loop {
        let InFlight {
            ack, earlier, due, ..
        } = &mut *entry;
        let current = match ack {
            Ok(ack) => ack,
            Err(e) => return Err(e.to_string()),
        };
        let outcome = tokio::select! {
            result = current.as_mut() => match result {
                Ok(_) => Outcome::Acked,
                Err(e) => Outcome::Failed(e),
            },
            result = async { earlier.as_mut().expect("checked").as_mut().await }, if earlier.is_some() => {
                match result {
                    Ok(_) => Outcome::Acked,
                    Err(_) => Outcome::EarlierFailed,
                }
            }
            _ = tokio::time::sleep_until((*due).into()) => Outcome::Late,
        };
        match outcome {
            Outcome::Acked => return Ok(()),
            Outcome::Failed(e) => {
                let why = e.to_string();
                // Finished: it must not be polled again.
                entry.ack = Err(e);
                return Err(why);
            }
            // Finished too; the latest attempt may still come.
            Outcome::EarlierFailed => entry.earlier = None,
            Outcome::Late => return Err("no acknowledgement in time".to_owned()),
        }
    }
}

async fn open_stream<E>(
    client: &Client,
    settings: &JetStreamExport,
    subjects: &Subjects<E>,
) -> Result<(jetstream::Context, JetStreamExport), BridgeError> {
    let js = jetstream::ContextBuilder::new()
        // The exporter times each acknowledgement itself (longer for later attempts); the
        // client's own timeout only has to be the longest of those.
        .timeout(settings.ack_timeout * 8)
        // The client's own bound on acknowledgements awaited (a permit each, held up to 30 s for
        // a publish whose acknowledgement was abandoned by a re-send) must not be what limits
        // re-sending a window during an outage: the window is the bound.
        .max_ack_inflight(1 << 16)
        .build(client.clone());
    let covered = if !settings.subjects.is_empty() {
        settings.subjects.clone()
    } else if let Subjects::Prefix { prefix, .. } = subjects {
        vec![format!("{prefix}.>")]
    } else {
        return Err(BridgeError::JetStream(format!(
            "stream {}: with a subject function, say which subjects the stream covers \
             (JetStreamExport::subjects)",
            settings.stream
        )));
    };
    let config = jetstream::stream::Config {
        name: settings.stream.clone(),
        subjects: covered,
        duplicate_window: settings.retry_window.max(Duration::from_secs(120))
            + Duration::from_secs(10),
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    };
    // Stream administration gets a longer timeout than one publish's acknowledgement.
    let admin = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .build(client.clone());
    admin
        .get_or_create_stream(config)
        .await
        .map_err(|e| BridgeError::JetStream(format!("stream {}: {e}", settings.stream)))?;
    Ok((js, settings.clone()))
}

pub(crate) fn connection_event(reporter: &Reporter, event: async_nats::Event) {
    match event {
        async_nats::Event::Connected => reporter.report("connected"),
        async_nats::Event::Disconnected => reporter.report("disconnected; reconnecting"),
        other => reporter.report(other),
    }
}
