//! Lossless topics on a `DropOldest` subscriber (issue 21, `SubscriberBuilder::lossless`): no
//! flood of other topics evicts them, every other loss is counted exactly, the queue stays
//! bounded, FIFO per publisher holds for what is delivered, and close and drop mean what they
//! mean for any subscriber.

use std::collections::VecDeque;
use std::thread;
use std::time::Duration;

use fanout::agent::{AgentEvent, RunId, RunStream, SessionId};
use fanout::error::{BuildError, RecvError, RecvTimeoutError, TryRecvError};
use fanout::{topic, Bus, Event, Overflow, Topic, Topics, WaitStrategy};
use proptest::prelude::*;

const KEPT: Topic = topic!(0);
const FLOOD: Topic = topic!(1);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Ev {
    publisher: u8,
    seq: u32,
    kept: bool,
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        if self.kept {
            KEPT
        } else {
            FLOOD
        }
    }
}

/// A `DropOldest` subscriber of `capacity` whose `KEPT` topic is lossless.
fn kept_and_flood(bus: &Bus<Ev>, capacity: usize) -> fanout::Subscriber<Ev> {
    bus.subscriber()
        .capacity(capacity)
        .overflow(Overflow::DropOldest)
        .lossless(KEPT)
        .build()
        .unwrap()
}

fn ev(publisher: u8, seq: u32, kept: bool) -> Ev {
    Ev {
        publisher,
        seq,
        kept,
    }
}

/// behest's finding: a run stream on a 64-slot `DropOldest` queue, the run's end published, then
/// 300 more of the run's events. The stream must end at the run's end. Before lossless topics the
/// end was evicted and the stream ran on to the bus's close (`Disconnected` as its last item).
#[test]
fn run_stream_ends_although_a_flood_follows_the_end() {
    let bus = Bus::<AgentEvent>::builder().capacity(64).build().unwrap();
    let (session, run) = (SessionId::new(), RunId::new());
    let mut stream = RunStream::new(&bus, run).unwrap();
    for i in 0..10 {
        bus.publish(AgentEvent::text_delta(session, run, format!("{i}")))
            .unwrap();
    }
    bus.publish(AgentEvent::run_completed(session, run, 1))
        .unwrap();
    for i in 0..300 {
        bus.publish(AgentEvent::text_delta(session, run, format!("late {i}")))
            .unwrap();
    }
    bus.close();
    let items: Vec<_> = stream.iter().collect();
    let last = items.last().expect("the stream yielded nothing");
    assert!(
        matches!(last, Ok(e) if e.is_terminal()),
        "the stream did not end at the run's end: {:?}",
        last
    );
    // Exact: 311 events of the run; the 64-slot lossy lane kept the last 64 of the 310 deltas
    // (published after the end: still queued when the stream ended), the end was kept.
    let received = items.iter().filter(|i| i.is_ok()).count() as u64;
    let lagged: u64 = items
        .iter()
        .map(|i| match i {
            Err(RecvError::Lagged(n)) => *n,
            _ => 0,
        })
        .sum();
    let queued = stream.subscriber().len() as u64;
    assert_eq!((received, lagged, queued), (1, 310 - 64, 64), "{items:?}");
}

#[test]
fn lossless_needs_drop_oldest() {
    let bus = Bus::<Ev>::new();
    for overflow in [Overflow::Block, Overflow::DropNewest, Overflow::Disconnect] {
        let err = bus
            .subscriber()
            .overflow(overflow)
            .lossless(KEPT)
            .build()
            .unwrap_err();
        assert_eq!(err, BuildError::LosslessNeedsDropOldest { overflow });
        assert!(err.to_string().contains("DropOldest"), "{err}");
    }
    // No lossless topics: any policy, one queue.
    let plain = bus
        .subscriber()
        .overflow(Overflow::Block)
        .lossless(Topics::NONE)
        .build();
    assert!(plain.is_ok());
}

