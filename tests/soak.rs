//! A multi-threaded soak (issue 9): several publishers through different entry points,
//! subscribers of every policy (long-lived ones on threads of their own, churned ones
//! subscribing, re-topicking, draining and dropping all the time, and in some rounds a `Block`
//! subscriber that never reads), and a close at the end of every round: after the publishers are
//! done, while they are blocked on the subscriber that never reads, or racing them.
//!
//! Exact per-subscriber accounting: every subscriber's filter records, in a bitset per publisher,
//! each event the bus offered it (topic matched, filter passed). Then, for every subscriber:
//! - events from one publisher arrive in publish order, each once, and each was offered;
//! - once it received event k of a publisher, every later event of that publisher up to the
//!   last one it received, in topics it always had and passing its filter, was offered (no
//!   silent skip, issue 9 defect 9);
//! - one that reached its end (`Disconnected`, or `Overflowed` under `Disconnect`) received +
//!   reported lag == events offered to it, exactly, `lost()` == reported lag, and every later
//!   receive says the same end again (nothing after `Overflowed`);
//! - one dropped on the way received + reported lag <= events offered to it.
//!
//! Nothing hangs: every thread must report back within a generous bound, or the test fails.
//!
//! Runs about 6 s by default; `FANOUT_SOAK_SECS=600 cargo test --release --test soak` runs longer.

mod common;
use common::{stamped_topic as topic_index, Rng, Stamped as Ev};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use fanout::error::{RecvError, RecvTimeoutError, TryRecvError};
use fanout::{Bus, Event, Overflow, Subscriber, Topic, Topics, WaitStrategy};

const PUBLISHERS: usize = 3;
/// Events each publisher tries to publish in one round.
const PER_ROUND: u32 = 3_000;
/// How long any thread may take to report back before the test calls it hung.
const HUNG: Duration = Duration::from_secs(20);

fn passes(filtered: bool, seq: u32) -> bool {
    !filtered || seq % 5 != 0
}

/// The events the bus offered one subscriber: one bitset per publisher, set by its filter.
struct Offered {
    bits: Vec<Vec<AtomicU64>>,
    /// Set if an event was offered twice (checked later: a panic in a filter would be caught by
    /// the bus and reach the publisher instead of the test).
    twice: AtomicBool,
}

impl Offered {
    fn new() -> Arc<Self> {
        Arc::new(Offered {
            bits: (0..PUBLISHERS)
                .map(|_| {
                    (0..PER_ROUND.div_ceil(64))
                        .map(|_| AtomicU64::new(0))
                        .collect()
                })
                .collect(),
            twice: AtomicBool::new(false),
        })
    }

    fn record(&self, e: &Ev) {
        let old = self.bits[e.publisher][(e.seq / 64) as usize]
            .fetch_or(1 << (e.seq % 64), Ordering::SeqCst);
        if old & (1 << (e.seq % 64)) != 0 {
            self.twice.store(true, Ordering::SeqCst);
        }
    }

    fn has(&self, publisher: usize, seq: u32) -> bool {
        self.bits[publisher][(seq / 64) as usize].load(Ordering::SeqCst) & (1 << (seq % 64)) != 0
    }

    /// The first `n` events offered, as `publisher/seq`.
    fn list(&self, n: usize) -> Vec<String> {
        (0..PUBLISHERS)
            .flat_map(|p| (0..PER_ROUND).map(move |seq| (p, seq)))
            .filter(|&(p, seq)| self.has(p, seq))
            .take(n)
            .map(|(p, seq)| format!("{p}/{seq}"))
            .collect()
    }

    fn count(&self) -> u64 {
        self.bits
            .iter()
            .flatten()
            .map(|w| u64::from(w.load(Ordering::SeqCst).count_ones()))
            .sum()
    }
}

