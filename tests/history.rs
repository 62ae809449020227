//! History and replay: sequence numbers, `Replay::{Tail, Since, LastPerTopic}`, the overflow
//! policies meeting a replay larger than the queue, the live hand-off under concurrent
//! publishes, the subscribe that must not wait for a blocked publish, and panicking user code.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::{ev, Ev, Tick};
use fanout::error::{BuildError, RecvError, TryRecvError};
use fanout::history::{Replay, Sequenced};
use fanout::{topic, Bus, Event, HistoryBus, Overflow, Subscriber, Topics};

fn history_bus<E: Event>(events: usize) -> HistoryBus<E> {
    HistoryBus::builder(events).build().unwrap()
}

/// Everything queued now, as `Ok(seq)` and `Err(lagged)` items, until `Empty` or the end.
fn drain_seqs<E>(sub: &mut Subscriber<Sequenced<E>>) -> Vec<Result<u64, u64>> {
    let mut items = Vec::new();
    loop {
        match sub.try_recv() {
            Ok(item) => items.push(Ok(item.seq())),
            Err(TryRecvError::Lagged(n)) => items.push(Err(n)),
            Err(_) => return items,
        }
    }
}

#[test]
fn every_event_gets_the_next_sequence_number() {
    let bus = history_bus(4);
    let mut sub = bus.subscribe(Topics::ALL);
    assert_eq!(bus.last_seq(), 0);
    for i in 0..3 {
        bus.publish(Tick(i)).unwrap();
    }
    let got: Vec<(u64, Tick)> = (0..3).map(|_| sub.recv().unwrap().into_parts()).collect();
    assert_eq!(got, [(1, Tick(0)), (2, Tick(1)), (3, Tick(2))]);
    // Events a subscriber does not want are numbered (and kept) too.
    let mut only_one = bus.subscribe(topic!(1));
    bus.publish(Tick(3)).unwrap();
    assert_eq!(drain_seqs(&mut sub), [Ok(4)]);
    assert_eq!(only_one.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(bus.last_seq(), 4);
    assert_eq!(bus.history_len(), 4);
    bus.publish(Tick(4)).unwrap();
    assert_eq!(bus.history_len(), 4, "the ring never grows past its size");
}

#[test]
fn bad_settings_are_errors_not_panics() {
    assert_eq!(
        HistoryBus::<Tick>::builder(0).build().unwrap_err(),
        BuildError::ZeroHistory
    );
    let too_big = fanout::MAX_CAPACITY + 1;
    assert_eq!(
        Bus::<Tick>::builder().history(too_big).build().unwrap_err(),
        BuildError::HistoryTooLarge { requested: too_big }
    );
    assert_eq!(
        Bus::<Tick>::builder()
            .capacity(0)
            .history(4)
            .build()
            .unwrap_err(),
        BuildError::ZeroCapacity
    );
    let bus = history_bus::<Tick>(4);
    assert_eq!(
        bus.subscriber().capacity(0).build().unwrap_err(),
        BuildError::ZeroCapacity
    );
    bus.publish(Tick(0)).unwrap();
    // A cursor from the future (another bus, a restarted server) is refused, not ignored.
    let err = bus
        .subscriber()
        .replay(Replay::Since(2))
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        BuildError::ReplayFromFuture {
            requested: 2,
            last: 1
        }
    );
    assert!(err.to_string().contains("last is 1"), "{err}");
    assert!(bus
        .subscriber()
        .replay(Replay::Since(u64::MAX))
        .build()
        .is_err());
    // Nothing was registered by the failed builds.
    assert_eq!(bus.subscriber_count(), 0);
    // Tail(0) is no replay.
    let mut none = bus.subscriber().replay(Replay::Tail(0)).build().unwrap();
    assert_eq!(drain_seqs(&mut none), []);
}

#[test]
fn tail_replays_the_last_wanted_events_then_the_live_ones() {
    let bus = history_bus(8);
    for i in 0..6u64 {
        bus.publish(ev((i % 2) as u8, i)).unwrap();
    }
    // Topic 1 holds seqs 2, 4, 6; the last two of them, then live.
    let mut sub = bus
        .subscriber()
        .topics(topic!(1))
        .replay(Replay::Tail(2))
        .build()
        .unwrap();
    bus.publish(ev(1, 6)).unwrap();
    bus.publish(ev(0, 7)).unwrap();
    assert_eq!(drain_seqs(&mut sub), [Ok(4), Ok(6), Ok(7)]);
    // A tail longer than the history: everything wanted.
    let mut all = bus.subscriber().replay(Replay::Tail(100)).build().unwrap();
    assert_eq!(drain_seqs(&mut all).len(), 8);
}

