//! The JSON-lines recorder tap: lossless under `Overflow::Block`, gaps visible under loss.
#![cfg(feature = "agent")]

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use fanout::agent::{now_ms, topics, AgentEvent, JsonLinesRecorder, RunId, SessionId};
use fanout::tap::{Received, TapEnd, TapHandler};
use fanout::{Bus, Overflow};

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("fanout-test-{name}-{}.jsonl", std::process::id()))
}

#[test]
fn block_recorder_writes_one_line_per_published_event_from_many_publishers() {
    const PUBLISHERS: u32 = 4;
    const PER_PUBLISHER: u32 = 5_000;
    let path = temp_path("lossless");
    let bus = Bus::new();
    let audit = bus
        .tap()
        .name("audit")
        .topics(topics::AUDIT)
        .capacity(64) // far smaller than the burst: back-pressure, not room, makes it lossless
        .overflow(Overflow::Block)
        .spawn(JsonLinesRecorder::create(&path).unwrap())
        .unwrap();

    let session = SessionId::new();
    let threads: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = bus.publisher();
            std::thread::spawn(move || {
                let run = RunId::new();
                for i in 0..PER_PUBLISHER {
                    // Deltas are published too, and must not reach the audit log.
                    let delta = AgentEvent::text_delta(session, run, format!("tok{i}"));
                    publisher.publish(delta).unwrap();
                    let call_id = format!("{p}-{i}");
                    publisher
                        .publish(AgentEvent::ToolStarted {
                            session: Some(session),
                            run: Some(run),
                            call_id,
                            tool: "grep".into(),
                            iteration: None,
                            parent_message_id: None,
                            timestamp_ms: now_ms(),
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    bus.close();
    let (report, recorder) = audit.join_handler();
    let expected = u64::from(PUBLISHERS * PER_PUBLISHER);
    assert_eq!(report.end, TapEnd::Closed);
    assert_eq!((report.stats.events, report.stats.lagged), (expected, 0));
    assert_eq!((recorder.lines(), recorder.lag_lines()), (expected, 0));
    assert!(recorder.error().is_none());

    let text = std::fs::read_to_string(&path).unwrap();
    let mut per_publisher = vec![0u32; PUBLISHERS as usize];
    let mut lines = 0;
    for line in text.lines() {
        let event: AgentEvent = serde_json::from_str(line).unwrap();
        let AgentEvent::ToolStarted { call_id, .. } = event else {
            panic!("unexpected line {line}");
        };
        // FIFO per publisher: each publisher's calls appear in order.
        let (p, i) = call_id.split_once('-').unwrap();
        let (p, i): (usize, u32) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(per_publisher[p], i);
        per_publisher[p] += 1;
        lines += 1;
    }
    assert_eq!(lines, expected);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_lossy_recorder_writes_lag_lines_that_account_for_every_gap() {
    let path = temp_path("lossy");
    let bus = Bus::new();
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
    // A recorder that is held up on its first event, so that its small queue overflows.
    struct Slow(
        JsonLinesRecorder<std::fs::File>,
        Option<crossbeam_channel::Receiver<()>>,
    );
    impl TapHandler<AgentEvent> for Slow {
        fn on_item(&mut self, item: Received<AgentEvent>) {
            self.0.on_item(item);
            if let Some(gate) = self.1.take() {
                let _ = gate.recv();
            }
        }
        fn on_stop(&mut self, end: TapEnd) {
            TapHandler::<AgentEvent>::on_stop(&mut self.0, end);
        }
    }
    let tap = bus
        .tap()
        .capacity(8)
        .overflow(Overflow::DropOldest)
        .spawn(Slow(
            JsonLinesRecorder::create(&path).unwrap(),
            Some(gate_rx),
        ))
        .unwrap();
    let session = SessionId::new();
    for _ in 0..100 {
        bus.publish(AgentEvent::SessionStarted {
            session,
            timestamp_ms: now_ms(),
        })
        .unwrap();
    }
    drop(gate_tx);
    bus.close();
    let (report, Slow(recorder, _)) = tap.join_handler();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut events = 0u64;
    let mut lagged = 0u64;
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        match value.get("lagged") {
            Some(n) => lagged += n.as_u64().unwrap(),
            None => events += 1,
        }
    }
    assert!(lagged > 0);
    assert_eq!(
        events + lagged,
        100,
        "every published event is a line or counted in a gap"
    );
    assert_eq!((events, lagged), (report.stats.events, report.stats.lagged));
    assert_eq!(recorder.lines(), events);
    std::fs::remove_file(&path).unwrap();
}

/// A writer that takes `room` bytes, then fails; `taken` is what it took.
struct Failing {
    room: usize,
    taken: Vec<u8>,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.taken.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_io_error_is_kept_and_later_items_are_skipped_not_panicked_on() {
    let bus = Bus::new();
    let tap = bus
        .tap()
        .overflow(Overflow::Block)
        .spawn(JsonLinesRecorder::new(Failing {
            room: 300,
            taken: Vec::new(),
        }))
        .unwrap();
    for _ in 0..10 {
        bus.publish(AgentEvent::ConfigReloaded {
            timestamp_ms: now_ms(),
        })
        .unwrap();
    }
    bus.close();
    let (report, recorder) = tap.join_handler();
    assert_eq!(report.stats.panics, 0);
    assert_eq!(report.stats.events, 10);
    assert_eq!(recorder.error().unwrap().to_string(), "disk full");
    // The counts say what the writer took: whole lines only; every item is accounted for.
    assert_eq!(recorder.lines() + recorder.skipped(), 10);
    let lines = recorder.lines();
    let taken = recorder.into_inner().taken;
    assert!(taken.len() <= 300);
    assert_eq!(taken.iter().filter(|&&b| b == b'\n').count() as u64, lines);
    assert!(lines > 0 && lines < 10, "{lines} lines");
}

#[test]
fn on_a_full_disk_the_counts_say_nothing_was_written() {
    // /dev/full takes nothing: every write fails with ENOSPC.
    let bus = Bus::new();
    let tap = bus
        .tap()
        .overflow(Overflow::Block)
        .spawn(JsonLinesRecorder::create("/dev/full").unwrap())
        .unwrap();
    for _ in 0..10 {
        bus.publish(AgentEvent::ConfigReloaded {
            timestamp_ms: now_ms(),
        })
        .unwrap();
    }
    bus.close();
    let (report, recorder) = tap.join_handler();
    assert_eq!(report.stats.events, 10);
    assert_eq!(
        recorder.lines(),
        0,
        "lines counted that never reached the disk"
    );
    assert_eq!(recorder.skipped(), 10);
    assert_eq!(
        recorder.error().unwrap().raw_os_error(),
        Some(28),
        "ENOSPC expected"
    );
}

#[test]
fn arc_events_are_recorded_like_plain_ones() {
    let bus = Bus::<Arc<AgentEvent>>::new();
    let tap = bus
        .tap()
        .overflow(Overflow::Block)
        .spawn(JsonLinesRecorder::new(Vec::new()))
        .unwrap();
    let event = AgentEvent::ShutdownRequested {
        reason: "bye".into(),
        timestamp_ms: 5,
    };
    bus.publish(Arc::new(event.clone())).unwrap();
    bus.close();
    let (_, recorder) = tap.join_handler();
    let bytes = recorder.into_inner();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        format!("{}\n", serde_json::to_string(&event).unwrap())
    );
}
