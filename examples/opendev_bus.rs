//! opendev's event bus on fanout (issue 21): the runtime's own `EventTopic` and `RuntimeEvent`
//! (`topic()`, `timestamp_ms()`), and its bus API (`EventBus::new()` over 256 slots,
//! `subscribe(&[EventTopic])`, `publish(event)`) kept, with fanout underneath.
//!
//! ```sh
//! cargo run -p fanout-examples --example opendev_bus
//! ```
//!
//! Over tokio's broadcast, opendev filtered topics *after* receipt (every subscriber took every
//! event into the one shared ring and lagged like everyone else), and its web UI dropped the
//! WebSocket client at the first `RecvError::Lagged`. Here the topics are filtered at publish
//! time (a cost subscriber never holds a tool event), and a web client that falls behind gets
//! `Lagged(n)` in its stream, `n` exactly what it lost, and its subscription goes on: the
//! forwarder sends the browser a gap frame and keeps the connection.

use std::time::Duration;

use fanout::error::{RecvError, RecvTimeoutError};
use fanout::{Bus, Event, Overflow, Subscriber, Topic, Topics};

/// opendev's `event_bus::events`, written for this example from its public types (a session
/// status enum of its own stands in for `crate::session_status::SessionStatus`, and `Custom`'s
/// `data` is a JSON string rather than a `serde_json::Value`).
mod opendev {
    /// What a session is doing.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SessionStatus {
        Idle,
        Busy,
        Retry,
    }

    /// The category of a [`RuntimeEvent`]: what subscribers declare interest in.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum EventTopic {
        Tool,
        Llm,
        Agent,
        Session,
        Cost,
        System,
        Custom,
    }

    /// A typed event on the bus.
    #[derive(Clone, Debug, PartialEq)]
    pub enum RuntimeEvent {
        ToolCallStart {
            tool_name: String,
            call_id: String,
            timestamp_ms: u64,
        },
        ToolCallEnd {
            tool_name: String,
            call_id: String,
            duration_ms: u64,
            success: bool,
            timestamp_ms: u64,
        },
        LlmRequestStart {
            model: String,
            request_id: String,
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
        AgentStart {
            agent_id: String,
            task: String,
            timestamp_ms: u64,
        },
        AgentEnd {
            agent_id: String,
            success: bool,
            timestamp_ms: u64,
        },
        AgentError {
            agent_id: String,
            error: String,
            timestamp_ms: u64,
        },
        SessionStart {
            session_id: String,
            timestamp_ms: u64,
        },
        SessionEnd {
            session_id: String,
            timestamp_ms: u64,
        },
        SessionStatusChanged {
            session_id: String,
            status: SessionStatus,
            timestamp_ms: u64,
        },
        TokenUsage {
            model: String,
            input_tokens: u64,
            output_tokens: u64,
            cost_usd: f64,
            timestamp_ms: u64,
        },
        BudgetExhausted {
            budget_usd: f64,
            total_cost_usd: f64,
            timestamp_ms: u64,
        },
        ConfigReloaded {
            timestamp_ms: u64,
        },
        ShutdownRequested {
            reason: String,
            timestamp_ms: u64,
        },
        Custom {
            event_type: String,
            source: String,
            data: String,
            timestamp_ms: u64,
        },
    }

    impl RuntimeEvent {
        /// The event's topic.
        pub fn topic(&self) -> EventTopic {
            use RuntimeEvent::*;
            match self {
                ToolCallStart { .. } | ToolCallEnd { .. } => EventTopic::Tool,
                LlmRequestStart { .. } | LlmResponseEnd { .. } => EventTopic::Llm,
                AgentStart { .. } | AgentEnd { .. } | AgentError { .. } => EventTopic::Agent,
                SessionStart { .. } | SessionEnd { .. } | SessionStatusChanged { .. } => {
                    EventTopic::Session
                }
                TokenUsage { .. } | BudgetExhausted { .. } => EventTopic::Cost,
                ConfigReloaded { .. } | ShutdownRequested { .. } => EventTopic::System,
                Custom { .. } => EventTopic::Custom,
            }
        }

        /// Milliseconds since the UNIX epoch.
        pub fn timestamp_ms(&self) -> u64 {
            use RuntimeEvent::*;
            match self {
                ToolCallStart { timestamp_ms, .. }
                | ToolCallEnd { timestamp_ms, .. }
                | LlmRequestStart { timestamp_ms, .. }
                | LlmResponseEnd { timestamp_ms, .. }
                | AgentStart { timestamp_ms, .. }
                | AgentEnd { timestamp_ms, .. }
                | AgentError { timestamp_ms, .. }
                | SessionStart { timestamp_ms, .. }
                | SessionEnd { timestamp_ms, .. }
                | SessionStatusChanged { timestamp_ms, .. }
                | TokenUsage { timestamp_ms, .. }
                | BudgetExhausted { timestamp_ms, .. }
                | ConfigReloaded { timestamp_ms, .. }
                | ShutdownRequested { timestamp_ms, .. }
                | Custom { timestamp_ms, .. } => *timestamp_ms,
            }
        }
    }
}