/// Subscribes with a filter that records every event offered.
fn subscribe(
    bus: &Bus<Ev>,
    name: String,
    overflow: Overflow,
    capacity: usize,
    mask: Topics,
    filtered: bool,
    wait: WaitStrategy,
) -> Option<(Subscriber<Ev>, Arc<Offered>)> {
    let offered = Offered::new();
    let record = Arc::clone(&offered);
    let sub = bus
        .subscriber()
        .name(name)
        .overflow(overflow)
        .capacity(capacity)
        .topics(mask)
        .wait(wait)
        .filter(move |e: &Ev| {
            let pass = passes(filtered, e.seq);
            if pass {
                record.record(e);
            }
            pass
        })
        .build();
    match sub {
        Ok(sub) => Some((sub, offered)),
        Err(fanout::error::BuildError::Closed) => None,
        Err(other) => panic!("{other}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Disconnected,
    Overflowed,
}

/// What one subscriber saw.
struct Seen {
    name: String,
    overflow: Overflow,
    filtered: bool,
    /// The topics it had all along (the intersection of every mask it was given).
    always: Topics,
    per_publisher: [Vec<u32>; PUBLISHERS],
    lagged: u64,
    end: Option<End>,
    /// Broken promises noticed while receiving.
    errors: Vec<String>,
    /// The stream as received, for the failure message of a short one.
    log: Vec<String>,
}

impl Seen {
    fn new(name: String, overflow: Overflow, mask: Topics, filtered: bool) -> Self {
        Seen {
            name,
            overflow,
            filtered,
            always: mask,
            per_publisher: Default::default(),
            lagged: 0,
            end: None,
            errors: Vec::new(),
            log: Vec::new(),
        }
    }

    fn received(&self) -> u64 {
        self.per_publisher.iter().map(|v| v.len() as u64).sum()
    }

    /// Records one stream item; true once the stream has ended.
    fn item(&mut self, item: Result<Ev, RecvError>) -> bool {
        if let Some(end) = self.end {
            self.errors
                .push(format!("{item:?} after the end ({end:?})"));
            return true;
        }
        if self.log.len() < 64 {
            self.log.push(match &item {
                Ok(e) => format!("{}/{}", e.publisher, e.seq),
                Err(e) => format!("{e:?}"),
            });
        }
        match item {
            Ok(e) => self.per_publisher[e.publisher].push(e.seq),
            Err(RecvError::Lagged(n)) => {
                if n == 0 {
                    self.errors.push("Lagged(0)".into());
                }
                self.lagged += n;
            }
            Err(RecvError::Overflowed) => self.end = Some(End::Overflowed),
            Err(RecvError::Disconnected) => self.end = Some(End::Disconnected),
        }
        self.end.is_some()
    }

    /// After the end, every receive form must say the same end again.
    fn confirm_end(&mut self, sub: &mut Subscriber<Ev>) {
        let Some(end) = self.end else { return };
        let want = match end {
            End::Disconnected => RecvError::Disconnected,
            End::Overflowed => RecvError::Overflowed,
        };
        let again = [
            sub.try_recv().map_err(|e| match e {
                TryRecvError::Lagged(n) => RecvError::Lagged(n),
                TryRecvError::Overflowed => RecvError::Overflowed,
                TryRecvError::Disconnected => RecvError::Disconnected,
                // (Stands for "not the end": no real report is that large.)
                TryRecvError::Empty => RecvError::Lagged(u64::MAX),
            }),
            sub.recv_timeout(Duration::from_millis(1))
                .map_err(|e| match e {
                    RecvTimeoutError::Lagged(n) => RecvError::Lagged(n),
                    RecvTimeoutError::Overflowed => RecvError::Overflowed,
                    RecvTimeoutError::Disconnected => RecvError::Disconnected,
                    RecvTimeoutError::Timeout => RecvError::Lagged(u64::MAX),
                }),
            // Bounded, so that a stream that is not over fails the test instead of hanging it.
            sub.recv_deadline(Instant::now() + Duration::from_secs(1))
                .map_err(|e| match e {
                    RecvTimeoutError::Lagged(n) => RecvError::Lagged(n),
                    RecvTimeoutError::Overflowed => RecvError::Overflowed,
                    RecvTimeoutError::Disconnected => RecvError::Disconnected,
                    RecvTimeoutError::Timeout => RecvError::Lagged(u64::MAX),
                }),
        ];
        for got in again {
            if got != Err(want) {
                self.errors
                    .push(format!("after {end:?}, a receive gave {got:?}"));
            }
        }
    }

    /// Every check (after the round: every publisher and consumer is done); `lost` is the
    /// subscriber's `lost()` at the end.
    fn verify(&self, offered: &Offered, lost: u64) {
        let name = &self.name;
        assert!(self.errors.is_empty(), "{name}: {:?}", self.errors);
        assert!(
            !offered.twice.load(Ordering::SeqCst),
            "{name}: an event was offered twice"
        );
        for (p, seqs) in self.per_publisher.iter().enumerate() {
            for pair in seqs.windows(2) {
                assert!(
                    pair[0] < pair[1],
                    "{name}: publisher {p} went from {} to {} (reordered or duplicated)",
                    pair[0],
                    pair[1]
                );
            }
            for &seq in seqs {
                assert!(
                    offered.has(p, seq),
                    "{name}: received {p}/{seq}, never offered"
                );
            }
            if let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) {
                for seq in first..last {
                    let wanted = self
                        .always
                        .contains(Topic::new(topic_index(p, seq)).unwrap())
                        && passes(self.filtered, seq);
                    assert!(
                        !wanted || offered.has(p, seq),
                        "{name}: received {p}/{first} and {p}/{last}, but {p}/{seq} (wanted) \
                         was never offered"
                    );
                }
            }
        }
        let (received, offered_count) = (self.received(), offered.count());
        match self.end {
            Some(end) => {
                assert_eq!(
                    received + self.lagged,
                    offered_count,
                    "{name} ({:?}, ended {end:?}): received {received} + lagged {} != offered \
                     {offered_count} (lost() says {lost}); offered {:?}, stream {:?}",
                    self.overflow,
                    self.lagged,
                    offered.list(64),
                    self.log,
                );
                assert_eq!(lost, self.lagged, "{name}: lost() != the lag reported");
                if end == End::Overflowed {
                    assert_eq!(self.overflow, Overflow::Disconnect, "{name}");
                }
            }
            None => assert!(
                received + self.lagged <= offered_count,
                "{name}: received {received} + lagged {} > offered {offered_count}",
                self.lagged
            ),
        }
    }
}

/// A `try_recv` result as a stream item (`None` for `Empty`).
fn try_item(got: Result<Ev, TryRecvError>) -> Option<Result<Ev, RecvError>> {
    match got {
        Ok(e) => Some(Ok(e)),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
        Err(TryRecvError::Overflowed) => Some(Err(RecvError::Overflowed)),
        Err(TryRecvError::Disconnected) => Some(Err(RecvError::Disconnected)),
    }
}

/// A subscriber consumed by a thread of its own with `drain_into` only, never waiting.
fn spawn_drainer(sub: Subscriber<Ev>, mut seen: Seen) -> mpsc::Receiver<(Subscriber<Ev>, Seen)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut sub = sub;
        let mut buf = Vec::new();
        let give_up = Instant::now() + HUNG * 2;
        while seen.end.is_none() && Instant::now() < give_up {
            match sub.drain_into(&mut buf, 64) {
                Ok(0) => thread::yield_now(),
                Ok(_) => {
                    for e in buf.drain(..) {
                        seen.item(Ok(e));
                    }
                }
                Err(e) => {
                    if let Some(item) = try_item(Err(e)) {
                        seen.item(item);
                    }
                }
            }
        }
        seen.confirm_end(&mut sub);
        let _ = tx.send((sub, seen));
    });
    rx
}

