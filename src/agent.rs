//! A ready event vocabulary for AI-agent runtimes, with the pieces such a runtime wires around its
//! bus: a JSON-lines audit recorder and run waiters (feature `agent`, on by default).
//!
//! - [`AgentEvent`]: run lifecycle and turns, model calls, per-token text and reasoning deltas,
//!   tool calls (the model's side and the execution), sessions, cost, agents and multi-agent
//!   groups, approvals, system signals, and `Custom`. Every event carries its routing ids
//!   ([`SessionId`], [`RunId`], [`AgentId`]; a session or a run is optional where a runtime may
//!   have none, and an id is a UUID or the host's own string name) and a timestamp, maps to one
//!   of the [`topics`], and round-trips through serde.
//! - [`summarize_error`]: a bounded, UTF-8-safe error summary for content-free telemetry.
//! - [`JsonLinesRecorder`]: a [tap](crate::Bus::tap) handler that writes an audit log.
//! - [`RunWaiter`]: wait for a run's terminal event, immune to the loss of deltas (and, on a
//!   [`HistoryBus`](crate::HistoryBus), answered from history for a run that already ended).
//! - [`RunStream`]: follow one run's events until the one that ends it (an iterator and an
//!   async stream).
//! - [`RunLifecycle`]: what the run helpers ask of an event (its run, whether it ends it).
//!   [`AgentEvent`] implements it; so can a host's own event type, which then gets
//!   [`RunWaiter`] and [`RunStream`] without converting anything (see [Your own
//!   events](#your-own-events)).
//!
//! # Targeting
//!
//! Topics choose *what kind* of event a subscriber gets; its filter chooses *whose*. The filter
//! runs on the publishing thread before the event is enqueued, so another session's events never
//! reach a connection's queue (they are not even cloned for it) and are not counted as its loss.
//! One subscriber per connection (a browser tab, an SSE stream) bound to its session:
//!
//! ```
//! use fanout::agent::{now_ms, topics, AgentEvent, RunId, SessionId};
//! use fanout::{Bus, Overflow};
//! use fanout::error::TryRecvError;
//!
//! let bus = Bus::new();
//! let (alice, bob) = (SessionId::new(), SessionId::new());
//!
//! // Alice's tab: her session's live events, newest kept if the tab falls behind.
//! let mut alice_tab = bus
//!     .subscriber()
//!     .name("ws-alice")
//!     .topics(topics::UI)
//!     .capacity(256)
//!     .overflow(Overflow::DropOldest)
//!     .filter(move |e: &AgentEvent| e.session_id() == Some(alice))
//!     .build()
//!     .unwrap();
//!
//! let delta = |session, text: &str| AgentEvent::TextDelta {
//!     session: Some(session), run: Some(RunId::new()), text: text.into(), message_id: None, timestamp_ms: now_ms(),
//! };
//! bus.publish(delta(bob, "bob's secret")).unwrap();
//! bus.publish(delta(alice, "hi alice")).unwrap();
//!
//! let AgentEvent::TextDelta { text, .. } = alice_tab.try_recv().unwrap() else { unreachable!() };
//! assert_eq!(text, "hi alice");
//! assert_eq!(alice_tab.try_recv(), Err(TryRecvError::Empty));
//! ```
//!
//! The same shape targets a run (`e.run_id() == Some(run)`, what a per-run stream forwarder
//! wants: [`RunStream`] is that subscriber, and stops at the run's end) or an agent
//! (`e.agent_id()`).
//!
//! # A UI that joins mid-run: the current state of a session
//!
//! Build a [`HistoryBus`](crate::HistoryBus) (its history kept to the topics worth replaying,
//! typically not every [`topics::DELTA`]), and a UI that opens late asks for what it missed with
//! a [`Replay`](crate::history::Replay):
//!
//! - [`Replay::LastPerTopic`](crate::history::Replay::LastPerTopic) with the session's filter: the latest
//!   event of each topic, if it is the session's (run lifecycle, the last tool call, a pending
//!   approval, the session status), enough to draw the current state, then live. With several
//!   sessions on one bus the last event of a topic may be another session's: use `Since(0)`
//!   with the session's filter when the history is large enough, and keep the last event per
//!   topic of each session yourself.
//! - [`Replay::Since`](crate::history::Replay::Since)`(0)` with a run's filter: every kept event of the
//!   run, from its start if the history still reaches it (else a `Lagged(n)` first).
//! - [`Replay::Since`](crate::history::Replay::Since)`(last_seen)` after a reconnect (the client's
//!   `Last-Event-ID`, the [`seq`](crate::history::Sequenced::seq) of the last event it got): exactly
//!   what it missed, then live, with no gap and no duplicate.
//!
//! [`RunWaiter::from_history`] answers at once for a run that already ended.
//!
//! ```
//! use fanout::agent::{now_ms, topics, AgentEvent, AgentId, RunId, SessionId};
//! use fanout::Bus;
//! use fanout::history::Replay;
//!
//! let bus = Bus::builder()
//!     .history(4096)
//!     .history_topics(topics::UI - topics::DELTA)
//!     .build()
//!     .unwrap();
//! let (session, run) = (SessionId::new(), RunId::new());
//! let (agent, model) = (AgentId::new(), "m".to_string());
//! bus.publish(AgentEvent::RunStarted { session: Some(session), run, agent, model, timestamp_ms: now_ms() }).unwrap();
//! // Not kept, and nobody listens yet: it does not even take a number.
//! bus.publish(AgentEvent::text_delta(session, run, "not kept")).unwrap();
//!
//! // The tab opens now: the run's start from the history, then the live stream.
//! let mut tab = bus
//!     .subscriber()
//!     .topics(topics::UI)
//!     .filter(move |e: &AgentEvent| e.session_id() == Some(session))
//!     .replay(Replay::LastPerTopic)
//!     .build()
//!     .unwrap();
//! bus.publish(AgentEvent::run_completed(session, run, 1)).unwrap();
//! let first = tab.try_recv().unwrap();
//! assert!(matches!(*first, AgentEvent::RunStarted { .. }) && first.seq() == 1);
//! let next = tab.try_recv().unwrap();
//! assert!(matches!(*next, AgentEvent::RunCompleted { .. }) && next.seq() == 2);
//! ```
//!
//! # Your own events
//!
//! A runtime with an event type of its own keeps it: implement [`RunLifecycle`] on it (which run
//! an event belongs to, by reference, and whether it ends that run; the id type is yours, a
//! `String` or a `Uuid` newtype, and events of no run return `None`), and [`RunWaiter`] and
//! [`RunStream`] work on a `Bus` of it, a `Bus<Arc<_>>` of it, and a
//! [`HistoryBus`](crate::HistoryBus) of it. The trait's docs have a complete example.
//!
//! # Converting your events into the vocabulary
//!
//! A runtime that wants the shared vocabulary (for [`JsonLinesRecorder`], the NATS bridge or
//! the AG-UI gateway) converts its own events: the conversion is the host's, `impl From<HostEvent>
//! for AgentEvent` (or `TryFrom`, when one of its string ids may be longer than
//! [`MAX_ID_NAME_LEN`]) in the host's crate, which the orphan rule allows there since
//! `HostEvent` is local. Nothing needs to be lost or invented:
//!
//! - an id the host does not have is `None` (`session`, and `run` outside the run lifecycle);
//! - a string id is kept as it is with [`RunId::from_name`] / [`SessionId::from_name`] /
//!   [`AgentId::from_name`] (its `Display` gives it back); a UUID id with `from_uuid`;
//! - the host's own details go in the optional fields (`error` on `AgentFinished` and
//!   `ToolFinished`, `finish_reason`, `request_id`, token counts, `iteration`, `message_id`,
//!   `output`), and anything the vocabulary has no variant for in `Custom`;
//! - a host that stamps no time stamps [`now_ms`] at conversion.
//!
//! `tests/agent_conversions.rs` in the repository converts events of the four runtimes the
//! vocabulary was written for (opendev, behest, fluers, oxios) and back, through JSON, and gets
//! each event back unchanged.
//!
//! ```
//! use fanout::agent::{now_ms, AgentEvent, AgentId, IdNameError};
//!
//! // The host's own event: string agent ids, no session, no run.
//! #[derive(Clone, Debug, PartialEq)]
//! enum HostEvent {
//!     LlmResponseEnd { model: String, request_id: String, input_tokens: u64, output_tokens: u64, duration_ms: u64 },
//!     AgentError { agent_id: String, error: String },
//! }
//!
//! // In the host's crate.
//! impl TryFrom<HostEvent> for AgentEvent {
//!     type Error = IdNameError;
//!     fn try_from(event: HostEvent) -> Result<AgentEvent, IdNameError> {
//!         Ok(match event {
//!             HostEvent::LlmResponseEnd { model, request_id, input_tokens, output_tokens, duration_ms } => {
//!                 AgentEvent::ModelFinished {
//!                     session: None,
//!                     run: None,
//!                     model,
//!                     duration_ms,
//!                     iteration: None,
//!                     request_id: Some(request_id),
//!                     finish_reason: None,
//!                     input_tokens: Some(input_tokens),
//!                     output_tokens: Some(output_tokens),
//!                     timestamp_ms: now_ms(),
//!                 }
//!             }
//!             HostEvent::AgentError { agent_id, error } => AgentEvent::AgentFinished {
//!                 session: None,
//!                 agent: AgentId::from_name(&agent_id)?,
//!                 success: false,
//!                 error: Some(error),
//!                 timestamp_ms: now_ms(),
//!             },
//!         })
//!     }
//! }
//!
//! let failed = AgentEvent::try_from(HostEvent::AgentError {
//!     agent_id: "agent-7".into(),
//!     error: "provider returned 429".into(),
//! })?;
//! let AgentEvent::AgentFinished { agent, error, .. } = &failed else { unreachable!() };
//! assert_eq!((agent.to_string().as_str(), error.as_deref()), ("agent-7", Some("provider returned 429")));
//! assert_eq!(failed.session_id(), None);
//! // Through JSON and back, as the recorder and the bridges carry it: nothing lost.
//! let line = serde_json::to_string(&failed).unwrap();
//! assert!(line.contains(r#""agent":"agent-7""#) && !line.contains("session"));
//! assert_eq!(serde_json::from_str::<AgentEvent>(&line).unwrap(), failed);
//! # Ok::<(), IdNameError>(())
//! ```
//!
//! # Large events
//!
//! A fan-out clones the event for every interested subscriber but the last. `AgentEvent` holds
//! `String`s, so with many subscribers of text-heavy events publish `Arc<AgentEvent>` instead:
//! it is an [`Event`](crate::Event) too, [`RunWaiter`] accepts a `Bus<Arc<AgentEvent>>`, and the
//! recorder serializes it the same way.

mod event;
mod ids;
mod lifecycle;
mod recorder;
mod summary;
pub mod topics;

/// The run helpers, generic over any event type: in the core crate as [`crate::run`], here too.
pub use crate::run::{Iter as RunStreamIter, RunLifecycle, WaitError};
pub use event::{now_ms, AgentEvent, MessageRole, SessionStatus};
pub use ids::{AgentId, IdNameError, RunId, SessionId, MAX_ID_NAME_LEN};

/// [`run::RunWaiter`](crate::run::RunWaiter), for [`AgentEvent`] unless told otherwise (so a
/// `Vec<RunWaiter>` is of `AgentEvent` waiters; `RunWaiter::new(&bus, run)` takes any
/// [`RunLifecycle`] bus, as the type in `fanout::run` does).
pub type RunWaiter<E = AgentEvent> = crate::run::RunWaiter<E>;

/// [`run::RunStream`](crate::run::RunStream), for [`AgentEvent`] unless told otherwise.
pub type RunStream<E = AgentEvent> = crate::run::RunStream<E>;
pub use recorder::JsonLinesRecorder;
pub use summary::{summarize_error, ERROR_SUMMARY_MAX_CHARS, TRUNCATION_MARKER};
