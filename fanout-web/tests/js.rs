//! fanout-web against real JavaScript clients, started by the test: the official AG-UI client
//! (`@ag-ui/client` 1.0's `HttpAgent`, on Node.js, every event checked against `@ag-ui/core`'s
//! schemas), and headless Chromium (driven by `puppeteer-core`).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::js::node;
use fanout::agent::{AgentEvent, AgentId, RunId, SessionId};
use fanout::HistoryBus;
use fanout_web::agui::{AgentRunEncoder, RunAgentInput, RunPlan};
use fanout_web::{AllowAll, Gateway};
use serde_json::{json, Value};

/// How the scripted run ends.
#[derive(Clone, Copy)]
enum Ending {
    Completed,
    Failed,
    Cancelled,
}

/// A scripted run: it echoes the prompt, calls a tool, answers, and ends as `ending` says.
fn script(
    bus: &HistoryBus<AgentEvent>,
    session: SessionId,
    run: RunId,
    prompt: &str,
    ending: Ending,
) {
    let ts = fanout::agent::now_ms;
    let publish = |event| {
        bus.publish(event).unwrap();
        thread::sleep(Duration::from_millis(1));
    };
    publish(AgentEvent::RunStarted {
        session: Some(session),
        run,
        agent: AgentId::new(),
        model: "sim".into(),
        timestamp_ms: ts(),
    });
    publish(AgentEvent::ModelStarted {
        session: Some(session),
        run: Some(run),
        model: "sim".into(),
        iteration: 1,
        request_id: None,
        timestamp_ms: ts(),
    });
    for piece in ["The user", " greets me."] {
        publish(AgentEvent::ReasoningDelta {
            session: Some(session),
            run: Some(run),
            message_id: None,
            text: piece.into(),
            timestamp_ms: ts(),
        });
    }
    publish(AgentEvent::text_delta(session, run, "You said:"));
    for word in prompt.split(' ') {
        publish(AgentEvent::text_delta(session, run, format!(" {word}")));
    }
    publish(AgentEvent::ModelFinished {
        session: Some(session),
        run: Some(run),
        model: "sim".into(),
        duration_ms: 3,
        iteration: None,
        request_id: None,
        finish_reason: None,
        input_tokens: None,
        output_tokens: None,
        timestamp_ms: ts(),
    });
    publish(AgentEvent::TokenUsage {
        session: Some(session),
        run: Some(run),
        model: "sim".into(),
        input_tokens: 10,
        output_tokens: 4,
        cost_usd: 0.5,
        timestamp_ms: ts(),
    });
    publish(AgentEvent::ToolStarted {
        session: Some(session),
        run: Some(run),
        call_id: "call-1".into(),
        tool: "grep".into(),
        iteration: None,
        parent_message_id: None,
        timestamp_ms: ts(),
    });
    for piece in ["{\"pat", "tern\": ", "\"TODO\"}"] {
        publish(AgentEvent::ToolArgsDelta {
            session: Some(session),
            run: Some(run),
            call_id: "call-1".into(),
            text: piece.into(),
            timestamp_ms: ts(),
        });
    }
    publish(AgentEvent::ToolFinished {
        session: Some(session),
        run: Some(run),
        call_id: "call-1".into(),
        tool: "grep".into(),
        success: true,
        duration_ms: 2,
        iteration: None,
        output: Some("2 TODOs".into()),
        error: None,
        timestamp_ms: ts(),
    });
    publish(AgentEvent::MessageCommitted {
        session: Some(session),
        run: Some(run),
        message_id: uuid::Uuid::from_u128(0x1234),
        role: fanout::agent::MessageRole::Tool,
        timestamp_ms: ts(),
    });
    publish(AgentEvent::ModelStarted {
        session: Some(session),
        run: Some(run),
        model: "sim".into(),
        iteration: 2,
        request_id: None,
        timestamp_ms: ts(),
    });
    publish(AgentEvent::TextDelta {
        session: Some(session),
        run: Some(run),
        message_id: Some("msg-final".into()),
        text: "Done.".into(),
        timestamp_ms: ts(),
    });
    match ending {
        Ending::Completed => {
            publish(AgentEvent::ModelFinished {
                session: Some(session),
                run: Some(run),
                model: "sim".into(),
                duration_ms: 1,
                iteration: None,
                request_id: None,
                finish_reason: None,
                input_tokens: None,
                output_tokens: None,
                timestamp_ms: ts(),
            });
            publish(AgentEvent::TokenUsage {
                session: Some(session),
                run: Some(run),
                model: "sim".into(),
                input_tokens: 20,
                output_tokens: 1,
                cost_usd: 0.25,
                timestamp_ms: ts(),
            });
            publish(AgentEvent::run_completed(session, run, 2));
        }
        // Mid-message and mid-step: the encoder must close both.
        Ending::Failed => publish(AgentEvent::run_failed(session, run, "provider 500")),
        Ending::Cancelled => publish(AgentEvent::RunCancelled {
            session: Some(session),
            run,
            reason: "user stop".into(),
            timestamp_ms: ts(),
        }),
    }
}

