//! What a publishable NATS subject is.

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
