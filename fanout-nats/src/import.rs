//! NATS → bus: the [`Importer`] and its builder.
//!
//! Two threads per importer. The *receiver* runs a single-threaded tokio runtime that owns the
//! NATS client: it takes messages from a core subscription or a durable JetStream consumer, drops
//! oversized ones, drops duplicates and counts gaps by their exporter's sequence number (see
//! [`sequence`](crate::sequence)), decodes, and hands events to the *publisher* thread through a
//! small bounded channel. The publisher publishes them into the local bus with the blocking
//! [`Publisher::publish`](fanout::Publisher::publish), so a `Block` subscriber there slows the
//! importer rather than losing events; in JetStream mode a message is acknowledged only after its
//! event was published into the bus. A core subscription that falls behind makes the client drop
//! messages (a *slow consumer*): counted in [`ImportStats::slow_consumer_notices`] and, per event,
//! in [`ImportStats::lost`]. A sequence number implausibly far ahead of its exporter's (a forged
//! or corrupt header) is held until the next one confirms it, or dropped and counted in
//! [`ImportStats::implausible`]: see [`sequence`](crate::sequence#plausible-jumps).
//!
//! An importer may follow a few routing keys instead of a subject ([`ImportBuilder::key`]): it
//! subscribes to `<prefix>.<key token>.>` for each (and `<prefix>._.>` for the unkeyed events,
//! unless told not to), counts loss by the exporters' per-key numbers, and drops a decoded
//! event whose key it does not follow.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, AckKind};
use async_nats::{Client, HeaderMap, Subject};
use bytes::Bytes;
use fanout::{Event, Key, Publisher};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::connection::Reporter;
use crate::export::connection_event;
use crate::sequence::{
    GapTracker, Step, Steps, DEFAULT_MAX_JUMP, KEY_SEQUENCE_HEADER, ORIGIN_HEADER, SEQUENCE_HEADER,
};
use crate::stats::{add, ImportCounters};
use crate::subject::{is_valid_subject, UNKEYED_TOKEN};
use crate::{BridgeError, Codec, Connection, ImportStats, JsonCodec};

/// Decoded events in flight between the receiver and the publisher thread.
const CHANNEL_EVENTS: usize = 1024;
/// JetStream messages a durable consumer may have unacknowledged at once.
const MAX_ACK_PENDING: i64 = 4096;

/// Where an importer reads from.
#[derive(Clone, Debug)]
pub enum ImportSource {
    /// A core NATS subscription to this subject (wildcards allowed: `agent.>`).
    Core(String),
    /// A durable JetStream pull consumer; see [`JetStreamImport`].
    JetStream(JetStreamImport),
}

/// A durable JetStream consumer for an importer: the stream, the consumer's name, and which of the
/// stream's subjects it takes.
///
/// The consumer is created if it does not exist (explicit acks, from the start of the stream) and
/// remembers its position on the server: an importer restarted with the same name goes on where
/// the last one stopped.
///
/// ```
/// use fanout_nats::JetStreamImport;
/// let source = JetStreamImport::new("AGENTS", "dashboard").filter_subject("agent.>");
/// # drop(source);
/// ```
#[derive(Clone, Debug)]
pub struct JetStreamImport {
    stream: String,
    durable: String,
    filter_subject: Option<String>,
    reorder_window: Duration,
}

impl JetStreamImport {
    /// The durable consumer `durable` on stream `stream` (every subject of the stream).
    pub fn new(stream: impl Into<String>, durable: impl Into<String>) -> Self {
        JetStreamImport {
            stream: stream.into(),
            durable: durable.into(),
            filter_subject: None,
            reorder_window: Duration::from_secs(30),
        }
    }

    /// Take only the stream's messages on `subject` (wildcards allowed). Loss is counted by the
    /// exporters' own numbers, so `subject` should take all of each exporter's events; to take
    /// some keys' events, follow them instead ([`ImportBuilder::key`], which makes them the
    /// consumer's filter subjects).
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// How long a message that follows a gap in its exporter's numbers is held for the gap to
    /// fill (default 30 s, the exporter's default retry window) before the gap is counted lost;
    /// see [`sequence`](crate::sequence#reordering-jetstream). The stream can hold an exporter's
    /// retried events after later ones; this is what puts them back in order.
    pub fn reorder_window(mut self, window: Duration) -> Self {
        self.reorder_window = window;
        self
    }
}

