//! Keyed routing at scale: 10,000 keyed subscribers and several publishers (each receives exactly
//! its key's events, or an exact `Lagged`, and never another key's), and keyed subscribers
//! coming and going while publishers run (no gap once one has received a publisher's event).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use fanout::error::RecvError;
use fanout::{topic, Bus, Event, Key, Overflow, Topic};

#[derive(Clone, Debug)]
struct Ev {
    publisher: u8,
    /// `None`: an unkeyed event, for everyone.
    key: Option<u32>,
    /// The publisher's sequence number for this key (or among its unkeyed events).
    seq: u32,
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        topic!(0)
    }
    fn key(&self) -> Option<Key> {
        self.key.map(Key::from)
    }
}

#[test]
fn ten_thousand_keyed_subscribers_get_exactly_their_keys_events() {
    const KEYS: u32 = 10_000;
    const PUBLISHERS: u8 = 3;
    const ROUNDS: u32 = 4;
    const UNKEYED: u32 = 2;
    let bus = Bus::new();
    // Small DropOldest queues, so that some subscribers lag while the publishers run.
    let subs: Vec<_> = (0..KEYS)
        .map(|k| {
            bus.subscriber()
                .key(k)
                .capacity(6)
                .overflow(Overflow::DropOldest)
                .build()
                .unwrap()
        })
        .collect();
    assert_eq!(bus.subscriber_count(), KEYS as usize);

    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = bus.publisher();
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    // Each publisher walks the keys in its own order (a multiplier coprime to
                    // KEYS makes a permutation).
                    for i in 0..KEYS {
                        let key = (i * [1, 3, 7][usize::from(p)]) % KEYS;
                        let delivery = publisher
                            .publish(Ev {
                                publisher: p,
                                key: Some(key),
                                seq: round,
                            })
                            .unwrap();
                        assert_eq!(delivery.delivered(), 1, "one subscriber per key");
                    }
                }
                for seq in 0..UNKEYED {
                    let delivery = publisher
                        .publish(Ev {
                            publisher: p,
                            key: None,
                            seq,
                        })
                        .unwrap();
                    assert_eq!(delivery.delivered(), KEYS as usize);
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().unwrap();
    }
    drop(bus);

    let per_subscriber = u64::from(PUBLISHERS) * u64::from(ROUNDS + UNKEYED);
    let mut lagging = 0;
    for (k, mut sub) in subs.into_iter().enumerate() {
        let (mut received, mut lost) = (0u64, 0u64);
        // Per publisher, the last keyed and unkeyed sequence number seen: FIFO per publisher.
        let mut last: HashMap<(u8, bool), u32> = HashMap::new();
        loop {
            match sub.recv() {
                Ok(ev) => {
                    if let Some(key) = ev.key {
                        assert_eq!(key, k as u32, "subscriber {k} got key {key}'s event");
                    }
                    if let Some(&before) = last.get(&(ev.publisher, ev.key.is_some())) {
                        assert!(ev.seq > before, "subscriber {k}: {ev:?} after seq {before}");
                    }
                    last.insert((ev.publisher, ev.key.is_some()), ev.seq);
                    received += 1;
                }
                Err(RecvError::Lagged(n)) => lost += n,
                Err(RecvError::Disconnected) => break,
                Err(end) => panic!("subscriber {k}: {end}"),
            }
        }
        assert_eq!(received + lost, per_subscriber, "subscriber {k}");
        assert_eq!(sub.lost(), lost);
        lagging += usize::from(lost > 0);
    }
    // Each queue holds 6 of the 18 events it is offered, so every subscriber lagged at least once:
    // the exact-count check above was exercised, not skipped.
    assert_eq!(lagging, KEYS as usize);
}

#[test]
fn keyed_subscribers_coming_and_going_during_publishes_miss_nothing_after_their_first_event() {
    const KEYS: u32 = 8;
    const PUBLISHERS: u8 = 2;
    const CHURNERS: u32 = 2;
    const CYCLES: u32 = 150;
    let bus = Bus::new();
    let stop = Arc::new(AtomicBool::new(false));
    // A subscriber of every key throughout (so every key has a group while others come and go).
    let stayers: Vec<_> = (0..KEYS)
        .map(|k| bus.subscriber().key(k).capacity(64).build().unwrap())
        .collect();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let publisher = bus.publisher();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut seq = vec![0u32; KEYS as usize];
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let key = i % KEYS;
                    publisher
                        .publish(Ev {
                            publisher: p,
                            key: Some(key),
                            seq: seq[key as usize],
                        })
                        .unwrap();
                    seq[key as usize] += 1;
                    i += 1;
                    if i % 64 == 0 {
                        thread::yield_now();
                    }
                }
                seq
            })
        })
        .collect();
    let churners: Vec<_> = (0..CHURNERS)
        .map(|c| {
            let bus = bus.clone();
            thread::spawn(move || {
                let mut checked = 0u64;
                for cycle in 0..CYCLES {
                    let key = (cycle * 3 + c) % KEYS;
                    // Some subscribers take two keys (entries in two groups).
                    let keys: Vec<u32> = if cycle % 4 == 0 {
                        vec![key, (key + 1) % KEYS]
                    } else {
                        vec![key]
                    };
                    let mut sub = bus
                        .subscriber()
                        .keys(keys.iter().copied())
                        .capacity(1 << 14)
                        .overflow(Overflow::DropNewest)
                        .build()
                        .unwrap();
                    // Let some events through, then leave while the publishers run.
                    let mut got: HashMap<(u8, u32), Vec<u32>> = HashMap::new();
                    for _ in 0..(cycle % 7) * 40 {
                        match sub.recv() {
                            Ok(ev) => got
                                .entry((ev.publisher, ev.key.unwrap()))
                                .or_default()
                                .push(ev.seq),
                            Err(err) => panic!("churner {c}: {err}"),
                        }
                    }
                    for item in sub.try_iter() {
                        let ev = item.unwrap_or_else(|err| {
                            panic!("churner {c}: {err} (queue of 16k lagged)")
                        });
                        got.entry((ev.publisher, ev.key.unwrap()))
                            .or_default()
                            .push(ev.seq);
                    }
                    drop(sub);
                    for ((p, key), seqs) in got {
                        assert!(
                            keys.contains(&key),
                            "churner {c} for {keys:?} got key {key}"
                        );
                        // No gap and no reordering once the first event of (publisher, key) came.
                        for pair in seqs.windows(2) {
                            assert_eq!(
                                pair[1],
                                pair[0] + 1,
                                "churner {c}, publisher {p}, key {key}: {seqs:?}"
                            );
                        }
                        checked += seqs.len() as u64;
                    }
                }
                checked
            })
        })
        .collect();
    let checked: u64 = churners.into_iter().map(|c| c.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    let published: Vec<Vec<u32>> = publishers.into_iter().map(|p| p.join().unwrap()).collect();
    assert!(checked > 0, "the churners saw no event at all");
    drop(bus);
    // The stayers: exactly their key's events, each publisher's in order, counted exactly.
    for (k, mut sub) in stayers.into_iter().enumerate() {
        let (mut received, mut lost) = (0u64, 0u64);
        for item in sub.iter() {
            match item {
                Ok(ev) => {
                    assert_eq!(ev.key, Some(k as u32));
                    received += 1;
                }
                Err(RecvError::Lagged(n)) => lost += n,
                Err(end) => panic!("{end}"),
            }
        }
        let expected: u64 = published.iter().map(|seq| u64::from(seq[k])).sum();
        assert_eq!(received + lost, expected, "stayer {k}");
    }
}
