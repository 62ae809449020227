//! The AG-UI 1.0 types the gateway reads and writes: [`RunAgentInput`] (the POST body) and
//! [`AguiEvent`] (what it streams), as `@ag-ui/core` 1.0's schemas define them (field names in
//! camelCase, events tagged by `type`, optional fields omitted rather than `null`, which the
//! schemas refuse). Written here rather than taken from `ag-ui-core` 0.1: see `Cargo.toml`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of an AG-UI run request. Only `threadId`, `runId` and `messages` are required, as in
/// the protocol; unknown fields are ignored (the protocol's objects are open).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RunAgentInput {
    /// The conversation.
    pub thread_id: String,
    /// This run, named by the client.
    pub run_id: String,
    /// The run this one continues, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<String>,
    /// The protocol version the client speaks (`"1.0"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// The client's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Value>,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the client offers.
    #[serde(default)]
    pub tools: Vec<Tool>,
    /// Ambient information for the run.
    #[serde(default)]
    pub context: Vec<Context>,
    /// Anything else the client forwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_props: Option<Value>,
    /// Answers to a previous run's interrupts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Vec<Value>>,
}

impl RunAgentInput {
    /// The text of the last user message, if there is one and its content is text.
    pub fn last_user_text(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(Message::text)
    }
}

/// A message of the conversation: its id, its role, its content; every other field as sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// Its id.
    pub id: String,
    /// Who wrote it.
    pub role: Role,
    /// Its content: text, or parts (left as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// The other fields (`toolCalls`, `toolCallId`, `name`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Message {
    /// The content, when it is text.
    pub fn text(&self) -> Option<&str> {
        self.content.as_ref().and_then(Value::as_str)
    }
}

/// A message's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Role {
    /// `developer`.
    Developer,
    /// `system`.
    System,
    /// `assistant`.
    Assistant,
    /// `user`.
    User,
    /// `tool`.
    Tool,
    /// `activity`.
    Activity,
    /// `reasoning`.
    Reasoning,
}

/// A tool the client offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Its parameters' JSON schema, and every other field as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A named piece of ambient information.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Context {
    /// What it is.
    pub description: String,
    /// Its value.
    pub value: String,
}

/// Why a run ended, in `RUN_FINISHED`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum Outcome {
    /// It completed.
    Success {
        /// Frontend tool calls left for the application to answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pending_tool_call_ids: Option<Vec<String>>,
    },
    /// It was stopped before it completed, and did not fail.
    Cancelled,
}

/// Token counts for one model, in `RUN_FINISHED.usage`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TokenUsage {
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Prompt tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Completion tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Their sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

/// An AG-UI event, as streamed (`data: {"type":"TEXT_MESSAGE_CONTENT",...}`). The events a run
/// of an agent host needs; any other is a [`Custom`](AguiEvent::Custom) or
/// [`Raw`](AguiEvent::Raw) one. Every event may carry a `timestamp` (milliseconds since the
/// epoch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are the protocol's, named as it names them
pub enum AguiEvent {
    /// A run began (the first event of a run's stream).
    RunStarted {
        thread_id: String,
        run_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// The run ended without failing (a run's last event, or [`RunError`](Self::RunError)).
    RunFinished {
        thread_id: String,
        run_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<Outcome>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Vec<TokenUsage>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// The run failed (its last event).
    RunError {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A named step began.
    StepStarted {
        step_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A named step ended.
    StepFinished {
        step_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A streamed text message opens.
    TextMessageStart {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A piece of a text message.
    TextMessageContent {
        message_id: String,
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A text message closes.
    TextMessageEnd {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A tool call opens.
    ToolCallStart {
        tool_call_id: String,
        tool_call_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_message_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A piece of a tool call's arguments.
    ToolCallArgs {
        tool_call_id: String,
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A tool call's arguments are complete.
    ToolCallEnd {
        tool_call_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A tool call's result, as a message of role `tool`.
    ToolCallResult {
        message_id: String,
        tool_call_id: String,
        content: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A span of reasoning opens (it holds one or more reasoning messages).
    ReasoningStart {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A streamed reasoning message opens (`role` is [`Role::Reasoning`]).
    ReasoningMessageStart {
        message_id: String,
        role: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A piece of a reasoning message.
    ReasoningMessageContent {
        message_id: String,
        delta: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A reasoning message closes.
    ReasoningMessageEnd {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A span of reasoning closes.
    ReasoningEnd {
        message_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// The whole state.
    StateSnapshot {
        snapshot: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// A JSON Patch (RFC 6902) to the state.
    StateDelta {
        delta: Vec<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// The whole conversation.
    MessagesSnapshot {
        messages: Vec<Message>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// Anything else, named.
    Custom {
        name: String,
        value: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
    /// An event of another system, passed through.
    Raw {
        event: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamp: Option<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_written_as_the_protocol_names_them() {
        let start = AguiEvent::ToolCallStart {
            tool_call_id: "c1".into(),
            tool_call_name: "grep".into(),
            parent_message_id: None,
            timestamp: Some(5),
        };
        assert_eq!(
            serde_json::to_string(&start).unwrap(),
            r#"{"type":"TOOL_CALL_START","toolCallId":"c1","toolCallName":"grep","timestamp":5}"#
        );
        let done = AguiEvent::RunFinished {
            thread_id: "t".into(),
            run_id: "r".into(),
            result: None,
            outcome: Some(Outcome::Cancelled),
            usage: None,
            timestamp: None,
        };
        assert_eq!(
            serde_json::to_string(&done).unwrap(),
            r#"{"type":"RUN_FINISHED","threadId":"t","runId":"r","outcome":{"type":"cancelled"}}"#
        );
    }

    #[test]
    fn input_reads_what_the_js_client_sends() {
        let body = r#"{"threadId":"thread-1","runId":"run-1","protocolVersion":"1.0",
            "tools":[],"context":[],"forwardedProps":{},"state":{},
            "messages":[{"id":"m1","role":"user","content":"hello"}]}"#;
        let input: RunAgentInput = serde_json::from_str(body).unwrap();
        assert_eq!(input.thread_id, "thread-1");
        assert_eq!(input.last_user_text(), Some("hello"));
        let bad_role = r#"{"threadId":"t","runId":"r","messages":[{"id":"m","role":"robot"}]}"#;
        assert!(serde_json::from_str::<RunAgentInput>(bad_role).is_err());
        let no_messages = r#"{"threadId":"t","runId":"r"}"#;
        assert!(serde_json::from_str::<RunAgentInput>(no_messages).is_err());
    }
}
