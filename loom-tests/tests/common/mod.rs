//! What every model shares: an event type that keeps a ledger of its copies, and the model runner
//! with this suite's per-model bounds.
//!
//! The ledger is plain `std` (a mutex and a map): it is instrumentation, not part of any protocol,
//! and each lock is held only inside `clone` / `drop` with no loom operation in between, so it adds
//! nothing to the interleavings loom has to explore. It is read only after the model's threads
//! are joined.
#![allow(dead_code)] // each test crate uses a different subset

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use fanout::{Event, Key, Topic};

/// Copies made and copies dropped, per event id.
#[derive(Default)]
pub struct Ledger {
    copies: Mutex<BTreeMap<u32, Copies>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Copies {
    pub made: u32,
    pub dropped: u32,
}

impl Ledger {
    pub fn new() -> Arc<Ledger> {
        Arc::new(Ledger::default())
    }

    /// A new event from `publisher`, its `seq`-th, on topic `topic`.
    pub fn event(self: &Arc<Self>, publisher: u8, seq: u8, topic: u8) -> Ev {
        let ev = Ev {
            publisher,
            seq,
            topic,
            routing: None,
            ledger: Arc::clone(self),
        };
        self.entry(ev.id(), |c| c.made += 1);
        ev
    }

    /// [`event`](Self::event), for routing key `key` (see `fanout::key`).
    pub fn keyed_event(self: &Arc<Self>, publisher: u8, seq: u8, topic: u8, key: u8) -> Ev {
        let mut ev = self.event(publisher, seq, topic);
        ev.routing = Some(key);
        ev
    }

    fn entry(&self, id: u32, f: impl FnOnce(&mut Copies)) {
        f(self.copies.lock().unwrap().entry(id).or_default());
    }

    /// Copies of any event still alive.
    pub fn live(&self) -> u32 {
        self.copies
            .lock()
            .unwrap()
            .values()
            .map(|c| c.made - c.dropped)
            .sum()
    }

    /// Asserts that every copy of every event was dropped exactly once: nothing leaked (no
    /// queue kept alive, no event forgotten), nothing dropped twice.
    pub fn assert_all_dropped(&self) {
        for (id, copies) in self.copies.lock().unwrap().iter() {
            assert_eq!(
                copies.made, copies.dropped,
                "event {id:#x}: {} copies made, {} dropped",
                copies.made, copies.dropped
            );
        }
    }
}

/// A test event: who published it, its sequence number for that publisher, its topic, and the
/// ledger every copy reports to.
pub struct Ev {
    pub publisher: u8,
    pub seq: u8,
    pub topic: u8,
    /// The routing key (`Event::key`), if any.
    pub routing: Option<u8>,
    ledger: Arc<Ledger>,
}

impl Ev {
    pub fn id(&self) -> u32 {
        u32::from(self.publisher) << 8 | u32::from(self.seq)
    }

    /// `(publisher, seq)`, for comparing streams.
    pub fn key(&self) -> (u8, u8) {
        (self.publisher, self.seq)
    }
}

impl std::fmt::Debug for Ev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ev(p{} #{} t{})", self.publisher, self.seq, self.topic)
    }
}

impl Clone for Ev {
    fn clone(&self) -> Self {
        self.ledger.entry(self.id(), |c| c.made += 1);
        Ev {
            publisher: self.publisher,
            seq: self.seq,
            topic: self.topic,
            routing: self.routing,
            ledger: Arc::clone(&self.ledger),
        }
    }
}

impl Drop for Ev {
    fn drop(&mut self) {
        self.ledger.entry(self.id(), |c| {
            c.dropped += 1;
            assert!(c.dropped <= c.made, "a copy was dropped twice");
        });
    }
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        Topic::new(self.topic).expect("test topics are < 64")
    }

    fn key(&self) -> Option<Key> {
        self.routing.map(|key| Key::from(u32::from(key)))
    }
}

/// Runs `f` under loom, exploring every interleaving with at most `preemptions` preemptions per
/// execution (`None`: no bound, every interleaving), unless `LOOM_MAX_PREEMPTIONS` is set (then
/// the environment wins, so a deeper or shallower search is one variable away). Prints how many
/// executions were explored (shown with `--nocapture`).
pub fn model<F>(preemptions: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = preemptions;
    }
    let bound = builder.preemption_bound;
    let executions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    let started = std::time::Instant::now();
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f();
    });
    eprintln!(
        "{}: {} executions, preemption bound {:?}, {:.2?}",
        std::thread::current().name().unwrap_or("model"),
        executions.load(std::sync::atomic::Ordering::Relaxed),
        bound,
        started.elapsed()
    );
}

/// A waker that does nothing when woken and runs `action` when its last clone is dropped.
pub fn waker_dropping_with(action: impl FnOnce() + Send + 'static) -> std::task::Waker {
    struct DropAction(std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>);
    impl std::task::Wake for DropAction {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    impl Drop for DropAction {
        fn drop(&mut self) {
            let action = self.0.lock().unwrap().take();
            if let Some(action) = action {
                action();
            }
        }
    }
    std::task::Waker::from(std::sync::Arc::new(DropAction(std::sync::Mutex::new(Some(
        Box::new(action),
    )))))
}
