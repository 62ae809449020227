//! The vocabulary on the wire, as a host writes it: every field a runtime's own event carries
//! survives `AgentEvent`'s serde round trip (parse, re-serialize, compare), including the
//! fields and variants added for the four runtimes of issue 21 (string ids, absent ids, error
//! text on `AgentFinished`, `finish_reason`, request ids and token counts, turns, reasoning
//! deltas, message ids, the model's side of tool calls, tool output). The documents are plain
//! JSON, so the test reads the same way against any version of the crate: against one without
//! those fields it fails (a field dropped, or a document rejected).

use fanout::agent::AgentEvent;
use serde_json::{json, Value};

/// Parses `doc` as an `AgentEvent` and writes it back: nothing may be lost or changed.
fn round_trip(doc: Value) {
    let event: AgentEvent =
        serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("rejected: {e}\n{doc:#}"));
    let back = serde_json::to_value(&event).unwrap();
    assert_eq!(back, doc, "changed by the round trip");
    // And through text, as a recorder line or a NATS payload is.
    let line = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<AgentEvent>(&line).unwrap(), event);
}

#[test]
fn agent_finished_keeps_its_error_text() {
    round_trip(json!({
        "type": "agent_finished",
        "session": "0b7a4f8e-3c1d-4e2f-9a6b-5c4d3e2f1a0b",
        "agent": "planner",
        "success": false,
        "error": "provider returned 429: quota exceeded",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
}

#[test]
fn model_finished_keeps_request_id_finish_reason_tokens_and_iteration() {
    round_trip(json!({
        "type": "model_finished",
        "model": "claude-x",
        "duration_ms": 812,
        "iteration": 3,
        "request_id": "req_01HXYZ",
        "finish_reason": "tool_calls",
        "input_tokens": 1200,
        "output_tokens": 85,
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "model_started",
        "model": "claude-x",
        "iteration": 3,
        "request_id": "req_01HXYZ",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
}

#[test]
fn run_completed_keeps_its_finish_reason() {
    round_trip(json!({
        "type": "run_completed",
        "session": "0b7a4f8e-3c1d-4e2f-9a6b-5c4d3e2f1a0b",
        "run": "1c8b5f9f-4d2e-4f30-8b7c-6d5e4f302b1c",
        "iterations": 4,
        "finish_reason": "stop",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
}

#[test]
fn ids_may_be_a_hosts_strings_or_absent() {
    // opendev names agents and sessions by strings and gives tool calls no session or run.
    round_trip(json!({
        "type": "tool_finished",
        "call_id": "call_7",
        "tool": "bash",
        "success": true,
        "duration_ms": 40,
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "agent_started",
        "session": "sess-42",
        "agent": "agent-1",
        "task": "refactor",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    // behest's deltas carry their run and no session.
    round_trip(json!({
        "type": "text_delta",
        "run": "1c8b5f9f-4d2e-4f30-8b7c-6d5e4f302b1c",
        "text": "Hel",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
}

#[test]
fn turns_reasoning_and_message_ids_are_kept() {
    round_trip(json!({
        "type": "turn_started",
        "session": "0b7a4f8e-3c1d-4e2f-9a6b-5c4d3e2f1a0b",
        "turn": 2,
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "turn_finished",
        "session": "0b7a4f8e-3c1d-4e2f-9a6b-5c4d3e2f1a0b",
        "turn": 2,
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "reasoning_delta",
        "run": "run-9",
        "message_id": "think-1",
        "text": "the user wants",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "text_delta",
        "run": "run-9",
        "message_id": "msg-3",
        "text": "Hel",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
}

#[test]
fn the_models_side_of_a_tool_call_and_the_tools_output_are_kept() {
    round_trip(json!({
        "type": "model_tool_call_started",
        "run": "run-9",
        "call_id": "call_7",
        "tool": "read_file",
        "parent_message_id": "msg-3",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "model_tool_call_completed",
        "run": "run-9",
        "call_id": "call_7",
        "tool": "read_file",
        "arguments": "{\"path\":\"a.txt\"}",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "tool_started",
        "run": "run-9",
        "call_id": "call_7",
        "tool": "read_file",
        "iteration": 1,
        "parent_message_id": "msg-3",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "tool_finished",
        "run": "run-9",
        "call_id": "call_7",
        "tool": "read_file",
        "success": true,
        "duration_ms": 3,
        "iteration": 1,
        "output": {"bytes": 12, "text": "hello world\n"},
        "timestamp_ms": 1_700_000_000_000u64,
    }));
    round_trip(json!({
        "type": "tool_finished",
        "run": "run-9",
        "call_id": "call_8",
        "tool": "read_file",
        "success": false,
        "duration_ms": 1,
        "error": "no such file: b.txt",
        "timestamp_ms": 1_700_000_000_000u64,
    }));
}

#[test]
fn a_line_written_before_the_new_fields_still_reads() {
    // What an audit log recorded by the previous version holds: every id, none of the new fields.
    let old = json!({
        "type": "model_finished",
        "session": "0b7a4f8e-3c1d-4e2f-9a6b-5c4d3e2f1a0b",
        "run": "1c8b5f9f-4d2e-4f30-8b7c-6d5e4f302b1c",
        "model": "m",
        "duration_ms": 812,
        "timestamp_ms": 1_700_000_000_000u64,
    });
    round_trip(old);
}

#[test]
fn an_id_that_cannot_be_one_is_an_error() {
    let doc = json!({
        "type": "agent_started",
        "agent": "a".repeat(48),
        "task": "t",
        "timestamp_ms": 0,
    });
    let err = serde_json::from_value::<AgentEvent>(doc).unwrap_err();
    assert!(err.to_string().contains("at most 47 bytes"), "{err}");
}
