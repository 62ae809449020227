//! A bridge between a [`fanout`] bus and NATS: events leave one process and reach buses in others,
//! with the bus's semantics kept on the way. Topics become subjects, every loss is counted, and the
//! JetStream path loses nothing across a server restart.
//!
//! - [`Exporter`] (bus → NATS) reads a bus through a [`Subscriber`](fanout::Subscriber) the caller
//!   builds (topics, filter, capacity, overflow policy), names each event's subject (a prefix,
//!   the event's routing key and the topic's name, `<prefix>.<key>.<topic>`, or a function such
//!   as [`agent::session_subject`]; see [Keys](#keys)), encodes it with a
//!   [`Codec`] (serde JSON by default) and publishes it: core NATS (at-most-once) or JetStream
//!   (a bounded window of publishes awaiting acknowledgement, re-sent in order under the same
//!   message ids until acknowledged or their retry window ends).
//! - [`Importer`] (NATS → bus) subscribes to a subject, follows a few routing keys, or reads a
//!   durable JetStream consumer, decodes, and publishes into a local bus, each exporter's events
//!   in its order (a JetStream
//!   importer reorders what a restart left out of order in the stream). Malformed, oversized,
//!   duplicate and implausibly numbered (forged or corrupt) messages are counted and reported,
//!   never a panic and never the end of the bridge.
//! - [`ExportStats`] and [`ImportStats`] say what each did; `shutdown` publishes what was accepted.
//! - [`server`] finds, or installs, a `nats-server` and runs it on loopback for tests and examples.
//!
//! The host stays synchronous: each bridge runs its own single-threaded tokio runtime on a thread
//! of its own, and reads or writes the bus with the blocking calls of the core crate.
//!
//! # What crosses the wire
//!
//! One NATS message per event: the codec's bytes, and three headers: the exporter's random
//! origin id, its sequence number for the event, and the event's key stream and number in it
//! ([`sequence`]). The importer uses them to count the events that never arrived (core NATS drops messages across a server restart and for slow
//! consumers), to drop duplicates (a JetStream redelivery), to put a JetStream exporter's retried
//! events back in order, and to refuse a forged or corrupt number that jumps implausibly far
//! ([`sequence`] says how far is plausible, and what the headers do not protect against).
//!
//! # Keys
//!
//! An event's [`Key`](fanout::Key) ([`Event::key`](fanout::Event::key): for an
//! [`AgentEvent`](fanout::agent::AgentEvent), its session) is a token of its subject:
//! `<prefix>.<key>.<topic>`, the key as 32 hex digits, and `<prefix>._.<topic>` for an event
//! without one (no key's token is `_`; see [`key_token`]). So NATS routes by key as the bus
//! does: [`ImportBuilder::key`] subscribes to `<prefix>.<key>.>` (and `<prefix>._.>`: a bus offers
//! unkeyed events to keyed subscribers too; [`ImportBuilder::unkeyed`] turns that off), and
//! the server sends that importer nothing of another key. Each exporter numbers each key's
//! events on their own, so a key's importer counts as lost only its key's events that never
//! came ([`sequence`](sequence#per-key-sequences)); the events reach its bus as decoded, keys
//! intact, so that bus routes them to its own keyed subscribers. An importer of a plain subject
//! counts by the exporters' own numbers: its subject should take all of each exporter's events.
//!
//! ```
//! use fanout::agent::{topics, AgentEvent, RunId, SessionId};
//! use fanout::{Bus, Overflow};
//! use fanout_nats::{agent, server::NatsServer, Connection, Exporter, Importer};
//!
//! let server = NatsServer::start().unwrap();
//! let host = Bus::<AgentEvent>::new();
//! let sub = host.subscriber().topics(topics::ALL).overflow(Overflow::Block).build().unwrap();
//! let exporter = Exporter::builder(sub, Connection::new(server.url()))
//!     .subject(agent::session_subject("agent"))
//!     .start()
//!     .unwrap();
//! // A process serving one user's tab follows that user's session, and nothing else.
//! let (mine, theirs) = (SessionId::new(), SessionId::new());
//! let tab = Bus::<AgentEvent>::new();
//! let mut view = tab.subscribe(topics::ALL);
//! let importer = Importer::builder(tab.publisher(), Connection::new(server.url()))
//!     .subject_prefix("agent")
//!     .key(mine)
//!     .start()
//!     .unwrap();
//!
//! host.publish(AgentEvent::text_delta(theirs, RunId::new(), "not for you")).unwrap();
//! host.publish(AgentEvent::text_delta(mine, RunId::new(), "hello")).unwrap();
//! let got = view.recv().unwrap();
//! assert_eq!(got.session_id(), Some(mine));
//! host.close();
//! exporter.shutdown();
//! let stats = importer.shutdown();
//! // The other session's event never reached this importer, and is not counted lost.
//! assert_eq!((stats.received, stats.published, stats.lost), (1, 1, 0));
//! ```
//!
//! # Guarantees
//!
//! | path | loss | order |
//! |---|---|---|
//! | bus → exporter | by the exporter subscriber's overflow policy; none with `Block` | per publisher |
//! | exporter → core NATS → importer | at-most-once: counted at the importer ([`ImportStats::lost`]) | per exporter |
//! | exporter → core NATS → importer following keys | at-most-once: its keys' losses counted, no others | per key |
//! | exporter → JetStream | none while the server is back within the retry window | per exporter |
//! | JetStream → importer → bus | none: acknowledged once published into the bus | per exporter (reordered by sequence number) |
//!
//! ```
//! use fanout::agent::{topics, AgentEvent, RunId, SessionId};
//! use fanout::{Bus, Overflow};
//! use fanout_nats::{agent, server::NatsServer, Connection, Exporter, Importer};
//!
//! let server = NatsServer::start().unwrap();
//! // Process A: an agent host exports its bus.
//! let host = Bus::<AgentEvent>::new();
//! let sub = host.subscriber().topics(topics::ALL).overflow(Overflow::Block).build().unwrap();
//! let exporter = Exporter::builder(sub, Connection::new(server.url()))
//!     .subject(agent::session_subject("agent"))
//!     .start()
//!     .unwrap();
//! // Process B: a dashboard imports every session into its own bus.
//! let dashboard = Bus::<AgentEvent>::new();
//! let mut view = dashboard.subscribe(topics::ALL);
//! let importer = Importer::builder(dashboard.publisher(), Connection::new(server.url()))
//!     .subject("agent.>")
//!     .start()
//!     .unwrap();
//!
//! host.publish(AgentEvent::run_completed(SessionId::new(), RunId::new(), 1)).unwrap();
//! assert_eq!(view.recv().unwrap().kind(), "run_completed");
//! host.close();
//! assert_eq!(exporter.shutdown().published, 1);
//! assert_eq!(importer.shutdown().published, 1);
//! ```
#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod agent;
mod codec;
mod connection;
mod error;
mod export;
mod import;
mod key_stream;
pub mod sequence;
pub mod server;
mod stats;
mod subject;

pub use codec::{Codec, CodecError, JsonCodec};
pub use connection::{server_round_trip, Connection, ReportHook};
pub use error::BridgeError;
pub use export::{ExportBuilder, ExportMode, Exporter, JetStreamExport};
pub use import::{ImportBuilder, ImportSource, Importer, JetStreamImport};
pub use stats::{ExportStats, ImportStats};
pub use subject::{is_valid_subject, key_token, UNKEYED_TOKEN};
