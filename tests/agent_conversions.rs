//! Converting each of the four runtimes' own events into `AgentEvent` and back loses nothing
//! (issue 21): for representative events of opendev, behest, fluers and oxios, written here
//! from their public types, `host -> AgentEvent -> JSON -> AgentEvent -> host` gives the event
//! back. The conversions are the host's (`impl TryFrom<HostEvent> for AgentEvent` in the host's
//! crate: the orphan rule allows it there, since the host's type is local), in the pattern the
//! `fanout::agent` docs give; what the vocabulary adds that the host has not (a timestamp for
//! runtimes that stamp none) is dropped on the way back.

use fanout::agent::{now_ms, AgentEvent, AgentId, IdNameError, RunId, SessionId};
use uuid::Uuid;

/// Through the wire, as a recorder line or a NATS payload carries it.
fn via_json(event: AgentEvent) -> AgentEvent {
    let line = serde_json::to_string(&event).unwrap();
    serde_json::from_str(&line).unwrap()
}

/// opendev: string agent ids; tool, LLM and agent events carry no session and no run.
mod opendev {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    pub enum RuntimeEvent {
        ToolCallEnd {
            tool_name: String,
            call_id: String,
            duration_ms: u64,
            success: bool,
            timestamp_ms: u64,
        },
        LlmResponseEnd {
            model: String,
            request_id: String,
            input_tokens: u64,
            output_tokens: u64,
            duration_ms: u64,
            timestamp_ms: u64,
        },
        AgentError {
            agent_id: String,
            error: String,
            timestamp_ms: u64,
        },
    }

    impl TryFrom<RuntimeEvent> for AgentEvent {
        type Error = IdNameError;

        fn try_from(event: RuntimeEvent) -> Result<AgentEvent, IdNameError> {
            Ok(match event {
                RuntimeEvent::ToolCallEnd {
                    tool_name,
                    call_id,
                    duration_ms,
                    success,
                    timestamp_ms,
                } => AgentEvent::ToolFinished {
                    session: None,
                    run: None,
                    call_id,
                    tool: tool_name,
                    success,
                    duration_ms,
                    iteration: None,
                    output: None,
                    error: None,
                    timestamp_ms,
                },
                RuntimeEvent::LlmResponseEnd {
                    model,
                    request_id,
                    input_tokens,
                    output_tokens,
                    duration_ms,
                    timestamp_ms,
                } => AgentEvent::ModelFinished {
                    session: None,
                    run: None,
                    model,
                    duration_ms,
                    iteration: None,
                    request_id: Some(request_id),
                    finish_reason: None,
                    input_tokens: Some(input_tokens),
                    output_tokens: Some(output_tokens),
                    timestamp_ms,
                },
                RuntimeEvent::AgentError {
                    agent_id,
                    error,
                    timestamp_ms,
                } => AgentEvent::AgentFinished {
                    session: None,
                    agent: AgentId::from_name(&agent_id)?,
                    success: false,
                    error: Some(error),
                    timestamp_ms,
                },
            })
        }
    }

    pub fn back(event: AgentEvent) -> Option<RuntimeEvent> {
        Some(match event {
            AgentEvent::ToolFinished {
                call_id,
                tool,
                success,
                duration_ms,
                timestamp_ms,
                ..
            } => RuntimeEvent::ToolCallEnd {
                tool_name: tool,
                call_id,
                duration_ms,
                success,
                timestamp_ms,
            },
            AgentEvent::ModelFinished {
                model,
                request_id: Some(request_id),
                input_tokens: Some(input_tokens),
                output_tokens: Some(output_tokens),
                duration_ms,
                timestamp_ms,
                ..
            } => RuntimeEvent::LlmResponseEnd {
                model,
                request_id,
                input_tokens,
                output_tokens,
                duration_ms,
                timestamp_ms,
            },
            AgentEvent::AgentFinished {
                agent,
                error: Some(error),
                timestamp_ms,
                ..
            } => RuntimeEvent::AgentError {
                agent_id: agent.to_string(),
                error,
                timestamp_ms,
            },
            _ => return None,
        })
    }
}