use opendev::{EventTopic, RuntimeEvent};

// ---- the glue: opendev's topics as fanout topics, and its `EventBus` ----

/// An opendev topic as a fanout topic: its position in `EventTopic`.
fn fanout_topic(topic: EventTopic) -> Topic {
    Topic::new(topic as u8).expect("seven topics, under 64")
}

impl Event for RuntimeEvent {
    fn topic(&self) -> Topic {
        fanout_topic(RuntimeEvent::topic(self))
    }
}

/// opendev's `EventBus`, its API kept.
pub struct EventBus {
    bus: Bus<RuntimeEvent>,
}

impl EventBus {
    /// A bus whose subscribers hold 256 events each (opendev's `broadcast(256)`).
    pub fn new() -> Self {
        EventBus::with_capacity(256)
    }

    /// A bus whose subscribers hold `capacity` events each.
    pub fn with_capacity(capacity: usize) -> Self {
        let bus = Bus::builder().capacity(capacity).build().expect("in range");
        EventBus { bus }
    }

    /// The events of `topics` (every topic if empty), filtered at publish time; a subscriber
    /// that falls behind loses its oldest events and gets `Err(Lagged(n))`, then goes on.
    pub fn subscribe(&self, topics: &[EventTopic]) -> Subscriber<RuntimeEvent> {
        let mask = match topics {
            [] => Topics::ALL,
            _ => topics.iter().map(|&t| fanout_topic(t)).collect(),
        };
        let subscriber = self
            .bus
            .subscriber()
            .topics(mask)
            .overflow(Overflow::DropOldest);
        subscriber.build().expect("the bus is open")
    }

    /// Publishes to every subscriber of the event's topic; never waits. It's okay if there are
    /// none.
    pub fn publish(&self, event: RuntimeEvent) {
        let _ = self.bus.publish(event);
    }

