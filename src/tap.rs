//! Taps: a subscriber consumed on a thread of its own by a handler (an audit log, a recorder, an
//! exporter), which survives the handler's panics.
//!
//! A tap owns one [`Subscriber`] and one named thread. The thread waits on the subscriber's queue
//! and on a stop signal at once, the way the subscriber's [`WaitStrategy`] says: with
//! [`SpinThenPark`](WaitStrategy::SpinThenPark) or [`BusySpin`](WaitStrategy::BusySpin) it first
//! polls both (the stop signal every 64 polls), then parks in a `crossbeam_channel::select!` over
//! [`Subscriber::receiver`] and the handle's stop channel. It hands every event, and every lag
//! report, to the [`TapHandler`], and ends when:
//!
//! - the bus closes (or every publishing handle is gone): everything queued is handled first,
//!   so a tap whose policy is [`Overflow::Block`] sees every event;
//! - the subscriber is cut off by [`Overflow::Disconnect`];
//! - its [`TapHandle`] is stopped or dropped: the tap stops after the call in progress; events
//!   still queued are not handled, and their number is in the [`TapReport`].
//!
//! A tap whose handle is [detached](TapHandle::detach) belongs to its bus: it never stops early,
//! and [`Bus::shutdown`](crate::Bus::shutdown) closes the bus and joins it (and every other tap
//! the bus owns) with a bound, so a lossless audit loses nothing at exit.
//!
//! A handler may publish into the bus it taps. Where its own subscriber's policy is
//! [`Overflow::Block`] and its queue is full, such a publish does not wait (the only thread that
//! could free a slot is the one publishing): the event is lost to the tap, counted, and handed to
//! the handler as [`Received::Lagged`] later; every other subscriber gets it as usual.
//!
//! A panic in the handler is caught, counted ([`TapStats::panics`]) and the tap goes on with the
//! next event; the handler must therefore leave itself usable when it panics (the tap wraps it in
//! [`AssertUnwindSafe`]).

use std::cell::Cell;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender, TryRecvError};

use crate::error::{BuildError, RecvError};
use crate::wait;
use crate::{Event, Overflow, Subscriber, SubscriberBuilder, Topics, WaitStrategy};

/// What a tap's handler is given: an event, or a report of events its subscriber lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received<E> {
    /// The next event.
    Event(E),
    /// The subscriber's overflow policy discarded this many events here (see
    /// [`RecvError::Lagged`]).
    Lagged(u64),
}

/// The work a tap does with each item its subscriber receives.
///
/// Any `FnMut(Received<E>) + Send + 'static` closure is a handler. Implement the trait on a type
/// of your own for the extra hooks: [`on_idle`](Self::on_idle) (the queue has just been drained:
/// a good time to flush) and [`on_stop`](Self::on_stop) (the tap is ending).
///
/// # Examples
///
/// ```
/// use fanout::tap::{Received, TapHandler};
///
/// struct Counter { events: u64, flushed: u64 }
/// impl<E> TapHandler<E> for Counter {
///     fn on_item(&mut self, item: Received<E>) {
///         if let Received::Event(_) = item {
///             self.events += 1;
///         }
///     }
///     fn on_idle(&mut self) {
///         self.flushed = self.events;
///     }
/// }
/// ```
pub trait TapHandler<E>: Send + 'static {
    /// Handles one event or lag report. A panic here is caught and counted; the tap goes on.
    fn on_item(&mut self, item: Received<E>);

    /// Called when the queue has just been found empty after handling at least one item. The
    /// default does nothing.
    fn on_idle(&mut self) {}

    /// Called once, on the tap's thread, when the tap ends for any reason. The default does
    /// nothing.
    fn on_stop(&mut self, _end: TapEnd) {}
}

impl<E, F> TapHandler<E> for F
where
    F: FnMut(Received<E>) + Send + 'static,
{
    fn on_item(&mut self, item: Received<E>) {
        self(item)
    }
}

/// Why a tap ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TapEnd {
    /// The bus closed and everything queued was handled.
    Closed,
    /// The subscriber's [`Overflow::Disconnect`] policy cut it off.
    Overflowed,
    /// Its handle was stopped or dropped.
    Stopped,
}