/// Builds an [`Importer`]: see [`Importer::builder`].
pub struct ImportBuilder<E, C = JsonCodec<E>> {
    publisher: Publisher<E>,
    connection: Connection,
    source: ImportSource,
    max_payload: usize,
    subscription_capacity: Option<usize>,
    max_sequence_jump: u64,
    /// `<prefix>` of the subjects keys are followed on.
    prefix: String,
    /// The keys followed, if any ([`ImportBuilder::keys`]).
    keys: Option<Vec<Key>>,
    /// With keys: whether the unkeyed events are taken too.
    unkeyed: bool,
    /// A core subject was set by [`ImportBuilder::subject`] or [`ImportBuilder::source`]: keys
    /// cannot be followed on it.
    explicit_subject: bool,
    codec: C,
}

/// What an importer that follows keys takes.
#[derive(Clone, Debug)]
struct Follow {
    keys: Vec<Key>,
    unkeyed: bool,
}

impl Follow {
    /// Whether an event of `key` is one this importer follows.
    fn takes(&self, key: Option<Key>) -> bool {
        match key {
            Some(key) => self.keys.contains(&key),
            None => self.unkeyed,
        }
    }

    /// The subjects to subscribe to under `prefix`.
    fn subjects(&self, prefix: &str) -> Vec<String> {
        let mut subjects: Vec<String> = self
            .keys
            .iter()
            .map(|key| format!("{prefix}.{key}.>"))
            .collect();
        if self.unkeyed {
            subjects.push(format!("{prefix}.{UNKEYED_TOKEN}.>"));
        }
        subjects
    }
}

