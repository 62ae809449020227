//! A ready event vocabulary for AI-agent runtimes, with the pieces such a runtime wires around its
//! bus: a JSON-lines audit recorder and run waiters (feature `agent`, on by default).
//!
//! - [`AgentEvent`]: run lifecycle, model calls, per-token deltas, tool calls, sessions, cost,
//!   agents and multi-agent groups, approvals, system signals, and `Custom`. Every event carries
//!   its routing ids ([`SessionId`], [`RunId`], [`AgentId`]) and a timestamp, maps to one of the
//!   [`topics`], and round-trips through serde.
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
//! # Large events
//!
//! A fan-out clones the event for every interested subscriber but the last. `AgentEvent` holds
//! `String`s, so with many subscribers of text-heavy events publish `Arc<AgentEvent>` instead:
//! it is an [`Event`](crate::Event) too, [`RunWaiter`] accepts a `Bus<Arc<AgentEvent>>`, and the
//! recorder serializes it the same way.

mod event;
mod follow;
mod ids;
mod lifecycle;
mod recorder;
mod summary;
pub mod topics;
mod waiter;

pub use event::{now_ms, AgentEvent, MessageRole, SessionStatus};
pub use follow::{Iter as RunStreamIter, RunStream};
pub use ids::{AgentId, IdNameError, RunId, SessionId, MAX_ID_NAME_LEN};
pub use lifecycle::RunLifecycle;
pub use recorder::JsonLinesRecorder;
pub use summary::{summarize_error, ERROR_SUMMARY_MAX_CHARS, TRUNCATION_MARKER};
pub use waiter::{RunWaiter, WaitError};