/// Live counters of a tap, from [`TapHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct TapStats {
    /// Events handed to the handler.
    pub events: u64,
    /// Events the subscriber lost to overflow, as reported to the handler.
    pub lagged: u64,
    /// Calls of the handler that panicked (the tap went on after each).
    pub panics: u64,
}

/// How a tap ended, from [`TapHandle::join`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct TapReport {
    /// The tap's (thread's) name.
    pub name: String,
    /// Its final counters.
    pub stats: TapStats,
    /// Why it ended.
    pub end: TapEnd,
    /// Events still queued when it was stopped, never handled (0 unless `end` is `Stopped`).
    pub unhandled: usize,
    /// Whether `on_stop` panicked (it is called once; the panic is caught).
    pub stop_panicked: bool,
}

/// A tap could not be started.
#[derive(Debug)]
#[non_exhaustive]
pub enum TapError {
    /// Its subscriber could not be built.
    Build(BuildError),
    /// The operating system would not spawn its thread.
    Spawn(io::Error),
}

impl fmt::Display for TapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TapError::Build(err) => write!(f, "cannot build the tap's subscriber: {err}"),
            TapError::Spawn(err) => write!(f, "cannot spawn the tap's thread: {err}"),
        }
    }
}

impl std::error::Error for TapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TapError::Build(err) => Some(err),
            TapError::Spawn(err) => Some(err),
        }
    }
}

impl From<BuildError> for TapError {
    fn from(err: BuildError) -> Self {
        TapError::Build(err)
    }
}

/// Builds a tap: a subscriber (with the usual settings) plus a thread that runs a handler on it.
/// Made by [`Bus::tap`](crate::Bus::tap). The tap's thread takes the subscriber's name.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use fanout::{Bus, Overflow};
/// use fanout::tap::{Received, TapEnd};
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u32);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let tap = bus
///     .tap()
///     .name("audit")
///     .overflow(Overflow::Block)
///     .spawn(move |item| {
///         if let Received::Event(Ping(n)) = item {
///             log.lock().unwrap().push(n);
///         }
///     })
///     .unwrap();
/// for i in 0..100 {
///     bus.publish(Ping(i)).unwrap();
/// }
/// bus.close();
/// let report = tap.join();
/// assert_eq!((report.end, report.stats.events), (TapEnd::Closed, 100));
/// assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
/// ```
#[must_use = "a tap builder does nothing until `spawn` is called"]
pub struct TapBuilder<E> {
    subscriber: SubscriberBuilder<E>,
    owner: Arc<OwnedTaps>,
}

impl<E: Event> TapBuilder<E> {
    pub(crate) fn new(subscriber: SubscriberBuilder<E>, owner: &Arc<OwnedTaps>) -> Self {
        TapBuilder {
            subscriber,
            owner: Arc::clone(owner),
        }
    }

    /// The topics to receive (default: all).
    pub fn topics(self, topics: impl Into<Topics>) -> Self {
        TapBuilder {
            subscriber: self.subscriber.topics(topics),
            ..self
        }
    }

    /// The queue's capacity (default: the bus's).
    pub fn capacity(self, capacity: usize) -> Self {
        TapBuilder {
            subscriber: self.subscriber.capacity(capacity),
            ..self
        }
    }

    /// The overflow policy (default: the bus's). [`Overflow::Block`] makes the tap lossless.
    pub fn overflow(self, overflow: Overflow) -> Self {
        TapBuilder {
            subscriber: self.subscriber.overflow(overflow),
            ..self
        }
    }

    /// The name of the subscriber and of the tap's thread.
    pub fn name(self, name: impl Into<String>) -> Self {
        TapBuilder {
            subscriber: self.subscriber.name(name),
            ..self
        }
    }

    /// How the tap's thread waits for events (default: the bus's): see the module docs.
    pub fn wait(self, wait: WaitStrategy) -> Self {
        TapBuilder {
            subscriber: self.subscriber.wait(wait),
            ..self
        }
    }

    /// A publisher-side predicate, as [`SubscriberBuilder::filter`].
    pub fn filter(self, filter: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        TapBuilder {
            subscriber: self.subscriber.filter(filter),
            ..self
        }
    }

    /// Follows one routing key, as [`SubscriberBuilder::key`] (a per-session exporter).
    pub fn key(self, key: impl Into<crate::Key>) -> Self {
        TapBuilder {
            subscriber: self.subscriber.key(key),
            ..self
        }
    }

