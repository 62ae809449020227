//! Subjects for [`AgentEvent`]s: topic names and per-session subjects.

use std::borrow::Cow;

use fanout::agent::{topics, AgentEvent};
use fanout::{Event, Topic};

use crate::key_token;

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
/// `<prefix>.<session>.<topic name>`, the session as its [key token](crate::key_token) (the
/// session's UUID as 32 hex digits, no hyphens: an [`AgentEvent`]'s routing key is its
/// session), or `<prefix>._.<topic name>` for events that belong to no session
/// (`ConfigReloaded`, `ShutdownRequested`, a `Custom` without one). The same subjects as
/// `subject_prefix(prefix).topic_names(agent::topic_name)`, so an importer following a session
/// ([`ImportBuilder::key`](crate::ImportBuilder::key)) finds it. A dashboard subscribes to
/// `<prefix>.>` for everything, `<prefix>.<session>.>` for one session.
///
/// A session the host named ([`SessionId::from_name`](fanout::agent::SessionId::from_name)) is
/// its key's token too (the key of a name is a hash of it), so whatever the name (`"a.b"`, `*`,
/// `>`, spaces), it is one token of hex digits and never the unkeyed `_`.
///
/// ```
/// use fanout::agent::{AgentEvent, RunId, SessionId};
/// let subject = fanout_nats::agent::session_subject("agent");
/// let session = SessionId::new();
/// let event = AgentEvent::text_delta(session, RunId::new(), "hi");
/// let key = fanout::Key::from(session);
/// assert_eq!(subject(&event), format!("agent.{key}.delta"));
/// let bye = AgentEvent::ShutdownRequested { reason: "bye".into(), timestamp_ms: 0 };
/// assert_eq!(subject(&bye), "agent._.system");
/// ```
pub fn session_subject(
    prefix: impl Into<String>,
) -> impl Fn(&AgentEvent) -> String + Send + Sync + 'static {
    let prefix = prefix.into();
    move |event| {
        let topic = topic_name(event.topic());
        let key = key_token(event.key());
        format!("{prefix}.{key}.{topic}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanout::agent::{RunId, SessionId};

    #[test]
    fn a_named_session_is_one_hex_token_its_key_and_never_the_unkeyed_token() {
        let subject = session_subject("agent");
        for name in ["sess-42_a", "a.b", "*", "x>", "a b", "_", "é\t"] {
            let session = SessionId::from_name(name).unwrap();
            let event = AgentEvent::text_delta(session, RunId::new(), "x");
            let subject = subject(&event);
            let tokens: Vec<&str> = subject.split('.').collect();
            assert_eq!(tokens.len(), 3, "{subject}");
            assert_eq!(tokens[1], crate::key_token(event.key()), "{subject}");
            assert!(
                tokens[1].bytes().all(|b| b.is_ascii_hexdigit()),
                "{subject}"
            );
            assert_eq!(tokens[2], "delta");
        }
    }
}