/// A subscriber consumed by a thread of its own with the blocking receive forms.
fn spawn_consumer(
    sub: Subscriber<Ev>,
    mut seen: Seen,
    slow: bool,
    seed: u64,
) -> mpsc::Receiver<(Subscriber<Ev>, Seen)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut sub = sub;
        let mut rng = Rng(seed);
        let mut buf = Vec::new();
        loop {
            let ended = match rng.below(4) {
                0 => seen.item(sub.recv()),
                1 => {
                    buf.clear();
                    match sub.recv_into(&mut buf, 8) {
                        Ok(_) => {
                            let mut ended = false;
                            for e in buf.drain(..) {
                                ended |= seen.item(Ok(e));
                            }
                            ended
                        }
                        Err(e) => seen.item(Err(e)),
                    }
                }
                2 => match sub.recv_timeout(Duration::from_millis(2)) {
                    Ok(e) => seen.item(Ok(e)),
                    Err(RecvTimeoutError::Timeout) => false,
                    Err(RecvTimeoutError::Lagged(n)) => seen.item(Err(RecvError::Lagged(n))),
                    Err(RecvTimeoutError::Overflowed) => seen.item(Err(RecvError::Overflowed)),
                    Err(RecvTimeoutError::Disconnected) => seen.item(Err(RecvError::Disconnected)),
                },
                _ => {
                    let mut ended = false;
                    for item in sub.iter().take(16) {
                        ended = seen.item(item);
                    }
                    // `iter` ends silently on `Disconnected`: look once more (and keep what
                    // that look takes).
                    if !ended {
                        if let Some(item) = try_item(sub.try_recv()) {
                            ended = seen.item(item);
                        }
                    }
                    ended
                }
            };
            if ended {
                break;
            }
            if slow && rng.below(64) == 0 {
                thread::sleep(Duration::from_micros(200));
            }
        }
        seen.confirm_end(&mut sub);
        let _ = tx.send((sub, seen));
    });
    rx
}