    /// Follows a small set of routing keys, as [`SubscriberBuilder::keys`].
    pub fn keys<K: Into<crate::Key>>(self, keys: impl IntoIterator<Item = K>) -> Self {
        TapBuilder {
            subscriber: self.subscriber.keys(keys),
            ..self
        }
    }

    /// Builds the subscriber and starts the tap's thread running `handler`.
    ///
    /// # Errors
    ///
    /// [`TapError::Build`] if the subscriber settings are rejected (or the bus is closed),
    /// [`TapError::Spawn`] if no thread could be spawned.
    pub fn spawn<H: TapHandler<E>>(self, handler: H) -> Result<TapHandle<H>, TapError> {
        let subscriber = self.subscriber.build()?;
        spawn_tap(subscriber, handler, self.owner).map_err(TapError::Spawn)
    }
}

impl<E> fmt::Debug for TapBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TapBuilder")
            .field("subscriber", &self.subscriber)
            .finish()
    }
}

/// Runs `handler` on `subscriber` on a new thread named after the subscriber.
fn spawn_tap<E, H>(
    subscriber: Subscriber<E>,
    handler: H,
    owner: Arc<OwnedTaps>,
) -> io::Result<TapHandle<H>>
where
    E: Event,
    H: TapHandler<E>,
{
    let name = subscriber.name().to_owned();
    if name.contains('\0') {
        // `std::thread::Builder::spawn` would panic on it.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a tap's thread name cannot contain a NUL byte: {name:?}"),
        ));
    }
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    let thread_counters = Arc::clone(&counters);
    let thread_name = name.clone();
    // Disconnects when the thread's work is done (the report made): what a bounded join waits
    // on, since a `JoinHandle` has no timed join.
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let _done = done_tx;
            run(subscriber, handler, stop_rx, &thread_counters, thread_name)
        })?;
    Ok(TapHandle {
        name,
        counters,
        stop: Some(stop_tx),
        done: done_rx,
        thread: Some(thread),
        owner,
    })
}

/// The handle of a running tap: read its counters, stop it, join it.
///
/// Dropping the handle stops the tap and waits for its thread (so a handler stuck forever would
/// make the drop wait forever). `H` is the handler's type; [`join_handler`](Self::join_handler)
/// hands the handler back.
pub struct TapHandle<H> {
    name: String,
    counters: Arc<Counters>,
    /// Dropping this sender is the stop signal.
    stop: Option<Sender<()>>,
    /// Disconnected once the thread's work is done.
    done: Receiver<()>,
    thread: Option<JoinHandle<(TapReport, H)>>,
    /// The bus's list of owned taps, for `detach`.
    owner: Arc<OwnedTaps>,
}

impl<H> TapHandle<H> {
    /// The tap's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tap's counters now.
    pub fn stats(&self) -> TapStats {
        self.counters.snapshot()
    }

    /// Whether the tap's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().map_or(true, JoinHandle::is_finished)
    }

    /// Waits for the tap to end by itself (the bus closes, or its subscriber is cut off) and
    /// returns its report.
    pub fn join(self) -> TapReport {
        self.join_handler().0
    }

    /// As [`join`](Self::join), and hands the handler back (for its own results, such as a
    /// recorder's line count).
    pub fn join_handler(mut self) -> (TapReport, H) {
        self.wait()
    }

    /// Stops the tap after the handler call in progress, waits for it, and returns its report.
    /// If the tap has already ended by itself, its report says why.
    pub fn stop(self) -> TapReport {
        self.stop_handler().0
    }

    /// As [`stop`](Self::stop), and hands the handler back.
    pub fn stop_handler(mut self) -> (TapReport, H) {
        self.stop = None;
        self.wait()
    }

    /// Hands the tap to its bus: it runs on until the bus closes (or its subscriber is cut off),
    /// handling everything queued before it ends, and [`Bus::shutdown`](crate::Bus::shutdown)
    /// (or [`HistoryBus::shutdown`](crate::HistoryBus::shutdown)) joins it with a bound. Without
    /// this, dropping the handle stops the tap and discards what is still queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fanout::{Bus, Overflow};
    /// # #[derive(Clone)] struct Ping;
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// bus.tap().overflow(Overflow::Block).spawn(|_item| {}).unwrap().detach();
    /// bus.publish(Ping).unwrap();
    /// let done = bus.shutdown(Duration::from_secs(10));
    /// assert_eq!(done.reports[0].stats.events, 1);
    /// ```
    pub fn detach(mut self)
    where
        H: Send + 'static,
    {
        let detached = Detached {
            name: std::mem::take(&mut self.name),
            stop: self.stop.take(),
            done: self.done.clone(),
            thread: self.thread.take().expect("a tap is joined once"),
        };
        self.owner.taps.lock().push(Box::new(detached));
    }

    fn wait(&mut self) -> (TapReport, H) {
        let thread = self.thread.take().expect("a tap is joined once");
        match thread.join() {
            Ok(outcome) => outcome,
            // The loop catches every handler panic; only a panic in the tap's own code could get
            // here, and that would be a bug in this module.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<H> Drop for TapHandle<H> {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            // The report is discarded; a panic of the tap's own code is not re-raised in a drop.
            let _ = thread.join();
        }
    }
}