/// behest: every event names its run (a UUID newtype) and, but for `RunStarted`, no session.
mod behest {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub enum FinishReason {
        Stop,
        Length,
        ToolCalls,
    }

    impl FinishReason {
        fn as_str(self) -> &'static str {
            match self {
                FinishReason::Stop => "stop",
                FinishReason::Length => "length",
                FinishReason::ToolCalls => "tool_calls",
            }
        }

        fn parse(text: &str) -> Option<FinishReason> {
            [
                FinishReason::Stop,
                FinishReason::Length,
                FinishReason::ToolCalls,
            ]
            .into_iter()
            .find(|r| r.as_str() == text)
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    pub enum ToolExecutionResult {
        Success { output: serde_json::Value },
        Failure { error: String },
    }

    /// behest's timestamps are `DateTime<Utc>`; milliseconds here (the vocabulary's
    /// `timestamp_ms` keeps milliseconds: a finer timestamp is cut to them).
    #[derive(Clone, Debug, PartialEq)]
    pub enum Event {
        TextDelta {
            run_id: Uuid,
            delta: String,
            timestamp_ms: u64,
        },
        ToolExecutionFinished {
            run_id: Uuid,
            call_id: String,
            tool_name: String,
            result: ToolExecutionResult,
            duration_ms: u64,
            timestamp_ms: u64,
        },
        RunCompleted {
            run_id: Uuid,
            finish_reason: FinishReason,
            iterations: usize,
            timestamp_ms: u64,
        },
    }

    impl TryFrom<Event> for AgentEvent {
        type Error = std::num::TryFromIntError;

        fn try_from(event: Event) -> Result<AgentEvent, Self::Error> {
            Ok(match event {
                Event::TextDelta {
                    run_id,
                    delta,
                    timestamp_ms,
                } => AgentEvent::TextDelta {
                    session: None,
                    run: Some(RunId::from_uuid(run_id)),
                    message_id: None,
                    text: delta,
                    timestamp_ms,
                },
                Event::ToolExecutionFinished {
                    run_id,
                    call_id,
                    tool_name,
                    result,
                    duration_ms,
                    timestamp_ms,
                } => {
                    let (success, output, error) = match result {
                        ToolExecutionResult::Success { output } => (true, Some(output), None),
                        ToolExecutionResult::Failure { error } => (false, None, Some(error)),
                    };
                    AgentEvent::ToolFinished {
                        session: None,
                        run: Some(RunId::from_uuid(run_id)),
                        call_id,
                        tool: tool_name,
                        success,
                        duration_ms,
                        iteration: None,
                        output,
                        error,
                        timestamp_ms,
                    }
                }
                Event::RunCompleted {
                    run_id,
                    finish_reason,
                    iterations,
                    timestamp_ms,
                } => AgentEvent::RunCompleted {
                    session: None,
                    run: RunId::from_uuid(run_id),
                    iterations: u32::try_from(iterations)?,
                    finish_reason: Some(finish_reason.as_str().into()),
                    timestamp_ms,
                },
            })
        }
    }

    pub fn back(event: AgentEvent) -> Option<Event> {
        Some(match event {
            AgentEvent::TextDelta {
                run: Some(run),
                text,
                timestamp_ms,
                ..
            } => Event::TextDelta {
                run_id: run.as_uuid()?,
                delta: text,
                timestamp_ms,
            },
            AgentEvent::ToolFinished {
                run: Some(run),
                call_id,
                tool,
                success,
                output,
                error,
                duration_ms,
                timestamp_ms,
                ..
            } => Event::ToolExecutionFinished {
                run_id: run.as_uuid()?,
                call_id,
                tool_name: tool,
                result: match (success, output, error) {
                    (true, Some(output), None) => ToolExecutionResult::Success { output },
                    (false, None, Some(error)) => ToolExecutionResult::Failure { error },
                    _ => return None,
                },
                duration_ms,
                timestamp_ms,
            },
            AgentEvent::RunCompleted {
                run,
                iterations,
                finish_reason: Some(reason),
                timestamp_ms,
                ..
            } => Event::RunCompleted {
                run_id: run.as_uuid()?,
                finish_reason: FinishReason::parse(&reason)?,
                iterations: iterations as usize,
                timestamp_ms,
            },
            _ => return None,
        })
    }
}

/// fluers: content-free events with no timestamp and no run id (the session names the run),
/// turns numbered from 1.
mod fluers {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    pub enum RunEvent {
        TurnStarted {
            session: Uuid,
            turn: usize,
        },
        ToolStarted {
            session: Uuid,
            turn: usize,
            tool: String,
            call_id: String,
        },
        RunFailed {
            session: Uuid,
            error: String,
        },
    }

