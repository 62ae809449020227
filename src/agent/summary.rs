//! Bounded, UTF-8-safe error summaries for content-free telemetry.

/// The default cap on an error summary, in characters.
pub const ERROR_SUMMARY_MAX_CHARS: usize = 200;

/// What [`summarize_error`] appends to a summary it cut short.
pub const TRUNCATION_MARKER: &str = "…(truncated)";

/// The first `max_chars` characters of `error`, followed by [`TRUNCATION_MARKER`] if anything was
/// cut; `error` itself if it is no longer than that.
///
/// Error strings often embed provider or tool response bodies (user content); capping them keeps
/// that content out of telemetry. The cut is on a `char` boundary, so it never panics and never
/// produces invalid UTF-8, whatever the input (it counts Unicode scalar values, so it may split a
/// multi-`char` grapheme such as a flag emoji, never a `char`). The result is at most
/// `max_chars` characters plus the marker.
///
/// # Examples
///
/// ```
/// use fanout::agent::summarize_error;
///
/// assert_eq!(summarize_error("timeout", 200), "timeout");
/// assert_eq!(summarize_error("connection refused", 10), "connection…(truncated)");
/// // Slicing bytes at 2 would panic inside "é"; this cuts after whole characters.
/// assert_eq!(summarize_error("héllo", 2), "hé…(truncated)");
/// assert_eq!(summarize_error("日本語のエラー", 3), "日本語…(truncated)");
/// ```
pub fn summarize_error(error: &str, max_chars: usize) -> String {
    match error.char_indices().nth(max_chars) {
        // `nth(max_chars)` is the first character past the cap: cut at its byte offset.
        Some((cut, _)) => {
            let mut summary = String::with_capacity(cut + TRUNCATION_MARKER.len());
            summary.push_str(&error[..cut]);
            summary.push_str(TRUNCATION_MARKER);
            summary
        }
        None => error.to_owned(),
    }
}