/// The AG-UI host: a thread is a session; a run of thread `fail` fails, of `cancel` is
/// cancelled. Meanwhile another session streams on the same bus (never on this run's stream).
fn agui_gateway(bus: &HistoryBus<AgentEvent>) -> Gateway<AgentEvent> {
    let sessions: Arc<Mutex<HashMap<String, SessionId>>> = Arc::default();
    let publisher = bus.clone();
    let host = move |input: RunAgentInput, _: &axum::http::request::Parts| {
        let session = *sessions
            .lock()
            .unwrap()
            .entry(input.thread_id.clone())
            .or_default();
        let run = RunId::new();
        let ending = match input.thread_id.as_str() {
            "fail" => Ending::Failed,
            "cancel" => Ending::Cancelled,
            _ => Ending::Completed,
        };
        let prompt = input.last_user_text().unwrap_or_default().to_owned();
        let bus = publisher.clone();
        let encoder = AgentRunEncoder::for_input(&input, run);
        Ok(RunPlan::new(session, encoder, move || {
            let noise = bus.clone();
            thread::spawn(move || {
                let (other, other_run) = (SessionId::new(), RunId::new());
                for i in 0..200 {
                    let _ = noise.publish(AgentEvent::text_delta(
                        other,
                        other_run,
                        format!("secret {i}"),
                    ));
                }
            });
            thread::spawn(move || script(&bus, session, run, &prompt, ending));
        }))
    };
    Gateway::builder(bus.clone(), AllowAll)
        .agui(host)
        .build()
        .unwrap()
}