    impl TryFrom<RunEvent> for AgentEvent {
        type Error = std::num::TryFromIntError;

        fn try_from(event: RunEvent) -> Result<AgentEvent, Self::Error> {
            Ok(match event {
                RunEvent::TurnStarted { session, turn } => AgentEvent::TurnStarted {
                    session: Some(SessionId::from_uuid(session)),
                    run: None,
                    turn: u32::try_from(turn)?,
                    timestamp_ms: now_ms(),
                },
                RunEvent::ToolStarted {
                    session,
                    turn,
                    tool,
                    call_id,
                } => AgentEvent::ToolStarted {
                    session: Some(SessionId::from_uuid(session)),
                    run: None,
                    call_id,
                    tool,
                    iteration: Some(u32::try_from(turn)?),
                    parent_message_id: None,
                    timestamp_ms: now_ms(),
                },
                // fluers' session is its run: the run id is the session's UUID.
                RunEvent::RunFailed { session, error } => AgentEvent::RunFailed {
                    session: Some(SessionId::from_uuid(session)),
                    run: RunId::from_uuid(session),
                    error,
                    timestamp_ms: now_ms(),
                },
            })
        }
    }

    pub fn back(event: AgentEvent) -> Option<RunEvent> {
        Some(match event {
            AgentEvent::TurnStarted {
                session: Some(session),
                turn,
                ..
            } => RunEvent::TurnStarted {
                session: session.as_uuid()?,
                turn: turn as usize,
            },
            AgentEvent::ToolStarted {
                session: Some(session),
                iteration: Some(turn),
                tool,
                call_id,
                ..
            } => RunEvent::ToolStarted {
                session: session.as_uuid()?,
                turn: turn as usize,
                tool,
                call_id,
            },
            AgentEvent::RunFailed {
                session: Some(session),
                error,
                ..
            } => RunEvent::RunFailed {
                session: session.as_uuid()?,
                error,
            },
            _ => return None,
        })
    }
}

/// oxios: agents named by a UUID newtype, no timestamps, approvals with no session or run.
mod oxios {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    pub enum KernelEvent {
        AgentFailed {
            id: Uuid,
            error: String,
        },
        ApprovalRequested {
            id: Uuid,
            action: String,
            resource: String,
            reason: String,
        },
    }

    impl From<KernelEvent> for AgentEvent {
        fn from(event: KernelEvent) -> AgentEvent {
            match event {
                KernelEvent::AgentFailed { id, error } => AgentEvent::AgentFinished {
                    session: None,
                    agent: AgentId::from_uuid(id),
                    success: false,
                    error: Some(error),
                    timestamp_ms: now_ms(),
                },
                KernelEvent::ApprovalRequested {
                    id,
                    action,
                    resource,
                    reason,
                } => AgentEvent::ApprovalRequested {
                    session: None,
                    run: None,
                    approval: id,
                    action,
                    resource,
                    reason,
                    timestamp_ms: now_ms(),
                },
            }
        }
    }