impl<E: Event, C: Codec<E>> ImportBuilder<E, C> {
    /// Subscribe (core NATS) to `subject`. Loss is counted by the exporters' own sequence
    /// numbers, so `subject` should take every event of each exporter it hears (`agent.>`); to
    /// take one key's events, follow the key instead ([`key`](Self::key)), which counts by the
    /// key's numbers (see [`sequence`](crate::sequence#per-key-sequences)).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.source = ImportSource::Core(subject.into());
        self.explicit_subject = true;
        self
    }

    /// The prefix of the exporters' subjects (default `fanout`, as the exporter's): core NATS
    /// subject `<prefix>.>`, or with [`key`](Self::key) the keys' subjects under it.
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        if let ImportSource::Core(_) = self.source {
            self.source = ImportSource::Core(format!("{}.>", self.prefix));
            self.explicit_subject = false;
        }
        self
    }

    /// Follow one routing key: take the events an exporter published under it, as a keyed
    /// subscriber of a bus takes its key's (see [`keys`](Self::keys)).
    ///
    /// ```no_run
    /// use fanout::agent::{AgentEvent, SessionId};
    /// use fanout::Bus;
    /// use fanout_nats::{Connection, Importer};
    ///
    /// let session = SessionId::new();
    /// let tab = Bus::<AgentEvent>::new();
    /// // `agent.<session>.>` and `agent._.>`, from exporters of `agent` subjects.
    /// let importer = Importer::builder(tab.publisher(), Connection::new("nats://127.0.0.1:4222"))
    ///     .subject_prefix("agent")
    ///     .key(session)
    ///     .start()
    ///     .unwrap();
    /// # drop(importer);
    /// ```
    pub fn key(self, key: impl Into<Key>) -> Self {
        self.keys([key.into()])
    }

    /// Follow a small set of routing keys (duplicates count once, at most
    /// [`fanout::key::MAX_KEYS`]; replaces keys set before). The importer subscribes to
    /// `<prefix>.<key token>.>` for each ([`subject_prefix`](Self::subject_prefix); exporters
    /// name keyed events so, see [`ExportBuilder::subject_prefix`]) and to `<prefix>._.>` for
    /// the events without a key, which a bus offers every keyed subscriber too (a shutdown
    /// notice reaches every tab; [`unkeyed`](Self::unkeyed)`(false)` leaves them out). With a
    /// JetStream source, these are the consumer's filter subjects.
    ///
    /// - **Loss** is counted by each key's own numbers, so `lost` counts only events of the keys
    ///   followed (and of the unkeyed, if taken): see
    ///   [`sequence`](crate::sequence#per-key-sequences).
    /// - **Order** is kept per key (and among the unkeyed events): each key is a subscription
    ///   of its own, so two keys' events may reach the bus in another order than they were
    ///   published. A JetStream consumer delivers in the stream's order.
    /// - **Keys arrive intact**: an event is published into the local bus as decoded, so its
    ///   [`Event::key`] routes it to that bus's keyed subscribers; a decoded event of a key not
    ///   followed (a forged message on a followed subject) is dropped and counted in
    ///   [`ImportStats::wrong_key`].
    ///
    /// An empty set, more than `MAX_KEYS` keys, a prefix that is not a valid subject, or keys
    /// with an explicit [`subject`](Self::subject) or a JetStream
    /// [`filter_subject`](JetStreamImport::filter_subject) are a [`BridgeError::Config`] at
    /// [`start`](Self::start).
    ///
    /// [`ExportBuilder::subject_prefix`]: crate::ExportBuilder::subject_prefix
    pub fn keys<K: Into<Key>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        self.keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// With [`key`](Self::key): whether the events without a key are taken too (default
    /// `true`, as a keyed bus subscriber is offered them).
    pub fn unkeyed(mut self, take: bool) -> Self {
        self.unkeyed = take;
        self
    }

    /// Read from a durable JetStream consumer.
    pub fn jetstream(mut self, source: JetStreamImport) -> Self {
        self.source = ImportSource::JetStream(source);
        self
    }

    /// Read from `source`.
    pub fn source(mut self, source: ImportSource) -> Self {
        self.explicit_subject = matches!(source, ImportSource::Core(_));
        self.source = source;
        self
    }

    /// Drop, undecoded, messages larger than `bytes` (default 1 MiB), counting them in
    /// [`ImportStats::oversized`].
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// How many messages the client buffers for a core subscription before it drops them as a
    /// slow consumer (the client's default, 65,536, if unset).
    pub fn subscription_capacity(mut self, messages: usize) -> Self {
        self.subscription_capacity = Some(messages);
        self
    }

    /// How far ahead of an exporter's last sequence number a message is accepted at once (default
    /// [`DEFAULT_MAX_JUMP`](crate::sequence::DEFAULT_MAX_JUMP), 65,536; at least 1). A message
    /// further ahead is held until the exporter's next number confirms it, or dropped and counted
    /// in [`ImportStats::implausible`]: see [`sequence`](crate::sequence#plausible-jumps).
    pub fn max_sequence_jump(mut self, jump: u64) -> Self {
        self.max_sequence_jump = jump;
        self
    }

    /// Decode with `codec` instead of serde JSON.
    pub fn codec<C2: Codec<E>>(self, codec: C2) -> ImportBuilder<E, C2> {
        ImportBuilder {
            publisher: self.publisher,
            connection: self.connection,
            source: self.source,
            max_payload: self.max_payload,
            subscription_capacity: self.subscription_capacity,
            max_sequence_jump: self.max_sequence_jump,
            prefix: self.prefix,
            keys: self.keys,
            unkeyed: self.unkeyed,
            explicit_subject: self.explicit_subject,
            codec,
        }
    }

    /// The keys to follow, checked, if any.
    fn follow(&self) -> Result<Option<Follow>, BridgeError> {
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        let mut unique: Vec<Key> = Vec::with_capacity(keys.len());
        for key in keys {
            if !unique.contains(key) {
                unique.push(*key);
            }
        }
        let why = if unique.is_empty() {
            Some("an empty set of keys to follow: leave `keys` out to import a subject".into())
        } else if unique.len() > fanout::key::MAX_KEYS {
            Some(format!(
                "{} keys to follow, at most {} are",
                unique.len(),
                fanout::key::MAX_KEYS
            ))
        } else if !is_valid_subject(&self.prefix) {
            Some(format!("{:?} is not a valid subject prefix", self.prefix))
        } else if self.explicit_subject {
            Some("keys are followed on `<prefix>.<key>.>`, not on an explicit subject".into())
        } else if let ImportSource::JetStream(JetStreamImport {
            filter_subject: Some(_),
            ..
        }) = &self.source
        {
            Some("keys are the consumer's filter subjects: leave `filter_subject` out".into())
        } else {
            None
        };
        match why {
            Some(why) => Err(BridgeError::Config(why)),
            None => Ok(Some(Follow {
                keys: unique,
                unkeyed: self.unkeyed,
            })),
        }
    }

    /// Connects, subscribes (or creates or finds the durable consumer), and starts the importer's
    /// threads. Messages published after this returns are received.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Unauthorized`] for rejected credentials, [`BridgeError::Connect`] if the
    /// server cannot be reached within the connect timeout, [`BridgeError::Subscribe`] or
    /// [`BridgeError::JetStream`] if the subscription or consumer cannot be made,
    /// [`BridgeError::Runtime`] if a thread cannot be started, [`BridgeError::Config`] for keys
    /// that cannot be followed (see [`keys`](Self::keys)).
    pub fn start(self) -> Result<Importer, BridgeError> {
        let follow = self.follow()?;
        let counters = Arc::new(ImportCounters::default());
        let reporter = self.connection.reporter("importer");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BridgeError::Runtime)?;
        let events_reporter = reporter.clone();
        let events_counters = counters.clone();
        let (client, source) = runtime.block_on(async {
            let client = self
                .connection
                .connect(self.subscription_capacity, move |event| {
                    if let async_nats::Event::SlowConsumer(_) = event {
                        add(&events_counters.slow_consumer_notices, 1);
                    }
                    connection_event(&events_reporter, event)
                })
                .await?;
            let keyed = follow.as_ref().map(|follow| follow.subjects(&self.prefix));
            let source = open_source(&client, &self.source, keyed).await?;
            // The server has the subscriptions before `start` returns (`flush` alone would
            // only have written them to the socket).
            crate::server_round_trip(&client, self.connection.patience())
                .await
                .map_err(|e| BridgeError::Subscribe(format!("the server did not confirm: {e}")))?;
            Ok::<_, BridgeError>((client, source))
        })?;

        let reorder = match &self.source {
            ImportSource::Core(_) => None,
            ImportSource::JetStream(settings) => Some(settings.reorder_window),
        };
        let (events_tx, events_rx) = mpsc::channel::<Incoming<E>>(CHANNEL_EVENTS);
        let (acks_tx, acks_rx) = mpsc::unbounded_channel::<jetstream::Message>();
        let (stop_tx, stop_rx) = watch::channel(false);
        let publisher = PublisherThread {
            publisher: self.publisher,
            counters: counters.clone(),
        };
        let publisher = thread::Builder::new()
            .name("fanout-nats-import-publish".into())
            .spawn(move || publisher.run(events_rx, acks_tx))
            .map_err(BridgeError::Runtime)?;
        let receiver = Receiver {
            client,
            codec: self.codec,
            max_payload: self.max_payload,
            gaps: GapTracker::new(self.max_sequence_jump, reorder),
            steps: Vec::new(),
            handled: Vec::new(),
            follow,
            stream_id: String::new(),
            counters: counters.clone(),
            reporter,
        };
        let receiver = thread::Builder::new()
            .name("fanout-nats-import-receive".into())
            .spawn(move || runtime.block_on(receiver.run(source, events_tx, acks_rx, stop_rx)))
            .map_err(BridgeError::Runtime)?;
        Ok(Importer {
            counters,
            stop: stop_tx,
            receiver: Some(receiver),
            publisher: Some(publisher),
        })
    }
}

