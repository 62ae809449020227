//! [`RunLifecycle`]: what the run helpers need to know about an event type, so that they work on
//! a host's own events as well as on the agent vocabulary's `AgentEvent`.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use crate::history::Sequenced;
use crate::Topics;

/// An event type whose events may belong to a run, some of which end it.
///
/// Implement it on your own event type and [`RunWaiter`](super::RunWaiter) and
/// [`RunStream`](super::RunStream) work on your bus: you keep your type (its fields, its ids),
/// the helpers only ask each event which run it belongs to and whether it ends that run.
/// The agent vocabulary's `AgentEvent` implements it (feature `agent`), and so do `Arc<E>` and [`Sequenced<E>`] for every `E` that
/// does, so a `Bus<Arc<HostEvent>>` and a [`HistoryBus`](crate::HistoryBus) work as they come.
///
/// The run id is an associated type: a `Uuid` newtype, a `String`, a `u64`, anything that is
/// `Eq + Hash + Clone + Debug + Send + Sync + 'static`. An event that belongs to no run (a
/// session or host-wide event) returns `None`: optional ids fit.
///
/// # Examples
///
/// A host whose runs are named by strings, with an event that belongs to no run:
///
/// ```
/// use std::time::Duration;
/// use fanout::run::{RunLifecycle, RunWaiter};
/// use fanout::{topic, Bus, Event, Topic, Topics};
///
/// #[derive(Clone, Debug)]
/// enum HostEvent {
///     Started { run: String },
///     Token { run: String, text: String },
///     Finished { run: String, error: Option<String> },
///     ConfigReloaded,
/// }
/// const LIFECYCLE: Topic = topic!(0);
/// const TOKENS: Topic = topic!(1);
///
/// impl Event for HostEvent {
///     fn topic(&self) -> Topic {
///         match self {
///             HostEvent::Token { .. } => TOKENS,
///             _ => LIFECYCLE,
///         }
///     }
/// }
///
/// impl RunLifecycle for HostEvent {
///     type RunId = String;
///     // Terminal events are only ever on this topic: a waiter never looks at tokens.
///     const TERMINAL_TOPICS: Topics = Topics::only(LIFECYCLE);
///     fn run_id(&self) -> Option<&String> {
///         match self {
///             HostEvent::Started { run } | HostEvent::Token { run, .. } | HostEvent::Finished { run, .. } => Some(run),
///             HostEvent::ConfigReloaded => None,
///         }
///     }
///     fn is_terminal(&self) -> bool {
///         matches!(self, HostEvent::Finished { .. })
///     }
/// }
///
/// let bus = Bus::new();
/// let mut waiter = RunWaiter::new(&bus, "run-7".to_string()).unwrap();
/// bus.publish(HostEvent::Finished { run: "run-6".into(), error: None }).unwrap(); // another run
/// bus.publish(HostEvent::Finished { run: "run-7".into(), error: Some("quota".into()) }).unwrap();
/// let end = waiter.wait(Duration::from_secs(5)).unwrap();
/// assert!(matches!(end, HostEvent::Finished { ref run, error: Some(_) } if run == "run-7"));
/// ```
pub trait RunLifecycle {
    /// What names a run.
    type RunId: Eq + Hash + Clone + fmt::Debug + Send + Sync + 'static;

    /// The topics a terminal event can have. A [`RunWaiter`](super::RunWaiter) subscribes to
    /// these only, so events of other topics (token deltas) never reach its filter; the default,
    /// [`Topics::ALL`], is always right and costs a filter call per event.
    const TERMINAL_TOPICS: Topics = Topics::ALL;

    /// The run this event belongs to, if any. A reference, so that the filters built on it (run
    /// on the publishing thread, for every event of the topics they follow) never clone an id.
    fn run_id(&self) -> Option<&Self::RunId>;

    /// Whether this event ends its run (completed, failed, cancelled...).
    fn is_terminal(&self) -> bool;

    /// Whether this event belongs to `run`.
    fn is_of(&self, run: &Self::RunId) -> bool {
        self.run_id() == Some(run)
    }

    /// Whether this event ends `run`.
    fn is_end_of(&self, run: &Self::RunId) -> bool {
        self.is_terminal() && self.is_of(run)
    }
}

impl<E: RunLifecycle> RunLifecycle for Arc<E> {
    type RunId = E::RunId;
    const TERMINAL_TOPICS: Topics = E::TERMINAL_TOPICS;

    fn run_id(&self) -> Option<&E::RunId> {
        (**self).run_id()
    }

    fn is_terminal(&self) -> bool {
        (**self).is_terminal()
    }
}

impl<E: RunLifecycle> RunLifecycle for Sequenced<E> {
    type RunId = E::RunId;
    const TERMINAL_TOPICS: Topics = E::TERMINAL_TOPICS;

    fn run_id(&self) -> Option<&E::RunId> {
        self.event().run_id()
    }

    fn is_terminal(&self) -> bool {
        self.event().is_terminal()
    }
}
