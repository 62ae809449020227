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
/// to no session (`ConfigReloaded`, `ShutdownRequested`, an event whose host named no session).
/// A dashboard subscribes to `<prefix>.>` for everything, `<prefix>.<session>.>` for one session.
///
/// A session named by the host ([`SessionId::from_name`](fanout::agent::SessionId::from_name))
/// is one subject token whatever its name: every byte but ASCII letters, digits, `-` and `_` is
/// written `%XX` (so `"a.b"` is `a%2Eb`, never two tokens, and `*`, `>` or a space never reach
/// the subject), and a session named `host` is `%68ost`, never the host-wide token.
///
/// ```
/// use fanout::agent::{AgentEvent, RunId, SessionId};
/// let subject = fanout_nats::agent::session_subject("agent");
/// let named = SessionId::from_name("team.a b>").unwrap();
/// let event = AgentEvent::text_delta(named, RunId::new(), "hi");
/// assert_eq!(subject(&event), "agent.team%2Ea%20b%3E.delta");
/// ```
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
            Some(session) => match session.as_name() {
                None => format!("{prefix}.{session}.{topic}"),
                Some(name) => format!("{prefix}.{}.{topic}", name_token(name)),
            },
            None => format!("{prefix}.host.{topic}"),
        }
    }
}

/// A host's session name as one subject token (see [`session_subject`]).
fn name_token(name: &str) -> String {
    let mut token = String::with_capacity(name.len());
    for (i, byte) in name.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        if plain && !(i == 0 && name == "host") {
            token.push(char::from(byte));
        } else {
            token.push_str(&format!("%{byte:02X}"));
        }
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanout::agent::{RunId, SessionId};

    #[test]
    fn a_named_session_is_one_safe_token_and_never_the_host_token() {
        let subject = session_subject("agent");
        let of = |name: &str| {
            let session = SessionId::from_name(name).unwrap();
            subject(&AgentEvent::text_delta(session, RunId::new(), "x"))
        };
        assert_eq!(of("sess-42_a"), "agent.sess-42_a.delta");
        assert_eq!(of("a.b"), "agent.a%2Eb.delta");
        assert_eq!(of("*"), "agent.%2A.delta");
        assert_eq!(of("x>"), "agent.x%3E.delta");
        assert_eq!(of("é"), "agent.%C3%A9.delta");
        assert_eq!(of("host"), "agent.%68ost.delta");
        assert_eq!(of("hosts"), "agent.hosts.delta");
        for name in ["a.b", "*", "x>", "a b", "host", "é\t"] {
            let subject = of(name);
            let tokens: Vec<&str> = subject.split('.').collect();
            assert_eq!(tokens.len(), 3, "{subject}");
            assert!(
                tokens[1]
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>'),
                "{subject}"
            );
            assert_ne!(tokens[1], "host");
        }
    }
}