#[test]
fn replay_obeys_the_filter() {
    let bus = history_bus(16);
    for i in 0..10u64 {
        bus.publish(ev(0, i)).unwrap();
    }
    let mut odd = bus
        .subscriber()
        .filter(|e: &Ev| e.seq % 2 == 1)
        .replay(Replay::Since(0))
        .build()
        .unwrap();
    bus.publish(ev(0, 11)).unwrap();
    bus.publish(ev(0, 12)).unwrap();
    let got: Vec<u64> = odd.try_iter().map(|e| e.unwrap().event().seq).collect();
    assert_eq!(got, [1, 3, 5, 7, 9, 11]);
}

#[test]
fn since_resumes_after_the_last_seen_and_reports_what_the_history_lost() {
    let bus = history_bus(3);
    for i in 0..5 {
        bus.publish(Tick(i)).unwrap(); // seqs 1..=5; the history holds 3..=5
    }
    let mut resumed = bus.subscriber().replay(Replay::Since(3)).build().unwrap();
    assert_eq!(drain_seqs(&mut resumed), [Ok(4), Ok(5)]);
    // From after 1: seq 2 is gone (exactly one number), then 3..=5.
    let mut late = bus.subscriber().replay(Replay::Since(1)).build().unwrap();
    assert_eq!(late.recv(), Err(RecvError::Lagged(1)));
    assert_eq!(drain_seqs(&mut late), [Ok(3), Ok(4), Ok(5)]);
    assert_eq!(late.lost(), 1);
    // Everything: 1 and 2 are gone.
    let mut all = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    assert_eq!(drain_seqs(&mut all), [Err(2), Ok(3), Ok(4), Ok(5)]);
    // Up to date: nothing to replay, nothing lost, then live.
    let mut current = bus.subscriber().replay(Replay::Since(5)).build().unwrap();
    bus.publish(Tick(5)).unwrap();
    assert_eq!(drain_seqs(&mut current), [Ok(6)]);
    // Stats count the lag as lost, never as delivered.
    let stats = bus.stats();
    let all_stats = stats.subscribers.iter().find(|s| s.id == all.id()).unwrap();
    assert_eq!((all_stats.dropped, all_stats.received), (2, 3));
    assert_eq!(
        all_stats.enqueued,
        3 + 1,
        "3 replayed, received, and seq 6 queued"
    );
}

#[test]
fn last_per_topic_is_the_current_state_in_sequence_order() {
    let bus = history_bus(16);
    for (i, topic) in [0u8, 1, 0, 2, 1, 0].into_iter().enumerate() {
        bus.publish(ev(topic, i as u64)).unwrap(); // seq = i + 1
    }
    let mut state = bus
        .subscriber()
        .topics(topic!(0) | topic!(1) | topic!(5))
        .replay(Replay::LastPerTopic)
        .build()
        .unwrap();
    // Topic 1 last at seq 5, topic 0 at seq 6; topic 2 not wanted; topic 5 never published.
    assert_eq!(drain_seqs(&mut state), [Ok(5), Ok(6)]);
}

#[test]
fn last_per_topic_outlives_the_ring() {
    // A status published once at the start, then a flood of tokens through a 4-event ring.
    let bus = history_bus(4);
    bus.publish(ev(7, 0)).unwrap(); // seq 1, topic 7
    bus.publish(ev(1, 1)).unwrap(); // seq 2, topic 1
    for i in 0..10 {
        bus.publish(ev(0, 2 + i)).unwrap(); // seqs 3..=12, topic 0
    }
    let mut state = bus
        .subscriber()
        .replay(Replay::LastPerTopic)
        .build()
        .unwrap();
    assert_eq!(drain_seqs(&mut state), [Ok(1), Ok(2), Ok(12)]);
    // A newer event of topic 7 replaces the retained one; it falls out of the ring in turn and
    // is retained in its place.
    bus.publish(ev(7, 100)).unwrap(); // seq 13
    for i in 0..4 {
        bus.publish(ev(0, 200 + i)).unwrap(); // seqs 14..=17
    }
    let mut state = bus
        .subscriber()
        .replay(Replay::LastPerTopic)
        .build()
        .unwrap();
    let got: Vec<(u64, u64)> = state
        .try_iter()
        .map(|item| {
            let item = item.unwrap();
            (item.seq(), item.event().seq)
        })
        .collect();
    assert_eq!(got, [(2, 1), (13, 100), (17, 203)]);
    // The filter applies to the last event of each topic (not "the last that passes").
    let mut filtered = bus
        .subscriber()
        .filter(|e: &Ev| e.seq != 100)
        .replay(Replay::LastPerTopic)
        .build()
        .unwrap();
    assert_eq!(drain_seqs(&mut filtered), [Ok(2), Ok(17)]);
}

