//! Run waiters get the terminal event however many deltas other subscribers (and the bus) drop.
#![cfg(feature = "agent")]

use std::time::Duration;

use fanout::agent::{now_ms, topics, AgentEvent, RunId, RunWaiter, SessionId, WaitError};
use fanout::error::RecvError;
use fanout::{Bus, Overflow};

#[test]
fn the_waiter_gets_the_terminal_event_while_a_tiny_ui_queue_loses_almost_every_delta() {
    const RUNS: usize = 4;
    const DELTAS: usize = 20_000;
    let bus = Bus::new();
    // A UI subscriber that never reads during the run: 2 slots for tens of thousands of deltas.
    let mut ui = bus
        .subscriber()
        .name("ui")
        .topics(topics::UI)
        .capacity(2)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let session = SessionId::new();
    let runs: Vec<RunId> = (0..RUNS).map(|_| RunId::new()).collect();
    let mut waiters: Vec<RunWaiter> = runs
        .iter()
        .map(|&run| RunWaiter::new(&bus, run).unwrap())
        .collect();

    let loops: Vec<_> = runs
        .iter()
        .enumerate()
        .map(|(k, &run)| {
            let publisher = bus.publisher();
            std::thread::spawn(move || {
                for i in 0..DELTAS {
                    let delta = AgentEvent::text_delta(session, run, format!("t{i}"));
                    publisher.publish(delta).unwrap();
                }
                let end = match k % 3 {
                    0 => AgentEvent::run_completed(session, run, 1),
                    1 => AgentEvent::run_failed(session, run, "model error"),
                    _ => AgentEvent::RunCancelled {
                        session: Some(session),
                        run,
                        reason: "user".into(),
                        timestamp_ms: now_ms(),
                    },
                };
                publisher.publish(end).unwrap();
                // Deltas after the end must not disturb the waiter either.
                for _ in 0..1000 {
                    let delta = AgentEvent::text_delta(session, run, "late");
                    publisher.publish(delta).unwrap();
                }
            })
        })
        .collect();

    for (waiter, &run) in waiters.iter_mut().zip(&runs) {
        let end = waiter
            .wait(Duration::from_secs(30))
            .expect("terminal event");
        assert!(end.is_terminal());
        assert_eq!(end.run_id(), Some(run));
        assert_eq!(waiter.run_id(), run);
    }
    for l in loops {
        l.join().unwrap();
    }

    // The UI did lose nearly everything: the loss was real.
    bus.close();
    let mut lost = 0;
    let mut got = 0;
    for item in ui.iter() {
        match item {
            Ok(_) => got += 1,
            Err(RecvError::Lagged(n)) => lost += n,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got + lost, (RUNS * (DELTAS + 1 + 1000)) as u64);
    assert!(got <= 2);
    // Each waiter got its one terminal event; now the bus is closed, they say so.
    for waiter in &mut waiters {
        assert_eq!(
            waiter.wait(Duration::from_millis(10)),
            Err(WaitError::Closed)
        );
    }
}

#[test]
fn other_runs_terminal_events_do_not_wake_the_waiter() {
    let bus = Bus::new();
    let (session, mine, other) = (SessionId::new(), RunId::new(), RunId::new());
    let mut waiter = RunWaiter::new(&bus, mine).unwrap();
    bus.publish(AgentEvent::run_completed(session, other, 1))
        .unwrap();
    bus.publish(AgentEvent::RunStarted {
        session: Some(session),
        run: mine,
        agent: fanout::agent::AgentId::new(),
        model: "m".into(),
        timestamp_ms: now_ms(),
    })
    .unwrap();
    assert_eq!(
        waiter.wait(Duration::from_millis(20)),
        Err(WaitError::Timeout)
    );
    // The waiter's queue took nothing at all: its filter ran on the publisher.
    let stats = bus.stats();
    let w = stats
        .subscribers
        .iter()
        .find(|s| s.name.starts_with("run-waiter-"))
        .unwrap();
    assert_eq!((w.enqueued, w.dropped), (0, 0));

    bus.publish(AgentEvent::RunCancelled {
        session: Some(session),
        run: mine,
        reason: "x".into(),
        timestamp_ms: now_ms(),
    })
    .unwrap();
    assert!(matches!(
        waiter.wait(Duration::from_secs(5)),
        Ok(AgentEvent::RunCancelled { run, .. }) if run == mine
    ));
}

#[test]
fn surplus_terminal_events_never_block_the_publisher_and_the_first_is_kept() {
    let bus = Bus::new();
    let (session, run) = (SessionId::new(), RunId::new());
    let mut waiter = RunWaiter::new(&bus, run).unwrap();
    for i in 0..100 {
        bus.publish(AgentEvent::run_completed(session, run, i))
            .unwrap();
    }
    assert!(matches!(
        waiter.wait(Duration::from_secs(1)),
        Ok(AgentEvent::RunCompleted { iterations: 0, .. })
    ));
}

#[test]
fn a_closed_bus_ends_the_wait_and_a_waiter_cannot_be_made_on_it() {
    let bus = Bus::<AgentEvent>::new();
    let mut waiter = RunWaiter::new(&bus, RunId::new()).unwrap();
    let closer = {
        let bus = bus.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            bus.close();
        })
    };
    assert_eq!(waiter.wait(Duration::from_secs(30)), Err(WaitError::Closed));
    closer.join().unwrap();
    assert!(RunWaiter::new(&bus, RunId::new()).is_err());
    // A huge timeout is not an overflow panic.
    assert_eq!(waiter.wait(Duration::MAX), Err(WaitError::Closed));
}

