//! User code that panics mid-publish (`Drop`, `Clone`, filters) never hangs a subscriber and
//! never leaves one silently short: every subscriber the publish still owed the event to is told
//! `Lagged`, the panic reaches the publisher, and the bus stays usable.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use fanout::error::{RecvError, TryRecvError};
use fanout::{topic, Bus, Event, Overflow, Subscriber, Topic};

/// An event whose `Drop` panics when `bomb` is set, and whose `Clone` panics on the clone counter's
/// `clone_bomb`-th call (counting from 1) when that is set.
#[derive(Debug)]
struct Touchy {
    seq: u32,
    bomb: bool,
    clones: Option<(Arc<AtomicUsize>, usize)>,
}

impl Touchy {
    fn plain(seq: u32) -> Self {
        Touchy {
            seq,
            bomb: false,
            clones: None,
        }
    }

    fn bomb(seq: u32) -> Self {
        Touchy {
            seq,
            bomb: true,
            clones: None,
        }
    }
}

impl Clone for Touchy {
    fn clone(&self) -> Self {
        if let Some((count, panic_at)) = &self.clones {
            if count.fetch_add(1, Ordering::SeqCst) + 1 == *panic_at {
                panic!("Clone panics on call {panic_at}");
            }
        }
        Touchy {
            seq: self.seq,
            bomb: false, // copies are harmless: only the original explodes
            clones: self.clones.clone(),
        }
    }
}

impl Drop for Touchy {
    fn drop(&mut self) {
        if self.bomb && !thread::panicking() {
            panic!("Drop of event {} panics", self.seq);
        }
    }
}

impl Event for Touchy {
    fn topic(&self) -> Topic {
        topic!(0)
    }
}

/// A subscriber whose filter panics on event `seq` (and passes every other).
fn panicking_filter_on(bus: &Bus<Touchy>, seq: u32) -> Subscriber<Touchy> {
    bus.subscriber()
        .filter(move |event: &Touchy| {
            assert!(event.seq != seq, "filter panics on {seq}");
            true
        })
        .build()
        .unwrap()
}

/// Runs `f`, expecting it to panic.
fn panics(f: impl FnOnce()) {
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    assert!(outcome.is_err(), "user code was expected to panic");
}

/// Everything `sub` holds until it would wait, as `Ok(seq)` / `Err(lagged)`; run on another
/// thread and bounded in time, so a wedged subscriber fails the test instead of hanging it.
fn drain(sub: Subscriber<Touchy>) -> Vec<Result<u32, u64>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut sub = sub;
        let mut items = Vec::new();
        loop {
            match sub.try_recv() {
                Ok(event) => items.push(Ok(event.seq)),
                Err(TryRecvError::Lagged(n)) => items.push(Err(n)),
                Err(_) => break,
            }
        }
        let _ = tx.send(items);
        // The subscriber (and any event still in it) is dropped here, off the test's thread.
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the subscriber hung: try_recv never returned")
}

#[test]
fn a_panicking_drop_of_an_evicted_event_neither_wedges_nor_loses_the_count() {
    let bus = Bus::new();
    let sub = bus
        .subscriber()
        .capacity(2)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    bus.publish(Touchy::bomb(0)).unwrap();
    bus.publish(Touchy::plain(1)).unwrap();
    // Evicts event 0, whose `Drop` panics inside the eviction.
    panics(|| drop(bus.publish(Touchy::plain(2))));
    // The eviction was counted and its announcement withdrawn: the consumer neither spins forever
    // nor misses the gap. Event 2 was not queued (the panic came first): owed, so counted too.
    assert_eq!(drain(sub), [Err(2), Ok(1)]);
    // The bus is still usable.
    let sub = bus.subscriber().build().unwrap();
    bus.publish(Touchy::plain(3)).unwrap();
    assert_eq!(drain(sub), [Ok(3)]);
}

#[test]
fn a_panicking_drop_of_a_refused_event_keeps_its_loss_count() {
    for overflow in [Overflow::DropNewest, Overflow::Disconnect, Overflow::Block] {
        let bus = Bus::new();
        let sub = bus
            .subscriber()
            .capacity(1)
            .overflow(overflow)
            .build()
            .unwrap();
        bus.publish(Touchy::plain(0)).unwrap();
        // Refused (DropNewest, Disconnect) or timed out (Block): counted, then its `Drop` panics.
        panics(|| drop(bus.publish_timeout(Touchy::bomb(1), Duration::from_millis(1))));
        assert_eq!(sub.lost(), 1, "{overflow:?}: the loss was not counted");
        assert_eq!(drain(sub), [Err(1), Ok(0)], "{overflow:?}");
    }
}

