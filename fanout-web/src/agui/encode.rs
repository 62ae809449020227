//! [`AguiEncoder`]: how one run's events become AG-UI events, and [`AgentRunEncoder`], the
//! encoder of [`fanout::agent::AgentEvent`].

use fanout::agent::{AgentEvent, RunId};
use serde_json::json;

use super::types::{AguiEvent, Outcome, Role, RunAgentInput, TokenUsage};

/// Turns the events of one run into AG-UI events, for the stream of `POST /agui`. One encoder
/// per run stream; it sees every event of the run's key (and the unkeyed ones of its topics),
/// in order, and keeps whatever state the protocol's sequencing needs (which message or tool
/// call is open), so that the client's sequence verification accepts the stream whatever it
/// lost.
pub trait AguiEncoder<E>: Send + 'static {
    /// Encodes `event` into `out` (nothing, if it is not this run's).
    fn event(&mut self, event: &E, out: &mut Vec<AguiEvent>);

    /// The stream lost `missed` of the key's events for good (default: a `CUSTOM` event named
    /// `fanout.gap` with `{"missed": n}`).
    fn gap(&mut self, missed: u64, out: &mut Vec<AguiEvent>) {
        out.push(AguiEvent::Custom {
            name: "fanout.gap".into(),
            value: json!({ "missed": missed }),
            timestamp: None,
        });
    }

    /// Whether the run's terminal event was encoded: the stream ends after it.
    fn is_done(&self) -> bool;

    /// The stream ends before the run did (the bus closed, the subscriber was cut off):
    /// `reason` says why; write the events that close the run for the client (a `RUN_ERROR`).
    fn abort(&mut self, reason: &str, out: &mut Vec<AguiEvent>);
}

/// The AG-UI encoder of one run of [`AgentEvent`]s.
///
/// | `AgentEvent` | AG-UI |
/// |---|---|
/// | `RunStarted` | `RUN_STARTED` (the client's `threadId`/`runId`) and `STATE_SNAPSHOT` |
/// | `ModelStarted` / `ModelFinished` | `STEP_STARTED` / `STEP_FINISHED` `"model call <iteration>"` |
/// | `TextDelta` | `TEXT_MESSAGE_START` (first of a message), `TEXT_MESSAGE_CONTENT` |
/// | `ToolStarted`, `ToolArgsDelta`, `ToolFinished` | `TOOL_CALL_START`, `TOOL_CALL_ARGS`, `TOOL_CALL_END` and `TOOL_CALL_RESULT` |
/// | `TokenUsage` | `STATE_DELTA` of the run's token and cost totals; summed into `RUN_FINISHED.usage` |
/// | `RunCompleted` | `RUN_FINISHED` `{"type":"success"}` |
/// | `RunCancelled` | `CUSTOM` `run_cancelled` (the reason), `RUN_FINISHED` `{"type":"cancelled"}` |
/// | `RunFailed` | `RUN_ERROR` (the error summary, code `run_failed`) |
/// | other events of the run | `CUSTOM`, named by the event's kind, its JSON as the value |
///
/// A text message or tool call still open when another begins, a step ends or the run ends is
/// closed first, so the stream always passes the client's sequence verification.
///
/// # Ids the vocabulary lacks
///
/// AG-UI names every text message, and a tool result is a message; `AgentEvent` has no message
/// id on `TextDelta`. The encoder derives them from the run and the order of the stream, the
/// same for every client of the run: the `n`-th text message of a run is
/// `"<runId>/text/<n>"`, the result of tool call `c` is `"<runId>/tool/<c>"`; the step of a
/// model call is named by its iteration (`ModelFinished` has none: it closes the open step).
/// A tool call's arguments streamed before its `ToolStarted` are held until it (or its
/// `ToolFinished`, which names the tool too) arrives.
///
/// # Examples
///
/// ```
/// use fanout::agent::{AgentEvent, AgentId, RunId, SessionId};
/// use fanout_web::agui::{AgentRunEncoder, AguiEncoder, AguiEvent};
///
/// let (session, run) = (SessionId::new(), RunId::new());
/// let mut encoder = AgentRunEncoder::new("thread-1", "run-1", run);
/// let mut out = Vec::new();
/// encoder.event(&AgentEvent::text_delta(session, run, "Hi"), &mut out);
/// encoder.event(&AgentEvent::text_delta(session, RunId::new(), "another run"), &mut out);
/// encoder.event(&AgentEvent::run_completed(session, run, 1), &mut out);
/// let types: Vec<String> = out.iter()
///     .map(|e| serde_json::to_value(e).unwrap()["type"].as_str().unwrap().to_owned())
///     .collect();
/// assert_eq!(types, ["RUN_STARTED", "STATE_SNAPSHOT", "TEXT_MESSAGE_START",
///     "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "RUN_FINISHED"]);
/// assert!(encoder.is_done());
/// ```
#[derive(Debug)]
pub struct AgentRunEncoder {
    thread_id: String,
    run_id: String,
    run: RunId,
    started: bool,
    done: bool,
    texts: u32,
    text: Option<String>,
    last_text: Option<String>,
    step: Option<String>,
    tool: Option<String>,
    held_args: Vec<(String, String)>,
    usage: Vec<TokenUsage>,
    cost_usd: f64,
}