#[test]
fn waiters_work_on_a_bus_of_arc_events() {
    let bus = Bus::<std::sync::Arc<AgentEvent>>::new();
    let (session, run) = (SessionId::new(), RunId::new());
    let mut waiter = RunWaiter::new(&bus, run).unwrap();
    bus.publish(std::sync::Arc::new(AgentEvent::RunCompleted {
        session: Some(session),
        run,
        iterations: 2,
        finish_reason: None,
        timestamp_ms: 1,
    }))
    .unwrap();
    assert_eq!(
        waiter.wait(Duration::from_secs(1)).unwrap().run_id(),
        Some(run)
    );
}

#[test]
fn a_waiter_made_after_the_run_ended_answers_from_history() {
    let bus = fanout::HistoryBus::<AgentEvent>::builder(64)
        .build()
        .unwrap();
    let (session, run, other) = (SessionId::new(), RunId::new(), RunId::new());
    bus.publish(AgentEvent::run_completed(session, other, 9))
        .unwrap();
    bus.publish(AgentEvent::run_completed(session, run, 2))
        .unwrap();
    bus.publish(AgentEvent::text_delta(session, run, "late delta"))
        .unwrap();
    let mut waiter = RunWaiter::from_history(&bus, run).unwrap();
    let done = waiter.wait(Duration::ZERO).unwrap();
    assert!(matches!(
        *done,
        AgentEvent::RunCompleted { iterations: 2, .. }
    ));
    assert_eq!(done.seq(), 2);
    // A run that has not ended yet still waits for the live event.
    let pending = RunId::new();
    let mut live = RunWaiter::from_history(&bus, pending).unwrap();
    assert_eq!(live.wait(Duration::ZERO), Err(WaitError::Timeout));
    bus.publish(AgentEvent::run_completed(session, pending, 1))
        .unwrap();
    assert_eq!(live.wait(Duration::from_secs(5)).unwrap().seq(), 4);
    // A history that does not keep run lifecycle cannot answer: the waiter waits.
    let deltas_only = fanout::HistoryBus::<AgentEvent>::builder(64)
        .history_topics(topics::DELTA)
        .build()
        .unwrap();
    deltas_only
        .publish(AgentEvent::run_completed(session, run, 2))
        .unwrap();
    let mut blind = RunWaiter::from_history(&deltas_only, run).unwrap();
    assert_eq!(blind.wait(Duration::ZERO), Err(WaitError::Timeout));
}
