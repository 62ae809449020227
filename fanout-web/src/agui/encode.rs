//! [`AguiEncoder`]: how one run's events become AG-UI events, and [`AgentRunEncoder`], the
//! encoder of [`fanout::agent::AgentEvent`].

use std::collections::HashSet;

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
/// | `ReasoningDelta` | `REASONING_START` and `REASONING_MESSAGE_START` (first of a message), `REASONING_MESSAGE_CONTENT` |
/// | `ModelToolCallStarted`, `ToolArgsDelta`, `ModelToolCallCompleted` | `TOOL_CALL_START`, `TOOL_CALL_ARGS`, `TOOL_CALL_END` (the model's side of a call) |
/// | `ToolStarted`, `ToolFinished` | `TOOL_CALL_START` and `TOOL_CALL_END` if the model's side was not streamed; `TOOL_CALL_RESULT` |
/// | `TokenUsage` | `STATE_DELTA` of the run's token and cost totals; summed into `RUN_FINISHED.usage` |
/// | `ModelFinished` token counts | summed into `RUN_FINISHED.usage` when the run has no `TokenUsage` (so a call is never counted twice) |
/// | `RunCompleted` | `RUN_FINISHED` `{"type":"success"}` |
/// | `RunCancelled` | `CUSTOM` `run_cancelled` (the reason), `RUN_FINISHED` `{"type":"cancelled"}` |
/// | `RunFailed` | `RUN_ERROR` (the error summary, code `run_failed`) |
/// | other events of the run | `CUSTOM`, named by the event's kind, its JSON as the value |
///
/// A text or reasoning message or tool call still open when another begins, a step ends or the
/// run ends is closed first, so the stream always passes the client's sequence verification.
///
/// # Ids
///
/// AG-UI names every text message, and a tool result is a message. The host's ids are used
/// where its events carry them: a `TextDelta`'s or `ReasoningDelta`'s `message_id` names the
/// message (a new id starts a new message), a tool call's `parent_message_id` is its
/// `parentMessageId`, a `ToolFinished`'s `output` (or `error`) is the result's `content`. Where
/// they do not, the encoder derives them from the run and the order of the stream, the same for
/// every client of the run: the `n`-th text message of a run is `"<runId>/text/<n>"`, its `n`-th
/// reasoning message `"<runId>/reasoning/<n>"`, a tool call's parent is the last text message,
/// the result of tool call `c` is `"<runId>/tool/<c>"` (the vocabulary has no id for it) and its
/// content `{"success":…,"duration_ms":…}`. The step of a model call is named by its iteration;
/// a `ModelFinished` whose `ModelStarted` was lost (and so no step is open) still reports its
/// step, started and finished at once, when it names its iteration. A tool call's arguments
/// streamed before the event that opens it are held until it arrives.
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
    reasonings: u32,
    reasoning: Option<String>,
    ended_calls: HashSet<String>,
    step: Option<String>,
    tool: Option<String>,
    held_args: Vec<(String, String)>,
    usage: Vec<TokenUsage>,
    model_usage: Vec<TokenUsage>,
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
            reasonings: 0,
            reasoning: None,
            ended_calls: HashSet::new(),
            step: None,
            tool: None,
            held_args: Vec::new(),
            usage: Vec::new(),
            model_usage: Vec::new(),
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

    fn close_reasoning(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        if let Some(message_id) = self.reasoning.take() {
            out.push(AguiEvent::ReasoningMessageEnd {
                message_id: message_id.clone(),
                timestamp: ts,
            });
            out.push(AguiEvent::ReasoningEnd {
                message_id,
                timestamp: ts,
            });
        }
    }

    fn close_tool(&mut self, ts: Option<u64>, out: &mut Vec<AguiEvent>) {
        if let Some(tool_call_id) = self.tool.take() {
            self.ended_calls.insert(tool_call_id.clone());
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
        self.close_reasoning(ts, out);
        self.close_text(ts, out);
        self.close_tool(ts, out);
        self.close_step(ts, out);
    }

    /// Opens tool call `call` (closing whatever is open), with the arguments held for it.
    fn open_tool(
        &mut self,
        call: &str,
        name: &str,
        parent: Option<&String>,
        ts: Option<u64>,
        out: &mut Vec<AguiEvent>,
    ) {
        self.close_reasoning(ts, out);
        self.close_text(ts, out);
        self.close_tool(ts, out);
        out.push(AguiEvent::ToolCallStart {
            tool_call_id: call.to_owned(),
            tool_call_name: name.to_owned(),
            parent_message_id: parent.or(self.last_text.as_ref()).cloned(),
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

    fn usage_of(usage: &mut Vec<TokenUsage>, model: &str, input: u64, output: u64) {
        let entry = match usage.iter_mut().find(|u| u.model.as_deref() == Some(model)) {
            Some(entry) => entry,
            None => {
                usage.push(TokenUsage {
                    model: Some(model.to_owned()),
                    ..TokenUsage::default()
                });
                usage.last_mut().expect("just pushed")
            }
        };
        let add =
            |slot: &mut Option<u64>, n: u64| *slot = Some(slot.unwrap_or(0).saturating_add(n));
        add(&mut entry.input_tokens, input);
        add(&mut entry.output_tokens, output);
        add(&mut entry.total_tokens, input.saturating_add(output));
    }
}

impl AgentRunEncoder {
    /// `RUN_FINISHED.usage`: the `TokenUsage` totals, or, if the run had none, the counts its
    /// `ModelFinished` events carried.
    fn run_usage(&self) -> Option<Vec<TokenUsage>> {
        [&self.usage, &self.model_usage]
            .into_iter()
            .find(|usage| !usage.is_empty())
            .cloned()
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
            AgentEvent::ModelFinished {
                model,
                iteration,
                input_tokens,
                output_tokens,
                ..
            } => {
                self.close_reasoning(ts, out);
                self.close_text(ts, out);
                self.close_tool(ts, out);
                if self.step.is_none() {
                    // Its ModelStarted was lost: the step is still reported, if it is named.
                    if let Some(iteration) = iteration {
                        let step_name = format!("model call {iteration}");
                        out.push(AguiEvent::StepStarted {
                            step_name: step_name.clone(),
                            timestamp: ts,
                        });
                        self.step = Some(step_name);
                    }
                }
                self.close_step(ts, out);
                if input_tokens.is_some() || output_tokens.is_some() {
                    Self::usage_of(
                        &mut self.model_usage,
                        model,
                        input_tokens.unwrap_or(0),
                        output_tokens.unwrap_or(0),
                    );
                }
            }
            AgentEvent::TextDelta {
                text, message_id, ..
            } => {
                if text.is_empty() {
                    return;
                }
                if message_id.is_some() && self.text.is_some() && self.text != *message_id {
                    self.close_text(ts, out); // the host started another message
                }
                if self.text.is_none() {
                    self.close_reasoning(ts, out);
                    self.close_tool(ts, out);
                    self.texts += 1;
                    let message_id = message_id
                        .clone()
                        .unwrap_or_else(|| format!("{}/text/{}", self.run_id, self.texts));
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
            AgentEvent::ReasoningDelta {
                text, message_id, ..
            } => {
                if text.is_empty() {
                    return;
                }
                if message_id.is_some() && self.reasoning.is_some() && self.reasoning != *message_id
                {
                    self.close_reasoning(ts, out);
                }
                if self.reasoning.is_none() {
                    self.close_text(ts, out);
                    self.close_tool(ts, out);
                    self.reasonings += 1;
                    let message_id = message_id.clone().unwrap_or_else(|| {
                        format!("{}/reasoning/{}", self.run_id, self.reasonings)
                    });
                    self.reasoning = Some(message_id.clone());
                    out.push(AguiEvent::ReasoningStart {
                        message_id: message_id.clone(),
                        timestamp: ts,
                    });
                    out.push(AguiEvent::ReasoningMessageStart {
                        message_id,
                        role: Role::Reasoning,
                        timestamp: ts,
                    });
                }
                out.push(AguiEvent::ReasoningMessageContent {
                    message_id: self.reasoning.clone().expect("opened above"),
                    delta: text.clone(),
                    timestamp: ts,
                });
            }
            AgentEvent::ModelToolCallStarted {
                call_id,
                tool,
                parent_message_id,
                ..
            } => {
                if self.tool.as_deref() != Some(call_id.as_str())
                    && !self.ended_calls.contains(call_id)
                {
                    self.open_tool(call_id, tool, parent_message_id.as_ref(), ts, out);
                }
            }
            AgentEvent::ModelToolCallCompleted {
                call_id,
                tool,
                arguments,
                ..
            } => {
                if self.ended_calls.contains(call_id) {
                    return;
                }
                if self.tool.as_deref() != Some(call_id.as_str()) {
                    // Its start was lost: the complete arguments stand for what was streamed.
                    self.held_args.retain(|(c, _)| c != call_id);
                    self.open_tool(call_id, tool, None, ts, out);
                    if !arguments.is_empty() {
                        out.push(AguiEvent::ToolCallArgs {
                            tool_call_id: call_id.clone(),
                            delta: arguments.clone(),
                            timestamp: ts,
                        });
                    }
                }
                self.close_tool(ts, out);
            }
            AgentEvent::ToolStarted {
                call_id,
                tool,
                parent_message_id,
                ..
            } => {
                if self.tool.as_deref() != Some(call_id.as_str())
                    && !self.ended_calls.contains(call_id)
                {
                    self.open_tool(call_id, tool, parent_message_id.as_ref(), ts, out);
                }
            }
            AgentEvent::ToolArgsDelta { call_id, text, .. } => {
                if self.tool.as_deref() == Some(call_id.as_str()) {
                    out.push(AguiEvent::ToolCallArgs {
                        tool_call_id: call_id.clone(),
                        delta: text.clone(),
                        timestamp: ts,
                    });
                } else if !self.ended_calls.contains(call_id) {
                    self.held_args.push((call_id.clone(), text.clone()));
                }
            }
            AgentEvent::ToolFinished {
                call_id,
                tool,
                success,
                duration_ms,
                output,
                error,
                ..
            } => {
                if self.tool.as_deref() != Some(call_id.as_str())
                    && !self.ended_calls.contains(call_id)
                {
                    self.open_tool(call_id, tool, None, ts, out);
                }
                if self.tool.as_deref() == Some(call_id.as_str()) {
                    self.close_tool(ts, out);
                }
                let content = match (output, error) {
                    (Some(serde_json::Value::String(text)), _) => text.clone(),
                    (Some(value), _) => value.to_string(),
                    (None, Some(error)) => {
                        json!({ "success": success, "duration_ms": duration_ms, "error": error })
                            .to_string()
                    }
                    (None, None) => {
                        json!({ "success": success, "duration_ms": duration_ms }).to_string()
                    }
                };
                out.push(AguiEvent::ToolCallResult {
                    message_id: format!("{}/tool/{call_id}", self.run_id),
                    tool_call_id: call_id.clone(),
                    content,
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
                Self::usage_of(&mut self.usage, model, *input_tokens, *output_tokens);
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
                    usage: self.run_usage(),
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
        let (mut spans, mut thoughts) = (HashSet::new(), HashSet::new());
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
                    if !(texts.is_empty()
                        && tools.is_empty()
                        && steps.is_empty()
                        && spans.is_empty()
                        && thoughts.is_empty())
                    {
                        return Err(at("something still open"));
                    }
                    ended = true;
                }
                AguiEvent::ReasoningStart { message_id, .. } if !spans.insert(message_id) => {
                    return Err(at("reasoning span already open"))
                }
                AguiEvent::ReasoningEnd { message_id, .. } if !spans.remove(message_id) => {
                    return Err(at("no open reasoning span"))
                }
                AguiEvent::ReasoningMessageStart { message_id, .. }
                    if !thoughts.insert(message_id) =>
                {
                    return Err(at("reasoning message already open"))
                }
                AguiEvent::ReasoningMessageContent { message_id, .. }
                    if !thoughts.contains(message_id) =>
                {
                    return Err(at("no open reasoning message"))
                }
                AguiEvent::ReasoningMessageEnd { message_id, .. }
                    if !thoughts.remove(message_id) =>
                {
                    return Err(at("no open reasoning message"))
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
                session: Some(s),
                run,
                agent: AgentId::new(),
                model: m(),
                timestamp_ms: ts,
            },
            AgentEvent::ModelStarted {
                session: Some(s),
                run: Some(run),
                model: m(),
                iteration: 1,
                request_id: None,
                timestamp_ms: ts,
            },
            wire(run, json!({"type": "reasoning_delta", "text": "hmm"})),
            AgentEvent::text_delta(s, run, "a"),
            wire(
                run,
                json!({"type": "reasoning_delta", "message_id": "t2", "text": "so"}),
            ),
            AgentEvent::text_delta(s, run, ""),
            wire(
                run,
                json!({"type": "model_tool_call_started", "call_id": "e", "tool": "ls"}),
            ),
            wire(
                run,
                json!({"type": "tool_args_delta", "call_id": "e", "text": "{}"}),
            ),
            wire(
                run,
                json!({"type": "model_tool_call_completed", "call_id": "e", "tool": "ls",
                "arguments": "{}"}),
            ),
            wire(
                run,
                json!({"type": "tool_started", "call_id": "e", "tool": "ls"}),
            ),
            wire(
                run,
                json!({"type": "tool_finished", "call_id": "e", "tool": "ls",
                "success": true, "duration_ms": 1, "output": "a b"}),
            ),
            AgentEvent::ModelFinished {
                session: Some(s),
                run: Some(run),
                model: m(),
                duration_ms: 1,
                iteration: None,
                request_id: None,
                finish_reason: None,
                input_tokens: None,
                output_tokens: None,
                timestamp_ms: ts,
            },
            AgentEvent::ToolStarted {
                session: Some(s),
                run: Some(run),
                call_id: "c".into(),
                tool: "grep".into(),
                iteration: None,
                parent_message_id: None,
                timestamp_ms: ts,
            },
            AgentEvent::ToolArgsDelta {
                session: Some(s),
                run: Some(run),
                call_id: "c".into(),
                text: "{}".into(),
                timestamp_ms: ts,
            },
            AgentEvent::ToolFinished {
                session: Some(s),
                run: Some(run),
                call_id: "c".into(),
                tool: "grep".into(),
                success: true,
                duration_ms: 1,
                iteration: None,
                output: None,
                error: None,
                timestamp_ms: ts,
            },
            AgentEvent::ModelStarted {
                session: Some(s),
                run: Some(run),
                model: m(),
                iteration: 2,
                request_id: None,
                timestamp_ms: ts,
            },
            AgentEvent::text_delta(s, run, "b"),
            AgentEvent::ToolArgsDelta {
                session: Some(s),
                run: Some(run),
                call_id: "d".into(),
                text: "{\"x\"".into(),
                timestamp_ms: ts,
            },
            AgentEvent::ToolStarted {
                session: Some(s),
                run: Some(run),
                call_id: "d".into(),
                tool: "read".into(),
                iteration: None,
                parent_message_id: None,
                timestamp_ms: ts,
            },
            AgentEvent::text_delta(s, run, "c"),
            AgentEvent::ModelStarted {
                session: Some(s),
                run: Some(run),
                model: m(),
                iteration: 3,
                request_id: None,
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

    /// An `AgentEvent` as a host writes it on the wire (so these tests read the same against a
    /// vocabulary without the fields they check: there, the event is refused or the field lost).
    fn wire(run: RunId, mut doc: serde_json::Value) -> AgentEvent {
        doc["run"] = json!(run.to_string());
        doc["timestamp_ms"] = json!(7);
        serde_json::from_value(doc).expect("an AgentEvent")
    }

    fn types(out: &[AguiEvent]) -> Vec<String> {
        out.iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn the_hosts_message_id_names_the_text_message() {
        let run = RunId::new();
        let delta = |id: &str, text: &str| {
            wire(
                run,
                json!({"type": "text_delta", "message_id": id, "text": text}),
            )
        };
        let out = encode(
            &[
                delta("msg-7", "Hel"),
                delta("msg-7", "lo"),
                delta("msg-8", "Next"),
            ],
            run,
        );
        verify(&out).unwrap();
        let ids: Vec<(&str, &str)> = out
            .iter()
            .filter_map(|e| match e {
                AguiEvent::TextMessageStart { message_id, .. } => {
                    Some(("start", message_id.as_str()))
                }
                AguiEvent::TextMessageContent { message_id, .. } => {
                    Some(("content", message_id.as_str()))
                }
                AguiEvent::TextMessageEnd { message_id, .. } => Some(("end", message_id.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("start", "msg-7"),
                ("content", "msg-7"),
                ("content", "msg-7"),
                ("end", "msg-7"),
                ("start", "msg-8"),
                ("content", "msg-8"),
            ]
        );
    }

    #[test]
    fn a_tools_output_or_error_is_the_results_content_and_its_parent_is_the_hosts() {
        let run = RunId::new();
        let events = [
            wire(
                run,
                json!({"type": "text_delta", "message_id": "msg-1", "text": "Let me look"}),
            ),
            wire(
                run,
                json!({"type": "tool_started", "call_id": "c1", "tool": "read",
                "parent_message_id": "msg-0"}),
            ),
            wire(
                run,
                json!({"type": "tool_finished", "call_id": "c1", "tool": "read",
                "success": true, "duration_ms": 3, "output": "hello world"}),
            ),
            wire(
                run,
                json!({"type": "tool_finished", "call_id": "c2", "tool": "read",
                "success": true, "duration_ms": 3, "output": {"bytes": 5}}),
            ),
            wire(
                run,
                json!({"type": "tool_finished", "call_id": "c3", "tool": "read",
                "success": false, "duration_ms": 1, "error": "no such file"}),
            ),
        ];
        let out = encode(&events, run);
        verify(&out).unwrap();
        let parents: Vec<Option<&str>> = out
            .iter()
            .filter_map(|e| match e {
                AguiEvent::ToolCallStart {
                    parent_message_id, ..
                } => Some(parent_message_id.as_deref()),
                _ => None,
            })
            .collect();
        // The host's parent where it names one; the last text message where it does not.
        assert_eq!(parents, [Some("msg-0"), Some("msg-1"), Some("msg-1")]);
        let contents: Vec<serde_json::Value> = out
            .iter()
            .filter_map(|e| match e {
                AguiEvent::ToolCallResult { content, .. } => {
                    Some(serde_json::from_str(content).unwrap_or(json!(content)))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            contents,
            [
                json!("hello world"),
                json!({"bytes": 5}),
                json!({"success": false, "duration_ms": 1, "error": "no such file"}),
            ]
        );
    }

    #[test]
    fn reasoning_deltas_stream_as_a_reasoning_message() {
        let run = RunId::new();
        let events = [
            wire(
                run,
                json!({"type": "reasoning_delta", "text": "the user wants"}),
            ),
            wire(run, json!({"type": "reasoning_delta", "text": " a file"})),
            wire(run, json!({"type": "text_delta", "text": "Here"})),
            wire(
                run,
                json!({"type": "reasoning_delta", "message_id": "think-2", "text": "now"}),
            ),
            wire(run, json!({"type": "run_completed", "iterations": 1})),
        ];
        let out = encode(&events, run);
        verify(&out).unwrap();
        assert_eq!(
            types(&out),
            [
                "RUN_STARTED",
                "STATE_SNAPSHOT",
                "REASONING_START",
                "REASONING_MESSAGE_START",
                "REASONING_MESSAGE_CONTENT",
                "REASONING_MESSAGE_CONTENT",
                "REASONING_MESSAGE_END",
                "REASONING_END",
                "TEXT_MESSAGE_START",
                "TEXT_MESSAGE_CONTENT",
                "TEXT_MESSAGE_END",
                "REASONING_START",
                "REASONING_MESSAGE_START",
                "REASONING_MESSAGE_CONTENT",
                "REASONING_MESSAGE_END",
                "REASONING_END",
                "RUN_FINISHED",
            ]
        );
        assert!(
            matches!(&out[3], AguiEvent::ReasoningMessageStart { message_id, role: Role::Reasoning, .. }
            if message_id == "r/reasoning/1")
        );
        assert!(
            matches!(&out[12], AguiEvent::ReasoningMessageStart { message_id, .. } if message_id == "think-2")
        );
    }

    #[test]
    fn the_models_side_of_a_tool_call_opens_and_closes_it_once() {
        let run = RunId::new();
        let events = [
            wire(
                run,
                json!({"type": "model_tool_call_started", "call_id": "c1", "tool": "grep",
                "parent_message_id": "msg-1"}),
            ),
            wire(
                run,
                json!({"type": "tool_args_delta", "call_id": "c1", "text": "{\"q\":"}),
            ),
            wire(
                run,
                json!({"type": "tool_args_delta", "call_id": "c1", "text": "\"x\"}"}),
            ),
            wire(
                run,
                json!({"type": "model_tool_call_completed", "call_id": "c1", "tool": "grep",
                "arguments": "{\"q\":\"x\"}"}),
            ),
            wire(
                run,
                json!({"type": "tool_started", "call_id": "c1", "tool": "grep"}),
            ),
            wire(
                run,
                json!({"type": "tool_finished", "call_id": "c1", "tool": "grep",
                "success": true, "duration_ms": 2, "output": "3 matches"}),
            ),
            // A call whose start was lost: its complete arguments stand for the stream.
            wire(
                run,
                json!({"type": "tool_args_delta", "call_id": "c2", "text": "{\"q"}),
            ),
            wire(
                run,
                json!({"type": "model_tool_call_completed", "call_id": "c2", "tool": "grep",
                "arguments": "{\"q\":\"y\"}"}),
            ),
        ];
        let out = encode(&events, run);
        verify(&out).unwrap();
        assert_eq!(
            types(&out),
            [
                "RUN_STARTED",
                "STATE_SNAPSHOT",
                "TOOL_CALL_START",
                "TOOL_CALL_ARGS",
                "TOOL_CALL_ARGS",
                "TOOL_CALL_END",
                "TOOL_CALL_RESULT",
                "TOOL_CALL_START",
                "TOOL_CALL_ARGS",
                "TOOL_CALL_END",
            ]
        );
        assert!(
            matches!(&out[2], AguiEvent::ToolCallStart { parent_message_id: Some(p), .. } if p == "msg-1")
        );
        assert!(
            matches!(&out[8], AguiEvent::ToolCallArgs { delta, .. } if delta == "{\"q\":\"y\"}")
        );
    }

    #[test]
    fn model_finished_reports_its_step_and_its_tokens() {
        let run = RunId::new();
        let finished = |iteration: u32, input: u64| {
            wire(
                run,
                json!({"type": "model_finished", "model": "m", "duration_ms": 1,
                "iteration": iteration, "input_tokens": input, "output_tokens": 10}),
            )
        };
        let events = [
            // ModelStarted of call 1 lost to a gap: the step is still reported.
            finished(1, 100),
            wire(
                run,
                json!({"type": "model_started", "model": "m", "iteration": 2}),
            ),
            finished(2, 200),
            wire(run, json!({"type": "run_completed", "iterations": 2})),
        ];
        let out = encode(&events, run);
        verify(&out).unwrap();
        let steps: Vec<String> = out
            .iter()
            .filter_map(|e| match e {
                AguiEvent::StepStarted { step_name, .. } => Some(format!("start {step_name}")),
                AguiEvent::StepFinished { step_name, .. } => Some(format!("end {step_name}")),
                _ => None,
            })
            .collect();
        assert_eq!(
            steps,
            [
                "start model call 1",
                "end model call 1",
                "start model call 2",
                "end model call 2"
            ]
        );
        // No TokenUsage in this run: the usage is what its model calls counted.
        let Some(AguiEvent::RunFinished {
            usage: Some(usage), ..
        }) = out.last()
        else {
            panic!("{out:?}")
        };
        assert_eq!(
            usage,
            &[TokenUsage {
                model: Some("m".into()),
                input_tokens: Some(300),
                output_tokens: Some(20),
                total_tokens: Some(320),
                ..TokenUsage::default()
            }]
        );
    }
}