impl AgentRunEncoder {
    /// The encoder of `run`, reported to the client as its `thread_id` and `run_id`.
    pub fn new(thread_id: impl Into<String>, run_id: impl Into<String>, run: RunId) -> Self {
        AgentRunEncoder {
            thread_id: thread_id.into(),
            run_id: run_id.into(),
            run,
            started: false,
            done: false,
            texts: 0,
            text: None,
            last_text: None,
            step: None,
            tool: None,
            held_args: Vec::new(),
            usage: Vec::new(),
            cost_usd: 0.0,
        }
    }

    /// The encoder of `run` for the client's `input` (its `threadId` and `runId`).
    pub fn for_input(input: &RunAgentInput, run: RunId) -> Self {
        AgentRunEncoder::new(input.thread_id.clone(), input.run_id.clone(), run)
    }

    fn start(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        if !self.started {
            self.started = true;
            out.push(AguiEvent::RunStarted {
                thread_id: self.thread_id.clone(),
                run_id: self.run_id.clone(),
                timestamp: ts,
            });
            out.push(AguiEvent::StateSnapshot {
                snapshot: json!({ "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0 }),
                timestamp: ts,
            });
        }
    }

    fn close_text(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        if let Some(message_id) = self.text.take() {
            out.push(AguiEvent::TextMessageEnd {
                message_id,
                timestamp: ts,
            });
        }
    }

    fn close_tool(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        if let Some(tool_call_id) = self.tool.take() {
            out.push(AguiEvent::ToolCallEnd {
                tool_call_id,
                timestamp: ts,
            });
        }
    }

    fn close_step(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        if let Some(step_name) = self.step.take() {
            out.push(AguiEvent::StepFinished {
                step_name,
                timestamp: ts,
            });
        }
    }

    fn close_all(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        self.close_text(ts, out);
        self.close_tool(ts, out);
        self.close_step(ts, out);
    }

    /// Opens tool call `call` (closing whatever is open), with the arguments held for it.
    fn open_tool(&mut self, call: &str, name: &str, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        self.close_text(ts, out);
        self.close_tool(ts, out);
        out.push(AguiEvent::ToolCallStart {
            tool_call_id: call.to_owned(),
            tool_call_name: name.to_owned(),
            parent_message_id: self.last_text.clone(),
            timestamp: ts,
        });
        self.tool = Some(call.to_owned());
        let held = std::mem::take(&mut self.held_args);
        let (mine, others): (Vec<_>, Vec<_>) = held.into_iter().partition(|(c, _)| c == call);
        self.held_args = others;
        for (_, delta) in mine {
            out.push(AguiEvent::ToolCallArgs {
                tool_call_id: call.to_owned(),
                delta,
                timestamp: ts,
            });
        }
    }

    fn custom(&self, event: &AgentEvent, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        out.push(AguiEvent::Custom {
            name: event.kind().to_owned(),
            value: serde_json::to_value(event)
                .unwrap_or_else(|err| json!({ "error": err.to_string() })),
            timestamp: ts,
        });
    }

    fn usage_of(&mut self, model: &str, input: u64, output: u64) {
        let entry = match self
            .usage
            .iter_mut()
            .find(|u| u.model.as_deref() == Some(model))
        {
            Some(entry) => entry,
            None => {
                self.usage.push(TokenUsage {
                    model: Some(model.to_owned()),
                    ..TokenUsage::default()
                });
                self.usage.last_mut().expect("just pushed")
            }
        };
        let add =
            |slot: &mut Option<u64>, n: u64| *slot = Some(slot.unwrap_or(0).saturating_add(n));
        add(&mut entry.input_tokens, input);
        add(&mut entry.output_tokens, output);
        add(&mut entry.total_tokens, input.saturating_add(output));
    }
}

impl AguiEncoder<AgentEvent> for AgentRunEncoder {
    fn event(&mut self, event: &AgentEvent, out: &mut Vec<AguiEvent>) {
        if self.done || event.run_id() != Some(self.run) {
            return;
        }
        let ts = Some(event.timestamp_ms());
        self.start(ts, out);
        match event {
            AgentEvent::RunStarted { .. } => {}
            AgentEvent::ModelStarted { iteration, .. } => {
                self.close_all(ts, out);
                let step_name = format!("model call {iteration}");
                self.step = Some(step_name.clone());
                out.push(AguiEvent::StepStarted {
                    step_name,
                    timestamp: ts,
                });
            }
            AgentEvent::ModelFinished { .. } => {
                self.close_text(ts, out);
                self.close_tool(ts, out);
                self.close_step(ts, out);
            }
            AgentEvent::TextDelta { text, .. } => {
                if text.is_empty() {
                    return;
                }
                if self.text.is_none() {
                    self.close_tool(ts, out);
                    self.texts += 1;
                    let message_id = format!("{}/text/{}", self.run_id, self.texts);
                    self.text = Some(message_id.clone());
                    self.last_text = Some(message_id.clone());
                    out.push(AguiEvent::TextMessageStart {
                        message_id,
                        role: Some(Role::Assistant),
                        timestamp: ts,
                    });
                }
                out.push(AguiEvent::TextMessageContent {
                    message_id: self.text.clone().expect("opened above"),
                    delta: text.clone(),
                    timestamp: ts,
                });
            }
            AgentEvent::ToolStarted { call_id, tool, .. } => {
                self.open_tool(call_id, tool, ts, out);
            }
            AgentEvent::ToolArgsDelta { call_id, text, .. } => {
                if self.tool.as_deref() == Some(call_id.as_str()) {
                    out.push(AguiEvent::ToolCallArgs {
                        tool_call_id: call_id.clone(),
                        delta: text.clone(),
                        timestamp: ts,
                    });
                } else {
                    self.held_args.push((call_id.clone(), text.clone()));
                }
            }
            AgentEvent::ToolFinished {
                call_id,
                tool,
                success,
                duration_ms,
                ..
            } => {
                if self.tool.as_deref() != Some(call_id.as_str()) {
                    self.open_tool(call_id, tool, ts, out);
                }
                self.close_tool(ts, out);
                out.push(AguiEvent::ToolCallResult {
                    message_id: format!("{}/tool/{call_id}", self.run_id),
                    tool_call_id: call_id.clone(),
                    content: json!({ "success": success, "duration_ms": duration_ms }).to_string(),
                    role: Some(Role::Tool),
                    timestamp: ts,
                });
            }
            AgentEvent::TokenUsage {
                model,
                input_tokens,
                output_tokens,
                cost_usd,
                ..
            } => {
                self.usage_of(model, *input_tokens, *output_tokens);
                if cost_usd.is_finite() {
                    self.cost_usd += cost_usd;
                }
                let (input, output) = self.usage.iter().fold((0u64, 0u64), |(i, o), u| {
                    (
                        i + u.input_tokens.unwrap_or(0),
                        o + u.output_tokens.unwrap_or(0),
                    )
                });
                out.push(AguiEvent::StateDelta {
                    delta: vec![
                        json!({ "op": "replace", "path": "/input_tokens", "value": input }),
                        json!({ "op": "replace", "path": "/output_tokens", "value": output }),
                        json!({ "op": "replace", "path": "/cost_usd", "value": self.cost_usd }),
                    ],
                    timestamp: ts,
                });
            }
            AgentEvent::RunCompleted { .. } | AgentEvent::RunCancelled { .. } => {
                self.close_all(ts, out);
                let outcome = if let AgentEvent::RunCancelled { reason, .. } = event {
                    out.push(AguiEvent::Custom {
                        name: "run_cancelled".into(),
                        value: json!({ "reason": reason }),
                        timestamp: ts,
                    });
                    Outcome::Cancelled
                } else {
                    Outcome::Success {
                        pending_tool_call_ids: None,
                    }
                };
                out.push(AguiEvent::RunFinished {
                    thread_id: self.thread_id.clone(),
                    run_id: self.run_id.clone(),
                    result: None,
                    outcome: Some(outcome),
                    usage: (!self.usage.is_empty()).then(|| self.usage.clone()),
                    timestamp: ts,
                });
                self.done = true;
            }
            AgentEvent::RunFailed { error, .. } => {
                self.close_all(ts, out);
                out.push(AguiEvent::RunError {
                    message: error.clone(),
                    code: Some("run_failed".into()),
                    timestamp: ts,
                });
                self.done = true;
            }
            other => self.custom(other, ts, out),
        }
    }

    fn gap(&mut self, missed: u64, out: &mut Vec<AguiEvent>) {
        if self.done {
            return;
        }
        self.start(None, out);
        out.push(AguiEvent::Custom {
            name: "fanout.gap".into(),
            value: json!({ "missed": missed }),
            timestamp: None,
        });
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn abort(&mut self, reason: &str, out: &mut Vec<AguiEvent>) {
        if self.done {
            return;
        }
        self.start(None, out);
        self.close_all(None, out);
        out.push(AguiEvent::RunError {
            message: reason.to_owned(),
            code: Some("stream_ended".into()),
            timestamp: None,
        });
        self.done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanout::agent::{AgentId, SessionId};

    /// The sequencing rules `@ag-ui/client` verifies (its `verifyEvents`): RUN_STARTED first and
    /// once; content only inside an open message or tool call; no second START of an open one;
    /// a STEP_FINISHED only for an open step; nothing open at RUN_FINISHED; nothing after the end.
    /// And (the client does not check it, a UI needs it) a TOOL_CALL_RESULT names a call that
    /// was started and ended.
    fn verify(events: &[AguiEvent]) -> Result<(), String> {
        use std::collections::HashSet;
        let (mut started, mut ended) = (false, false);
        let (mut texts, mut tools, mut steps) = (HashSet::new(), HashSet::new(), HashSet::new());
        let mut ended_calls = HashSet::new();
        for (i, event) in events.iter().enumerate() {
            let at = |what: &str| format!("event {i} ({event:?}): {what}");
            if ended {
                return Err(at("after the run ended"));
            }
            if !started && !matches!(event, AguiEvent::RunStarted { .. }) {
                return Err(at("before RUN_STARTED"));
            }
            match event {
                AguiEvent::RunStarted { .. } if started => return Err(at("a second RUN_STARTED")),
                AguiEvent::RunStarted { .. } => started = true,
                AguiEvent::TextMessageStart { message_id, .. } if !texts.insert(message_id) => {
                    return Err(at("already open"))
                }
                AguiEvent::TextMessageContent { message_id, .. } if !texts.contains(message_id) => {
                    return Err(at("no open message"))
                }
                AguiEvent::TextMessageEnd { message_id, .. } if !texts.remove(message_id) => {
                    return Err(at("no open message"))
                }
                AguiEvent::ToolCallStart { tool_call_id, .. } if !tools.insert(tool_call_id) => {
                    return Err(at("already open"))
                }
                AguiEvent::ToolCallArgs { tool_call_id, .. } if !tools.contains(tool_call_id) => {
                    return Err(at("no open tool call"))
                }
                AguiEvent::ToolCallEnd { tool_call_id, .. } => {
                    if !tools.remove(tool_call_id) {
                        return Err(at("no open tool call"));
                    }
                    ended_calls.insert(tool_call_id);
                }
                AguiEvent::ToolCallResult { tool_call_id, .. }
                    if !ended_calls.contains(tool_call_id) =>
                {
                    return Err(at("a result of a call never started and ended"))
                }
                AguiEvent::StepStarted { step_name, .. } if !steps.insert(step_name) => {
                    return Err(at("step already open"))
                }
                AguiEvent::StepFinished { step_name, .. } if !steps.remove(step_name) => {
                    return Err(at("step not open"))
                }
                AguiEvent::RunFinished { .. } => {
                    if !(texts.is_empty() && tools.is_empty() && steps.is_empty()) {
                        return Err(at("something still open"));
                    }
                    ended = true;
                }
                AguiEvent::RunError { .. } => ended = true,
                _ => {}
            }
        }
        Ok(())
    }

    fn encode(events: &[AgentEvent], run: RunId) -> Vec<AguiEvent> {
        let mut encoder = AgentRunEncoder::new("t", "r", run);
        let mut out = Vec::new();
        for event in events {
            encoder.event(event, &mut out);
        }
        out
    }

    #[test]
    fn whatever_the_stream_lost_the_encoding_stays_valid() {
        let (s, run) = (SessionId::new(), RunId::new());
        let ts = 0;
        let m = || "m".to_string();
        let all = vec![
            AgentEvent::RunStarted {
                session: s,
                run,
                agent: AgentId::new(),
                model: m(),
                timestamp_ms: ts,
            },
            AgentEvent::ModelStarted {
                session: s,
                run,
                model: m(),
                iteration: 1,
                timestamp_ms: ts,
            },
            AgentEvent::text_delta(s, run, "a"),
            AgentEvent::text_delta(s, run, ""),
            AgentEvent::ModelFinished {
                session: s,
                run,
                model: m(),
                duration_ms: 1,
                timestamp_ms: ts,
            },
            AgentEvent::ToolStarted {
                session: s,
                run,
                call_id: "c".into(),
                tool: "grep".into(),
                timestamp_ms: ts,
            },
            AgentEvent::ToolArgsDelta {
                session: s,
                run,
                call_id: "c".into(),
                text: "{}".into(),
                timestamp_ms: ts,
            },
            AgentEvent::ToolFinished {
                session: s,
                run,
                call_id: "c".into(),
                tool: "grep".into(),
                success: true,
                duration_ms: 1,
                timestamp_ms: ts,
            },
            AgentEvent::ModelStarted {
                session: s,
                run,
                model: m(),
                iteration: 2,
                timestamp_ms: ts,
            },
            AgentEvent::text_delta(s, run, "b"),
            AgentEvent::ToolArgsDelta {
                session: s,
                run,
                call_id: "d".into(),
                text: "{\"x\"".into(),
                timestamp_ms: ts,
            },
            AgentEvent::ToolStarted {
                session: s,
                run,
                call_id: "d".into(),
                tool: "read".into(),
                timestamp_ms: ts,
            },
            AgentEvent::text_delta(s, run, "c"),
            AgentEvent::ModelStarted {
                session: s,
                run,
                model: m(),
                iteration: 3,
                timestamp_ms: ts,
            },
            AgentEvent::run_completed(s, run, 3),
        ];
        // Every subsequence that drops one run of consecutive events (a gap), and the whole.
        for from in 0..all.len() {
            for to in from..=all.len() {
                let kept: Vec<AgentEvent> = all[..from].iter().chain(&all[to..]).cloned().collect();
                let out = encode(&kept, run);
                verify(&out).unwrap_or_else(|e| panic!("dropping {from}..{to}: {e}\n{out:#?}"));
                let done = kept.last().is_some_and(AgentEvent::is_terminal);
                assert_eq!(
                    matches!(out.last(), Some(AguiEvent::RunFinished { .. })),
                    done,
                    "dropping {from}..{to}"
                );
            }
        }
        let out = encode(&all, run);
        let args: String = out
            .iter()
            .filter_map(|e| match e {
                AguiEvent::ToolCallArgs {
                    tool_call_id,
                    delta,
                    ..
                } if tool_call_id == "d" => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            args, "{\"x\"",
            "arguments streamed before their ToolStarted are held for it"
        );
    }

    #[test]
    fn an_aborted_stream_closes_what_is_open_and_ends_in_run_error() {
        let (s, run) = (SessionId::new(), RunId::new());
        let mut encoder = AgentRunEncoder::new("t", "r", run);
        let mut out = Vec::new();
        encoder.event(&AgentEvent::text_delta(s, run, "half a sen"), &mut out);
        encoder.gap(3, &mut out);
        encoder.abort("the bus closed", &mut out);
        verify(&out).unwrap();
        assert!(
            matches!(out.last(), Some(AguiEvent::RunError { message, .. }) if message == "the bus closed")
        );
        assert!(encoder.is_done());
        // A stream that ends before the run started still starts and ends it.
        let mut encoder = AgentRunEncoder::new("t", "r", run);
        let mut out = Vec::new();
        encoder.abort("cut off", &mut out);
        verify(&out).unwrap();
        assert_eq!(
            out.len(),
            3,
            "RUN_STARTED, STATE_SNAPSHOT, RUN_ERROR: {out:?}"
        );
    }
}