/// A flood of another topic from one publisher, kept events sprinkled in (fewer than the kept
/// lane holds: nobody reads until the end): every kept event is received, in order, and
/// received + reported lost == published.
#[test]
fn kept_events_survive_any_flood_and_the_rest_is_counted_exactly() {
    let bus = Bus::new();
    let mut sub = kept_and_flood(&bus, 8);
    let mut dropped = 0;
    for seq in 0..1000u32 {
        let delivery = bus.publish(ev(0, seq, seq % 200 == 0)).unwrap();
        dropped += delivery.dropped();
        assert!(sub.len() <= 16, "unbounded: {}", sub.len());
    }
    bus.close();
    let mut kept = Vec::new();
    let (mut received, mut lagged, mut last) = (0u64, 0u64, None);
    for item in &mut sub {
        match item {
            Ok(e) => {
                assert!(last < Some(e.seq), "out of order: {e:?} after {last:?}");
                last = Some(e.seq);
                received += 1;
                if e.kept {
                    kept.push(e.seq);
                }
            }
            Err(RecvError::Lagged(n)) => lagged += n,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(kept, (0..5).map(|i| i * 200).collect::<Vec<_>>());
    assert_eq!(received + lagged, 1000);
    assert_eq!(lagged, dropped as u64);
    assert_eq!(sub.lost(), lagged);
    // The lossy lane's last 8 survive.
    assert_eq!(received, 5 + 8);
}

/// Four publishers flood a slow consumer; each publishes its kept events among its flood. The
/// consumer gets every kept event, each publisher's events in its order, and an exact count of
/// the rest. (The publishers never wait: the kept lane holds all 40 kept events.)
#[test]
fn four_publishers_fifo_per_publisher_and_exact_loss() {
    const PUBLISHERS: u8 = 4;
    const EACH: u32 = 5_000;
    let bus = Bus::new();
    let mut sub = kept_and_flood(&bus, 64);
    let handles: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = bus.publisher();
            thread::spawn(move || {
                let mut dropped = 0;
                for seq in 0..EACH {
                    dropped += publisher
                        .publish(ev(p, seq, seq % 500 == 499))
                        .unwrap()
                        .dropped();
                }
                dropped
            })
        })
        .collect();
    drop(bus.publisher());
    let mut last = [None::<u32>; PUBLISHERS as usize];
    let mut kept = [0u32; PUBLISHERS as usize];
    let (mut received, mut lagged) = (0u64, 0u64);
    let mut closed = false;
    let mut handles = Some(handles);
    let mut dropped = 0;
    loop {
        match sub.recv_timeout(Duration::from_millis(20)) {
            Ok(e) => {
                let p = usize::from(e.publisher);
                assert!(
                    last[p] < Some(e.seq),
                    "publisher {p}: {e:?} after {:?}",
                    last[p]
                );
                last[p] = Some(e.seq);
                received += 1;
                kept[p] += u32::from(e.kept);
                // A slow consumer.
                if received % 16 == 0 {
                    thread::sleep(Duration::from_micros(50));
                }
                assert!(sub.len() <= 128);
            }
            Err(fanout::error::RecvTimeoutError::Lagged(n)) => lagged += n,
            Err(fanout::error::RecvTimeoutError::Timeout) if !closed => {
                if let Some(hs) = handles.take() {
                    dropped = hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>();
                }
                bus.close();
                closed = true;
            }
            Err(fanout::error::RecvTimeoutError::Disconnected) => break,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(kept, [10; PUBLISHERS as usize], "a kept event was lost");
    assert_eq!(received + lagged, u64::from(PUBLISHERS) * u64::from(EACH));
    assert_eq!(lagged, dropped as u64);
}

/// Close with events in both lanes: everything is received in publish order, then the loss
/// report, then `Disconnected`, forever.
#[test]
fn close_drains_both_lanes_then_disconnected() {
    let bus = Bus::new();
    let mut sub = kept_and_flood(&bus, 2);
    bus.publish(ev(0, 0, false)).unwrap();
    bus.publish(ev(0, 1, true)).unwrap();
    bus.publish(ev(0, 2, false)).unwrap();
    bus.publish(ev(0, 3, true)).unwrap();
    bus.publish(ev(0, 4, false)).unwrap(); // evicts 0
    bus.close();
    assert_eq!(sub.len(), 4);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Lagged(1)));
    let seqs: Vec<u32> = (0..4).map(|_| sub.try_recv().unwrap().seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    assert_eq!(sub.try_recv(), Err(TryRecvError::Disconnected));
}

/// A blocked receive is woken by a kept event and by the close.
#[test]
fn recv_wakes_on_either_lane_and_on_close() {
    let bus = Bus::new();
    let mut sub = kept_and_flood(&bus, fanout::DEFAULT_CAPACITY);
    let publisher = bus.publisher();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        publisher.publish(ev(0, 0, true)).unwrap();
        thread::sleep(Duration::from_millis(20));
        publisher.publish(ev(0, 1, false)).unwrap();
        thread::sleep(Duration::from_millis(20));
        drop(publisher);
    });
    drop(bus);
    assert_eq!(sub.recv().map(|e| e.seq), Ok(0));
    assert_eq!(sub.recv().map(|e| e.seq), Ok(1));
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
    t.join().unwrap();
}

