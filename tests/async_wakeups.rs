//! The async receive path cannot hang, deadlock or starve its executor (issue 18):
//!
//! - a publish that loaded the subscriber table before a subscriber first waited asynchronously
//!   wakes it even when that publish then waits on another subscriber's full `Block` queue
//!   (the lost wake-up);
//! - a waker whose `Drop` publishes to the subscriber, or closes the bus, does not deadlock the
//!   poll that replaces it (no user code runs under the waker slot's lock);
//! - a receive loop whose queue is never empty yields to the other tasks of its executor;
//! - 64 receiving tasks and 4 publisher threads on `Block` queues: nobody stalls (a stall shows
//!   as a `publish_timeout` loss).
//!
//! Every wait is bounded: a regression fails, it does not hang the suite.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{bounded, ev, Ev, Tick};
use fanout::error::{RecvError, TryRecvError};
use fanout::{topic, Bus, Overflow, Publisher, Subscriber};

/// How long a test waits for something that must happen "promptly" before it calls it a hang.
const PROMPTLY: Duration = Duration::from_secs(5);

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Flag {
    fn woken_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.0.load(Ordering::SeqCst) {
                return true;
            }
            thread::sleep(Duration::from_millis(1));
        }
        self.0.load(Ordering::SeqCst)
    }
}

fn poll_recv_once<E>(sub: &mut Subscriber<E>, waker: &Waker) -> Poll<Result<E, RecvError>> {
    let mut fut = pin!(sub.recv_async());
    fut.as_mut().poll(&mut Context::from_waker(waker))
}

/// A gate a filter waits at: the test sees the publish arrive, then lets it go on.
#[derive(Default)]
struct Gate {
    arrived: AtomicBool,
    open: AtomicBool,
}

