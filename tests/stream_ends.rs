//! The end of a stream is final and prompt: nothing arrives after `Overflowed`, close ends every
//! stream even while a publish waits on a subscriber that never reads, and a dropped subscriber
//! releases a waiting publish even if a clone of its receiver lives on.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fanout::error::{RecvError, TryRecvError};
use fanout::{topic, Bus, Overflow, Subscriber};

mod common;
use common::{ev, Ev};

/// Joins `thread`, failing (instead of hanging) if it has not finished within 10 s.
fn join_in_time<T: Send + 'static>(thread: thread::JoinHandle<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !thread.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "the publish still waits after close"
        );
        thread::sleep(Duration::from_millis(5));
    }
    thread.join().unwrap()
}

/// Receives everything up to the end of the stream, on another thread, bounded in time.
fn to_the_end(mut sub: Subscriber<Ev>) -> Vec<Result<u64, RecvError>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut items = Vec::new();
        loop {
            match sub.recv() {
                Ok(e) => items.push(Ok(e.seq)),
                Err(RecvError::Lagged(n)) => items.push(Err(RecvError::Lagged(n))),
                Err(end) => {
                    items.push(Err(end));
                    break;
                }
            }
        }
        let _ = tx.send(items);
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the stream never ended")
}

#[test]
fn nothing_arrives_after_overflowed() {
    let bus = Bus::new();
    // `blocker` (topic 0 only) is first in the table: a publish of topic 0 waits on it before it
    // reaches `cut` (topics 0 and 1).
    let mut blocker = bus
        .subscriber()
        .topics(topic!(0))
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let mut cut = bus
        .subscriber()
        .topics(topic!(0) | topic!(1))
        .capacity(1)
        .overflow(Overflow::Disconnect)
        .build()
        .unwrap();
    bus.publish(ev(0, 0)).unwrap(); // fills both
    let p = bus.publisher();
    let waiting = thread::spawn(move || p.publish(ev(0, 1)).unwrap());
    thread::sleep(Duration::from_millis(100)); // let it block on `blocker`
                                               // Another publish cuts `cut` off (its queue is full).
    let cutting = bus.publish(ev(1, 2)).unwrap();
    assert_eq!(cutting.disconnected(), 1);
    assert!(cut.is_overflowed());
    // `cut` drains what it has; its end waits for the publish still under way.
    let mut seen = Vec::new();
    loop {
        match cut.try_recv() {
            Ok(e) => seen.push(Ok(e.seq)),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Lagged(n)) => seen.push(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Overflowed) => {
                seen.push(Err(RecvError::Overflowed));
                break;
            }
            Err(TryRecvError::Disconnected) => panic!("not closed"),
        }
    }
    // Let the waiting publish through: it reaches `cut` (which has room now) or had skipped it.
    assert_eq!(blocker.recv().unwrap().seq, 0);
    let late = waiting.join().unwrap();
    let rest = to_the_end(cut);
    let all: Vec<_> = seen.into_iter().chain(rest).collect();
    let end = all
        .iter()
        .position(|item| *item == Err(RecvError::Overflowed))
        .expect("ended with Overflowed");
    assert_eq!(end, all.len() - 1, "items after Overflowed: {all:?}");
    // Conservation: event 0, the lag for event 2, and event 1 if the late publish delivered it.
    let received: Vec<u64> = all.iter().filter_map(|i| i.ok()).collect();
    let expected: Vec<u64> = if late.delivered() == 2 {
        vec![0, 1]
    } else {
        vec![0]
    };
    assert_eq!(received, expected, "{all:?}");
    assert!(all.contains(&Err(RecvError::Lagged(1))));
}

#[test]
fn close_ends_every_stream_while_a_publish_waits_on_a_subscriber_that_never_reads() {
    let bus = Bus::new();
    let stuck = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let other = bus.subscriber().capacity(8).build().unwrap();
    bus.publish(ev(0, 0)).unwrap();
    let p = bus.publisher();
    let waiting = thread::spawn(move || p.publish(ev(0, 1)));
    thread::sleep(Duration::from_millis(100)); // let it block on `stuck`
    bus.close();
    // The waiting publish returns: it was accepted before the close, so it still delivers where
    // there is room, and counts the event as lost for the subscriber that had none.
    let delivery = join_in_time(waiting).unwrap();
    assert_eq!((delivery.delivered(), delivery.dropped()), (1, 1));
    assert_eq!(
        to_the_end(other),
        [Ok(0), Ok(1), Err(RecvError::Disconnected)]
    );
    assert_eq!(
        to_the_end(stuck),
        [
            Err(RecvError::Lagged(1)),
            Ok(0),
            Err(RecvError::Disconnected)
        ]
    );
}

#[test]
fn close_ends_every_stream_even_when_the_waiting_publish_is_the_last_handle() {
    let bus = Bus::new();
    let _stuck = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    let other = bus.subscriber().build().unwrap();
    bus.publish(ev(0, 0)).unwrap();
    let closer = bus.clone();
    let waiting = thread::spawn(move || bus.publish(ev(0, 1)));
    thread::sleep(Duration::from_millis(100));
    closer.close();
    join_in_time(waiting).unwrap();
    assert_eq!(
        to_the_end(other),
        [Ok(0), Ok(1), Err(RecvError::Disconnected)]
    );
}

#[test]
fn a_dropped_subscriber_releases_a_waiting_publish_even_if_its_receiver_was_cloned() {
    let bus = Bus::new();
    let sub = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    // Kept for `select!` elsewhere, outliving the subscriber.
    let kept = sub.receiver().clone();
    bus.publish(ev(0, 0)).unwrap();
    let p = bus.publisher();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(p.publish(ev(0, 1)).map(|d| d.delivered()));
    });
    thread::sleep(Duration::from_millis(100));
    drop(sub);
    let delivered = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the publish still waits on a dropped subscriber");
    assert_eq!(delivered.unwrap(), 0);
    drop(kept);
}