#[test]
fn history_topics_limits_what_is_kept_not_what_is_numbered() {
    let bus = Bus::builder()
        .history(8)
        .history_topics(topic!(0))
        .build()
        .unwrap();
    assert_eq!(bus.history_topics(), Topics::from(topic!(0)));
    let mut live = bus.subscribe(Topics::ALL);
    for (i, topic) in [0u8, 1, 0, 1].into_iter().enumerate() {
        bus.publish(ev(topic, i as u64)).unwrap();
    }
    assert_eq!(drain_seqs(&mut live), [Ok(1), Ok(2), Ok(3), Ok(4)]);
    assert_eq!(bus.history_len(), 2);
    let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    bus.publish(ev(1, 4)).unwrap();
    assert_eq!(drain_seqs(&mut late), [Ok(1), Ok(3), Ok(5)]);
    drop((late, live));
    // With no subscriber, `publish_with` builds an event only if the history keeps its topic.
    assert!(bus.is_interested(topic!(0)));
    assert!(!bus.is_interested(topic!(1)));
    let mut built = 0;
    bus.publish_with(topic!(0), || {
        built += 1;
        ev(0, 6)
    })
    .unwrap();
    bus.publish_with(topic!(1), || {
        built += 10;
        ev(1, 7)
    })
    .unwrap();
    assert_eq!(built, 1);
    // The unwanted, unkept event took no number: nobody could ever see it.
    assert_eq!(bus.last_seq(), 6);

    // `Since` on a topic-limited history: `Lagged` counts the numbers up to the newest one the
    // ring dropped, whatever their topic (an upper bound for this subscriber, as documented).
    let small = Bus::builder()
        .history(2)
        .history_topics(topic!(0))
        .build()
        .unwrap();
    let _everything = small.subscribe(Topics::ALL); // so that topic 1 events take numbers
    for (i, topic) in [0u8, 1, 0, 1, 0, 0].into_iter().enumerate() {
        small.publish(ev(topic, i as u64)).unwrap(); // numbers 1..=6; kept: 1, 3, 5, 6
    }
    // The ring holds 5 and 6; it dropped 1 and 3: numbers 1..=3 are reported lost to a
    // `Since(0)` (the subscriber of topic 0 lost only two events: 1 and 3).
    let mut resumed = small
        .subscriber()
        .topics(topic!(0))
        .replay(Replay::Since(0))
        .build()
        .unwrap();
    assert_eq!(drain_seqs(&mut resumed), [Err(3), Ok(5), Ok(6)]);
}