    pub fn back(event: AgentEvent) -> Option<KernelEvent> {
        Some(match event {
            AgentEvent::AgentFinished {
                agent,
                error: Some(error),
                ..
            } => KernelEvent::AgentFailed {
                id: agent.as_uuid()?,
                error,
            },
            AgentEvent::ApprovalRequested {
                approval,
                action,
                resource,
                reason,
                ..
            } => KernelEvent::ApprovalRequested {
                id: approval,
                action,
                resource,
                reason,
            },
            _ => return None,
        })
    }
}

#[test]
fn opendev_events_convert_without_loss() {
    use opendev::RuntimeEvent;
    for event in [
        RuntimeEvent::LlmResponseEnd {
            model: "gpt-x".into(),
            request_id: "req_01HX".into(),
            input_tokens: 1200,
            output_tokens: 85,
            duration_ms: 812,
            timestamp_ms: 1_700_000_000_001,
        },
        RuntimeEvent::AgentError {
            agent_id: "agent-7".into(),
            error: "provider returned 429".into(),
            timestamp_ms: 1_700_000_000_002,
        },
        RuntimeEvent::ToolCallEnd {
            tool_name: "bash".into(),
            call_id: "call_3".into(),
            duration_ms: 40,
            success: false,
            timestamp_ms: 1_700_000_000_003,
        },
    ] {
        let shared = AgentEvent::try_from(event.clone()).unwrap();
        assert_eq!(shared.session_id(), None, "opendev names no session here");
        assert_eq!(opendev::back(via_json(shared)), Some(event));
    }
    // An agent id that cannot be one is an error, not a truncated id.
    let long = RuntimeEvent::AgentError {
        agent_id: "a".repeat(60),
        error: "e".into(),
        timestamp_ms: 0,
    };
    assert_eq!(
        AgentEvent::try_from(long),
        Err(IdNameError::TooLong { len: 60 })
    );
}

#[test]
fn behest_events_convert_without_loss() {
    use behest::{Event, FinishReason, ToolExecutionResult};
    let run_id = Uuid::new_v4();
    for event in [
        Event::TextDelta {
            run_id,
            delta: "Hel".into(),
            timestamp_ms: 1,
        },
        Event::ToolExecutionFinished {
            run_id,
            call_id: "c1".into(),
            tool_name: "read".into(),
            result: ToolExecutionResult::Success {
                output: serde_json::json!({"bytes": 12}),
            },
            duration_ms: 3,
            timestamp_ms: 2,
        },
        Event::ToolExecutionFinished {
            run_id,
            call_id: "c2".into(),
            tool_name: "read".into(),
            result: ToolExecutionResult::Failure {
                error: "no such file".into(),
            },
            duration_ms: 1,
            timestamp_ms: 3,
        },
        Event::RunCompleted {
            run_id,
            finish_reason: FinishReason::ToolCalls,
            iterations: 4,
            timestamp_ms: 4,
        },
    ] {
        let shared = AgentEvent::try_from(event.clone()).unwrap();
        assert_eq!(shared.run_id(), Some(RunId::from_uuid(run_id)));
        assert_eq!(behest::back(via_json(shared)), Some(event));
    }
}

#[test]
fn fluers_events_convert_without_loss() {
    use fluers::RunEvent;
    let session = Uuid::new_v4();
    for event in [
        RunEvent::TurnStarted { session, turn: 2 },
        RunEvent::ToolStarted {
            session,
            turn: 2,
            tool: "grep".into(),
            call_id: "c9".into(),
        },
        RunEvent::RunFailed {
            session,
            error: "tool timeout".into(),
        },
    ] {
        let shared = AgentEvent::try_from(event.clone()).unwrap();
        assert_eq!(shared.session_id(), Some(SessionId::from_uuid(session)));
        assert_eq!(fluers::back(via_json(shared)), Some(event));
    }
}

#[test]
fn oxios_events_convert_without_loss() {
    use oxios::KernelEvent;
    for event in [
        KernelEvent::AgentFailed {
            id: Uuid::new_v4(),
            error: "tool timeout: ünïcode kept".into(),
        },
        KernelEvent::ApprovalRequested {
            id: Uuid::new_v4(),
            action: "shell".into(),
            resource: "/etc/hosts".into(),
            reason: "edit hosts".into(),
        },
    ] {
        let shared = AgentEvent::from(event.clone());
        assert_eq!(oxios::back(via_json(shared)), Some(event));
    }
}
