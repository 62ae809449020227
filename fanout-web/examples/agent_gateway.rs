//! The main job's simulated agent host (`examples/agent_loop.rs`: concurrent sessions streaming
//! text deltas at token rate, calling tools, reporting usage), behind `fanout-web`: open the
//! dashboard in a browser, follow a session's stream with `curl -N`, or run an agent over AG-UI.
//!
//! ```text
//! cargo run --release -p fanout-web --example agent_gateway -- --help
//! cargo run --release -p fanout-web --example agent_gateway -- --port 8080 --sessions 4 --seconds 60
//! ```
//!
//! It prints the URLs to open. Everything binds to 127.0.0.1; every request is allowed (a real
//! host passes its own `Authorize` hook).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fanout::agent::{
    now_ms, topics, AgentEvent, AgentId, MessageRole, RunId, SessionId, SessionStatus,
};
use fanout::history::HistoryPublisher;
use fanout::{HistoryBus, Overflow};
use fanout_web::agui::{AgentRunEncoder, RunAgentInput, RunPlan};
use fanout_web::{AllowAll, Gateway};

struct Config {
    port: u16,
    sessions: usize,
    seconds: Option<u64>,
    token_rate: f64,
}

const USAGE: &str = "\
agent_gateway: a simulated agent host behind fanout-web's SSE and AG-UI gateway

  --port N        listen on 127.0.0.1:N (default 8080; 0 picks a free port)
  --sessions N    simulated sessions running agents (default 4)
  --token-rate R  text deltas per second per session (default 50)
  --seconds S     stop after S seconds (default: run until interrupted)
  --help          this text";

fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config {
        port: 8080,
        sessions: 4,
        seconds: None,
        token_rate: 50.0,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" {
            return Ok(None);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value:?}: {what}");
        match flag.as_str() {
            "--port" => config.port = value.parse().map_err(|_| bad("a port number"))?,
            "--sessions" => {
                config.sessions = value.parse().map_err(|_| bad("a count"))?;
                if !(1..=1000).contains(&config.sessions) {
                    return Err(bad("between 1 and 1000"));
                }
            }
            "--token-rate" => {
                config.token_rate = value.parse().map_err(|_| bad("a rate"))?;
                if !(config.token_rate.is_finite()
                    && (0.1..=100_000.0).contains(&config.token_rate))
                {
                    return Err(bad("between 0.1 and 100000"));
                }
            }
            "--seconds" => config.seconds = Some(value.parse().map_err(|_| bad("whole seconds"))?),
            other => return Err(format!("unknown flag {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Some(config))
}

/// A tiny deterministic pseudo-random sequence (xorshift), as the main job's.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One run of the main job's shape: model calls streaming text, a tool call between them,
/// usage after each, then completed (or, one run in six, failed). `words` is what the model
/// "says" (the prompt, for an AG-UI run).
fn run_agent(
    bus: &HistoryPublisher<AgentEvent>,
    session: SessionId,
    run: RunId,
    words: &[String],
    dice: &mut Dice,
    token_gap: Duration,
) {
    let publish = |event| {
        let _ = bus.publish(event);
    };
    let model = "sim-model-1".to_string();
    publish(AgentEvent::SessionStatusChanged {
        session,
        status: SessionStatus::Busy,
        timestamp_ms: now_ms(),
    });
    publish(AgentEvent::RunStarted {
        session: Some(session),
        run,
        agent: AgentId::new(),
        model: model.clone(),
        timestamp_ms: now_ms(),
    });
    let turns = 2 + dice.below(2) as u32;
    for iteration in 1..=turns {
        let started = Instant::now();
        publish(AgentEvent::ModelStarted {
            session: Some(session),
            run: Some(run),
            model: model.clone(),
            iteration,
            request_id: None,
            timestamp_ms: now_ms(),
        });
        // The last call answers with `words`; the others think aloud.
        let texts: Vec<String> = if iteration == turns {
            words.iter().map(|w| format!(" {w}")).collect()
        } else {
            (0..8 + dice.below(12))
                .map(|t| format!(" tok{t}"))
                .collect()
        };
        let tokens = texts.len();
        for text in texts {
            publish(AgentEvent::text_delta(session, run, text));
            thread::sleep(token_gap);
        }
        publish(AgentEvent::ModelFinished {
            session: Some(session),
            run: Some(run),
            model: model.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            iteration: None,
            request_id: None,
            finish_reason: None,
            input_tokens: None,
            output_tokens: None,
            timestamp_ms: now_ms(),
        });
        let input_tokens = 800 + dice.below(800);
        publish(AgentEvent::TokenUsage {
            session: Some(session),
            run: Some(run),
            model: model.clone(),
            input_tokens,
            output_tokens: tokens as u64,
            cost_usd: input_tokens as f64 * 3e-6 + tokens as f64 * 15e-6,
            timestamp_ms: now_ms(),
        });
        if iteration < turns {
            let call_id = format!("call-{run}-{iteration}");
            let tool = ["grep", "read_file", "shell"][dice.below(3) as usize].to_string();
            publish(AgentEvent::ToolStarted {
                session: Some(session),
                run: Some(run),
                call_id: call_id.clone(),
                tool: tool.clone(),
                iteration: None,
                parent_message_id: None,
                timestamp_ms: now_ms(),
            });
            for piece in ["{\"pat", "tern\": ", "\"TODO\"}"] {
                publish(AgentEvent::ToolArgsDelta {
                    session: Some(session),
                    run: Some(run),
                    call_id: call_id.clone(),
                    text: piece.into(),
                    timestamp_ms: now_ms(),
                });
            }
            let tool_time = Duration::from_millis(5 + dice.below(20));
            thread::sleep(tool_time);
            publish(AgentEvent::ToolFinished {
                session: Some(session),
                run: Some(run),
                call_id,
                tool,
                success: dice.below(10) != 0,
                duration_ms: tool_time.as_millis() as u64,
                iteration: None,
                output: None,
                error: None,
                timestamp_ms: now_ms(),
            });
        }
        publish(AgentEvent::MessageCommitted {
            session: Some(session),
            run: Some(run),
            message_id: uuid_from(dice),
            role: if iteration < turns {
                MessageRole::Tool
            } else {
                MessageRole::Assistant
            },
            timestamp_ms: now_ms(),
        });
    }
    if dice.below(6) == 0 {
        publish(AgentEvent::run_failed(
            session,
            run,
            "provider 500: overloaded",
        ));
    } else {
        publish(AgentEvent::run_completed(session, run, turns));
    }
    publish(AgentEvent::SessionStatusChanged {
        session,
        status: SessionStatus::Idle,
        timestamp_ms: now_ms(),
    });
}

fn uuid_from(dice: &mut Dice) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(dice.below(u64::MAX), dice.below(u64::MAX))
}

fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    // The history keeps every topic, deltas too: a tab that reconnects, or falls behind, gets
    // what it missed back from it (65,536 events: minutes of this simulation).
    let bus: HistoryBus<AgentEvent> = HistoryBus::builder(1 << 16).build().expect("a valid size");
    let token_gap = Duration::from_secs_f64(1.0 / config.token_rate);

    // The host's other subscribers, as in the main job: a lossless audit log without deltas,
    // a telemetry consumer of the content-free topics, and a slow UI (a small drop-oldest
    // queue, 5 ms per event) that loses deltas and says how many: the dashboard shows it.
    let mut audit = bus
        .subscriber()
        .name("audit")
        .topics(topics::AUDIT)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    thread::spawn(move || for _ in audit.iter() {});
    let mut telemetry = bus
        .subscriber()
        .name("telemetry")
        .topics(topics::TELEMETRY)
        .capacity(256)
        .build()
        .unwrap();
    thread::spawn(move || for _ in telemetry.iter() {});
    let mut slow_ui = bus
        .subscriber()
        .name("slow-ui")
        .topics(topics::UI)
        .capacity(32)
        .build()
        .unwrap();
    thread::spawn(move || {
        for _ in slow_ui.iter() {
            thread::sleep(Duration::from_millis(5));
        }
    });

    // The simulated sessions, each running agents back to back.
    let sessions: Vec<SessionId> = (0..config.sessions).map(|_| SessionId::new()).collect();
    for (index, &session) in sessions.iter().enumerate() {
        let publisher = bus.publisher();
        thread::spawn(move || {
            let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
            let _ = publisher.publish(AgentEvent::SessionStarted {
                session,
                timestamp_ms: now_ms(),
            });
            let words: Vec<String> = "the answer is in the logs"
                .split(' ')
                .map(String::from)
                .collect();
            loop {
                run_agent(
                    &publisher,
                    session,
                    RunId::new(),
                    &words,
                    &mut dice,
                    token_gap,
                );
                if publisher.is_closed() {
                    break;
                }
                thread::sleep(Duration::from_millis(200));
            }
        });
    }

    // AG-UI: a thread is a session (created on first use); a run echoes the user's message.
    let threads: Arc<Mutex<HashMap<String, SessionId>>> = Arc::default();
    let publisher = bus.publisher();
    let host = move |input: RunAgentInput, _: &axum::http::request::Parts| {
        let session = *threads
            .lock()
            .unwrap()
            .entry(input.thread_id.clone())
            .or_default();
        let run = RunId::new();
        let words: Vec<String> = input
            .last_user_text()
            .unwrap_or("hello")
            .split_whitespace()
            .map(String::from)
            .collect();
        let publisher = publisher.clone();
        let encoder = AgentRunEncoder::for_input(&input, run);
        Ok(RunPlan::new(session, encoder, move || {
            thread::spawn(move || {
                let mut dice = Dice(run.as_uuid().expect("a uuid run id").as_u64_pair().0 | 1);
                run_agent(&publisher, session, run, &words, &mut dice, token_gap);
            });
        }))
    };
    let gateway = Gateway::builder(bus.clone(), AllowAll)
        .agui(host)
        .build()
        .unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("cannot listen on 127.0.0.1:{}: {err}", config.port);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().unwrap();
        let key = sessions[0];
        println!("fanout-web gateway on http://{addr} ({} sessions)", config.sessions);
        println!("  dashboard (session {key}):  http://{addr}/dashboard?key={key}");
        println!("  every session, no deltas:  curl -N 'http://{addr}/events?topics=run,tool,cost,session'");
        println!("  one session's stream:      curl -N 'http://{addr}/events?key={key}'");
        println!("  metrics:                   curl http://{addr}/metrics");
        println!(
            "  an AG-UI run:              curl -N http://{addr}/agui -H 'content-type: application/json' \\\n      \
             -d '{{\"threadId\":\"t1\",\"runId\":\"r1\",\"messages\":[{{\"id\":\"m1\",\"role\":\"user\",\"content\":\"hi there\"}}]}}'"
        );
        let serve = axum::serve(listener, gateway.router());
        match config.seconds {
            Some(seconds) => {
                let stop = tokio::time::sleep(Duration::from_secs(seconds));
                let result = serve.with_graceful_shutdown(async move {
                    stop.await;
                    bus.close(); // every stream gets its close frame, then ends
                })
                .await;
                println!("stopped after {seconds} s");
                if result.is_err() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
            }
            None => if serve.await.is_err() { ExitCode::FAILURE } else { ExitCode::SUCCESS },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_and_bad_ones_are_refused() {
        let config = parse(args(&["--port", "0", "--sessions", "2", "--seconds", "3"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (config.port, config.sessions, config.seconds),
            (0, 2, Some(3))
        );
        assert!(parse(args(&["--help"])).unwrap().is_none());
        assert!(parse(args(&["--sessions", "0"])).is_err());
        assert!(parse(args(&["--token-rate", "NaN"])).is_err());
        assert!(parse(args(&["--port"])).is_err());
        assert!(parse(args(&["--what", "1"])).is_err());
    }
}
