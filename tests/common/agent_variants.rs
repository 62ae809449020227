//! One `AgentEvent` of every variant, with the topic each must map to: shared by the core's
//! `tests/agent_vocabulary.rs` (which checks it covers every kind) and the NATS bridge's tests
//! (`#[path]` includes, so the list is written once).

use fanout::agent::topics;
use fanout::agent::{AgentEvent, AgentId, MessageRole, RunId, SessionId, SessionStatus};
use fanout::Topic;
use uuid::Uuid;

pub struct Ids {
    pub session: SessionId,
    pub run: RunId,
    pub agent: AgentId,
}

pub fn ids() -> Ids {
    Ids {
        session: SessionId::new(),
        run: RunId::new(),
        agent: AgentId::new(),
    }
}

/// One event of every variant, with the topic it must map to (written out by hand).
pub fn every_variant(ids: &Ids) -> Vec<(AgentEvent, Topic)> {
    let Ids {
        session,
        run,
        agent,
    } = *ids;
    let t = 1_700_000_000_123;
    vec![
        (
            AgentEvent::RunStarted {
                session: Some(session),
                run,
                agent,
                model: "m".into(),
                timestamp_ms: t,
            },
            topics::RUN,
        ),
        (
            AgentEvent::RunCompleted {
                session: Some(session),
                run,
                iterations: 4,
                finish_reason: Some("stop".into()),
                timestamp_ms: t,
            },
            topics::RUN,
        ),
        (
            AgentEvent::RunFailed {
                session: Some(session),
                run,
                error: "boom".into(),
                timestamp_ms: t,
            },
            topics::RUN,
        ),
        (
            AgentEvent::RunCancelled {
                session: Some(session),
                run,
                reason: "user".into(),
                timestamp_ms: t,
            },
            topics::RUN,
        ),
        (
            AgentEvent::TurnStarted {
                session: Some(session),
                run: Some(run),
                turn: 2,
                timestamp_ms: t,
            },
            topics::RUN,
        ),
        (
            AgentEvent::TurnFinished {
                session: Some(session),
                run: Some(run),
                turn: 2,
                timestamp_ms: t,
            },
            topics::RUN,
        ),
        (
            AgentEvent::ModelStarted {
                session: Some(session),
                run: Some(run),
                model: "m".into(),
                iteration: 1,
                request_id: Some("req-1".into()),
                timestamp_ms: t,
            },
            topics::LLM,
        ),
        (
            AgentEvent::ModelFinished {
                session: Some(session),
                run: Some(run),
                model: "m".into(),
                duration_ms: 812,
                iteration: Some(1),
                request_id: Some("req-1".into()),
                finish_reason: Some("tool_calls".into()),
                input_tokens: Some(1200),
                output_tokens: Some(85),
                timestamp_ms: t,
            },
            topics::LLM,
        ),
        (
            AgentEvent::TextDelta {
                session: Some(session),
                run: Some(run),
                text: "héllo 🌍".into(),
                message_id: Some("m1".into()),
                timestamp_ms: t,
            },
            topics::DELTA,
        ),
        (
            AgentEvent::ReasoningDelta {
                session: Some(session),
                run: Some(run),
                message_id: Some("r1".into()),
                text: "hmm, ünïcode".into(),
                timestamp_ms: t,
            },
            topics::DELTA,
        ),
        (
            AgentEvent::ToolArgsDelta {
                session: Some(session),
                run: Some(run),
                call_id: "c1".into(),
                text: "{\"pa".into(),
                timestamp_ms: t,
            },
            topics::DELTA,
        ),
        (
            AgentEvent::ModelToolCallStarted {
                session: Some(session),
                run: Some(run),
                call_id: "c1".into(),
                tool: "grep".into(),
                parent_message_id: Some("m1".into()),
                timestamp_ms: t,
            },
            topics::TOOL,
        ),
        (
            AgentEvent::ModelToolCallCompleted {
                session: Some(session),
                run: Some(run),
                call_id: "c1".into(),
                tool: "grep".into(),
                arguments: "{\"pattern\":\"x\"}".into(),
                timestamp_ms: t,
            },
            topics::TOOL,
        ),
        (
            AgentEvent::ToolStarted {
                session: Some(session),
                run: Some(run),
                call_id: "c1".into(),
                tool: "grep".into(),
                iteration: Some(1),
                parent_message_id: Some("m1".into()),
                timestamp_ms: t,
            },
            topics::TOOL,
        ),
        (
            AgentEvent::ToolFinished {
                session: Some(session),
                run: Some(run),
                call_id: "c1".into(),
                tool: "grep".into(),
                success: false,
                duration_ms: 7,
                iteration: Some(1),
                output: None,
                error: Some("no such file".into()),
                timestamp_ms: t,
            },
            topics::TOOL,
        ),
        (
            AgentEvent::SessionStarted {
                session,
                timestamp_ms: t,
            },
            topics::SESSION,
        ),
        (
            AgentEvent::SessionEnded {
                session,
                timestamp_ms: t,
            },
            topics::SESSION,
        ),
        (
            AgentEvent::SessionStatusChanged {
                session,
                status: SessionStatus::AwaitingApproval,
                timestamp_ms: t,
            },
            topics::SESSION,
        ),
        (
            AgentEvent::MessageCommitted {
                session: Some(session),
                run: Some(run),
                message_id: Uuid::new_v4(),
                role: MessageRole::Assistant,
                timestamp_ms: t,
            },
            topics::SESSION,
        ),
        (
            AgentEvent::TokenUsage {
                session: Some(session),
                run: Some(run),
                model: "m".into(),
                input_tokens: 1200,
                output_tokens: 340,
                cost_usd: 0.0125,
                timestamp_ms: t,
            },
            topics::COST,
        ),
        (
            AgentEvent::CostRecorded {
                session: Some(session),
                run: Some(run),
                item: "web_search".into(),
                cost_usd: 0.005,
                timestamp_ms: t,
            },
            topics::COST,
        ),
        (
            AgentEvent::BudgetExhausted {
                session: Some(session),
                budget_usd: 5.0,
                spent_usd: 5.25,
                timestamp_ms: t,
            },
            topics::COST,
        ),
        (
            AgentEvent::AgentStarted {
                session: Some(session),
                agent,
                task: "review".into(),
                timestamp_ms: t,
            },
            topics::AGENT,
        ),
        (
            AgentEvent::AgentFinished {
                session: Some(session),
                agent,
                success: false,
                error: Some("quota exceeded: ünïcode".into()),
                timestamp_ms: t,
            },
            topics::AGENT,
        ),
        (
            AgentEvent::AgentGroupCreated {
                session: Some(session),
                group: Uuid::new_v4(),
                members: vec![agent, AgentId::new()],
                timestamp_ms: t,
            },
            topics::AGENT,
        ),
        (
            AgentEvent::AgentGroupMemberFinished {
                session: Some(session),
                group: Uuid::new_v4(),
                agent,
                success: false,
                timestamp_ms: t,
            },
            topics::AGENT,
        ),
        (
            AgentEvent::DoomLoopDetected {
                session: Some(session),
                run: Some(run),
                description: "same call x3".into(),
                timestamp_ms: t,
            },
            topics::AGENT,
        ),
        (
            AgentEvent::CircuitBreakerOpened {
                session: Some(session),
                run: Some(run),
                breaker: "compaction".into(),
                consecutive_failures: 3,
                timestamp_ms: t,
            },
            topics::AGENT,
        ),
        (
            AgentEvent::ApprovalRequested {
                session: Some(session),
                run: Some(run),
                approval: Uuid::new_v4(),
                action: "shell".into(),
                resource: "/tmp".into(),
                reason: "cleanup".into(),
                timestamp_ms: t,
            },
            topics::APPROVAL,
        ),
        (
            AgentEvent::ApprovalResolved {
                session: Some(session),
                run: Some(run),
                approval: Uuid::new_v4(),
                approved: true,
                timestamp_ms: t,
            },
            topics::APPROVAL,
        ),
        (
            AgentEvent::ConfigReloaded { timestamp_ms: t },
            topics::SYSTEM,
        ),
        (
            AgentEvent::ShutdownRequested {
                reason: "SIGTERM".into(),
                timestamp_ms: t,
            },
            topics::SYSTEM,
        ),
        (
            AgentEvent::Custom {
                session: Some(session),
                run: None,
                kind: "memory_stored".into(),
                source: "kernel".into(),
                payload: serde_json::json!({"id": "m1", "n": [1, 2.5, null]}),
                timestamp_ms: t,
            },
            topics::CUSTOM,
        ),
    ]
}
