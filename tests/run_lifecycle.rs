//! Issue 21: the run helpers on a host's own event type. `HostEvent` is shaped after behest's
//! public `AgentEvent` (../shared/seeds/): struct variants, a run id that is the host's own type
//! (a string here, not fanout's `RunId`), `is_terminal` on three variants, and one event that
//! belongs to no run (behest has none; fluers' and opendev's host-wide events do).
#![cfg(feature = "agent")]

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use fanout::agent::{RunLifecycle, RunStream, RunWaiter, WaitError};
use fanout::error::RecvError;
use fanout::history::Replay;
use fanout::{topic, Bus, Event, HistoryBus, Overflow, Topic, Topics};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct HostRunId(String);

#[derive(Clone, Debug, PartialEq)]
struct TextDelta {
    run_id: HostRunId,
    delta: String,
}

#[derive(Clone, Debug, PartialEq)]
struct RunEnded {
    run_id: HostRunId,
    error: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum HostEvent {
    RunStarted { run_id: HostRunId },
    TextDelta(TextDelta),
    RunCompleted(RunEnded),
    RunFailed(RunEnded),
    RunCancelled { run_id: HostRunId },
    ProviderHealth { healthy: bool },
}

const LIFECYCLE: Topic = topic!(0);
const STREAM: Topic = topic!(1);
const SYSTEM: Topic = topic!(2);

impl Event for HostEvent {
    fn topic(&self) -> Topic {
        match self {
            HostEvent::TextDelta(_) => STREAM,
            HostEvent::ProviderHealth { .. } => SYSTEM,
            _ => LIFECYCLE,
        }
    }
}

impl RunLifecycle for HostEvent {
    type RunId = HostRunId;
    const TERMINAL_TOPICS: Topics = Topics::only(LIFECYCLE);

    fn run_id(&self) -> Option<&HostRunId> {
        match self {
            HostEvent::RunStarted { run_id } | HostEvent::RunCancelled { run_id } => Some(run_id),
            HostEvent::TextDelta(e) => Some(&e.run_id),
            HostEvent::RunCompleted(e) | HostEvent::RunFailed(e) => Some(&e.run_id),
            HostEvent::ProviderHealth { .. } => None,
        }
    }

