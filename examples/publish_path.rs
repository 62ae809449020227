//! Drives the publish path for a fixed number of publishes from one thread, so that its cost can
//! be counted in instructions, which (unlike time) do not depend on what else the machine runs:
//!
//! ```sh
//! cargo build --release --example publish_path
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/publish_path selective 200000
//! ```
//!
//! Scenarios: `idle` (16 subscribers, none wants the topic), `selective` (16 subscribers on 8
//! topics, one topic each: 2 deliveries per publish), `broadcast4`, `broadcast16`, and `setup`
//! (the 16 subscribers and nothing published: subtract it). `floor-selective`, `floor-broadcast4`
//! and `floor-broadcast16` run the same on the design's floor, a hand-rolled
//! `Vec<(mask, crossbeam Sender)>`. The subscribers are drained on the
//! same thread every 512 publishes, so the count includes the receiving side. Events are 48
//! bytes, queues `Block` with room for 1024.
//!
//! `history-SCENARIO` (for `setup`, `idle`, `selective`, `broadcast4`) runs the same on a
//! `HistoryBus` keeping the last 1024 events of every topic (full after 1024 publishes, so the
//! steady state, an eviction per publish, is what is counted).
//!
//! `keyed-N`, `filter-N` and `targeted-setup-N` (N = 16 or 10000, issue 19): N subscribers of one
//! key each, every event for one key (the keys in turn), targeted with routing keys or with a
//! filter per subscriber; after every 512 publishes the 512 subscribers just published to are
//! drained. With `--cache-sim=yes` callgrind also counts cache misses, which is what grows with N
//! when every publish reaches a different subscriber.

use fanout::history::Sequenced;
use fanout::{Bus, Event, HistoryBus, Overflow, Subscriber, Topic, Topics};

#[derive(Clone, Copy)]
struct Payload {
    topic: u8,
    _data: [u64; 5],
}

impl Event for Payload {
    fn topic(&self) -> Topic {
        Topic::new(self.topic).expect("topics 0..8")
    }
}

/// Publishes `publishes` events, on topics 0 to 7 in turn, through `publish`, and calls `drain`
/// after every 512.
#[inline(always)]
fn drive(publishes: u64, mut publish: impl FnMut(Payload), mut drain: impl FnMut()) {
    for i in 0..publishes {
        publish(Payload {
            topic: (i % 8) as u8,
            _data: [i; 5],
        });
        if i % 512 == 511 {
            drain();
        }
    }
}

/// Empties every subscriber's queue.
fn drain<E>(subs: &mut [Subscriber<E>]) {
    for sub in subs {
        while sub.try_recv().is_ok() {}
    }
}

fn run(subscribers: usize, topics: impl Fn(usize) -> Topics, publishes: u64) {
    let bus = Bus::new();
    let mut subs: Vec<Subscriber<Payload>> = (0..subscribers)
        .map(|i| {
            bus.subscriber()
                .topics(topics(i))
                .capacity(1024)
                .overflow(Overflow::Block)
                .build()
                .expect("valid settings")
        })
        .collect();
    let publish = |event| {
        std::hint::black_box(bus.publish(event).expect("open bus"));
    };
    drive(publishes, publish, || drain(&mut subs));
}

/// `run` on a bus with history.
fn run_history(subscribers: usize, topics: impl Fn(usize) -> Topics, publishes: u64) {
    let bus = HistoryBus::builder(1024).build().expect("valid settings");
    let mut subs: Vec<Subscriber<Sequenced<Payload>>> = (0..subscribers)
        .map(|i| {
            bus.subscriber()
                .topics(topics(i))
                .capacity(1024)
                .overflow(Overflow::Block)
                .build()
                .expect("valid settings")
        })
        .collect();
    let publish = |event| {
        std::hint::black_box(bus.publish(event).expect("open bus"));
    };
    drive(publishes, publish, || drain(&mut subs));
}

/// A `Payload` for one key.
#[derive(Clone, Copy)]
struct Keyed {
    key: u64,
    _data: [u64; 5],
}

impl Event for Keyed {
    fn topic(&self) -> Topic {
        Topic::new(0).expect("topic 0")
    }
    fn key(&self) -> Option<fanout::Key> {
        Some(fanout::Key::from(self.key))
    }
}