#[test]
fn replay_larger_than_the_queue_meets_the_overflow_policy() {
    let bus = history_bus(10);
    for i in 0..10 {
        bus.publish(Tick(i)).unwrap();
    }
    let replay = |overflow| {
        bus.subscriber()
            .capacity(4)
            .overflow(overflow)
            .replay(Replay::Since(0))
            .build()
            .unwrap()
    };
    // DropOldest: the 6 oldest are dropped and reported, exactly, before the rest.
    let mut oldest = replay(Overflow::DropOldest);
    assert_eq!(
        drain_seqs(&mut oldest),
        [Err(6), Ok(7), Ok(8), Ok(9), Ok(10)]
    );
    // DropNewest: the first 4 are kept, the 6 newest counted (reported at the next dequeue).
    let mut newest = replay(Overflow::DropNewest);
    assert_eq!(newest.lost(), 6);
    assert_eq!(
        drain_seqs(&mut newest),
        [Err(6), Ok(1), Ok(2), Ok(3), Ok(4)]
    );
    // Block: lossless; what does not fit is held by the subscriber and handed out first.
    let mut block = replay(Overflow::Block);
    assert_eq!(block.lost(), 0);
    let stats = bus.stats();
    let block_stats = stats
        .subscribers
        .iter()
        .find(|s| s.id == block.id())
        .unwrap();
    assert_eq!(block_stats.queued, 10);
    assert_eq!(drain_seqs(&mut block), (1..=10).map(Ok).collect::<Vec<_>>());
    // ...and it blocks publishers afterwards as usual: the live stream follows, nothing lost.
    bus.publish(Tick(10)).unwrap();
    assert_eq!(drain_seqs(&mut block), [Ok(11)]);
    // Disconnect: cut off by its own replay; it keeps what fitted, then `Overflowed`.
    let mut cut = replay(Overflow::Disconnect);
    assert!(cut.is_overflowed());
    bus.publish(Tick(11)).unwrap();
    let got: Vec<_> = cut.iter().map(|item| item.map(|e| e.seq())).collect();
    // The history now holds 2..=11: seq 1 is lagged, and 6 (the first that did not fit) cut
    // it off; both are reported before its first event (counted before anything was queued).
    assert_eq!(
        got,
        [
            Err(RecvError::Lagged(2)),
            Ok(2),
            Ok(3),
            Ok(4),
            Ok(5),
            Err(RecvError::Overflowed)
        ]
    );
}