    fn is_terminal(&self) -> bool {
        matches!(
            self,
            HostEvent::RunCompleted(_) | HostEvent::RunFailed(_) | HostEvent::RunCancelled { .. }
        )
    }
}

fn id(name: &str) -> HostRunId {
    HostRunId(name.to_string())
}

fn delta(run: &str, text: &str) -> HostEvent {
    HostEvent::TextDelta(TextDelta {
        run_id: id(run),
        delta: text.to_string(),
    })
}

fn failed(run: &str) -> HostEvent {
    HostEvent::RunFailed(RunEnded {
        run_id: id(run),
        error: Some("provider 529".into()),
    })
}

#[test]
fn a_waiter_on_a_host_type_survives_a_flood_that_a_ui_loses() {
    let bus = Bus::new();
    let mut ui = bus
        .subscriber()
        .capacity(8)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let mut waiter = RunWaiter::new(&bus, id("run-a")).unwrap();
    assert_eq!(waiter.run_id(), id("run-a"));
    bus.publish(HostEvent::RunStarted {
        run_id: id("run-a"),
    })
    .unwrap();
    bus.publish(HostEvent::ProviderHealth { healthy: true })
        .unwrap();
    bus.publish(failed("run-b")).unwrap(); // another run's end: not this waiter's
    bus.publish(failed("run-a")).unwrap();
    // 300 more events after the end, as behest's flood: the UI's 8 slots lose the end...
    for i in 0..300 {
        bus.publish(delta("run-a", &format!("late {i}"))).unwrap();
    }
    let ui_items: Vec<_> = ui.try_iter().collect();
    assert!(!ui_items.contains(&Ok(failed("run-a"))));
    // ...the waiter never does: only terminal events of its run entered its queue.
    assert_eq!(waiter.wait(Duration::ZERO), Ok(failed("run-a")));
    assert_eq!(waiter.wait(Duration::ZERO), Err(WaitError::Timeout));
}

#[test]
fn a_waiter_takes_arc_host_events_and_a_history_bus_of_them() {
    let bus: Bus<Arc<HostEvent>> = Bus::new();
    let mut waiter = RunWaiter::new(&bus, id("r")).unwrap();
    let publisher = bus.publisher();
    let agent = thread::spawn(move || {
        publisher.publish(Arc::new(delta("r", "x"))).unwrap();
        publisher
            .publish(Arc::new(HostEvent::RunCancelled { run_id: id("r") }))
            .unwrap();
    });
    let end = waiter.wait(Duration::from_secs(10)).unwrap();
    assert_eq!(*end, HostEvent::RunCancelled { run_id: id("r") });
    agent.join().unwrap();

    let history = HistoryBus::builder(16).build().unwrap();
    history.publish(failed("done")).unwrap();
    let mut late = RunWaiter::from_history(&history, id("done")).unwrap();
    let end = late.wait(Duration::ZERO).unwrap();
    assert_eq!((end.seq(), end.event()), (1, &failed("done")));
    let mut pending = RunWaiter::from_history(&history, id("pending")).unwrap();
    assert_eq!(
        pending.wait(Duration::ZERO).unwrap_err(),
        WaitError::Timeout
    );
    history.close();
    assert_eq!(pending.wait(Duration::ZERO).unwrap_err(), WaitError::Closed);
}

#[test]
fn a_run_stream_yields_the_runs_events_in_order_and_ends_at_its_end() {
    let bus = Bus::new();
    let mut stream = RunStream::new(&bus, id("a")).unwrap();
    let publisher = bus.publisher();
    let agent = thread::spawn(move || {
        publisher
            .publish(HostEvent::RunStarted { run_id: id("a") })
            .unwrap();
        for i in 0..50 {
            publisher.publish(delta("a", &i.to_string())).unwrap();
            publisher.publish(delta("b", "other run")).unwrap();
            publisher
                .publish(HostEvent::ProviderHealth { healthy: true })
                .unwrap();
        }
        publisher.publish(failed("a")).unwrap();
        publisher.publish(delta("a", "after the end")).unwrap();
        publisher
    });
    // Collecting ends although the bus stays open (the agent thread hands its publisher back).
    let items: Vec<HostEvent> = stream.iter().map(Result::unwrap).collect();
    let publisher = agent.join().unwrap();
    assert!(!publisher.is_closed());
    let mut expected = vec![HostEvent::RunStarted { run_id: id("a") }];
    expected.extend((0..50).map(|i| delta("a", &i.to_string())));
    expected.push(failed("a"));
    assert_eq!(items, expected);
}

#[test]
fn a_run_stream_reports_losses_and_a_close_before_the_end() {
    let bus = Bus::new();
    let mut stream = RunStream::with(
        bus.subscriber().capacity(4).overflow(Overflow::DropOldest),
        id("a"),
    )
    .unwrap();
    for i in 0..10 {
        bus.publish(delta("a", &i.to_string())).unwrap();
    }
    bus.close();
    assert_eq!(stream.recv(), Some(Err(RecvError::Lagged(6))));
    for i in 6..10 {
        assert_eq!(stream.recv(), Some(Ok(delta("a", &i.to_string()))));
    }
    assert!(!stream.is_finished());
    // The run never ended: the last item says the stream was cut, then nothing.
    assert_eq!(stream.recv(), Some(Err(RecvError::Disconnected)));
    assert!(stream.is_finished());
    assert_eq!(stream.recv(), None);
}

#[test]
fn a_run_stream_async_on_two_executors() {
    for use_tokio in [false, true] {
        let bus = Bus::new();
        let mut stream = RunStream::new(&bus, id("a")).unwrap();
        let publisher = bus.publisher();
        let agent = thread::spawn(move || {
            for i in 0..100 {
                publisher.publish(delta("a", &i.to_string())).unwrap();
                publisher.publish(delta("z", "other")).unwrap();
            }
            publisher
                .publish(HostEvent::RunCompleted(RunEnded {
                    run_id: id("a"),
                    error: None,
                }))
                .unwrap();
            publisher
        });
        let drain = async {
            let mut items = Vec::new();
            while let Some(item) = stream.next_async().await {
                items.push(item);
            }
            items
        };
        let items = if use_tokio {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(drain)
        } else {
            futures_executor::block_on(drain)
        };
        let _publisher = agent.join().unwrap();
        // Default capacity holds the whole run: every event arrives, then the end.
        assert_eq!(items.len(), 101);
        assert!(items[..100]
            .iter()
            .enumerate()
            .all(|(i, item)| item == &Ok(delta("a", &i.to_string()))));
        assert!(matches!(items[100], Ok(HostEvent::RunCompleted(_))));
        assert!(stream.is_finished());
    }
}

#[cfg(feature = "stream")]
#[test]
fn a_run_stream_is_a_stream_and_joins_a_history_bus_mid_run() {
    use futures_lite::StreamExt;
    let bus = HistoryBus::builder(64).build().unwrap();
    bus.publish(HostEvent::RunStarted { run_id: id("a") })
        .unwrap();
    bus.publish(delta("b", "other")).unwrap();
    bus.publish(delta("a", "one")).unwrap();
    let subscriber = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    let stream = RunStream::from_subscriber(subscriber, id("a"));
    bus.publish(delta("a", "two")).unwrap();
    bus.publish(failed("a")).unwrap();
    let seqs: Vec<u64> =
        futures_lite::future::block_on(stream.map(|item| item.unwrap().seq()).collect());
    // The replay (1 and 3: 2 is another run's, skipped), then live (4 and the end, 5).
    assert_eq!(seqs, [1, 3, 4, 5]);
}
