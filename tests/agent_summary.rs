//! Bounded error summaries cut on character boundaries, never inside a multi-byte character.
#![cfg(feature = "agent")]

use fanout::agent::{
    summarize_error, AgentEvent, RunId, SessionId, ERROR_SUMMARY_MAX_CHARS, TRUNCATION_MARKER,
};

#[test]
fn short_errors_are_kept_whole() {
    assert_eq!(summarize_error("", 10), "");
    assert_eq!(summarize_error("exactly10!", 10), "exactly10!");
    assert_eq!(summarize_error("日本語", 3), "日本語");
}

#[test]
fn long_ascii_errors_are_cut_and_marked() {
    let long = "x".repeat(ERROR_SUMMARY_MAX_CHARS * 2);
    let summary = summarize_error(&long, ERROR_SUMMARY_MAX_CHARS);
    assert_eq!(summary, format!("{}{TRUNCATION_MARKER}", "x".repeat(200)));
}

#[test]
fn multi_byte_characters_straddling_the_cap_are_never_split() {
    // The cap in bytes would fall inside a character for every one of these: a byte-slicing
    // summary (`&s[..cap]`) panics here.
    for ch in ['é', '日', '🦀', '\u{10FFFF}'] {
        for prefix in 0..4 {
            let text = format!("{}{}", "a".repeat(prefix), ch.to_string().repeat(300));
            for cap in [0, 1, 2, 3, 5, 199, 200, 201] {
                let summary = summarize_error(&text, cap);
                let body = summary.strip_suffix(TRUNCATION_MARKER).expect("cut");
                assert_eq!(
                    body.chars().count(),
                    cap,
                    "{ch:?} prefix {prefix} cap {cap}"
                );
                assert!(text.starts_with(body));
            }
        }
    }
}

#[test]
fn emoji_exactly_at_the_boundary() {
    let text = format!("{}🦀🦀", "a".repeat(199));
    assert_eq!(
        summarize_error(&text, 200),
        format!("{}🦀{TRUNCATION_MARKER}", "a".repeat(199))
    );
    assert_eq!(summarize_error(&text, 201), text);
}

#[test]
fn run_failed_uses_the_bounded_summary() {
    let body = format!("provider said: {}", "ü".repeat(10_000));
    let AgentEvent::RunFailed { error, .. } =
        AgentEvent::run_failed(SessionId::new(), RunId::new(), &body)
    else {
        panic!("not RunFailed");
    };
    assert_eq!(
        error.chars().count(),
        ERROR_SUMMARY_MAX_CHARS + TRUNCATION_MARKER.chars().count()
    );
    assert!(error.starts_with("provider said: üü"));
}