#[test]
fn a_block_backlog_reaches_every_receive_form_in_order() {
    use fanout::crossbeam_channel::select;
    let bus = history_bus(8);
    for i in 0..6 {
        bus.publish(Tick(i)).unwrap();
    }
    let replay = || {
        bus.subscriber()
            .capacity(2)
            .overflow(Overflow::Block)
            .replay(Replay::Since(0))
            .build()
            .unwrap()
    };
    // select! on the queue's receiver: the queue holds the newest two, `accept` hands out the
    // backlog first.
    let mut sub = replay();
    let mut seen = Vec::new();
    while seen.len() < 6 {
        select! {
            recv(sub.receiver()) -> msg => for item in sub.accept(msg) {
                seen.push(item.unwrap().seq());
            },
            default(Duration::from_secs(10)) => panic!("stuck after {seen:?}"),
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
    // Batches.
    let mut sub = replay();
    let mut buf = Vec::new();
    assert_eq!(sub.recv_into(&mut buf, 4), Ok(4));
    assert_eq!(sub.drain_into(&mut buf, 10), Ok(2));
    let seqs: Vec<u64> = buf.iter().map(Sequenced::seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    // Async.
    let mut sub = replay();
    futures_executor::block_on(async {
        for seq in 1..=6 {
            assert_eq!(sub.recv_async().await.unwrap().seq(), seq);
        }
    });
}

#[test]
fn async_receive_on_a_history_subscriber() {
    let bus = history_bus(8);
    bus.publish(Tick(1)).unwrap();
    let mut sub = bus.subscriber().replay(Replay::Tail(1)).build().unwrap();
    let publisher = bus.publisher();
    drop(bus);
    let producer = thread::spawn(move || publisher.publish(Tick(2)).unwrap());
    futures_executor::block_on(async {
        assert_eq!(sub.recv_async().await.unwrap().into_parts(), (1, Tick(1)));
        assert_eq!(sub.recv_async().await.unwrap().into_parts(), (2, Tick(2)));
        assert_eq!(sub.recv_async().await, Err(RecvError::Disconnected));
    });
    producer.join().unwrap();
}

#[test]
fn a_closed_bus_with_history_refuses_subscribers_and_numbers_nothing() {
    let bus = history_bus(4);
    bus.publish(Tick(0)).unwrap();
    bus.close();
    assert!(bus.publish(Tick(1)).unwrap_err().is_closed());
    assert_eq!(bus.publish(Tick(2)).unwrap_err().into_inner(), Tick(2));
    assert_eq!(bus.last_seq(), 1);
    let err = bus
        .subscriber()
        .replay(Replay::Since(0))
        .build()
        .unwrap_err();
    assert_eq!(err, BuildError::Closed);
    let mut born_closed = bus.subscribe(Topics::ALL);
    assert_eq!(born_closed.recv(), Err(RecvError::Disconnected));
}

#[test]
fn the_last_handle_closes_a_history_bus() {
    let bus = history_bus(4);
    let mut sub = bus.subscribe(Topics::ALL);
    let publisher = bus.publisher();
    drop(bus);
    publisher.publish(Tick(1)).unwrap();
    drop(publisher);
    assert_eq!(sub.recv().unwrap().seq(), 1);
    assert_eq!(sub.recv(), Err(RecvError::Disconnected));
}

#[test]
fn a_tap_on_a_history_bus_receives_numbered_events() {
    let bus = history_bus(4);
    let (tx, rx) = mpsc::channel();
    let tap = bus
        .tap()
        .spawn(move |item: fanout::tap::Received<Sequenced<Tick>>| {
            tx.send(item).unwrap();
        })
        .unwrap();
    bus.publish(Tick(3)).unwrap();
    match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
        fanout::tap::Received::Event(item) => assert_eq!(item.into_parts(), (1, Tick(3))),
        other => panic!("{other:?}"),
    }
    drop(tap);
}

/// The deadlock of the first design: a publish blocked on a full `Block` queue whose consumer is
/// the thread that now subscribes with replay. The subscribe must go through while the publish
/// is still blocked (it takes only the ring lock, which the blocked publish does not hold).
#[test]
fn subscribe_with_replay_does_not_wait_for_a_publish_blocked_on_its_own_consumer() {
    let bus = history_bus(16);
    let mut stuck = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let publisher = bus.publisher();
    let publishing = thread::spawn(move || {
        publisher.publish(Tick(1)).unwrap(); // fills the queue
        publisher.publish(Tick(2)).unwrap(); // blocks until `stuck` receives
    });
    // Number 2 is taken in the publish's ring section, before its fan-out: once it is, that
    // publish is in its fan-out, holding the order lock and waiting on the full queue (which
    // only this thread, not receiving yet, can empty).
    let deadline = Instant::now() + Duration::from_secs(10);
    while bus.last_seq() < 2 {
        assert!(Instant::now() < deadline, "the publisher never started");
        thread::yield_now();
    }
    // The consumer of `stuck` subscribes with replay on another thread, so that a regression
    // shows as a bounded wait here rather than a hung test.
    let (tx, rx) = mpsc::channel();
    let joiner = bus.clone();
    let joining = thread::spawn(move || {
        let late = joiner
            .subscriber()
            .capacity(16)
            .replay(Replay::Since(0))
            .build()
            .unwrap();
        tx.send(late).unwrap();
    });
    let mut late = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("subscribe with replay waited for a blocked publish (deadlock)");
    // The blocked publish's event was numbered and kept before it blocked; whether the replay
    // got it or the live stream did, the late subscriber gets it once.
    assert_eq!(stuck.recv().unwrap().seq(), 1);
    publishing.join().unwrap();
    joining.join().unwrap();
    assert_eq!(stuck.recv().unwrap().seq(), 2);
    assert_eq!(drain_seqs(&mut late), [Ok(1), Ok(2)]);
}

/// Four publishers on four threads while late subscribers join with `Since(0)` on a history that
/// never overflows: each one sees every event exactly once, in sequence order, with no gap.
#[test]
fn late_subscribers_racing_publishers_miss_nothing_and_see_nothing_twice() {
    const PER_PUBLISHER: u64 = 2_000;
    const PUBLISHERS: u64 = 4;
    const TOTAL: u64 = PER_PUBLISHER * PUBLISHERS;
    for round in 0..5 {
        let bus: HistoryBus<Ev> = Bus::builder()
            .capacity(TOTAL as usize)
            .history(TOTAL as usize)
            .build()
            .unwrap();
        let start = Arc::new(AtomicBool::new(false));
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|p| {
                let publisher = bus.publisher();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    while !start.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                    for i in 0..PER_PUBLISHER {
                        publisher
                            .publish(ev((i % 3) as u8, p * 1_000_000 + i))
                            .unwrap();
                    }
                })
            })
            .collect();
        start.store(true, Ordering::Release);
        let mut late = Vec::new();
        for _ in 0..8 {
            thread::sleep(Duration::from_micros(50 * round));
            late.push(bus.subscriber().replay(Replay::Since(0)).build().unwrap());
        }
        for publisher in publishers {
            publisher.join().unwrap();
        }
        bus.close();
        for mut sub in late {
            let mut seqs = Vec::new();
            let mut per_publisher = vec![None::<u64>; PUBLISHERS as usize];
            for item in sub.iter() {
                let item = item.unwrap();
                seqs.push(item.seq());
                // Each publisher's events in its own order, too.
                let (p, i) = (item.event().seq / 1_000_000, item.event().seq % 1_000_000);
                let last = &mut per_publisher[p as usize];
                assert!(last.map_or(true, |last| last < i));
                *last = Some(i);
            }
            let expected: Vec<u64> = (1..=TOTAL).collect();
            if let Some(at) = (0..seqs.len()).find(|&i| seqs[i] != expected[i]) {
                panic!(
                    "round {round}: at {at} got {} instead of {}",
                    seqs[at], expected[at]
                );
            }
            assert_eq!(seqs.len() as u64, TOTAL, "round {round}");
            let unique: HashSet<u64> = seqs.iter().copied().collect();
            assert_eq!(unique.len() as u64, TOTAL);
        }
    }
}

