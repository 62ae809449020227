//! The topics of [`AgentEvent`](super::AgentEvent), and ready-made topic sets for the usual
//! subscribers.
//!
//! The first seven are opendev's `EventTopic`s. Per-token deltas have a topic of their own, so an
//! audit log or a telemetry exporter leaves them out with one bit and the publisher never even
//! clones a delta for them; run lifecycle has its own, so a run waiter's queue holds nothing else.
//!
//! ```
//! use fanout::agent::topics;
//! use fanout::Topics;
//! assert!(!topics::AUDIT.contains(topics::DELTA));
//! assert_eq!(topics::AUDIT, Topics::ALL - topics::DELTA);
//! assert!(topics::TELEMETRY.contains(topics::COST));
//! assert!(!topics::TELEMETRY.contains(topics::CUSTOM));
//! ```

use crate::{topic, Topic, Topics};

/// Tool calls: `ToolStarted`, `ToolFinished`.
pub const TOOL: Topic = topic!(0);
/// Model calls: `ModelStarted`, `ModelFinished`.
pub const LLM: Topic = topic!(1);
/// Agent and multi-agent lifecycle, and agent health signals: `AgentStarted`, `AgentFinished`,
/// `AgentGroupCreated`, `AgentGroupMemberFinished`, `DoomLoopDetected`, `CircuitBreakerOpened`.
pub const AGENT: Topic = topic!(2);
/// Session lifecycle and the conversation: `SessionStarted`, `SessionEnded`,
/// `SessionStatusChanged`, `MessageCommitted`.
pub const SESSION: Topic = topic!(3);
/// Spending: `TokenUsage`, `CostRecorded`, `BudgetExhausted`.
pub const COST: Topic = topic!(4);
/// The host: `ConfigReloaded`, `ShutdownRequested`.
pub const SYSTEM: Topic = topic!(5);
/// The `Custom` escape hatch.
pub const CUSTOM: Topic = topic!(6);
/// Per-token streaming: `TextDelta`, `ToolArgsDelta` (by far the highest rate, and user content).
pub const DELTA: Topic = topic!(7);
/// Run lifecycle: `RunStarted` and the terminal `RunCompleted`, `RunFailed`, `RunCancelled`.
pub const RUN: Topic = topic!(8);
/// Human-in-the-loop approvals: `ApprovalRequested`, `ApprovalResolved`.
pub const APPROVAL: Topic = topic!(9);

/// Every topic of the vocabulary.
pub const ALL: Topics = Topics::from_bits(
    TOOL.bit()
        | LLM.bit()
        | AGENT.bit()
        | SESSION.bit()
        | COST.bit()
        | SYSTEM.bit()
        | CUSTOM.bit()
        | DELTA.bit()
        | RUN.bit()
        | APPROVAL.bit(),
);

/// An audit log: everything but per-token deltas.
pub const AUDIT: Topics = Topics::ALL.without(DELTA);

/// A telemetry exporter: the structural topics only, no deltas (user text) and no `Custom`
/// payloads (arbitrary JSON). Error texts on these topics are bounded summaries when built with
/// [`AgentEvent::run_failed`](super::AgentEvent::run_failed).
pub const TELEMETRY: Topics = Topics::from_bits(
    TOOL.bit() | LLM.bit() | AGENT.bit() | SESSION.bit() | COST.bit() | SYSTEM.bit() | RUN.bit(),
);

/// A chat UI: deltas, run lifecycle, tools, approvals, session status.
pub const UI: Topics =
    Topics::from_bits(DELTA.bit() | RUN.bit() | TOOL.bit() | APPROVAL.bit() | SESSION.bit());
