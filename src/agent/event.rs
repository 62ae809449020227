//! [`AgentEvent`]: the vocabulary of an AI-agent runtime's bus.

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::topics;
use super::{summarize_error, AgentId, RunId, SessionId, ERROR_SUMMARY_MAX_CHARS};
use crate::{Event, Topic};

/// Milliseconds since the UNIX epoch, now (0 if the clock is before 1970).
///
/// # Examples
///
/// ```
/// assert!(fanout::agent::now_ms() > 1_600_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Where a session is, for [`AgentEvent::SessionStatusChanged`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionStatus {
    /// Waiting for the user.
    Idle,
    /// A run is in progress.
    Busy,
    /// A model or tool call failed and is being retried.
    Retrying,
    /// Blocked on a human approval.
    AwaitingApproval,
}

/// Who wrote a message, for [`AgentEvent::MessageCommitted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageRole {
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
    /// The host (system prompt, summaries).
    System,
}

/// An event of an AI-agent runtime: run lifecycle, model calls, streamed deltas, tool calls,
/// sessions, cost, agents, approvals, system signals, and a `Custom` escape hatch.
///
/// Every event carries a timestamp ([`timestamp_ms`](Self::timestamp_ms)) and the ids a
/// subscriber routes on ([`session_id`](Self::session_id), [`run_id`](Self::run_id),
/// [`agent_id`](Self::agent_id)), and maps to one of the [`topics`]. Serialized internally
/// tagged: `{"type":"text_delta","session":"…","run":"…","text":"Hel","timestamp_ms":…}`.
///
/// Events with user content (`TextDelta`, `ToolArgsDelta`, `Custom`) are on topics of their own,
/// so content-free subscribers (telemetry) leave them out by topic. For large payloads, publish
/// `Arc<AgentEvent>` (it is an [`Event`] too), so a fan-out to many subscribers clones a pointer.
///
/// # Examples
///
/// ```
/// use fanout::agent::{now_ms, topics, AgentEvent, RunId, SessionId};
/// use fanout::Event;
///
/// let (session, run) = (SessionId::new(), RunId::new());
/// let delta = AgentEvent::TextDelta { session: Some(session), run: Some(run), text: "Hel".into(), message_id: None, timestamp_ms: now_ms() };
/// assert_eq!(delta.topic(), topics::DELTA);
/// assert_eq!(delta.run_id(), Some(run));
/// assert!(!delta.is_terminal());
///
/// let done = AgentEvent::RunCompleted { session: Some(session), run, iterations: 3, finish_reason: None, timestamp_ms: now_ms() };
/// assert!(done.is_terminal());
/// let json = serde_json::to_string(&done).unwrap();
/// assert!(json.starts_with(r#"{"type":"run_completed""#));
/// assert_eq!(serde_json::from_str::<AgentEvent>(&json).unwrap(), done);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentEvent {
    // ---- run lifecycle (topic RUN) ----
    /// A run began.
    RunStarted {
        /// The session it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        run: RunId,
        /// The agent running it.
        agent: AgentId,
        /// The model it uses.
        model: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A run finished successfully (terminal).
    RunCompleted {
        /// The session it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        run: RunId,
        /// Model/tool iterations it took.
        iterations: u32,
        /// Why the model stopped, in the provider's or the host's words (`"stop"`,
        /// `"max_iterations"`, ...), if the host says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A run failed (terminal).
    RunFailed {
        /// The session it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        run: RunId,
        /// A bounded summary of the error (see [`AgentEvent::run_failed`]).
        error: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A run was cancelled (terminal).
    RunCancelled {
        /// The session it belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        run: RunId,
        /// Why (user stop, budget, shutdown).
        reason: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    /// A turn of the loop began (one model call and the tool calls it asks for).
    TurnStarted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The turn, from 1.
        turn: u32,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A turn of the loop ended.
    TurnFinished {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The turn, from 1.
        turn: u32,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- model calls (topic LLM) ----
    /// A model call began.
    ModelStarted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The model called.
        model: String,
        /// The loop iteration (a turn), from 1.
        iteration: u32,
        /// The provider's or the host's id of the request, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A model call returned.
    ModelFinished {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The model called.
        model: String,
        /// Wall time of the call, in milliseconds.
        duration_ms: u64,
        /// The loop iteration of the call (as in its `ModelStarted`), if the host says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iteration: Option<u32>,
        /// The provider's or the host's id of the request, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// Why the model stopped (`"stop"`, `"tool_calls"`, `"length"`, ...), if the host says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        finish_reason: Option<String>,
        /// Prompt tokens of the call, if the host counts them here (a `TokenUsage` event may
        /// carry them instead: count each call once).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input_tokens: Option<u64>,
        /// Completion tokens of the call, if the host counts them here.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_tokens: Option<u64>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- streaming (topic DELTA) ----
    /// A piece of the model's text, as streamed (one per token or chunk).
    TextDelta {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The message the text belongs to (the host's id of the assistant message), if it
        /// names one. A UI gateway starts a new message when it changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// The new text.
        text: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A piece of the model's reasoning (thinking) text, as streamed.
    ReasoningDelta {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The reasoning message the text belongs to, if the host names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
        /// The new text.
        text: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A piece of a tool call's arguments, as streamed.
    ToolArgsDelta {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The tool call the arguments belong to.
        call_id: String,
        /// The new argument text.
        text: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- tools (topic TOOL) ----
    /// The model began a tool call (its arguments follow as `ToolArgsDelta`s): the model's
    /// side of the call, before anything runs.
    ModelToolCallStarted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The tool call (matches `ToolArgsDelta`, `ModelToolCallCompleted`, `ToolStarted`...).
        call_id: String,
        /// The tool's name.
        tool: String,
        /// The assistant message the call is part of, if the host names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_message_id: Option<String>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// The model finished a tool call: its complete arguments, before the tool runs.
    ModelToolCallCompleted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The tool call.
        call_id: String,
        /// The tool's name.
        tool: String,
        /// The complete arguments, as the model wrote them (usually JSON).
        arguments: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A tool call was dispatched.
    ToolStarted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The tool call (matches `ToolFinished`).
        call_id: String,
        /// The tool's name.
        tool: String,
        /// The loop iteration (turn) it belongs to, if the host says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iteration: Option<u32>,
        /// The assistant message the call is part of, if the host names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_message_id: Option<String>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A tool call returned.
    ToolFinished {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The tool call (matches `ToolStarted`).
        call_id: String,
        /// The tool's name.
        tool: String,
        /// Whether it succeeded.
        success: bool,
        /// Wall time of the call, in milliseconds.
        duration_ms: u64,
        /// The loop iteration (turn) it belongs to, if the host says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iteration: Option<u32>,
        /// What the tool returned, if the host publishes it (user content: leave it out of
        /// events that go to content-free telemetry).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<serde_json::Value>,
        /// Why it failed, if it did and the host says (a bounded summary: see
        /// [`summarize_error`](super::summarize_error)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- sessions (topic SESSION) ----
    /// A session opened.
    SessionStarted {
        /// The session.
        session: SessionId,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A session closed.
    SessionEnded {
        /// The session.
        session: SessionId,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A session's status changed.
    SessionStatusChanged {
        /// The session.
        session: SessionId,
        /// The new status.
        status: SessionStatus,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A message was committed to the session's store (no content: an id and a role).
    MessageCommitted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run that produced it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The stored message's id.
        message_id: Uuid,
        /// Who wrote it.
        role: MessageRole,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- cost (topic COST) ----
    /// Tokens a model call used, and what they cost.
    TokenUsage {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The model.
        model: String,
        /// Prompt tokens.
        input_tokens: u64,
        /// Completion tokens.
        output_tokens: u64,
        /// Their cost, in US dollars. A non-finite cost is written to JSON as `null` (JSON has
        /// no NaN) and read back as NaN, so the line still parses.
        #[serde(deserialize_with = "cost_from_json")]
        cost_usd: f64,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A cost other than tokens (a paid tool or API call).
    CostRecorded {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// What was paid for.
        item: String,
        /// The cost, in US dollars (a non-finite cost round-trips through JSON as NaN, as in
        /// `TokenUsage`).
        #[serde(deserialize_with = "cost_from_json")]
        cost_usd: f64,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A session spent its budget: the loop should stop or ask the user.
    BudgetExhausted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The budget, in US dollars.
        budget_usd: f64,
        /// Spent so far, in US dollars.
        spent_usd: f64,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- agents (topic AGENT) ----
    /// An agent started work.
    AgentStarted {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The agent.
        agent: AgentId,
        /// Its task, in a few words.
        task: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// An agent stopped.
    AgentFinished {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The agent.
        agent: AgentId,
        /// Whether it succeeded.
        success: bool,
        /// Why it failed, if it did and the host says (a bounded summary: see
        /// [`summarize_error`](super::summarize_error)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A multi-agent group was formed.
    AgentGroupCreated {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The group.
        group: Uuid,
        /// Its members.
        members: Vec<AgentId>,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A member of a multi-agent group finished.
    AgentGroupMemberFinished {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The group.
        group: Uuid,
        /// The member.
        agent: AgentId,
        /// Whether it succeeded.
        success: bool,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// The loop is repeating itself (same tool, same arguments, no progress).
    DoomLoopDetected {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The pattern seen.
        description: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A circuit breaker opened after repeated failures (compaction, a provider, a tool).
    CircuitBreakerOpened {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// Which breaker.
        breaker: String,
        /// Failures in a row that opened it.
        consecutive_failures: u32,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- approvals (topic APPROVAL) ----
    /// An action waits for a human's approval.
    ApprovalRequested {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The request (matches `ApprovalResolved`).
        approval: Uuid,
        /// The action (e.g. `"shell"`).
        action: String,
        /// What it acts on (e.g. a path).
        resource: String,
        /// Why the agent wants it.
        reason: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// A human approved or rejected a request.
    ApprovalResolved {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<RunId>,
        /// The request.
        approval: Uuid,
        /// Approved (`true`) or rejected.
        approved: bool,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- system (topic SYSTEM) ----
    /// The host reloaded its configuration.
    ConfigReloaded {
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
    /// The host is shutting down.
    ShutdownRequested {
        /// Why.
        reason: String,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },

    // ---- escape hatch (topic CUSTOM) ----
    /// Anything else: a kind, a source and a JSON payload.
    Custom {
        /// The session, if any.
        session: Option<SessionId>,
        /// The run, if any.
        run: Option<RunId>,
        /// What kind of event (e.g. `"memory_stored"`).
        kind: String,
        /// The component that emitted it.
        source: String,
        /// The payload.
        payload: serde_json::Value,
        /// When, in milliseconds since the UNIX epoch.
        timestamp_ms: u64,
    },
}

impl AgentEvent {
    /// A `RunFailed` stamped now, whose error is the first
    /// [`ERROR_SUMMARY_MAX_CHARS`] characters of `error` (cut on a character boundary).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{AgentEvent, RunId, SessionId};
    /// let body = "é".repeat(1000); // a provider error echoing user text
    /// let failed = AgentEvent::run_failed(SessionId::new(), RunId::new(), &body);
    /// let AgentEvent::RunFailed { error, .. } = failed else { unreachable!() };
    /// assert_eq!(error, format!("{}…(truncated)", "é".repeat(200)));
    /// ```
    pub fn run_failed(session: SessionId, run: RunId, error: impl AsRef<str>) -> Self {
        AgentEvent::RunFailed {
            session: Some(session),
            run,
            error: summarize_error(error.as_ref(), ERROR_SUMMARY_MAX_CHARS),
            timestamp_ms: super::now_ms(),
        }
    }

    /// A `TextDelta` of `text` stamped now: one streamed piece of the model's output.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{topics, AgentEvent, RunId, SessionId};
    /// let (session, run) = (SessionId::new(), RunId::new());
    /// let delta = AgentEvent::text_delta(session, run, "Hel");
    /// assert_eq!(delta.topic(), topics::DELTA);
    /// assert_eq!(delta.run_id(), Some(run));
    /// let AgentEvent::TextDelta { text, .. } = delta else { unreachable!() };
    /// assert_eq!(text, "Hel");
    /// ```
    pub fn text_delta(session: SessionId, run: RunId, text: impl Into<String>) -> Self {
        AgentEvent::TextDelta {
            session: Some(session),
            run: Some(run),
            message_id: None,
            text: text.into(),
            timestamp_ms: super::now_ms(),
        }
    }

    /// A `RunCompleted` after `iterations` model/tool iterations, stamped now (terminal).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{AgentEvent, RunId, SessionId};
    /// let (session, run) = (SessionId::new(), RunId::new());
    /// let done = AgentEvent::run_completed(session, run, 3);
    /// assert!(done.is_terminal());
    /// assert!(matches!(done, AgentEvent::RunCompleted { iterations: 3, .. }));
    /// ```
    pub fn run_completed(session: SessionId, run: RunId, iterations: u32) -> Self {
        AgentEvent::RunCompleted {
            session: Some(session),
            run,
            iterations,
            finish_reason: None,
            timestamp_ms: super::now_ms(),
        }
    }

    /// The topic this event is published on (see [`topics`]).
    pub fn topic(&self) -> Topic {
        use AgentEvent::*;
        match self {
            RunStarted { .. }
            | RunCompleted { .. }
            | RunFailed { .. }
            | RunCancelled { .. }
            | TurnStarted { .. }
            | TurnFinished { .. } => topics::RUN,
            ModelStarted { .. } | ModelFinished { .. } => topics::LLM,
            TextDelta { .. } | ReasoningDelta { .. } | ToolArgsDelta { .. } => topics::DELTA,
            ModelToolCallStarted { .. }
            | ModelToolCallCompleted { .. }
            | ToolStarted { .. }
            | ToolFinished { .. } => topics::TOOL,
            SessionStarted { .. }
            | SessionEnded { .. }
            | SessionStatusChanged { .. }
            | MessageCommitted { .. } => topics::SESSION,
            TokenUsage { .. } | CostRecorded { .. } | BudgetExhausted { .. } => topics::COST,
            AgentStarted { .. }
            | AgentFinished { .. }
            | AgentGroupCreated { .. }
            | AgentGroupMemberFinished { .. }
            | DoomLoopDetected { .. }
            | CircuitBreakerOpened { .. } => topics::AGENT,
            ApprovalRequested { .. } | ApprovalResolved { .. } => topics::APPROVAL,
            ConfigReloaded { .. } | ShutdownRequested { .. } => topics::SYSTEM,
            Custom { .. } => topics::CUSTOM,
        }
    }

    /// Whether this event ends its run: `RunCompleted`, `RunFailed` or `RunCancelled`.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            AgentEvent::RunCompleted { .. }
                | AgentEvent::RunFailed { .. }
                | AgentEvent::RunCancelled { .. }
        )
    }

    /// The run this event belongs to, if it belongs to one.
    pub fn run_id(&self) -> Option<RunId> {
        self.run_ref().copied()
    }

    /// [`run_id`](Self::run_id) by reference (what [`RunLifecycle`](super::RunLifecycle) hands out).
    pub(super) fn run_ref(&self) -> Option<&RunId> {
        use AgentEvent::*;
        match self {
            RunStarted { run, .. }
            | RunCompleted { run, .. }
            | RunFailed { run, .. }
            | RunCancelled { run, .. } => Some(run),
            TurnStarted { run, .. }
            | TurnFinished { run, .. }
            | ModelStarted { run, .. }
            | ModelFinished { run, .. }
            | TextDelta { run, .. }
            | ReasoningDelta { run, .. }
            | ToolArgsDelta { run, .. }
            | ModelToolCallStarted { run, .. }
            | ModelToolCallCompleted { run, .. }
            | ToolStarted { run, .. }
            | ToolFinished { run, .. }
            | MessageCommitted { run, .. }
            | TokenUsage { run, .. }
            | CostRecorded { run, .. }
            | DoomLoopDetected { run, .. }
            | CircuitBreakerOpened { run, .. }
            | ApprovalRequested { run, .. }
            | ApprovalResolved { run, .. }
            | Custom { run, .. } => run.as_ref(),
            SessionStarted { .. }
            | SessionEnded { .. }
            | SessionStatusChanged { .. }
            | BudgetExhausted { .. }
            | AgentStarted { .. }
            | AgentFinished { .. }
            | AgentGroupCreated { .. }
            | AgentGroupMemberFinished { .. }
            | ConfigReloaded { .. }
            | ShutdownRequested { .. } => None,
        }
    }

    /// The session this event belongs to; `None` for host-wide events (`ConfigReloaded`,
    /// `ShutdownRequested`) and for an event whose host named no session.
    pub fn session_id(&self) -> Option<SessionId> {
        use AgentEvent::*;
        match self {
            SessionStarted { session, .. }
            | SessionEnded { session, .. }
            | SessionStatusChanged { session, .. } => Some(*session),
            RunStarted { session, .. }
            | RunCompleted { session, .. }
            | RunFailed { session, .. }
            | RunCancelled { session, .. }
            | ModelStarted { session, .. }
            | ModelFinished { session, .. }
            | TextDelta { session, .. }
            | ToolArgsDelta { session, .. }
            | TurnStarted { session, .. }
            | TurnFinished { session, .. }
            | ReasoningDelta { session, .. }
            | ModelToolCallStarted { session, .. }
            | ModelToolCallCompleted { session, .. }
            | ToolStarted { session, .. }
            | ToolFinished { session, .. }
            | MessageCommitted { session, .. }
            | TokenUsage { session, .. }
            | CostRecorded { session, .. }
            | BudgetExhausted { session, .. }
            | AgentStarted { session, .. }
            | AgentFinished { session, .. }
            | AgentGroupCreated { session, .. }
            | AgentGroupMemberFinished { session, .. }
            | DoomLoopDetected { session, .. }
            | CircuitBreakerOpened { session, .. }
            | ApprovalRequested { session, .. }
            | ApprovalResolved { session, .. }
            | Custom { session, .. } => *session,
            ConfigReloaded { .. } | ShutdownRequested { .. } => None,
        }
    }

    /// The agent this event is about, for the events that name one.
    pub fn agent_id(&self) -> Option<AgentId> {
        use AgentEvent::*;
        match self {
            RunStarted { agent, .. }
            | AgentStarted { agent, .. }
            | AgentFinished { agent, .. }
            | AgentGroupMemberFinished { agent, .. } => Some(*agent),
            _ => None,
        }
    }

    /// When the event happened, in milliseconds since the UNIX epoch.
    pub fn timestamp_ms(&self) -> u64 {
        use AgentEvent::*;
        match self {
            RunStarted { timestamp_ms, .. }
            | RunCompleted { timestamp_ms, .. }
            | RunFailed { timestamp_ms, .. }
            | RunCancelled { timestamp_ms, .. }
            | TurnStarted { timestamp_ms, .. }
            | TurnFinished { timestamp_ms, .. }
            | ModelStarted { timestamp_ms, .. }
            | ModelFinished { timestamp_ms, .. }
            | TextDelta { timestamp_ms, .. }
            | ReasoningDelta { timestamp_ms, .. }
            | ModelToolCallStarted { timestamp_ms, .. }
            | ModelToolCallCompleted { timestamp_ms, .. }
            | ToolArgsDelta { timestamp_ms, .. }
            | ToolStarted { timestamp_ms, .. }
            | ToolFinished { timestamp_ms, .. }
            | SessionStarted { timestamp_ms, .. }
            | SessionEnded { timestamp_ms, .. }
            | SessionStatusChanged { timestamp_ms, .. }
            | MessageCommitted { timestamp_ms, .. }
            | TokenUsage { timestamp_ms, .. }
            | CostRecorded { timestamp_ms, .. }
            | BudgetExhausted { timestamp_ms, .. }
            | AgentStarted { timestamp_ms, .. }
            | AgentFinished { timestamp_ms, .. }
            | AgentGroupCreated { timestamp_ms, .. }
            | AgentGroupMemberFinished { timestamp_ms, .. }
            | DoomLoopDetected { timestamp_ms, .. }
            | CircuitBreakerOpened { timestamp_ms, .. }
            | ApprovalRequested { timestamp_ms, .. }
            | ApprovalResolved { timestamp_ms, .. }
            | ConfigReloaded { timestamp_ms, .. }
            | ShutdownRequested { timestamp_ms, .. }
            | Custom { timestamp_ms, .. } => *timestamp_ms,
        }
    }

    /// The variant's name in `snake_case`, as in its serialized `"type"` tag (for counters and
    /// logs that must not carry content).
    pub fn kind(&self) -> &'static str {
        use AgentEvent::*;
        match self {
            RunStarted { .. } => "run_started",
            RunCompleted { .. } => "run_completed",
            RunFailed { .. } => "run_failed",
            RunCancelled { .. } => "run_cancelled",
            TurnStarted { .. } => "turn_started",
            TurnFinished { .. } => "turn_finished",
            ModelStarted { .. } => "model_started",
            ModelFinished { .. } => "model_finished",
            TextDelta { .. } => "text_delta",
            ReasoningDelta { .. } => "reasoning_delta",
            ModelToolCallStarted { .. } => "model_tool_call_started",
            ModelToolCallCompleted { .. } => "model_tool_call_completed",
            ToolArgsDelta { .. } => "tool_args_delta",
            ToolStarted { .. } => "tool_started",
            ToolFinished { .. } => "tool_finished",
            SessionStarted { .. } => "session_started",
            SessionEnded { .. } => "session_ended",
            SessionStatusChanged { .. } => "session_status_changed",
            MessageCommitted { .. } => "message_committed",
            TokenUsage { .. } => "token_usage",
            CostRecorded { .. } => "cost_recorded",
            BudgetExhausted { .. } => "budget_exhausted",
            AgentStarted { .. } => "agent_started",
            AgentFinished { .. } => "agent_finished",
            AgentGroupCreated { .. } => "agent_group_created",
            AgentGroupMemberFinished { .. } => "agent_group_member_finished",
            DoomLoopDetected { .. } => "doom_loop_detected",
            CircuitBreakerOpened { .. } => "circuit_breaker_opened",
            ApprovalRequested { .. } => "approval_requested",
            ApprovalResolved { .. } => "approval_resolved",
            ConfigReloaded { .. } => "config_reloaded",
            ShutdownRequested { .. } => "shutdown_requested",
            Custom { .. } => "custom",
        }
    }
}

impl Event for AgentEvent {
    #[inline]
    fn topic(&self) -> Topic {
        AgentEvent::topic(self)
    }

    /// The event's session ([`AgentEvent::session_id`]): per-connection targeting. Host-wide
    /// events (`ConfigReloaded`, `ShutdownRequested`) and a `Custom` event without a session are
    /// unkeyed, so they reach every subscriber. A forwarder that follows one run subscribes to
    /// its session's key and filters on [`run_id`](AgentEvent::run_id): the filter then runs only
    /// for that session's events.
    #[inline]
    fn key(&self) -> Option<crate::Key> {
        self.session_id().map(crate::Key::from)
    }
}

/// Reads a `cost_usd`: a number, or the `null` that serde_json writes for a NaN or infinite `f64`
/// (read back as NaN: not a finite cost either way), so an audit line with such a cost parses.
fn cost_from_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}