    /// Closes the bus: subscribers drain what they hold, then see `Closed`.
    pub fn close(&self) {
        self.bus.close();
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

// ---- the demo: a model loop, a web client that falls behind, a cost tracker ----

/// What the browser is sent: opendev's WebSocket frames.
#[derive(Debug, PartialEq)]
enum Frame {
    Event(u64),
    /// The client missed `missed` events; the connection stays open.
    Gap {
        missed: u64,
    },
}

/// The web UI's forwarder: what opendev's WebSocket handler does with its subscription. It
/// ended the connection at the first `Lagged`; here a lag is a frame, and forwarding goes on
/// until the bus closes.
fn forward(subscriber: &mut Subscriber<RuntimeEvent>, frames: &mut Vec<Frame>) {
    loop {
        match subscriber.recv_timeout(Duration::from_secs(10)) {
            Ok(event) => frames.push(Frame::Event(event.timestamp_ms())),
            Err(RecvTimeoutError::Lagged(missed)) => frames.push(Frame::Gap { missed }),
            Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout) => return,
            Err(other) => panic!("{other}"),
        }
    }
}

/// A model loop of `calls` LLM calls, each with a tool call, publishing while the web client
/// is not reading (a browser tab in the background), then a last call once it reads again.
/// Events are numbered by their timestamp, so what the client got can be checked exactly.
struct Outcome {
    published_ui: u64,
    frames: Vec<Frame>,
    cost_events: Vec<RuntimeEvent>,
    cost_lost: u64,
    after_lag: Vec<u64>,
}

fn scenario(calls: u64) -> Outcome {
    let bus = EventBus::new();
    let mut web = bus.subscribe(&[EventTopic::Tool, EventTopic::Llm]);
    let mut cost = bus.subscribe(&[EventTopic::Cost]);
    let mut ts = 0;
    let mut stamp = || {
        ts += 1;
        ts
    };
    let mut model_call = |bus: &EventBus, n: u64| {
        let request_id = format!("req-{n}");
        let call_id = format!("call-{n}");
        let model = "m".to_string();
        bus.publish(RuntimeEvent::LlmRequestStart {
            model: model.clone(),
            request_id: request_id.clone(),
            timestamp_ms: stamp(),
        });
        bus.publish(RuntimeEvent::LlmResponseEnd {
            model: model.clone(),
            request_id,
            input_tokens: 1000,
            output_tokens: 50,
            duration_ms: 800,
            timestamp_ms: stamp(),
        });
        bus.publish(RuntimeEvent::TokenUsage {
            model,
            input_tokens: 1000,
            output_tokens: 50,
            cost_usd: 0.01,
            timestamp_ms: stamp(),
        });
        let tool_name = "bash".to_string();
        bus.publish(RuntimeEvent::ToolCallStart {
            tool_name: tool_name.clone(),
            call_id: call_id.clone(),
            timestamp_ms: stamp(),
        });
        bus.publish(RuntimeEvent::ToolCallEnd {
            tool_name,
            call_id,
            duration_ms: 5,
            success: true,
            timestamp_ms: stamp(),
        });
    };
    // The tab is in the background: `calls` model calls go by unread.
    for n in 0..calls {
        model_call(&bus, n);
    }
    // The tab wakes up, reads what it holds (a gap first), and the loop goes on.
    let mut frames = Vec::new();
    while let Ok(item) = web
        .try_recv()
        .map(|e| Frame::Event(e.timestamp_ms()))
        .or_else(|e| match e {
            fanout::error::TryRecvError::Lagged(missed) => Ok(Frame::Gap { missed }),
            _ => Err(e),
        })
    {
        frames.push(item);
    }
    let before_last = frames.len();
    model_call(&bus, calls);
    bus.close();
    forward(&mut web, &mut frames);
    let after_lag = frames[before_last..]
        .iter()
        .filter_map(|f| match f {
            Frame::Event(ts) => Some(*ts),
            Frame::Gap { .. } => None,
        })
        .collect();
    let mut cost_events = Vec::new();
    let mut cost_lost = 0;
    for item in cost.iter() {
        match item {
            Ok(event) => cost_events.push(event),
            Err(RecvError::Lagged(n)) => cost_lost += n,
            Err(end) => panic!("{end}"),
        }
    }
    Outcome {
        published_ui: 4 * (calls + 1),
        frames,
        cost_events,
        cost_lost,
        after_lag,
    }
}

fn main() {
    let calls = 200;
    let outcome = scenario(calls);
    let received = outcome
        .frames
        .iter()
        .filter(|f| matches!(f, Frame::Event(_)))
        .count();
    let missed: u64 = outcome
        .frames
        .iter()
        .map(|f| match f {
            Frame::Gap { missed } => *missed,
            Frame::Event(_) => 0,
        })
        .sum();
    println!(
        "the web client's subscription (Tool, Llm; 256 slots) saw {} of {} events and {} gap frame(s) \
         missing {missed} in all; it stayed open and got the {} events published after the gap",
        received,
        outcome.published_ui,
        outcome.frames.len() - received,
        outcome.after_lag.len()
    );
    println!(
        "the cost subscriber got {} TokenUsage events, lost {}, and never held a tool or LLM event",
        outcome.cost_events.len(),
        outcome.cost_lost
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_web_client_that_falls_behind_gets_an_exact_gap_and_stays_subscribed() {
        let calls = 200; // 800 Tool/Llm events into 256 slots while the tab is not reading
        let outcome = scenario(calls);
        let gaps: Vec<u64> = outcome
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Gap { missed } => Some(*missed),
                Frame::Event(_) => None,
            })
            .collect();
        let events: Vec<u64> = outcome
            .frames
            .iter()
            .filter_map(|f| match f {
                Frame::Event(ts) => Some(*ts),
                Frame::Gap { .. } => None,
            })
            .collect();
        // One gap, first, of exactly what did not fit: 800 published, 256 kept.
        assert_eq!(gaps, [4 * calls - 256]);
        assert_eq!(
            outcome.frames[0],
            Frame::Gap {
                missed: 4 * calls - 256
            }
        );
        assert_eq!(gaps[0] + events.len() as u64, outcome.published_ui);
        // What it kept is the newest, in publish order; then the subscription went on and got
        // the whole next model call.
        assert!(events.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(outcome.after_lag.len(), 4);
        assert_eq!(
            *events.last().unwrap(),
            5 * (calls + 1),
            "the last event published (a ToolCallEnd) arrived"
        );
    }

    #[test]
    fn topics_are_filtered_at_publish_time() {
        let outcome = scenario(200);
        // The cost subscriber's 256 slots held only cost events: 201 of them, none lost,
        // although 1,005 events were published.
        assert_eq!(outcome.cost_lost, 0);
        assert_eq!(outcome.cost_events.len(), 201);
        assert!(outcome
            .cost_events
            .iter()
            .all(|e| e.topic() == EventTopic::Cost));
    }

    #[test]
    fn subscribing_to_no_topic_means_every_topic() {
        let bus = EventBus::new();
        let mut all = bus.subscribe(&[]);
        bus.publish(RuntimeEvent::ConfigReloaded { timestamp_ms: 1 });
        bus.publish(RuntimeEvent::Custom {
            event_type: "x".into(),
            source: "test".into(),
            data: "{}".into(),
            timestamp_ms: 2,
        });
        assert_eq!(all.try_recv().unwrap().timestamp_ms(), 1);
        assert_eq!(all.try_recv().unwrap().timestamp_ms(), 2);
    }
}
