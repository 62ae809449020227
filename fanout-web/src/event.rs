//! [`WebEvent`]: what the gateway needs of a host's event type, and its implementation for
//! [`AgentEvent`].

use std::fmt::Display;
use std::hash::Hash;
use std::str::FromStr;

use fanout::agent::{topics, AgentEvent, SessionId};
use fanout::{Event, Topic};

/// An event the gateway can stream: a [`fanout::Event`] that names its routing key, serializes
/// to JSON (an SSE frame's `data:`), and whose topics have names a URL can use.
///
/// # Keys
///
/// A connection follows one key (or the keys its [`Grant`](crate::Grant) allows): it receives
/// the events whose [`key`](Self::key) is one of its keys, and the **unkeyed** events (`None`:
/// host-wide notices such as a shutdown) of its topics. Never another key's event: the
/// targeting runs before the event reaches the connection's queue.
///
/// # Examples
///
/// ```
/// use fanout::{topic, Event, Topic};
/// use fanout_web::WebEvent;
///
/// #[derive(Clone, serde::Serialize)]
/// struct Note { user: u32, text: String }
/// impl Event for Note {
///     fn topic(&self) -> Topic { topic!(0) }
///     fn key(&self) -> Option<fanout::Key> { Some(self.user.into()) } // the bus routes by it
/// }
/// impl WebEvent for Note {
///     type Key = u32;
///     fn key(&self) -> Option<u32> { Some(self.user) }
///     fn topic_names() -> &'static [(&'static str, Topic)] { &[("notes", topic!(0))] }
/// }
/// let note = Note { user: 7, text: "hi".into() };
/// assert_eq!(WebEvent::key(&note), Some(7));
/// assert_eq!(Note::topic_by_name("notes"), Some(topic!(0)));
/// assert_eq!(Note::topic_by_name("nope"), None);
/// ```
pub trait WebEvent: Event + serde::Serialize {
    /// The routing key (a session, a user, a run), as it appears in a URL (`?key=`):
    /// `FromStr` parses it from the request, `Display` writes it into stats and logs, and
    /// `Into<fanout::Key>` makes it the bus's routing key for the connection's subscriber.
    type Key: Clone + Eq + Hash + Send + Sync + FromStr + Display + Into<fanout::Key> + 'static;

    /// This event's key; `None` for an unkeyed event, which reaches every connection whose
    /// topics it matches.
    ///
    /// The bus routes by [`Event::key`]: make it return this key, converted
    /// (`self.key().map(Into::into)`), and a publish reaches only the connections of its key
    /// (one hash lookup, whatever the number of connections). The gateway also checks this
    /// method on every event it is offered, so an `Event::key` that disagrees costs speed (every
    /// connection is offered the event), never another key's event in a tab.
    fn key(&self) -> Option<Self::Key>;

    /// The names of the topics, for `?topics=a,b` (names are matched exactly).
    fn topic_names() -> &'static [(&'static str, Topic)];

    /// The SSE `event:` name of this event's frame (`None`: no `event:` line, a browser's
    /// `onmessage`). Default: `None`.
    fn event_name(&self) -> Option<&str> {
        None
    }

    /// The topic called `name`, if there is one.
    fn topic_by_name(name: &str) -> Option<Topic> {
        Self::topic_names()
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, topic)| *topic)
    }
}

/// The agent vocabulary's topics by name (`run`, `llm`, `delta`, `tool`, `session`, `cost`,
/// `agent`, `approval`, `system`, `custom`).
const AGENT_TOPICS: [(&str, Topic); 10] = [
    ("run", topics::RUN),
    ("llm", topics::LLM),
    ("delta", topics::DELTA),
    ("tool", topics::TOOL),
    ("session", topics::SESSION),
    ("cost", topics::COST),
    ("agent", topics::AGENT),
    ("approval", topics::APPROVAL),
    ("system", topics::SYSTEM),
    ("custom", topics::CUSTOM),
];

/// Keyed by session: a tab follows its session; host-wide events (`ConfigReloaded`,
/// `ShutdownRequested`, a `Custom` without a session) are unkeyed. Each frame is named by the
/// event's [`kind`](AgentEvent::kind) (`event: text_delta`) and carries the event's JSON.
impl WebEvent for AgentEvent {
    type Key = SessionId;

    fn key(&self) -> Option<SessionId> {
        self.session_id()
    }

    fn topic_names() -> &'static [(&'static str, Topic)] {
        &AGENT_TOPICS
    }

    fn event_name(&self) -> Option<&str> {
        Some(self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanout::agent::RunId;

    #[test]
    fn agent_events_are_keyed_by_session_and_named_by_kind() {
        let (session, run) = (SessionId::new(), RunId::new());
        let delta = AgentEvent::text_delta(session, run, "x");
        assert_eq!(WebEvent::key(&delta), Some(session));
        assert_eq!(delta.event_name(), Some("text_delta"));
        let shutdown = AgentEvent::ShutdownRequested {
            reason: "deploy".into(),
            timestamp_ms: 0,
        };
        assert_eq!(WebEvent::key(&shutdown), None);
        for (name, topic) in AgentEvent::topic_names() {
            assert_eq!(AgentEvent::topic_by_name(name), Some(*topic));
        }
        let all = AgentEvent::topic_names()
            .iter()
            .fold(fanout::Topics::NONE, |acc, (_, t)| acc | *t);
        assert_eq!(all, topics::ALL);
    }
}
