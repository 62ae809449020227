//! Subjects for [`AgentEvent`]s: topic names and per-session subjects.

use std::borrow::Cow;

use fanout::agent::{topics, AgentEvent};
use fanout::Topic;

/// The name of one of [`fanout::agent::topics`] (`"tool"`, `"llm"`, `"agent"`, `"session"`,
/// `"cost"`, `"system"`, `"custom"`, `"delta"`, `"run"`, `"approval"`), or the index for any other
/// topic. For [`ExportBuilder::topic_names`](crate::ExportBuilder::topic_names).
///
/// ```
/// use fanout::agent::topics;
/// assert_eq!(fanout_nats::agent::topic_name(topics::DELTA), "delta");
/// assert_eq!(fanout_nats::agent::topic_name(fanout::topic!(40)), "40");
/// ```
pub fn topic_name(topic: Topic) -> Cow<'static, str> {
    Cow::Borrowed(match topic {
        t if t == topics::TOOL => "tool",
        t if t == topics::LLM => "llm",
        t if t == topics::AGENT => "agent",
        t if t == topics::SESSION => "session",
        t if t == topics::COST => "cost",
        t if t == topics::SYSTEM => "system",
        t if t == topics::CUSTOM => "custom",
        t if t == topics::DELTA => "delta",
        t if t == topics::RUN => "run",
        t if t == topics::APPROVAL => "approval",
        other => return Cow::Owned(other.index().to_string()),
    })
}

/// A subject function for [`ExportBuilder::subject`](crate::ExportBuilder::subject):
/// `<prefix>.<session id>.<topic name>`, or `<prefix>.host.<topic name>` for events that belong
/// to no session (`ConfigReloaded`, `ShutdownRequested`, a `Custom` without one). A dashboard
/// subscribes to `<prefix>.>` for everything, `<prefix>.<session>.>` for one session.
///
/// ```
/// use fanout::agent::{AgentEvent, RunId, SessionId};
/// let subject = fanout_nats::agent::session_subject("agent");
/// let session = SessionId::new();
/// let event = AgentEvent::text_delta(session, RunId::new(), "hi");
/// assert_eq!(subject(&event), format!("agent.{session}.delta"));
/// ```
pub fn session_subject(
    prefix: impl Into<String>,
) -> impl Fn(&AgentEvent) -> String + Send + Sync + 'static {
    let prefix = prefix.into();
    move |event| {
        let topic = topic_name(event.topic());
        match event.session_id() {
            Some(session) => format!("{prefix}.{session}.{topic}"),
            None => format!("{prefix}.host.{topic}"),
        }
    }
}