/// `n` subscribers of one key each (with keys, or with a filter each), `publishes` events for
/// the keys in turn; the subscribers published to are drained after every 512.
fn run_targeted(n: u64, with_keys: bool, publishes: u64) {
    let bus = Bus::new();
    let mut subs: Vec<Subscriber<Keyed>> = (0..n)
        .map(|k| {
            let builder = bus.subscriber().capacity(1024).overflow(Overflow::Block);
            let builder = if with_keys {
                builder.key(k)
            } else {
                builder.filter(move |e: &Keyed| e.key == k)
            };
            builder.build().expect("valid settings")
        })
        .collect();
    for i in 0..publishes {
        std::hint::black_box(
            bus.publish(Keyed {
                key: i % n,
                _data: [i; 5],
            })
            .expect("open bus"),
        );
        if i % 512 == 511 {
            for j in i - 511..=i {
                while subs[(j % n) as usize].try_recv().is_ok() {}
            }
        }
    }
}

/// The floor of this design: a hand-rolled `Vec<(mask, Sender)>`, same events, same draining.
fn floor(subscribers: usize, topics: impl Fn(usize) -> Topics, publishes: u64) {
    use fanout::crossbeam_channel::{bounded, Receiver, Sender};
    let mut senders: Vec<(u64, Sender<Payload>)> = Vec::new();
    let mut receivers: Vec<Receiver<Payload>> = Vec::new();
    for i in 0..subscribers {
        let (tx, rx) = bounded(1024);
        senders.push((topics(i).bits(), tx));
        receivers.push(rx);
    }
    let publish = |event: Payload| {
        let bit = event.topic().bit();
        let mut pending: Option<&Sender<Payload>> = None;
        for (mask, tx) in &senders {
            if mask & bit != 0 {
                if let Some(previous) = pending.replace(tx) {
                    let _ = previous.send(event);
                }
            }
        }
        if let Some(last) = pending {
            let _ = std::hint::black_box(last.send(event));
        }
    };
    drive(publishes, publish, || {
        for rx in &receivers {
            while rx.try_recv().is_ok() {}
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "selective".into());
    let publishes: u64 = match args.next().map(|n| n.parse()) {
        None => 200_000,
        Some(Ok(n)) => n,
        Some(Err(err)) => {
            eprintln!("publish_path: the count must be a whole number: {err}");
            std::process::exit(2);
        }
    };
    let unwanted = Topics::from_bits(1 << 20);
    match scenario.as_str() {
        "setup" => run(16, |_| unwanted, 0),
        "idle" => run(16, |_| unwanted, publishes),
        "selective" => run(16, |i| Topics::from_bits(1 << (i % 8)), publishes),
        "broadcast4" => run(4, |_| Topics::ALL, publishes),
        "broadcast16" => run(16, |_| Topics::ALL, publishes),
        "floor-selective" => floor(16, |i| Topics::from_bits(1 << (i % 8)), publishes),
        "floor-broadcast4" => floor(4, |_| Topics::ALL, publishes),
        "floor-broadcast16" => floor(16, |_| Topics::ALL, publishes),
        "history-setup" => run_history(16, |_| unwanted, 0),
        "history-idle" => run_history(16, |_| unwanted, publishes),
        "history-selective" => run_history(16, |i| Topics::from_bits(1 << (i % 8)), publishes),
        "history-broadcast4" => run_history(4, |_| Topics::ALL, publishes),
        "targeted-setup-16" => run_targeted(16, true, 0),
        "targeted-setup-10000" => run_targeted(10_000, true, 0),
        "keyed-16" => run_targeted(16, true, publishes),
        "keyed-10000" => run_targeted(10_000, true, publishes),
        "filter-16" => run_targeted(16, false, publishes),
        "filter-10000" => run_targeted(10_000, false, publishes),
        other => {
            eprintln!(
                "publish_path: unknown scenario {other:?} (setup, idle, selective, broadcast4, \
                 broadcast16, floor-selective, floor-broadcast4, floor-broadcast16, \
                 history-setup, history-idle, history-selective, history-broadcast4, \
                 targeted-setup-16, targeted-setup-10000, keyed-16, keyed-10000, filter-16, \
                 filter-10000)"
            );
            std::process::exit(2);
        }
    }
}