/// The wait strategy applies to a lossless subscriber's receive too: spinning (for a window, or
/// forever) it still takes each lane's events in order, ends at the close instead of spinning on,
/// and a busy-spinning `recv_timeout` still times out.
#[test]
fn every_wait_strategy_receives_both_lanes_and_ends_at_close() {
    for wait in [
        WaitStrategy::Park,
        WaitStrategy::SpinThenPark(Duration::from_micros(200)),
        WaitStrategy::BusySpin,
    ] {
        // A receive that spins on past the close or the deadline would hang: a watchdog fails
        // the test instead.
        let (done_tx, done) = std::sync::mpsc::channel();
        thread::spawn(move || done_tx.send(receive_both_lanes_until_close(wait)).unwrap());
        let seqs = done
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{wait:?}: the receive did not end"));
        assert_eq!(seqs, (0..200).collect::<Vec<_>>(), "{wait:?}");
    }
}

/// A lossless subscriber waiting with `wait`: a timed-out `recv_timeout`, then 200 events of both
/// lanes from another thread, then the close; what it received.
fn receive_both_lanes_until_close(wait: WaitStrategy) -> Vec<u32> {
    let bus = Bus::new();
    let mut sub = bus
        .subscriber()
        .overflow(Overflow::DropOldest)
        .lossless(KEPT)
        .wait(wait)
        .build()
        .unwrap();
    assert_eq!(
        sub.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout),
        "{wait:?}"
    );
    let publisher = bus.publisher();
    let t = thread::spawn(move || {
        for seq in 0..200 {
            publisher.publish(ev(0, seq, seq % 3 == 0)).unwrap();
            if seq % 50 == 0 {
                thread::sleep(Duration::from_millis(2));
            }
        }
        thread::sleep(Duration::from_millis(10));
        drop(publisher); // the last handle: the bus closes
    });
    drop(bus);
    let mut seqs = Vec::new();
    loop {
        match sub.recv() {
            Ok(event) => seqs.push(event.seq),
            Err(RecvError::Disconnected) => break,
            Err(other) => panic!("{wait:?}: {other:?} (the default capacity was never full)"),
        }
    }
    t.join().unwrap();
    seqs
}