struct Churned {
    sub: Subscriber<Ev>,
    offered: Arc<Offered>,
    seen: Seen,
}

impl Churned {
    /// Takes what is queued, in one of the non-blocking forms.
    fn drain(&mut self, rng: &mut Rng) {
        if self.seen.end.is_some() {
            return;
        }
        match rng.below(3) {
            0 => {
                for _ in 0..64 {
                    match self.sub.try_recv() {
                        Ok(e) => {
                            self.seen.item(Ok(e));
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Lagged(n)) => {
                            self.seen.item(Err(RecvError::Lagged(n)));
                        }
                        Err(TryRecvError::Overflowed) => {
                            self.seen.item(Err(RecvError::Overflowed));
                            break;
                        }
                        Err(TryRecvError::Disconnected) => {
                            self.seen.item(Err(RecvError::Disconnected));
                            break;
                        }
                    }
                }
            }
            1 => {
                let mut buf = Vec::new();
                match self.sub.drain_into(&mut buf, 32) {
                    Ok(_) => {
                        for e in buf {
                            self.seen.item(Ok(e));
                        }
                    }
                    Err(TryRecvError::Empty) => unreachable!("drain_into says Ok(0)"),
                    Err(TryRecvError::Lagged(n)) => {
                        self.seen.item(Err(RecvError::Lagged(n)));
                    }
                    Err(TryRecvError::Overflowed) => {
                        self.seen.item(Err(RecvError::Overflowed));
                    }
                    Err(TryRecvError::Disconnected) => {
                        self.seen.item(Err(RecvError::Disconnected));
                    }
                }
            }
            _ => {
                let items: Vec<_> = self.sub.try_iter().take(64).collect();
                for item in items {
                    self.seen.item(item);
                }
                // `try_iter` ends silently on `Disconnected` and on `Empty`: look once more (and
                // keep what that look takes).
                if self.seen.end.is_none() {
                    if let Some(item) = try_item(self.sub.try_recv()) {
                        self.seen.item(item);
                    }
                }
            }
        }
        if self.seen.end.is_some() {
            self.seen.confirm_end(&mut self.sub);
        }
    }

