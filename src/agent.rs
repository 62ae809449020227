//! A ready event vocabulary for AI-agent runtimes, with the pieces such a runtime wires around its
//! bus: a JSON-lines audit recorder and run waiters (feature `agent`, on by default).
//!
//! - [`AgentEvent`]: run lifecycle, model calls, per-token deltas, tool calls, sessions, cost,
//!   agents and multi-agent groups, approvals, system signals, and `Custom`. Every event carries
//!   its routing ids ([`SessionId`], [`RunId`], [`AgentId`]) and a timestamp, maps to one of the
//!   [`topics`], and round-trips through serde.
//! - [`summarize_error`]: a bounded, UTF-8-safe error summary for content-free telemetry.
//! - [`JsonLinesRecorder`]: a [tap](crate::Bus::tap) handler that writes an audit log.
//! - [`RunWaiter`]: wait for a run's terminal event, immune to the loss of deltas.
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
//! use fanout::{Bus, Overflow, TryRecvError};
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
//!     session, run: RunId::new(), text: text.into(), timestamp_ms: now_ms(),
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
//! wants; stop it at [`AgentEvent::is_terminal`]) or an agent (`e.agent_id()`).
//!
//! # Large events
//!
//! A fan-out clones the event for every interested subscriber but the last. `AgentEvent` holds
//! `String`s, so with many subscribers of text-heavy events publish `Arc<AgentEvent>` instead:
//! it is an [`Event`](crate::Event) too, [`RunWaiter`] accepts a `Bus<Arc<AgentEvent>>`, and the
//! recorder serializes it the same way.

mod event;
mod ids;
mod recorder;
mod summary;
pub mod topics;
mod waiter;

pub use event::{now_ms, AgentEvent, MessageRole, SessionStatus};
pub use ids::{AgentId, RunId, SessionId};
pub use recorder::JsonLinesRecorder;
pub use summary::{summarize_error, ERROR_SUMMARY_MAX_CHARS, TRUNCATION_MARKER};
pub use waiter::{RunWaiter, WaitError};