fn run_client(url: &str, thread: &str, run: &str, prompt: &str) -> Value {
    let out = node("agui_run.mjs", &[url, thread, run, prompt]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn types(report: &Value, field: &str) -> Vec<String> {
    report[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.as_str()
                .map_or_else(|| e["type"].as_str().unwrap().to_owned(), str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_agui_client_runs_an_agent_and_its_schemas_accept_every_event() {
    let bus = HistoryBus::builder(4096).build().unwrap();
    let addr = common::serve(agui_gateway(&bus).router()).await;
    let url = format!("http://{addr}/agui");
    let report = tokio::task::spawn_blocking(move || {
        run_client(&url, "thread-1", "run-js-1", "hello world")
    })
    .await
    .unwrap();
    assert_eq!(report["outcome"], "resolved", "{report:#}");
    assert_eq!(report["invalid"], json!([]), "{report:#}");
    assert_eq!(report["warnings"], json!([]), "{report:#}");
    let wire = types(&report, "wire");
    assert_eq!(
        types(&report, "applied"),
        wire,
        "the client applied every event sent"
    );
    assert_eq!(
        wire,
        [
            "RUN_STARTED",
            "STATE_SNAPSHOT",
            "STEP_STARTED",
            "REASONING_START",
            "REASONING_MESSAGE_START",
            "REASONING_MESSAGE_CONTENT",
            "REASONING_MESSAGE_CONTENT",
            "REASONING_MESSAGE_END",
            "REASONING_END",
            "TEXT_MESSAGE_START",
            "TEXT_MESSAGE_CONTENT",
            "TEXT_MESSAGE_CONTENT",
            "TEXT_MESSAGE_CONTENT",
            "TEXT_MESSAGE_END",
            "STEP_FINISHED",
            "STATE_DELTA",
            "TOOL_CALL_START",
            "TOOL_CALL_ARGS",
            "TOOL_CALL_ARGS",
            "TOOL_CALL_ARGS",
            "TOOL_CALL_END",
            "TOOL_CALL_RESULT",
            "CUSTOM",
            "STEP_STARTED",
            "TEXT_MESSAGE_START",
            "TEXT_MESSAGE_CONTENT",
            "TEXT_MESSAGE_END",
            "STEP_FINISHED",
            "STATE_DELTA",
            "RUN_FINISHED",
        ]
    );
    let first = &report["wire"][0];
    assert_eq!(
        (first["threadId"].as_str(), first["runId"].as_str()),
        (Some("thread-1"), Some("run-js-1"))
    );
    let messages = report["messages"].as_array().unwrap();
    let texts: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] != "reasoning" && m["role"] != "tool")
        .filter_map(|m| m["content"].as_str())
        .collect();
    let reasoning = messages.iter().find(|m| m["role"] == "reasoning");
    assert_eq!(
        reasoning.map(|m| &m["content"]),
        Some(&json!("The user greets me.")),
        "the reasoning deltas are one reasoning message: {messages:#?}"
    );
    assert_eq!(texts[0], "hello world", "the user's message");
    assert_eq!(
        texts[1], "You said: hello world",
        "no other session's text: {messages:#?}"
    );
    let call = messages
        .iter()
        .find_map(|m| m["toolCalls"].as_array())
        .unwrap();
    assert_eq!(
        call[0]["function"],
        json!({ "name": "grep", "arguments": "{\"pattern\": \"TODO\"}" })
    );
    assert!(
        messages.iter().any(|m| m["role"] == "tool"
            && m["toolCallId"] == "call-1"
            && m["content"] == "2 TODOs"),
        "the tool's output is its result: {messages:#?}"
    );
    assert_eq!(*texts.last().unwrap(), "Done.");
    assert!(
        messages
            .iter()
            .any(|m| m["id"] == "msg-final" && m["content"] == "Done."),
        "the host's message id names the message: {messages:#?}"
    );
    assert_eq!(
        report["state"],
        json!({ "input_tokens": 30, "output_tokens": 5, "cost_usd": 0.75 })
    );
    let finished = report["wire"].as_array().unwrap().last().unwrap();
    assert_eq!(finished["outcome"], json!({ "type": "success" }));
    assert_eq!(
        finished["usage"],
        json!([{ "model": "sim", "inputTokens": 30, "outputTokens": 5, "totalTokens": 35 }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_cancelled_runs_end_as_the_protocol_says() {
    let bus = HistoryBus::builder(4096).build().unwrap();
    let addr = common::serve(agui_gateway(&bus).router()).await;
    let url = format!("http://{addr}/agui");
    let (failed, cancelled) = tokio::task::spawn_blocking(move || {
        (
            run_client(&url, "fail", "run-f", "hi"),
            run_client(&url, "cancel", "run-c", "hi"),
        )
    })
    .await
    .unwrap();
    for report in [&failed, &cancelled] {
        assert_eq!(report["invalid"], json!([]), "{report:#}");
        assert_eq!(report["warnings"], json!([]), "{report:#}");
    }
    let wire = types(&failed, "wire");
    assert_eq!(
        &wire[wire.len() - 3..],
        ["TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_ERROR"]
    );
    assert_eq!(
        failed["wire"].as_array().unwrap().last().unwrap()["message"],
        "provider 500"
    );
    let wire = types(&cancelled, "wire");
    assert_eq!(
        &wire[wire.len() - 4..],
        [
            "TEXT_MESSAGE_END",
            "STEP_FINISHED",
            "CUSTOM",
            "RUN_FINISHED"
        ]
    );
    assert_eq!(cancelled["outcome"], "resolved", "{cancelled:#}");
    let last = cancelled["wire"].as_array().unwrap().last().unwrap();
    assert_eq!(last["outcome"], json!({ "type": "cancelled" }));
    // HttpAgent reports a RUN_ERROR to its subscribers (onRunErrorEvent) and resolves.
    assert_eq!(failed["outcome"], "resolved", "{failed:#}");
}

/// A run's stream that overflows: the host's `start` publishes the whole run before the stream
/// can read any of it, into a queue of 4 on a bus without history. The client gets the newest
/// events, a `CUSTOM` `fanout.gap` with the exact count of the rest, and a valid run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stream_that_overflows_tells_the_client_how_much_it_lost_and_stays_valid() {
    let bus = fanout::Bus::<AgentEvent>::new();
    let publisher = bus.clone();
    let host = move |input: RunAgentInput, _: &axum::http::request::Parts| {
        let (session, run) = (SessionId::new(), RunId::new());
        let bus = publisher.clone();
        let encoder = AgentRunEncoder::for_input(&input, run);
        Ok(RunPlan::new(session, encoder, move || {
            let agent = AgentId::new();
            let ts = fanout::agent::now_ms();
            bus.publish(AgentEvent::RunStarted {
                session: Some(session),
                run,
                agent,
                model: "m".into(),
                timestamp_ms: ts,
            })
            .unwrap();
            for _ in 0..200 {
                bus.publish(AgentEvent::text_delta(session, run, "x"))
                    .unwrap();
            }
            bus.publish(AgentEvent::run_completed(session, run, 1))
                .unwrap();
        }))
    };
    let gateway = Gateway::builder(bus, AllowAll)
        .capacity(4)
        .agui(host)
        .build()
        .unwrap();
    let addr = common::serve(gateway.router()).await;
    let url = format!("http://{addr}/agui");
    let report = tokio::task::spawn_blocking(move || run_client(&url, "t", "r", "go"))
        .await
        .unwrap();
    assert_eq!(report["outcome"], "resolved", "{report:#}");
    assert_eq!(report["invalid"], json!([]), "{report:#}");
    assert_eq!(report["warnings"], json!([]), "{report:#}");
    let wire = report["wire"].as_array().unwrap();
    let gaps: Vec<&Value> = wire.iter().filter(|e| e["name"] == "fanout.gap").collect();
    assert_eq!(gaps.len(), 1, "{wire:#?}");
    // 202 published; the queue kept the newest 4 (three deltas and the end): 198 lost.
    assert_eq!(gaps[0]["value"], json!({ "missed": 198 }));
    let text = report["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .unwrap();
    assert_eq!(text["content"], "xxx");
    assert_eq!(types(&report, "wire").last().unwrap(), "RUN_FINISHED");
}