    /// Receives to the end of the stream (the bus is closed).
    fn finish(&mut self) {
        let give_up = Instant::now() + HUNG;
        while self.seen.end.is_none() {
            match self.sub.recv_timeout(Duration::from_millis(100)) {
                Ok(e) => {
                    self.seen.item(Ok(e));
                }
                Err(RecvTimeoutError::Timeout) => {
                    assert!(
                        Instant::now() < give_up,
                        "{}: no end after close",
                        self.seen.name
                    )
                }
                Err(RecvTimeoutError::Lagged(n)) => {
                    self.seen.item(Err(RecvError::Lagged(n)));
                }
                Err(RecvTimeoutError::Overflowed) => {
                    self.seen.item(Err(RecvError::Overflowed));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.seen.item(Err(RecvError::Disconnected));
                }
            }
        }
        self.seen.confirm_end(&mut self.sub);
    }
}

const POLICIES: [Overflow; 4] = [
    Overflow::DropOldest,
    Overflow::DropNewest,
    Overflow::Block,
    Overflow::Disconnect,
];

/// Subscribes, re-topics, drains and drops subscribers until the bus closes; then drains the
/// survivors to their end. Returns the dropped ones (with what they saw) and the survivors.
fn churn(
    bus: Bus<Ev>,
    seed: u64,
    round: u64,
    thread_index: usize,
) -> (Vec<(Seen, Arc<Offered>)>, Vec<Churned>) {
    const SLOTS: usize = 6;
    let mut rng = Rng(seed);
    let mut slots: Vec<Option<Churned>> = (0..SLOTS).map(|_| None).collect();
    let mut gone = Vec::new();
    let mut made = 0;
    while !bus.is_closed() {
        for churned in slots.iter_mut().flatten() {
            churned.drain(&mut rng);
        }
        thread::yield_now();
        let slot = rng.below(SLOTS as u64) as usize;
        match (&mut slots[slot], rng.below(12)) {
            (None, _) => {
                let overflow = POLICIES[rng.below(4) as usize];
                let capacity = [1, 2, 8, 64][rng.below(4) as usize];
                let mask = rng.mask();
                let filtered = rng.below(2) == 0;
                let name = format!("r{round}-churn{thread_index}-{made}-{overflow}-cap{capacity}");
                made += 1;
                let Some((sub, offered)) = subscribe(
                    &bus,
                    name.clone(),
                    overflow,
                    capacity,
                    mask,
                    filtered,
                    WaitStrategy::Park,
                ) else {
                    break;
                };
                slots[slot] = Some(Churned {
                    sub,
                    offered,
                    seen: Seen::new(name, overflow, mask, filtered),
                });
            }
            (Some(_), 0..=1) => {
                let churned = slots[slot].take().unwrap();
                if churned.seen.end.is_some() {
                    // Ended already (cut off): keep it for the exact check after the round.
                    slots[slot] = Some(churned);
                } else {
                    let Churned { sub, offered, seen } = churned;
                    drop(sub);
                    gone.push((seen, offered));
                }
            }
            (Some(churned), _) => {
                let mask = rng.mask();
                churned.sub.set_topics(mask);
                churned.seen.always = churned.seen.always & mask;
            }
        }
    }
    let mut survivors: Vec<Churned> = slots.into_iter().flatten().collect();
    for churned in &mut survivors {
        churned.finish();
    }
    (gone, survivors)
}

#[derive(Clone, Copy, Debug)]
enum CloseWhen {
    /// After every publisher is done.
    AfterPublishers,
    /// While the publishers are blocked on a `Block` subscriber that never reads.
    WhileBlocked,
    /// At a random moment while the publishers run.
    Racing,
}

#[derive(Default, Debug)]
struct Totals {
    rounds: u64,
    subscribers: u64,
    received: u64,
    lagged: u64,
    overflowed: u64,
    disconnected: u64,
    dropped_on_the_way: u64,
}