impl<E, C> fmt::Debug for ImportBuilder<E, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportBuilder")
            .field("connection", &self.connection)
            .field("source", &self.source)
            .field("max_payload", &self.max_payload)
            .field("max_sequence_jump", &self.max_sequence_jump)
            .field("prefix", &self.prefix)
            .field("keys", &self.keys)
            .field("unkeyed", &self.unkeyed)
            .finish_non_exhaustive()
    }
}

/// Publishes events received from NATS into a local bus until [`shutdown`](Self::shutdown).
///
/// A malformed message (the codec fails), an oversized one, a duplicate: each is counted
/// ([`ImportStats`]) and reported, and the importer goes on. Events an exporter sent that never
/// arrived are counted in [`ImportStats::lost`].
///
/// ```no_run
/// use fanout::agent::AgentEvent;
/// use fanout::Bus;
/// use fanout_nats::{Connection, Importer, JetStreamImport};
///
/// let dashboard = Bus::<AgentEvent>::new();
/// let mut all = dashboard.subscribe(fanout::Topics::ALL);
/// let importer = Importer::builder(dashboard.publisher(), Connection::new("nats://127.0.0.1:4222"))
///     .jetstream(JetStreamImport::new("AGENTS", "dashboard").filter_subject("agent.>"))
///     .start()
///     .unwrap();
/// while let Ok(event) = all.recv() {
///     println!("{}", event.kind());
/// #   break;
/// }
/// println!("{:?}", importer.shutdown());
/// ```
#[derive(Debug)]
pub struct Importer {
    counters: Arc<ImportCounters>,
    stop: watch::Sender<bool>,
    receiver: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<()>>,
}

