//! Per-session / per-run targeting with subscriber filters: isolation between sessions.
#![cfg(feature = "agent")]

use std::collections::HashMap;

use fanout::agent::{now_ms, topics, AgentEvent, RunId, SessionId};
use fanout::{Bus, Overflow, Topics};

#[test]
fn one_sessions_events_never_reach_another_sessions_subscriber() {
    const SESSIONS: usize = 6;
    const PER_SESSION: usize = 3_000;
    let bus = Bus::new();
    let sessions: Vec<SessionId> = (0..SESSIONS).map(|_| SessionId::new()).collect();
    // One connection per session, lossless so that every event is accounted for.
    let mut connections: Vec<_> = sessions
        .iter()
        .map(|&session| {
            bus.subscriber()
                .name(format!("conn-{session}"))
                .topics(Topics::ALL)
                .capacity(1024)
                .overflow(Overflow::Block)
                .filter(move |e: &AgentEvent| e.session_id() == Some(session))
                .build()
                .unwrap()
        })
        .collect();

    let publishers: Vec<_> = sessions
        .iter()
        .map(|&session| {
            let publisher = bus.publisher();
            std::thread::spawn(move || {
                let run = RunId::new();
                for i in 0..PER_SESSION {
                    let event = if i % 2 == 0 {
                        AgentEvent::TextDelta {
                            session: Some(session),
                            run: Some(run),
                            text: format!("{i}"),
                            message_id: None,
                            timestamp_ms: now_ms(),
                        }
                    } else {
                        AgentEvent::ToolStarted {
                            session: Some(session),
                            run: Some(run),
                            call_id: format!("{i}"),
                            tool: "t".into(),
                            iteration: None,
                            parent_message_id: None,
                            timestamp_ms: now_ms(),
                        }
                    };
                    publisher.publish(event).unwrap();
                }
            })
        })
        .collect();
    // Host-wide events carry no session and go to no connection.
    bus.publish(AgentEvent::ConfigReloaded {
        timestamp_ms: now_ms(),
    })
    .unwrap();

    // Drain concurrently (Block queues of 1024 would otherwise stall the publishers).
    let readers: Vec<_> = connections
        .drain(..)
        .zip(sessions.iter().copied())
        .map(|(mut conn, session)| {
            std::thread::spawn(move || {
                let mut count = 0;
                while count < PER_SESSION {
                    let event = conn.recv().unwrap();
                    assert_eq!(event.session_id(), Some(session), "cross-session leak");
                    count += 1;
                }
                conn
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    bus.close();
    for reader in readers {
        let mut conn = reader.join().unwrap();
        // Nothing else arrives: no stray event from another session or the host.
        assert_eq!(conn.recv(), Err(fanout::error::RecvError::Disconnected));
        assert_eq!(conn.received(), PER_SESSION as u64);
        assert_eq!(conn.lost(), 0);
    }
}

#[test]
fn per_run_stream_stops_at_the_terminal_event() {
    let bus = Bus::new();
    let session = SessionId::new();
    let (run_a, run_b) = (RunId::new(), RunId::new());
    let mut stream_a = bus
        .subscriber()
        .topics(topics::UI)
        .filter(move |e: &AgentEvent| e.run_id() == Some(run_a))
        .build()
        .unwrap();
    for (run, text) in [(run_a, "a1"), (run_b, "b1"), (run_a, "a2")] {
        bus.publish(AgentEvent::TextDelta {
            session: Some(session),
            run: Some(run),
            text: text.into(),
            message_id: None,
            timestamp_ms: now_ms(),
        })
        .unwrap();
    }
    bus.publish(AgentEvent::RunCompleted {
        session: Some(session),
        run: run_a,
        iterations: 1,
        finish_reason: None,
        timestamp_ms: now_ms(),
    })
    .unwrap();
    let mut texts = Vec::new();
    let mut per_kind: HashMap<&str, usize> = HashMap::new();
    loop {
        let event = stream_a.recv().unwrap();
        *per_kind.entry(event.kind()).or_default() += 1;
        if let AgentEvent::TextDelta { text, .. } = &event {
            texts.push(text.clone());
        }
        if event.is_terminal() {
            break;
        }
    }
    assert_eq!(texts, ["a1", "a2"]);
    assert_eq!(per_kind["run_completed"], 1);
}