impl Gate {
    fn wait_open(&self) {
        self.arrived.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + PROMPTLY;
        while !self.open.load(Ordering::SeqCst) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn wait_arrived(&self) {
        let deadline = Instant::now() + PROMPTLY;
        while !self.arrived.load(Ordering::SeqCst) {
            assert!(
                Instant::now() < deadline,
                "the publish never reached the filter"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Defect 1, forced: the publish loads the table, pauses in a filter while the subscriber's task
/// polls for the first time (and so switches its wake-ups on in a newer table), then enqueues
/// into it through the old table and waits on another subscriber's full `Block` queue, holding
/// the old table. The task must be woken anyway, long before that other queue is read.
#[test]
fn a_publish_holding_an_old_table_while_blocked_still_wakes() {
    let bus = Bus::<Ev>::new();
    let gate = Arc::new(Gate::default());
    let filter_gate = Arc::clone(&gate);
    // Served first: the async subscriber, on topic 1, whose filter is where the publish pauses.
    let mut task_side = bus
        .subscriber()
        .topics(topic!(1))
        .filter(move |e: &Ev| {
            if e.seq == 1 {
                filter_gate.wait_open();
            }
            true
        })
        .build()
        .unwrap();
    // Served second: a full `Block` queue nobody reads until the end.
    let mut stuck = bus
        .subscriber()
        .topics(topic!(0) | topic!(1))
        .capacity(1)
        .overflow(Overflow::Block)
        .build()
        .unwrap();
    bus.publish(ev(0, 0)).unwrap(); // only `stuck` wants topic 0: now it is full

    let publisher = bus.publisher();
    let publishing = thread::spawn(move || publisher.publish(ev(1, 1)).map(|d| d.delivered()));
    gate.wait_arrived();

    // The task's first poll: nothing queued yet, so it registers and returns `Pending`.
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(Arc::clone(&flag));
    assert!(poll_recv_once(&mut task_side, &waker).is_pending());

    // The publish goes on: enqueues into `task_side` through the table it loaded before the
    // task's first poll, then waits for room in `stuck`.
    gate.open.store(true, Ordering::SeqCst);
    let woken = flag.woken_within(PROMPTLY);
    let queued = task_side.len();

    // Release the publish before asserting, so a failure does not leave a thread blocked.
    assert_eq!(stuck.recv_timeout(PROMPTLY), Ok(ev(0, 0)));
    assert_eq!(publishing.join().unwrap(), Ok(2));
    assert!(
        woken,
        "the task was not woken within {PROMPTLY:?} with {queued} event(s) in its queue"
    );
    assert!(matches!(
        poll_recv_once(&mut task_side, &waker),
        Poll::Ready(Ok(Ev { seq: 1, .. }))
    ));
}

/// Runs `f` on its own thread and waits at most [`PROMPTLY`] for it; `None` if it did not return
/// (a deadlock: the thread is left behind, the test fails).
fn bounded_run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PROMPTLY).ok()
}

/// A waker that runs `on_drop` when its last clone is dropped.
struct DropAction(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Wake for DropAction {
    fn wake(self: Arc<Self>) {}
}

impl Drop for DropAction {
    fn drop(&mut self) {
        if let Some(action) = self.0.lock().unwrap().take() {
            action();
        }
    }
}

fn waker_dropping_with(action: impl FnOnce() + Send + 'static) -> Waker {
    Waker::from(Arc::new(DropAction(Mutex::new(Some(Box::new(action))))))
}

/// Defect 2: the second poll replaces the first poll's waker; dropping that waker publishes to
/// the very subscriber being polled (tokio's `send_in_waker_drop`). The poll returns, and the
/// event is received.
#[test]
fn a_waker_whose_drop_publishes_does_not_deadlock() {
    let outcome = bounded_run(|| {
        let bus = Bus::new();
        let mut sub = bounded(&bus, 4, Overflow::DropOldest);
        let publisher = bus.publisher();
        let first = waker_dropping_with(move || {
            publisher.publish(Tick(7)).unwrap();
        });
        assert!(poll_recv_once(&mut sub, &first).is_pending());
        drop(first); // the subscriber's slot now holds the last clone
        let second = Waker::from(Arc::new(Flag::default()));
        let polled = poll_recv_once(&mut sub, &second);
        match polled {
            Poll::Ready(item) => item,
            Poll::Pending => sub.try_recv().map_err(|_| RecvError::Disconnected),
        }
    });
    assert_eq!(
        outcome,
        Some(Ok(Tick(7))),
        "the poll that dropped the waker deadlocked (or lost the event)"
    );
}

/// Defect 2, the other way: the replaced waker's `Drop` drops the bus's last publishing handle,
/// which closes the bus and wakes the subscriber: no deadlock, and the stream ends.
#[test]
fn a_waker_whose_drop_closes_the_bus_does_not_deadlock() {
    let outcome = bounded_run(|| {
        let bus = Bus::<Tick>::new();
        let mut sub = bounded(&bus, 4, Overflow::DropOldest);
        let first = waker_dropping_with(move || drop(bus));
        assert!(poll_recv_once(&mut sub, &first).is_pending());
        drop(first);
        let second = Waker::from(Arc::new(Flag::default()));
        match poll_recv_once(&mut sub, &second) {
            Poll::Ready(item) => item,
            Poll::Pending => match sub.try_recv() {
                Err(TryRecvError::Disconnected) => Err(RecvError::Disconnected),
                other => panic!("expected the end, got {other:?}"),
            },
        }
    });
    assert_eq!(outcome, Some(Err(RecvError::Disconnected)));
}

/// Defect 4: a receive loop whose queue always has an event lets the other tasks of a
/// current-thread runtime run: it yields (wakes itself and returns `Pending` once) after a
/// bounded run of ready polls.
#[test]
fn a_busy_receive_loop_yields_to_other_tasks() {
    const QUEUED: u32 = 20_000;
    let bus = Bus::new();
    let mut sub = bounded(&bus, QUEUED as usize, Overflow::Block);
    for i in 0..QUEUED {
        bus.publish(Tick(i)).unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let other_ran = Arc::new(AtomicBool::new(false));
    let seen_at = rt.block_on(async {
        let flag = Arc::clone(&other_ran);
        let receiver = tokio::spawn(async move {
            let mut seen_at = None;
            for i in 0..QUEUED {
                assert_eq!(sub.recv_async().await, Ok(Tick(i)));
                if seen_at.is_none() && flag.load(Ordering::SeqCst) {
                    seen_at = Some(i);
                }
            }
            seen_at
        });
        let flag = Arc::clone(&other_ran);
        tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
        receiver.await.unwrap()
    });
    let seen_at = seen_at.expect("the other task never ran while the queue was busy");
    assert!(
        seen_at <= 1_000,
        "the other task ran only after {seen_at} events"
    );
}

/// The same on `select!` against `yield_now`, as tokio's broadcast test does it: the yield branch
/// wins at least once while the queue is never empty. (`select!` polls its branches in a random
/// order; `yield_now` is ready on its second poll, which it gets only when the receive branch
/// returned `Pending` on the first: at each of the 32 cooperative yields it wins with even odds,
/// so it never winning is a 2^-32 chance, or a receive that never yields.)
#[test]
fn select_against_yield_now_lets_the_yield_win() {
    let bus = Bus::new();
    let mut sub = bounded(&bus, 4_096, Overflow::Block);
    for i in 0..4_096 {
        bus.publish(Tick(i)).unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (received, yields) = rt.block_on(async {
        let (mut received, mut yields) = (0u32, 0u32);
        while received < 4_096 {
            tokio::select! {
                item = sub.recv_async() => {
                    assert_eq!(item, Ok(Tick(received)));
                    received += 1;
                }
                () = tokio::task::yield_now() => yields += 1,
            }
        }
        (received, yields)
    });
    assert_eq!(received, 4_096);
    assert!(yields > 0, "the receive branch never returned `Pending`");
}

/// Defect 1, unforced: 4 publisher threads already publishing into 64 lossless (`Block`)
/// subscribers whose tasks, on 2 runtime threads, start receiving one by one meanwhile (a
/// task's first polls race publishes that loaded the table before it). A lost wake-up shows as a
/// task that stalls with a full queue, so that a publisher's `publish_timeout` expires and counts
/// a loss: there must be none, and every task must end.
#[test]
fn many_async_block_consumers_never_stall() {
    const TASKS: usize = 64;
    const PUBLISHERS: usize = 4;
    const EACH: u32 = 5_000;
    let bus = Bus::new();
    let subs: Vec<_> = (0..TASKS)
        .map(|_| bounded(&bus, 2, Overflow::Block))
        .collect();
    let timeouts = Arc::new(AtomicUsize::new(0));
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|_| {
            let publisher: Publisher<Tick> = bus.publisher();
            let timeouts = Arc::clone(&timeouts);
            thread::spawn(move || {
                for i in 0..EACH {
                    let delivery = publisher
                        .publish_timeout(Tick(i), Duration::from_secs(10))
                        .unwrap();
                    timeouts.fetch_add(delivery.timed_out(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    drop(bus);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tasks: Vec<_> = subs
        .into_iter()
        .map(|mut sub| {
            thread::sleep(Duration::from_micros(200));
            rt.spawn(async move {
                let (mut got, mut lost) = (0u64, 0u64);
                loop {
                    match sub.recv_async().await {
                        Ok(_) => got += 1,
                        Err(RecvError::Lagged(n)) => lost += n,
                        Err(_) => return (got, lost),
                    }
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.join().unwrap();
    }
    let results = rt.block_on(async {
        let mut results = Vec::new();
        for task in tasks {
            results.push(tokio::time::timeout(PROMPTLY, task).await);
        }
        results
    });
    assert_eq!(timeouts.load(Ordering::Relaxed), 0, "a task stalled");
    for result in results {
        let (got, lost) = result.expect("a task did not end").unwrap();
        assert_eq!((got, lost), (u64::from(EACH) * PUBLISHERS as u64, 0));
    }
}

/// No lock of the crate is held while user code runs: a `Clone` that emits into the recording
/// sink being copied does not deadlock it, and nothing recorded is lost.
#[test]
fn a_recording_sink_copy_may_run_a_clone_that_emits() {
    use fanout::sink::RecordingSink;
    use fanout::EventSink;

    #[derive(Debug)]
    struct Echo(u32, Arc<RecordingSink<Echo>>);
    impl Clone for Echo {
        fn clone(&self) -> Self {
            if self.0 == 1 {
                self.1.emit(Echo(99, Arc::clone(&self.1)));
            }
            Echo(self.0, Arc::clone(&self.1))
        }
    }
    let outcome = bounded_run(|| {
        let sink = Arc::new(RecordingSink::new());
        sink.emit(Echo(1, Arc::clone(&sink)));
        sink.emit(Echo(2, Arc::clone(&sink)));
        let copy: Vec<u32> = sink.events().iter().map(|e| e.0).collect();
        let after: Vec<u32> = sink.take().iter().map(|e| e.0).collect();
        (copy, after)
    });
    assert_eq!(outcome, Some((vec![1, 2], vec![1, 2, 99])));
}