impl Importer {
    /// An importer publishing into `publisher`'s bus from the server `connection` names: core
    /// NATS subject `fanout.>`, serde JSON, at most 1 MiB per message, until changed on the
    /// builder.
    pub fn builder<E: Event>(publisher: Publisher<E>, connection: Connection) -> ImportBuilder<E> {
        ImportBuilder {
            publisher,
            connection,
            source: ImportSource::Core("fanout.>".into()),
            max_payload: 1 << 20,
            subscription_capacity: None,
            max_sequence_jump: DEFAULT_MAX_JUMP,
            prefix: "fanout".into(),
            keys: None,
            unkeyed: true,
            explicit_subject: false,
            codec: JsonCodec::new(),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> ImportStats {
        self.counters.snapshot()
    }

    /// Stops receiving, publishes into the bus every event it already decoded, acknowledges
    /// those (JetStream), and returns the final stats.
    pub fn shutdown(mut self) -> ImportStats {
        self.stop_and_join();
        self.counters.snapshot()
    }

    fn stop_and_join(&mut self) {
        let _ = self.stop.send(true);
        for handle in [self.receiver.take(), self.publisher.take()]
            .into_iter()
            .flatten()
        {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Drop for Importer {
    /// Shuts down as [`shutdown`](Self::shutdown) does.
    fn drop(&mut self) {
        if !thread::panicking() {
            self.stop_and_join();
        } else {
            let _ = self.stop.send(true);
        }
    }
}

/// A decoded event, with its JetStream message to acknowledge once it is in the bus.
struct Incoming<E> {
    event: E,
    ack: Option<jetstream::Message>,
}

enum Source {
    /// One subscription, or one per key followed, their messages merged.
    Core(futures_util::stream::SelectAll<async_nats::Subscriber>),
    JetStream(Box<jetstream::consumer::Consumer<pull::Config>>),
}

/// Opens `source`, or with `keyed` (the subjects of the keys followed) those subjects of it.
async fn open_source(
    client: &Client,
    source: &ImportSource,
    keyed: Option<Vec<String>>,
) -> Result<Source, BridgeError> {
    match source {
        ImportSource::Core(subject) => {
            let subjects = keyed.unwrap_or_else(|| vec![subject.clone()]);
            let mut subscriptions = Vec::with_capacity(subjects.len());
            for subject in subjects {
                let subscription = client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|e| BridgeError::Subscribe(format!("{subject}: {e}")))?;
                subscriptions.push(subscription);
            }
            Ok(Source::Core(futures_util::stream::select_all(
                subscriptions,
            )))
        }
        ImportSource::JetStream(settings) => {
            let js = jetstream::ContextBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(client.clone());
            let stream = js
                .get_stream(&settings.stream)
                .await
                .map_err(|e| BridgeError::JetStream(format!("stream {}: {e}", settings.stream)))?;
            let config = pull::Config {
                durable_name: Some(settings.durable.clone()),
                filter_subject: settings.filter_subject.clone().unwrap_or_default(),
                filter_subjects: keyed.unwrap_or_default(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                max_ack_pending: MAX_ACK_PENDING,
                ..Default::default()
            };
            stream
                .get_or_create_consumer(&settings.durable, config)
                .await
                .map(|consumer| Source::JetStream(Box::new(consumer)))
                .map_err(|e| BridgeError::JetStream(format!("consumer {}: {e}", settings.durable)))
        }
    }
}

struct Receiver<E, C> {
    client: Client,
    codec: C,
    max_payload: usize,
    gaps: GapTracker<Raw>,
    /// What the tracker decided, reused.
    steps: Steps<Raw>,
    /// What becomes of the messages, in order, reused.
    handled: Vec<Handled<E>>,
    /// The keys followed: then loss is counted per key stream, and other keys' events dropped.
    follow: Option<Follow>,
    /// A key stream's cursor name, `<origin>/<start>`, reused.
    stream_id: String,
    counters: Arc<ImportCounters>,
    reporter: Reporter,
}

/// A message as the receiver holds it before decoding.
struct Raw {
    subject: Subject,
    payload: Bytes,
    ack: Option<jetstream::Message>,
}

/// What becomes of a message: an event to publish, or nothing (then acknowledged, JetStream).
enum Handled<E> {
    Publish(Incoming<E>),
    Done(Option<jetstream::Message>),
}

impl<E: Event, C: Codec<E>> Receiver<E, C> {
    async fn run(
        mut self,
        source: Source,
        events: mpsc::Sender<Incoming<E>>,
        mut acks: mpsc::UnboundedReceiver<jetstream::Message>,
        mut stop: watch::Receiver<bool>,
    ) {
        match source {
            Source::Core(mut subscription) => loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    message = subscription.next() => match message {
                        Some(message) => {
                            let raw = Raw { subject: message.subject, payload: message.payload, ack: None };
                            self.accept(&message.headers, raw);
                            if !self.hand_on(&events).await { break; }
                        }
                        None => break,
                    },
                }
            },
            Source::JetStream(consumer) => 'consume: loop {
                let mut messages = match consumer.messages().await {
                    Ok(messages) => messages,
                    Err(e) => {
                        self.reporter
                            .report(format_args!("cannot read the consumer: {e}; retrying"));
                        tokio::select! {
                            _ = stop.changed() => break 'consume,
                            _ = tokio::time::sleep(Duration::from_millis(200)) => continue 'consume,
                        }
                    }
                };
                loop {
                    let deadline = self.gaps.next_deadline();
                    tokio::select! {
                        _ = stop.changed() => break 'consume,
                        Some(message) = acks.recv() => self.ack(message).await,
                        _ = sleep_until(deadline) => {
                            let mut steps = std::mem::take(&mut self.steps);
                            self.gaps.expire(Instant::now(), &mut steps);
                            self.settle(&mut steps);
                            self.steps = steps;
                            if !self.hand_on(&events).await { break 'consume; }
                        }
                        message = messages.next() => match message {
                            Some(Ok(message)) => {
                                let inner = &message.message;
                                let headers = inner.headers.clone();
                                let raw = Raw {
                                    subject: inner.subject.clone(),
                                    payload: inner.payload.clone(),
                                    ack: Some(message),
                                };
                                self.accept(&headers, raw);
                                if !self.hand_on(&events).await { break 'consume; }
                            }
                            Some(Err(e)) => self.reporter.report(format_args!("consumer: {e}")),
                            None => continue 'consume,
                        },
                    }
                }
            },
        }
        // What is held behind gaps is delivered (the gaps counted lost), suspects are dropped.
        let mut steps = std::mem::take(&mut self.steps);
        self.gaps.finish(Instant::now(), &mut steps);
        self.settle(&mut steps);
        let _ = self.hand_on(&events).await;
        // Let the publisher thread drain what it holds, acknowledging as it goes.
        drop(events);
        while let Some(message) = acks.recv().await {
            self.ack(message).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.flush()).await;
    }

    /// Sends what `accept` decided on to the publisher thread, in order, and acknowledges what
    /// was dropped. False if the publisher thread is gone.
    async fn hand_on(&mut self, events: &mpsc::Sender<Incoming<E>>) -> bool {
        let mut handled = std::mem::take(&mut self.handled);
        let mut open = true;
        for handled in handled.drain(..) {
            match handled {
                Handled::Publish(incoming) => {
                    open = open && events.send(incoming).await.is_ok();
                }
                Handled::Done(Some(message)) => self.ack(message).await,
                Handled::Done(None) => {}
            }
        }
        self.handled = handled;
        open
    }

    async fn ack(&self, message: jetstream::Message) {
        match message.ack_with(AckKind::Ack).await {
            Ok(()) => add(&self.counters.acknowledged, 1),
            Err(e) => self.reporter.report(format_args!(
                "acknowledgement failed (will be redelivered): {e}"
            )),
        }
    }

    /// Counts and checks one message; what becomes of it (and of the messages it releases)
    /// goes to `self.handled`, in delivery order.
    fn accept(&mut self, headers: &Option<HeaderMap>, raw: Raw) {
        add(&self.counters.received, 1);
        let numbered = match &self.follow {
            None => headers.as_ref().and_then(sequence_of),
            Some(_) => headers.as_ref().and_then(|headers| {
                let (origin, start, seq) = key_sequence_of(headers)?;
                self.stream_id.clear();
                let _ = write!(self.stream_id, "{origin}/{start}");
                Some((self.stream_id.as_str(), seq))
            }),
        };
        let Some((cursor, seq)) = numbered else {
            let handled = self.decode(raw);
            self.handled.push(handled);
            return;
        };
        let mut steps = std::mem::take(&mut self.steps);
        self.gaps
            .arrive(cursor, seq, raw, Instant::now(), &mut steps);
        self.settle(&mut steps);
        self.steps = steps;
    }

    /// Turns the tracker's steps into what becomes of each message, counting and reporting.
    fn settle(&mut self, steps: &mut Steps<Raw>) {
        let evicted = self.gaps.evicted();
        if evicted
            != self
                .counters
                .cursors_evicted
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.counters
                .cursors_evicted
                .store(evicted, std::sync::atomic::Ordering::Relaxed);
        }
        for (origin, step) in steps.drain(..) {
            let handled = match step {
                Step::Deliver { item, seq, lost } => {
                    if lost > 0 {
                        add(&self.counters.lost, lost);
                        self.reporter.report(format_args!(
                            "{lost} events from exporter {origin} never arrived (before #{seq} on {})",
                            item.subject
                        ));
                    }
                    self.decode(item)
                }
                Step::Duplicate(item) => {
                    add(&self.counters.duplicates, 1);
                    Handled::Done(item.ack)
                }
                Step::Implausible { item, seq } => {
                    add(&self.counters.implausible, 1);
                    self.reporter.report(format_args!(
                        "dropped #{seq} from exporter {origin} on {}: implausibly far ahead of \
                         its last number and not confirmed by the next one (a forged or corrupt \
                         header?)",
                        item.subject
                    ));
                    Handled::Done(item.ack)
                }
            };
            self.handled.push(handled);
        }
    }

    /// Size check and decoding of a message to deliver.
    fn decode(&self, raw: Raw) -> Handled<E> {
        let Raw {
            subject,
            payload,
            ack,
        } = raw;
        if payload.len() > self.max_payload {
            add(&self.counters.oversized, 1);
            self.reporter.report(format_args!(
                "dropped a {}-byte message on {subject}: larger than the {}-byte maximum",
                payload.len(),
                self.max_payload
            ));
            return Handled::Done(ack);
        }
        match self.codec.decode(&payload) {
            Ok(event) => match &self.follow {
                Some(follow) if !follow.takes(event.key()) => {
                    add(&self.counters.wrong_key, 1);
                    self.reporter.report(format_args!(
                        "dropped an event on {subject}: its key ({}) is not one this importer \
                         follows",
                        crate::key_token(event.key())
                    ));
                    Handled::Done(ack)
                }
                _ => Handled::Publish(Incoming { event, ack }),
            },
            Err(e) => {
                add(&self.counters.decode_failed, 1);
                self.reporter.report(format_args!(
                    "dropped a malformed message on {subject}: {e}"
                ));
                Handled::Done(ack)
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// The exporter's origin and sequence number, if the message has both.
fn sequence_of(headers: &HeaderMap) -> Option<(&str, u64)> {
    let origin = headers.get(ORIGIN_HEADER)?.as_str();
    let seq = headers.get(SEQUENCE_HEADER)?.as_str().parse().ok()?;
    Some((origin, seq))
}

/// The exporter's origin, its key stream's start and the number in it, if the message has a
/// well-formed key sequence header and an origin.
fn key_sequence_of(headers: &HeaderMap) -> Option<(&str, u64, u64)> {
    let origin = headers.get(ORIGIN_HEADER)?.as_str();
    let (start, seq) = headers.get(KEY_SEQUENCE_HEADER)?.as_str().split_once('-')?;
    Some((origin, start.parse().ok()?, seq.parse().ok()?))
}

struct PublisherThread<E> {
    publisher: Publisher<E>,
    counters: Arc<ImportCounters>,
}

impl<E: Event> PublisherThread<E> {
    fn run(
        self,
        mut events: mpsc::Receiver<Incoming<E>>,
        acks: mpsc::UnboundedSender<jetstream::Message>,
    ) {
        while let Some(Incoming { event, ack }) = events.blocking_recv() {
            match self.publisher.publish(event) {
                Ok(_) => add(&self.counters.published, 1),
                Err(_) => add(&self.counters.bus_closed, 1),
            }
            // Acknowledged either way: a closed bus will never take it.
            if let Some(message) = ack {
                let _ = acks.send(message);
            }
        }
    }
}
