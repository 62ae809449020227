//! Subjects: what a publishable NATS subject is, and how an event's routing key becomes one of
//! its tokens.
//!
//! An exporter whose subjects come from a prefix ([`ExportBuilder::subject_prefix`], the default)
//! names an event `<prefix>.<key token>.<topic>`: the token is the event's
//! [`Key`](fanout::Key) ([`Event::key`](fanout::Event::key)) in its text form, 32 lowercase hex
//! digits (a UUID without hyphens), or [`UNKEYED_TOKEN`], `_`, for an event without a key. Every
//! key's token is a valid subject token (hex digits only), and none is `_`, so the unkeyed
//! events can never be mistaken for one key's. An importer that follows a key subscribes to
//! `<prefix>.<key token>.>` ([`ImportBuilder::key`](crate::ImportBuilder::key)).
//!
//! [`ExportBuilder::subject_prefix`]: crate::ExportBuilder::subject_prefix

use fanout::Key;

/// The subject token of the events that have no routing key: `_` (a key's token is 32 hex
/// digits, so the two never meet).
pub const UNKEYED_TOKEN: &str = "_";

/// The subject token of a routing key: its 32 lowercase hex digits, or [`UNKEYED_TOKEN`] for
/// none.
///
/// ```
/// use fanout::Key;
/// use fanout_nats::key_token;
/// assert_eq!(key_token(Some(Key::from(42u64))), "0000000000000000000000000000002a");
/// assert_eq!(key_token(None), "_");
/// ```
pub fn key_token(key: Option<Key>) -> String {
    match key {
        Some(key) => key.to_string(),
        None => UNKEYED_TOKEN.to_owned(),
    }
}

/// Whether `subject` can be published to: non-empty, dot-separated non-empty tokens, no
/// whitespace, no wildcards (`*`, `>`).
///
/// ```
/// use fanout_nats::is_valid_subject;
/// assert!(is_valid_subject("agent.3f2a.delta"));
/// assert!(!is_valid_subject("agent..delta"));
/// assert!(!is_valid_subject("agent.*"));
/// assert!(!is_valid_subject("has space"));
/// assert!(!is_valid_subject(""));
/// ```
pub fn is_valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && !token
                    .chars()
                    .any(|c| c.is_whitespace() || c == '*' || c == '>')
        })
}
