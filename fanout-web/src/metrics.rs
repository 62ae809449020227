//! `/metrics`: a bus's [`BusStats`] and the gateway's own counters in the Prometheus text format
//! (version 0.0.4).

use std::fmt::Write;

use fanout::stats::BusStats;

/// The gateway's own counters, for [`prometheus`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayCounts {
    /// Streams open now.
    pub connections: usize,
    /// Requests answered 503 (too many streams open).
    pub refused_full: u64,
    /// Events a connection lost and got back from the history.
    pub repaired: u64,
}

/// The Prometheus text of a bus's `stats` and the gateway's `counts`.
///
/// # Examples
///
/// ```
/// use fanout::Bus;
/// # #[derive(Clone)] struct Ev;
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::<Ev>::new();
/// let _tab = bus.subscriber().name("sse-1").build().unwrap();
/// let counts = fanout_web::GatewayCounts { connections: 1, ..Default::default() };
/// let text = fanout_web::prometheus(&bus.stats(), &counts);
/// assert!(text.contains("fanout_subscriber_queued{subscriber=\"sse-1\",id=\"1\"} 0\n"));
/// assert!(text.contains("fanout_web_connections 1\n"));
/// ```
pub fn prometheus(stats: &BusStats, counts: &GatewayCounts) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    gauge(
        &mut out,
        "fanout_published_total",
        "counter",
        "Publishes whose topic at least one subscriber wanted.",
        stats.published.to_string(),
    );
    gauge(
        &mut out,
        "fanout_rejected_after_close_total",
        "counter",
        "Events emitted through EventSink after the bus closed.",
        stats.rejected_after_close.to_string(),
    );
    gauge(
        &mut out,
        "fanout_closed",
        "gauge",
        "1 once the bus is closed.",
        u8::from(stats.closed).to_string(),
    );
    gauge(
        &mut out,
        "fanout_subscribers",
        "gauge",
        "Registered subscribers.",
        stats.subscribers.len().to_string(),
    );
    type Field = fn(&fanout::stats::SubscriberStats) -> String;
    let per_subscriber: [(&str, &str, &str, Field); 6] = [
        (
            "fanout_subscriber_queued",
            "gauge",
            "Events in the subscriber's queue now.",
            |s| s.queued.to_string(),
        ),
        (
            "fanout_subscriber_capacity",
            "gauge",
            "The subscriber's queue capacity.",
            |s| s.capacity.to_string(),
        ),
        (
            "fanout_subscriber_received_total",
            "counter",
            "Events the subscriber received.",
            |s| s.received.to_string(),
        ),
        (
            "fanout_subscriber_dropped_total",
            "counter",
            "Events its overflow policy threw away.",
            |s| s.dropped.to_string(),
        ),
        (
            "fanout_subscriber_lag_reported_total",
            "counter",
            "Of the dropped, those reported to it as Lagged.",
            |s| s.lag_reported.to_string(),
        ),
        (
            "fanout_subscriber_delivered_total",
            "counter",
            "Events that went into its queue.",
            |s| s.enqueued.to_string(),
        ),
    ];
    for (name, kind, help, field) in per_subscriber {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for sub in &stats.subscribers {
            let _ = writeln!(
                out,
                "{name}{{subscriber=\"{}\",id=\"{}\"}} {}",
                escape(&sub.name),
                sub.id.get(),
                field(sub)
            );
        }
    }
    gauge(
        &mut out,
        "fanout_web_connections",
        "gauge",
        "Streams open now (SSE and AG-UI runs).",
        counts.connections.to_string(),
    );
    gauge(
        &mut out,
        "fanout_web_refused_full_total",
        "counter",
        "Requests answered 503 because max_connections streams were open.",
        counts.refused_full.to_string(),
    );
    gauge(
        &mut out,
        "fanout_web_repaired_total",
        "counter",
        "Events a connection lost and got back from the history (not in any gap frame).",
        counts.repaired.to_string(),
    );
    out
}

/// A label value: backslash, double quote and line feed escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
