//! `try_publish` on a history bus (`HistoryBus` and `HistoryPublisher`): a publish that never
//! waits on a subscriber, with `Bus::try_publish`'s semantics, and the history's numbering kept.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fanout::error::{PublishError, TryRecvError};
use fanout::history::Replay;
use fanout::{topic, Event, HistoryBus, Overflow, Topic};

#[derive(Clone, Debug, PartialEq)]
struct Ev(u32);

impl Event for Ev {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

#[test]
fn a_full_block_queue_loses_the_event_counted_and_the_others_and_the_history_get_it() {
    let bus = HistoryBus::builder(64).build().unwrap();
    let mut audit = bus
        .subscriber()
        .capacity(2)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let mut ui = bus.subscriber().capacity(64).build().unwrap();
    let publisher = bus.publisher();
    // From another thread, which reports when it is done: if it waited on the full audit
    // queue, nothing would come.
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        let mut lost = 0;
        for i in 1..=10 {
            let delivery = publisher.try_publish(Ev(i)).unwrap();
            lost += delivery.dropped();
            assert_eq!(delivery.dropped(), delivery.timed_out());
        }
        done.send(lost).unwrap();
    });
    let lost = finished
        .recv_timeout(Duration::from_secs(10))
        .expect("try_publish never waits on the unread Block queue");
    worker.join().unwrap();
    assert_eq!(lost, 8, "two fit, eight were lost to the audit");
    // The audit: the loss in its stream, exactly, then what it holds, in order.
    assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(8)));
    let kept: Vec<_> = (0..2)
        .map(|_| audit.try_recv().unwrap().into_parts())
        .collect();
    assert_eq!(kept, [(1, Ev(1)), (2, Ev(2))]);
    assert_eq!(audit.try_recv(), Err(TryRecvError::Empty));
    // The UI got everything, numbered 1..=10, and so did the history.
    let seen: Vec<u64> = (0..10).map(|_| ui.try_recv().unwrap().seq()).collect();
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    let mut late = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
    for i in 1..=10 {
        assert_eq!(late.try_recv().unwrap().into_parts(), (u64::from(i), Ev(i)));
    }
}

#[test]
fn a_closed_history_bus_hands_the_event_back_and_numbers_nothing() {
    let bus = HistoryBus::builder(8).build().unwrap();
    let publisher = bus.publisher();
    let _listener = bus.subscriber().build().unwrap();
    bus.try_publish(Ev(1)).unwrap();
    bus.close();
    assert_eq!(
        publisher.try_publish(Ev(2)),
        Err(PublishError::Closed(Ev(2)))
    );
    assert_eq!(bus.try_publish(Ev(3)), Err(PublishError::Closed(Ev(3))));
    assert_eq!(bus.stats().published, 1);
}

#[test]
fn a_nobody_wants_it_event_not_kept_takes_no_number() {
    // The history keeps no topic, nobody listens: like `publish`, no number is spent.
    let bus = HistoryBus::builder(8)
        .history_topics(fanout::Topics::NONE)
        .build()
        .unwrap();
    bus.try_publish(Ev(1)).unwrap();
    let mut sub = bus.subscriber().build().unwrap();
    bus.try_publish(Ev(2)).unwrap();
    assert_eq!(sub.try_recv().unwrap().seq(), 1);
}