impl<H> fmt::Debug for TapHandle<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TapHandle")
            .field("name", &self.name)
            .field("stats", &self.stats())
            .field("finished", &self.is_finished())
            .finish()
    }
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    lagged: AtomicU64,
    panics: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> TapStats {
        TapStats {
            events: self.events.load(Ordering::Relaxed),
            lagged: self.lagged.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
        }
    }
}

std::thread_local! {
    /// On a tap's thread, the address of its subscriber's state (null elsewhere): a publish from
    /// this thread that finds that subscriber's `Block` queue full must not wait for it.
    static TAPPING: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Whether the current thread is the tap consuming the subscriber whose state is at `state`.
pub(crate) fn is_tap_of(state: *const ()) -> bool {
    TAPPING.with(|tapping| tapping.get() == state)
}

/// Records, for the tap's thread, which subscriber it consumes, until dropped.
struct Tapping;

impl Tapping {
    fn enter(state: *const ()) -> Self {
        TAPPING.with(|tapping| tapping.set(state));
        Tapping
    }
}

impl Drop for Tapping {
    fn drop(&mut self) {
        TAPPING.with(|tapping| tapping.set(std::ptr::null()));
    }
}

/// The tap's thread.
fn run<E, H>(
    mut subscriber: Subscriber<E>,
    mut handler: H,
    stop: Receiver<()>,
    counters: &Counters,
    name: String,
) -> (TapReport, H)
where
    E: Event,
    H: TapHandler<E>,
{
    let tapping = Tapping::enter(subscriber.state_addr());
    let end = 'outer: loop {
        let msg = match spin_first(&subscriber, &stop) {
            Some(Woken::Queue(msg)) => msg,
            Some(Woken::Stop) => break 'outer TapEnd::Stopped,
            None => select! {
                recv(subscriber.receiver()) -> msg => msg,
                recv(stop) -> _ => break 'outer TapEnd::Stopped,
            },
        };
        for item in subscriber.accept(msg) {
            let item = match item {
                Ok(event) => {
                    counters.events.fetch_add(1, Ordering::Relaxed);
                    Received::Event(event)
                }
                Err(RecvError::Lagged(n)) => {
                    counters.lagged.fetch_add(n, Ordering::Relaxed);
                    Received::Lagged(n)
                }
                Err(RecvError::Disconnected) => break 'outer TapEnd::Closed,
                Err(RecvError::Overflowed) => break 'outer TapEnd::Overflowed,
            };
            if catch_unwind(AssertUnwindSafe(|| handler.on_item(item))).is_err() {
                counters.panics.fetch_add(1, Ordering::Relaxed);
            }
        }
        if subscriber.is_empty() && catch_unwind(AssertUnwindSafe(|| handler.on_idle())).is_err() {
            counters.panics.fetch_add(1, Ordering::Relaxed);
        }
    };
    let unhandled = if end == TapEnd::Stopped {
        subscriber.len()
    } else {
        0
    };
    // Unsubscribe before the (possibly slow) stop hook, so publishers stop paying for this tap.
    drop(subscriber);
    drop(tapping);
    let stop_panicked = catch_unwind(AssertUnwindSafe(|| handler.on_stop(end))).is_err();
    let report = TapReport {
        name,
        stats: counters.snapshot(),
        end,
        unhandled,
        stop_panicked,
    };
    (report, handler)
}

