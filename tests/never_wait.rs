//! Issue 21: a publish that never waits, whatever the subscribers' policies, and the sink built
//! on it. Every test here would hang (not fail) on the old behaviour, so each one publishes from
//! a thread and the main thread only checks what that thread did once it returned.

use std::thread;
use std::time::Duration;

use fanout::error::TryRecvError;
use fanout::sink::NonBlocking;
use fanout::{topic, Bus, Event, EventSink, Overflow, Topic};

#[derive(Clone, Debug, PartialEq)]
struct Ev(u32);

impl Event for Ev {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

/// A lossless subscriber that nobody reads until the test says so.
fn block_queue(bus: &Bus<Ev>, capacity: usize) -> fanout::Subscriber<Ev> {
    bus.subscriber()
        .capacity(capacity)
        .overflow(Overflow::Block)
        .build()
        .unwrap()
}

#[test]
fn try_publish_counts_a_full_block_queue_as_lost_and_serves_the_others() {
    let bus = Bus::new();
    let mut audit = block_queue(&bus, 2);
    let mut ui = bus
        .subscriber()
        .capacity(64)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    let publisher = bus.publisher();
    // Nobody reads the audit: a waiting publish would never return.
    let total = thread::spawn(move || {
        let mut sums = (0, 0, 0);
        for i in 0..10 {
            let d = publisher.try_publish(Ev(i)).unwrap();
            sums.0 += d.delivered();
            sums.1 += d.dropped();
            sums.2 += d.timed_out();
        }
        sums
    })
    .join()
    .unwrap();
    // The UI got all 10; the audit 2, and 8 counted lost (also as "timed out": deadline now).
    assert_eq!(total, (12, 8, 8));
    assert_eq!(ui.try_iter().count(), 10);
    // A loss is reported as soon as it is counted, before what is still queued.
    assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(8)));
    assert_eq!(audit.try_recv(), Ok(Ev(0)));
    assert_eq!(audit.try_recv(), Ok(Ev(1)));
    assert_eq!(audit.try_recv(), Err(TryRecvError::Empty));
    // Room again: the next try_publish is delivered.
    bus.try_publish(Ev(10)).unwrap();
    assert_eq!(audit.try_recv(), Ok(Ev(10)));
    assert_eq!(audit.lost(), 8);
}

#[test]
fn publish_timeout_zero_never_waits_either() {
    let bus = Bus::new();
    let mut audit = block_queue(&bus, 1);
    let publisher = bus.publisher();
    let timed_out = thread::spawn(move || {
        (0..3)
            .map(|i| {
                publisher
                    .publish_timeout(Ev(i), Duration::ZERO)
                    .unwrap()
                    .timed_out()
            })
            .sum::<usize>()
    })
    .join()
    .unwrap();
    assert_eq!(timed_out, 2);
    assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(2)));
    assert_eq!(audit.try_recv(), Ok(Ev(0)));
}

#[test]
fn the_non_blocking_sink_never_waits_and_the_plain_sink_still_does() {
    let bus = Bus::new();
    let mut audit = block_queue(&bus, 1);
    let sink: Box<dyn EventSink<Ev>> = Box::new(NonBlocking::new(bus.publisher()));
    let sink = thread::spawn(move || {
        for i in 0..5 {
            sink.emit(Ev(i));
        }
        sink
    })
    .join()
    .unwrap();
    assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(4)));
    assert_eq!(audit.try_recv(), Ok(Ev(0)));
    // A closed bus: the event is counted as rejected, as for the plain sinks.
    bus.close();
    sink.emit(Ev(9));
    assert_eq!(bus.stats().rejected_after_close, 1);
    assert!(!sink.is_interested(topic!(0)));

    // The plain `EventSink for Publisher` stays lossless: it waits for the consumer.
    let bus = Bus::new();
    let mut audit = block_queue(&bus, 1);
    let publisher = bus.publisher();
    let emitter = thread::spawn(move || {
        for i in 0..5 {
            EventSink::emit(&publisher, Ev(i));
        }
    });
    drop(bus);
    let got: Vec<_> = audit.iter().map(Result::unwrap).collect();
    emitter.join().unwrap();
    assert_eq!(got, [Ev(0), Ev(1), Ev(2), Ev(3), Ev(4)]);
}