#[test]
fn a_panicking_filter_tells_every_subscriber_not_yet_served() {
    let bus = Bus::new();
    let a = bus.subscriber().build().unwrap();
    let c = bus.subscriber().build().unwrap();
    let f = panicking_filter_on(&bus, 13);
    let d = bus.subscriber().build().unwrap();
    for seq in 0..20 {
        if seq == 13 {
            panics(|| drop(bus.publish(Touchy::plain(seq))));
        } else {
            assert_eq!(bus.publish(Touchy::plain(seq)).unwrap().delivered(), 4);
        }
    }
    // `a` was served before `f`'s filter ran; `c` was waiting for the next interested subscriber
    // (to know whether it gets a copy or the original); `f` and `d` were not reached.
    let all: Vec<_> = (0..20).map(Ok).collect();
    assert_eq!(drain(a), all);
    // The others lost event 13; the loss is reported at their next dequeue (early, never late),
    // here before everything, since they read only after the last publish.
    let told: Vec<_> = std::iter::once(Err(1))
        .chain((0..20).filter(|&seq| seq != 13).map(Ok))
        .collect();
    for sub in [c, f, d] {
        assert_eq!(drain(sub), told);
    }
}

#[test]
fn a_panicking_clone_tells_every_subscriber_not_yet_served() {
    let bus = Bus::new();
    let subs: Vec<_> = (0..3).map(|_| bus.subscriber().build().unwrap()).collect();
    let event = Touchy {
        seq: 7,
        bomb: false,
        clones: Some((Arc::new(AtomicUsize::new(0)), 2)),
    };
    panics(|| drop(bus.publish(event)));
    let got: Vec<_> = subs.into_iter().map(drain).collect();
    assert_eq!(got, [vec![Ok(7)], vec![Err(1)], vec![Err(1)]]);
}

#[test]
fn a_panicking_clone_in_a_batch_tells_every_subscriber_what_it_missed() {
    let bus = Bus::new();
    let subs: Vec<_> = (0..3).map(|_| bus.subscriber().build().unwrap()).collect();
    let clones = Arc::new(AtomicUsize::new(0));
    // Clones are made for subscribers 0 and 1 (three events each); the 5th clone panics: the
    // second event for subscriber 1.
    let mut batch: Vec<Touchy> = (0..3)
        .map(|seq| Touchy {
            seq,
            bomb: false,
            clones: Some((Arc::clone(&clones), 5)),
        })
        .collect();
    let publisher = bus.publisher();
    panics(|| drop(publisher.publish_batch(&mut batch)));
    let got: Vec<_> = subs.into_iter().map(drain).collect();
    assert_eq!(
        got,
        [
            vec![Ok(0), Ok(1), Ok(2)],
            // The report comes at the first dequeue after the loss (counted before anything later).
            vec![Err(2), Ok(0)],
            vec![Err(3)],
        ]
    );
}

#[test]
fn a_panicking_filter_in_the_last_subscriber_of_a_batch_is_counted() {
    let bus = Bus::new();
    let first = bus.subscriber().build().unwrap();
    let last = panicking_filter_on(&bus, 1);
    let mut batch: Vec<Touchy> = (0..4).map(Touchy::plain).collect();
    panics(|| drop(bus.publisher().publish_batch(&mut batch)));
    assert_eq!(drain(first), [Ok(0), Ok(1), Ok(2), Ok(3)]);
    // Event 1 (its filter panicked) and events 2 and 3 (never reached) are owed to `last`.
    assert_eq!(drain(last), [Err(3), Ok(0)]);
}

#[test]
fn recv_ends_after_a_panicking_eviction() {
    // The blocking form too: `recv` returns the lag and the survivor, then `Disconnected`.
    let bus = Bus::new();
    let mut sub = bus
        .subscriber()
        .capacity(1)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    bus.publish(Touchy::bomb(0)).unwrap();
    panics(|| drop(bus.publish(Touchy::plain(1))));
    bus.close();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let items: Vec<_> = sub
            .iter()
            .map(|item| item.map(|e| e.seq).map_err(|e| format!("{e:?}")))
            .collect();
        let _ = tx.send(items);
    });
    let items = rx.recv_timeout(Duration::from_secs(10)).expect("recv hung");
    // Event 0 was evicted (counted), event 1 never got in (the panic came first: owed, counted).
    assert_eq!(items, [Err(format!("{:?}", RecvError::Lagged(2)))]);
}

#[test]
fn a_subscriber_whose_filter_rejected_the_event_is_owed_nothing() {
    let bus = Bus::new();
    // `a` is still waiting for its copy when `f`'s filter panics (the publish serves each
    // subscriber once it knows whether a later one wants the event too); `r` rejected event 13
    // before the panic: it is owed nothing and must not be told of a loss.
    let a = bus.subscriber().build().unwrap();
    let r = bus
        .subscriber()
        .filter(|event: &Touchy| event.seq != 13)
        .build()
        .unwrap();
    let f = panicking_filter_on(&bus, 13);
    for seq in 0..20 {
        if seq == 13 {
            panics(|| drop(bus.publish(Touchy::plain(seq))));
        } else {
            bus.publish(Touchy::plain(seq)).unwrap();
        }
    }
    let without_13: Vec<_> = (0..20).filter(|&seq| seq != 13).map(Ok).collect();
    let told: Vec<_> = std::iter::once(Err(1)).chain(without_13.clone()).collect();
    assert_eq!(drain(a), told);
    assert_eq!(drain(r), without_13);
    assert_eq!(drain(f), told);
}
