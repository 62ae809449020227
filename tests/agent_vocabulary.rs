//! The agent vocabulary: every variant's topic, routing ids, terminal flag and serde round trip.
#![cfg(feature = "agent")]

use std::collections::HashSet;
use std::sync::Arc;

use fanout::agent::{now_ms, topics, AgentEvent, AgentId, RunId, SessionId, MAX_ID_NAME_LEN};
use fanout::{Bus, Event, Topics};

#[path = "common/agent_variants.rs"]
mod agent_variants;
use agent_variants::{every_variant, ids, Ids};

#[test]
fn every_variant_maps_to_its_topic_and_has_a_distinct_kind() {
    let ids = ids();
    let events = every_variant(&ids);
    let mut kinds = HashSet::new();
    for (event, topic) in &events {
        assert_eq!(event.topic(), *topic, "{}", event.kind());
        assert_eq!(Event::topic(event), *topic);
        assert!(topics::ALL.contains(*topic));
        assert!(
            kinds.insert(event.kind()),
            "duplicate kind {}",
            event.kind()
        );
    }
    assert_eq!(kinds.len(), 33);
}

#[test]
fn serde_round_trips_every_variant_with_its_kind_as_tag() {
    let ids = ids();
    for (event, _) in every_variant(&ids) {
        let json = serde_json::to_string(&event).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["type"], event.kind(), "{json}");
        assert_eq!(value["timestamp_ms"], 1_700_000_000_123u64);
        let back: AgentEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event, "{json}");

        // Arc<AgentEvent> serializes identically (serde's `rc` feature) and is an Event too.
        let shared = Arc::new(event.clone());
        assert_eq!(serde_json::to_string(&shared).unwrap(), json);
        assert_eq!(Event::topic(&shared), event.topic());
    }
}

#[test]
fn a_non_finite_cost_is_written_as_null_and_read_back_as_nan() {
    let Ids { session, run, .. } = ids();
    for cost_usd in [f64::NAN, f64::INFINITY] {
        let usage = AgentEvent::TokenUsage {
            session: Some(session),
            run: Some(run),
            model: "m".into(),
            input_tokens: 1,
            output_tokens: 2,
            cost_usd,
            timestamp_ms: 1,
        };
        let paid = AgentEvent::CostRecorded {
            session: Some(session),
            run: Some(run),
            item: "search".into(),
            cost_usd,
            timestamp_ms: 1,
        };
        for event in [usage, paid] {
            let json = serde_json::to_string(&event).unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert!(value["cost_usd"].is_null(), "{json}");
            let back: AgentEvent = serde_json::from_str(&json)
                .unwrap_or_else(|err| panic!("{json} does not parse back: {err}"));
            let (AgentEvent::TokenUsage { cost_usd: read, .. }
            | AgentEvent::CostRecorded { cost_usd: read, .. }) = back
            else {
                panic!("{json} read back as another variant: {back:?}");
            };
            assert!(read.is_nan(), "{json} read back as {read}");
        }
    }
}

#[test]
fn routing_ids_and_terminal_flag() {
    let ids = ids();
    let mut terminal = Vec::new();
    for (event, _) in every_variant(&ids) {
        if event.is_terminal() {
            terminal.push(event.kind());
        }
        if event.topic() != topics::SYSTEM {
            assert_eq!(event.session_id(), Some(ids.session), "{}", event.kind());
        } else {
            assert_eq!(event.session_id(), None);
        }
        // Every run-scoped topic carries the run.
        if [
            topics::RUN,
            topics::LLM,
            topics::DELTA,
            topics::TOOL,
            topics::APPROVAL,
        ]
        .contains(&event.topic())
        {
            assert_eq!(event.run_id(), Some(ids.run), "{}", event.kind());
        }
        if let Some(agent) = event.agent_id() {
            assert_eq!(agent, ids.agent);
        }
        assert_eq!(event.timestamp_ms(), 1_700_000_000_123);
    }
    assert_eq!(terminal, ["run_completed", "run_failed", "run_cancelled"]);
}

#[test]
fn topic_sets_audit_and_telemetry_exclude_content() {
    assert_eq!(topics::ALL.len(), 10);
    assert_eq!(topics::AUDIT & topics::ALL, topics::ALL - topics::DELTA);
    for excluded in [topics::DELTA, topics::CUSTOM, topics::APPROVAL] {
        assert!(!topics::TELEMETRY.contains(excluded));
    }
    assert!(topics::UI.contains(topics::DELTA));
    assert_eq!(topics::TELEMETRY & !topics::ALL, Topics::NONE);
}

#[test]
fn an_audit_subscriber_never_receives_deltas() {
    let bus = Bus::new();
    let mut audit = bus.subscribe(topics::AUDIT);
    let ids = ids();
    for (event, _) in every_variant(&ids) {
        bus.publish(event).unwrap();
    }
    bus.close();
    let got: Vec<&'static str> = audit.iter().map(|e| e.unwrap().kind()).collect();
    assert_eq!(got.len(), 30);
    for delta in ["text_delta", "reasoning_delta", "tool_args_delta"] {
        assert!(!got.contains(&delta), "{delta}");
    }
}

#[test]
fn ids_display_parse_and_serialize_as_uuid_strings() {
    let run = RunId::new();
    assert_eq!(run.to_string().parse::<RunId>().unwrap(), run);
    assert_eq!(
        serde_json::to_string(&run).unwrap(),
        format!("\"{}\"", run.as_uuid().unwrap())
    );
    // Parsing reads what Display writes, a name as well as a UUID...
    let session = SessionId::from_name("tab-7").unwrap();
    assert_eq!(session.to_string().parse::<SessionId>().unwrap(), session);
    assert_eq!("nope".parse::<SessionId>().unwrap().as_name(), Some("nope"));
    // ...and text that cannot be an id is an error, not a cut or empty id.
    assert!("".parse::<SessionId>().is_err());
    assert!("x"
        .repeat(MAX_ID_NAME_LEN + 1)
        .parse::<SessionId>()
        .is_err());
    // A string that is no UUID is a host's name for the id, read back as it was written...
    let named = serde_json::from_str::<AgentId>("\"nope\"").unwrap();
    assert_eq!(named.as_name(), Some("nope"));
    assert_eq!(serde_json::to_string(&named).unwrap(), "\"nope\"");
    // ...and one that cannot be an id is an error, not a truncated id.
    assert!(serde_json::from_str::<AgentId>("\"\"").is_err());
    let long = format!("\"{}\"", "x".repeat(fanout::agent::MAX_ID_NAME_LEN + 1));
    assert!(serde_json::from_str::<AgentId>(&long).is_err());
    assert_ne!(RunId::new(), RunId::new());
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    for bad in [
        "{}",
        r#"{"type":"no_such_event","timestamp_ms":1}"#,
        r#"{"type":"run_completed","timestamp_ms":1}"#,
        r#"{"type":"config_reloaded","timestamp_ms":-1}"#,
    ] {
        assert!(serde_json::from_str::<AgentEvent>(bad).is_err(), "{bad}");
    }
}

#[test]
fn now_ms_is_monotone_enough_and_recent() {
    let a = now_ms();
    let b = now_ms();
    assert!(b >= a);
    assert!(a > 1_600_000_000_000);
}