/// An event whose `Clone` panics once `CLONES_LEFT` reaches 0 (while it is armed).
#[derive(Debug, PartialEq)]
struct Fragile(u32);

static ARMED: AtomicBool = AtomicBool::new(false);
static CLONES_LEFT: AtomicUsize = AtomicUsize::new(0);

/// Arms `Fragile`: the clone after `ok` more clones panics.
fn arm(ok: usize) {
    CLONES_LEFT.store(ok, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
}

impl Clone for Fragile {
    fn clone(&self) -> Self {
        if ARMED.load(Ordering::SeqCst) {
            let left = CLONES_LEFT.load(Ordering::SeqCst);
            if left == 0 {
                ARMED.store(false, Ordering::SeqCst);
                panic!("clone of Fragile({})", self.0);
            }
            CLONES_LEFT.store(left - 1, Ordering::SeqCst);
        }
        Fragile(self.0)
    }
}

impl Event for Fragile {
    fn topic(&self) -> fanout::Topic {
        topic!(0)
    }
}

fn drain_fragile(sub: &mut Subscriber<Sequenced<Fragile>>) -> (Vec<(u64, Fragile)>, u64) {
    let (mut events, mut lagged) = (Vec::new(), 0);
    loop {
        match sub.try_recv() {
            Ok(item) => events.push(item.into_parts()),
            Err(TryRecvError::Lagged(n)) => lagged += n,
            Err(_) => return (events, lagged),
        }
    }
}

// One test, not three: `Fragile`'s switch is a process-wide static, and tests run in parallel.
#[test]
fn panicking_clones_leave_a_history_bus_consistent() {
    let bus = history_bus(8);
    bus.publish(Fragile(1)).unwrap();
    bus.publish(Fragile(2)).unwrap();

    // 1. During a replay: the subscribe panics; nothing is registered, the bus goes on.
    arm(1); // the second replayed clone panics
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        bus.subscriber().replay(Replay::Since(0)).build()
    }));
    assert!(panicked.is_err());
    assert_eq!(bus.subscriber_count(), 0, "a half-registered subscriber");
    assert!(bus.interest().is_empty());
    bus.publish(Fragile(3)).unwrap(); // the ring lock was released by the unwind
    let mut a = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    let mut b = bus.subscribe(Topics::ALL);
    assert_eq!(
        drain_fragile(&mut a),
        (vec![(1, Fragile(1)), (2, Fragile(2)), (3, Fragile(3))], 0)
    );

    // 2. The history's own copy (made before the ring lock): the publish ends before it takes a
    // number; no subscriber had it, none is told, no gap in the numbers.
    arm(0);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = bus.publish(Fragile(4));
    }));
    assert!(panicked.is_err());
    assert_eq!(bus.last_seq(), 3);

    // 3. During the fan-out (the clone for `a`, `b` takes the original): numbered and kept;
    // `a` and `b`, not served, are told of the loss (the owed guard), the bus goes on.
    arm(1);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = bus.publish(Fragile(5));
    }));
    assert!(panicked.is_err());
    bus.publish(Fragile(6)).unwrap();
    assert_eq!(drain_fragile(&mut a), (vec![(5, Fragile(6))], 1));
    assert_eq!(drain_fragile(&mut b), (vec![(5, Fragile(6))], 1));
    let mut late = bus.subscriber().replay(Replay::Since(3)).build().unwrap();
    assert_eq!(
        drain_fragile(&mut late),
        (vec![(4, Fragile(5)), (5, Fragile(6))], 0)
    );
}