/// A full kept lane: `try_publish` does not wait, and the kept event it could not enqueue is
/// counted and reported (never silently lost); `publish` waits until the consumer makes room.
#[test]
fn full_kept_lane_waits_or_counts() {
    let bus = Bus::new();
    let mut sub = kept_and_flood(&bus, 1);
    bus.publish(ev(0, 0, true)).unwrap();
    let refused = bus.try_publish(ev(0, 1, true)).unwrap();
    assert_eq!((refused.dropped(), refused.timed_out()), (1, 1));
    let publisher = bus.publisher();
    let waiting = thread::spawn(move || publisher.publish(ev(0, 2, true)).unwrap());
    thread::sleep(Duration::from_millis(30));
    assert!(
        !waiting.is_finished(),
        "a publish into a full kept lane did not wait"
    );
    assert_eq!(sub.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(sub.recv().map(|e| e.seq), Ok(0));
    let delivery = waiting.join().unwrap();
    assert_eq!(delivery.delivered(), 1);
    assert_eq!(sub.recv().map(|e| e.seq), Ok(2));
    let stats = bus.stats();
    assert_eq!(stats.subscribers[0].dropped, 1);
}

/// Dropping a subscriber with events in both lanes and a publish waiting on its full kept lane:
/// the publish returns, and nothing is counted as lost to anyone.
#[test]
fn drop_ends_a_wait_on_the_kept_lane() {
    let bus = Bus::new();
    let sub = kept_and_flood(&bus, 1);
    bus.publish(ev(0, 0, true)).unwrap();
    bus.publish(ev(0, 1, false)).unwrap();
    let publisher = bus.publisher();
    let waiting = thread::spawn(move || publisher.publish(ev(0, 2, true)).unwrap());
    thread::sleep(Duration::from_millis(20));
    drop(sub);
    let delivery = waiting.join().unwrap();
    assert_eq!((delivery.delivered(), delivery.dropped()), (0, 0));
    assert_eq!(bus.subscriber_count(), 0);
}

/// `resubscribe` keeps the lossless topics.
#[test]
fn resubscribe_keeps_lossless_topics() {
    let bus = Bus::new();
    let sub = kept_and_flood(&bus, 1);
    let mut again = sub.resubscribe();
    bus.publish(ev(0, 0, true)).unwrap();
    bus.publish(ev(0, 1, false)).unwrap();
    bus.publish(ev(0, 2, false)).unwrap();
    assert_eq!(
        again.try_recv().map(|e| e.seq),
        Err(TryRecvError::Lagged(1))
    );
    assert_eq!(again.try_recv().map(|e| e.seq), Ok(0));
    assert_eq!(again.try_recv().map(|e| e.seq), Ok(2));
}

// ---- a reference model, one thread: publishes, try_publishes and receives at random ----

#[derive(Clone, Debug)]
enum Op {
    /// Publish a kept (`true`) or flood event (`try_publish` when the kept lane is full).
    Publish(bool),
    Recv,
}

/// The semantics, sequentially: two lanes of `capacity`, the lossy one evicting its oldest, the
/// kept one refusing (lost, counted) when full; the consumer takes a head from each lane and
/// hands out the older (by publish order); a loss pending when it hands one out is reported
/// first, and the held event comes next whatever was lost since.
#[derive(Default)]
struct Model {
    capacity: usize,
    lossy: VecDeque<u32>,
    keep: VecDeque<u32>,
    lossy_head: Option<u32>,
    keep_head: Option<u32>,
    held: Option<u32>,
    lost: u64,
    reported: u64,
}

impl Model {
    fn publish(&mut self, seq: u32, kept: bool) -> (usize, usize) {
        if kept {
            if self.keep.len() == self.capacity {
                self.lost += 1;
                return (0, 1);
            }
            self.keep.push_back(seq);
            return (1, 0);
        }
        let mut dropped = 0;
        if self.lossy.len() == self.capacity {
            self.lossy.pop_front();
            self.lost += 1;
            dropped = 1;
        }
        self.lossy.push_back(seq);
        (1, dropped)
    }

    fn try_recv(&mut self) -> Result<u32, TryRecvError> {
        if let Some(seq) = self.held.take() {
            return Ok(seq);
        }
        if self.lossy_head.is_none() {
            self.lossy_head = self.lossy.pop_front();
        }
        if self.keep_head.is_none() {
            self.keep_head = self.keep.pop_front();
        }
        let next = match (self.lossy_head, self.keep_head) {
            (Some(l), Some(k)) if k < l => self.keep_head.take(),
            (Some(_), _) => self.lossy_head.take(),
            (None, Some(_)) => self.keep_head.take(),
            (None, None) => None,
        };
        if self.lost != self.reported {
            let n = self.lost - self.reported;
            self.reported = self.lost;
            self.held = next;
            return Err(TryRecvError::Lagged(n));
        }
        next.ok_or(TryRecvError::Empty)
    }

    fn len(&self) -> usize {
        self.lossy.len()
            + self.keep.len()
            + usize::from(self.lossy_head.is_some())
            + usize::from(self.keep_head.is_some())
            + usize::from(self.held.is_some())
    }
}

proptest! {
    #[test]
    fn matches_the_reference_model(
        capacity in 1usize..=4,
        ops in proptest::collection::vec(
            prop_oneof![
                2 => any::<bool>().prop_map(Op::Publish),
                1 => Just(Op::Recv),
            ],
            0..80,
        ),
    ) {
        let bus = Bus::new();
        let mut sub = kept_and_flood(&bus, capacity);
        // A plain subscriber beside it is unaffected.
        let mut plain = bus.subscriber().capacity(1000).build().unwrap();
        let mut model = Model { capacity, ..Model::default() };
        for (seq, op) in ops.iter().enumerate() {
            let seq = seq as u32;
            match op {
                Op::Publish(kept) => {
                    let event = ev(0, seq, *kept);
                    let delivery = if *kept && model.keep.len() == capacity {
                        bus.try_publish(event).unwrap()
                    } else {
                        bus.publish(event).unwrap()
                    };
                    let (delivered, dropped) = model.publish(seq, *kept);
                    prop_assert_eq!(delivery.delivered(), delivered + 1);
                    prop_assert_eq!(delivery.dropped(), dropped);
                    prop_assert_eq!(plain.try_recv().map(|e| e.seq), Ok(seq));
                }
                Op::Recv => {
                    prop_assert_eq!(sub.try_recv().map(|e| e.seq), model.try_recv());
                }
            }
            prop_assert_eq!(sub.len(), model.len());
            prop_assert_eq!(sub.lost(), model.lost);
        }
        bus.close();
        loop {
            let got = sub.try_recv().map(|e| e.seq);
            match model.try_recv() {
                Err(TryRecvError::Empty) => {
                    prop_assert_eq!(got, Err(TryRecvError::Disconnected));
                    break;
                }
                expected => prop_assert_eq!(got, expected),
            }
        }
    }
}

/// Async: a task waiting in `recv_async` is woken by a kept event; a `publish_async` into a
/// full kept lane waits (pending) until the consumer makes room, then delivers.
#[test]
fn async_receive_and_publish_on_the_kept_lane() {
    let bus = Bus::new();
    let mut sub = kept_and_flood(&bus, 1);
    let publisher = bus.publisher();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        publisher.publish(ev(0, 0, true)).unwrap();
        // The kept lane is full until the consumer takes seq 0: this waits for room.
        futures_executor::block_on(publisher.publish_async(ev(0, 1, true))).unwrap()
    });
    let first = futures_executor::block_on(sub.recv_async());
    assert_eq!(first.map(|e| e.seq), Ok(0));
    let second = futures_executor::block_on(sub.recv_async());
    assert_eq!(second.map(|e| e.seq), Ok(1));
    assert_eq!(t.join().unwrap().delivered(), 1);
    assert_eq!(sub.lost(), 0);
}