/// The taps a bus owns: detached handles, joined by `shutdown`.
#[derive(Default)]
pub(crate) struct OwnedTaps {
    taps: parking_lot::Mutex<Vec<Box<dyn OwnedTap>>>,
}

impl OwnedTaps {
    /// Waits until `timeout` has passed at the latest for every owned tap to end, and joins those
    /// that did. The list is taken out of the lock first: joining hands back each handler, whose
    /// `Drop` (user code) runs here, with no lock held.
    pub(crate) fn join(&self, timeout: Duration) -> Shutdown {
        let deadline = Instant::now().checked_add(timeout);
        let taps = std::mem::take(&mut *self.taps.lock());
        let mut shutdown = Shutdown {
            reports: Vec::new(),
            running: Vec::new(),
        };
        let mut running = Vec::new();
        for tap in taps {
            if tap.wait(deadline) {
                shutdown.reports.push(tap.join());
            } else {
                shutdown.running.push(tap.name().to_owned());
                running.push(tap);
            }
        }
        // Still draining: the bus keeps them (a later `shutdown` may wait longer).
        self.taps.lock().extend(running);
        shutdown
    }
}

/// A detached tap, whatever its handler type.
trait OwnedTap: Send {
    fn name(&self) -> &str;
    /// Waits until the tap's work is done or `deadline` passes (`None`: no bound); whether done.
    fn wait(&self, deadline: Option<Instant>) -> bool;
    fn join(self: Box<Self>) -> TapReport;
}

struct Detached<H> {
    name: String,
    /// Kept alive so that the tap is not stopped: it ends when the bus closes.
    #[allow(dead_code)]
    stop: Option<Sender<()>>,
    done: Receiver<()>,
    thread: JoinHandle<(TapReport, H)>,
}

impl<H: Send + 'static> OwnedTap for Detached<H> {
    fn name(&self) -> &str {
        &self.name
    }

    fn wait(&self, deadline: Option<Instant>) -> bool {
        let ended = match deadline {
            Some(deadline) => self
                .done
                .recv_deadline(deadline)
                .map_err(|e| e.is_disconnected()),
            None => self.done.recv().map_err(|_| true),
        };
        // The channel never carries a message: it only disconnects.
        matches!(ended, Err(true))
    }

    fn join(self: Box<Self>) -> TapReport {
        match self.thread.join() {
            Ok((report, handler)) => {
                drop(handler);
                report
            }
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// What [`Bus::shutdown`](crate::Bus::shutdown) did with the taps the bus owns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shutdown {
    /// The reports of the taps that ended in time, in the order they were detached.
    pub reports: Vec<TapReport>,
    /// The names of the taps still running at the deadline (still owned by the bus, still
    /// draining).
    pub running: Vec<String>,
}

/// What woke a tap's thread.
enum Woken<E> {
    /// What a `select!` arm on the subscriber's receiver would have yielded.
    Queue(Result<E, crossbeam_channel::RecvError>),
    /// The handle was stopped or dropped.
    Stop,
}

/// The spinning part of the tap's wait, for subscribers whose [`WaitStrategy`] spins: polls the
/// queue, and the stop signal every 64 polls, until the spin window ends (`None`: go and park).
fn spin_first<E>(subscriber: &Subscriber<E>, stop: &Receiver<()>) -> Option<Woken<E>> {
    let until = match subscriber.wait_strategy() {
        WaitStrategy::Park => return None,
        // A window too long to add to the clock is no bound: spin like `BusySpin`.
        WaitStrategy::SpinThenPark(window) => Instant::now().checked_add(window),
        WaitStrategy::BusySpin => None,
    };
    let mut polls: u32 = 0;
    wait::spin(until, || {
        match subscriber.receiver().try_recv() {
            Ok(event) => return Some(Woken::Queue(Ok(event))),
            Err(TryRecvError::Disconnected) => {
                return Some(Woken::Queue(Err(crossbeam_channel::RecvError)))
            }
            Err(TryRecvError::Empty) => {}
        }
        polls = polls.wrapping_add(1);
        // The stop channel has no buffer: a poll of it takes its lock, so not on every round.
        let stopped = polls % 64 == 0 && !matches!(stop.try_recv(), Err(TryRecvError::Empty));
        stopped.then_some(Woken::Stop)
    })
}