fn round(round: u64, close_when: CloseWhen, totals: &mut Totals) {
    let seed = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(round + 1) | 1;
    let mut rng = Rng(seed);
    let bus: Bus<Ev> = Bus::new();

    // Long-lived subscribers, one per policy, each on a thread of its own.
    let mut consumers = Vec::new();
    for (i, overflow) in POLICIES.into_iter().enumerate() {
        let capacity = [4, 8, 16, 2][i];
        let mask = if i % 2 == 0 { Topics::ALL } else { rng.mask() };
        let filtered = i >= 2;
        let name = format!("r{round}-long-{overflow}");
        let wait = if i % 2 == 0 {
            WaitStrategy::Park
        } else {
            WaitStrategy::SpinThenPark(Duration::from_micros(20))
        };
        let (sub, offered) =
            subscribe(&bus, name.clone(), overflow, capacity, mask, filtered, wait).unwrap();
        let seen = Seen::new(name, overflow, mask, filtered);
        let slow = overflow != Overflow::Block;
        consumers.push((spawn_consumer(sub, seen, slow, rng.next() | 1), offered));
    }
    // Two more that never block: `drain_into` in a loop, so that losses land in the middle of
    // a batch (the report must then be given back, not swallowed).
    for overflow in [Overflow::DropOldest, Overflow::DropNewest] {
        let name = format!("r{round}-drainer-{overflow}");
        let (sub, offered) = subscribe(
            &bus,
            name.clone(),
            overflow,
            8,
            Topics::ALL,
            false,
            WaitStrategy::Park,
        )
        .unwrap();
        let seen = Seen::new(name, overflow, Topics::ALL, false);
        consumers.push((spawn_drainer(sub, seen), offered));
    }
    // A `Block` subscriber that never reads until the bus is closed.
    let stuck = matches!(close_when, CloseWhen::WhileBlocked).then(|| {
        let name = format!("r{round}-stuck-block");
        let (sub, offered) = subscribe(
            &bus,
            name.clone(),
            Overflow::Block,
            4,
            Topics::ALL,
            false,
            WaitStrategy::Park,
        )
        .unwrap();
        (
            sub,
            offered,
            Seen::new(name, Overflow::Block, Topics::ALL, false),
        )
    });

    let churners: Vec<_> = (0..2)
        .map(|t| {
            let (tx, rx) = mpsc::channel();
            let bus = bus.clone();
            let seed = rng.next() | 1;
            thread::spawn(move || {
                let _ = tx.send(churn(bus, seed, round, t));
            });
            rx
        })
        .collect();

    // Publishers: untimed `publish`/`publish_with`, `publish_timeout`, `publish_batch`/`publish_all`.
    let progress: Arc<[AtomicU32; PUBLISHERS]> =
        Arc::new(std::array::from_fn(|_| AtomicU32::new(0)));
    let barrier = Arc::new(Barrier::new(PUBLISHERS + 1));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (tx, rx) = mpsc::channel();
            let publisher = bus.publisher();
            let (barrier, progress) = (Arc::clone(&barrier), Arc::clone(&progress));
            let mut rng = Rng(rng.next() | 1);
            thread::spawn(move || {
                barrier.wait();
                let mut seq = 0;
                while seq < PER_ROUND {
                    let accepted = match p {
                        0 => {
                            let e = Ev { publisher: p, seq };
                            let ok = if seq % 2 == 0 {
                                publisher.publish(e).is_ok()
                            } else {
                                publisher.publish_with(e.topic(), || e).is_ok()
                            };
                            ok.then_some(1).ok_or(())
                        }
                        1 => {
                            let timeout = Duration::from_micros(rng.below(300));
                            let ok = publisher
                                .publish_timeout(Ev { publisher: p, seq }, timeout)
                                .is_ok();
                            ok.then_some(1).ok_or(())
                        }
                        _ => {
                            let n = (1 + rng.below(8) as u32).min(PER_ROUND - seq);
                            let events = (seq..seq + n).map(|seq| Ev { publisher: p, seq });
                            if rng.below(2) == 0 {
                                let mut batch: Vec<Ev> = events.collect();
                                publisher.publish_batch(&mut batch).map(|_| n).is_ok()
                            } else {
                                publisher.publish_all(events).map(|_| n).is_ok()
                            }
                            .then_some(n)
                            .ok_or(())
                        }
                    };
                    match accepted {
                        Ok(n) => seq += n,
                        Err(_) => break, // closed
                    }
                    progress[p].store(seq, Ordering::SeqCst);
                }
                let _ = tx.send(seq);
            });
            rx
        })
        .collect();
    barrier.wait();

    let published: Vec<u32> = match close_when {
        CloseWhen::AfterPublishers => {
            let done = publishers
                .iter()
                .map(|rx| rx.recv_timeout(HUNG).expect("a publisher hung"))
                .collect();
            bus.close();
            done
        }
        CloseWhen::WhileBlocked | CloseWhen::Racing => {
            let wait = match close_when {
                CloseWhen::WhileBlocked => Duration::from_millis(20),
                _ => Duration::from_micros(rng.below(30_000)),
            };
            thread::sleep(wait);
            bus.close();
            publishers
                .iter()
                .enumerate()
                .map(|(p, rx)| {
                    rx.recv_timeout(HUNG).unwrap_or_else(|e| {
                        assert_eq!(e, mpsc::RecvTimeoutError::Timeout, "publisher {p} panicked");
                        panic!(
                            "round {round} ({close_when:?}): publisher {p} still hung {HUNG:?} \
                             after close, at seq {}",
                            progress[p].load(Ordering::SeqCst)
                        )
                    })
                })
                .collect()
        }
    };
    if let CloseWhen::WhileBlocked = close_when {
        assert!(
            published.iter().any(|&n| n < PER_ROUND),
            "round {round}: the stuck subscriber blocked nobody"
        );
    }

    let mut all: Vec<(Seen, Arc<Offered>, Option<u64>)> = Vec::new();
    for (rx, offered) in consumers {
        let (sub, seen) = rx.recv_timeout(HUNG).expect("a consumer hung after close");
        all.push((seen, offered, Some(sub.lost())));
    }
    if let Some((mut sub, offered, mut seen)) = stuck {
        let give_up = Instant::now() + HUNG;
        while seen.end.is_none() {
            assert!(Instant::now() < give_up, "the stuck subscriber never ended");
            let item = match sub.try_recv() {
                Ok(e) => Ok(e),
                Err(TryRecvError::Empty) => {
                    thread::yield_now();
                    continue;
                }
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(TryRecvError::Overflowed) => Err(RecvError::Overflowed),
                Err(TryRecvError::Disconnected) => Err(RecvError::Disconnected),
            };
            seen.item(item);
        }
        seen.confirm_end(&mut sub);
        all.push((seen, offered, Some(sub.lost())));
    }
    for rx in churners {
        let (gone, survivors) = rx
            .recv_timeout(HUNG)
            .expect("a churn thread hung after close");
        for (seen, offered) in gone {
            all.push((seen, offered, None));
        }
        for churned in survivors {
            let lost = churned.sub.lost();
            all.push((churned.seen, churned.offered, Some(lost)));
        }
    }
    drop(bus);

    for (seen, offered, lost) in &all {
        seen.verify(offered, lost.unwrap_or(seen.lagged));
        totals.subscribers += 1;
        totals.received += seen.received();
        totals.lagged += seen.lagged;
        match seen.end {
            Some(End::Overflowed) => totals.overflowed += 1,
            Some(End::Disconnected) => totals.disconnected += 1,
            None => totals.dropped_on_the_way += 1,
        }
    }
    totals.rounds += 1;
}

#[test]
fn soak_conservation_fifo_and_endings() {
    let secs: u64 = std::env::var("FANOUT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let budget = Duration::from_secs(secs);
    let started = Instant::now();
    let mut totals = Totals::default();
    let modes = [
        CloseWhen::AfterPublishers,
        CloseWhen::WhileBlocked,
        CloseWhen::Racing,
    ];
    let mut r = 0;
    // At least one round of each kind, then as many as the budget allows.
    while r < 3 || started.elapsed() < budget {
        round(r, modes[(r % 3) as usize], &mut totals);
        r += 1;
    }
    println!("{totals:?} in {:?}", started.elapsed());
    // The run exercised what it claims to.
    assert!(totals.lagged > 0, "nobody lost anything: {totals:?}");
    assert!(totals.received > 0);
    assert!(totals.disconnected > 0);
    assert!(totals.dropped_on_the_way > 0, "no churn: {totals:?}");
}
