//! [`RunWaiter`]: wait for a run's terminal event, whatever else its subscribers lose.

use std::fmt;
use std::time::{Duration, Instant};

use super::RunLifecycle;
use crate::error::{BuildError, RecvTimeoutError};
use crate::history::{Replay, Sequenced};
use crate::{Bus, Event, HistoryBus, Overflow, Subscriber};

/// Waits for one run's terminal event (for [`AgentEvent`](crate::agent::AgentEvent): `RunCompleted`, `RunFailed` or
/// `RunCancelled`), on a bus of any event type that implements [`RunLifecycle`].
///
/// A waiter is a subscriber of its own whose topic mask is the event type's
/// [`TERMINAL_TOPICS`](RunLifecycle::TERMINAL_TOPICS) ([`topics::RUN`](crate::agent::topics::RUN) alone
/// for [`AgentEvent`](crate::agent::AgentEvent)) and whose filter
/// (run by the publisher) passes only this run's terminal events. Deltas, tool calls and other
/// runs' events never enter its queue, so no amount of token streaming can push the terminal
/// event out of it, however much a UI subscriber on the same bus loses. Its queue is small and
/// `DropNewest`, so it never blocks the agent loop, and the first terminal event of the run,
/// the one that matters, is always kept.
///
/// On a plain [`Bus`], create it **before** the run can end (before publishing `RunStarted` is
/// simplest): like every subscriber it sees only events published after it subscribed. On a
/// [`HistoryBus`] whose history keeps the terminal topics, [`RunWaiter::from_history`] may come at any
/// time: for a run that already ended it answers at once from the history (while the history
/// still holds the terminal event), and for one still running it gets the terminal event live,
/// with no gap between the two.
///
/// Works on a `Bus<AgentEvent>`, a `Bus<Arc<AgentEvent>>`, or a bus of any event type of your
/// own that implements [`RunLifecycle`] (its run ids may be strings, or missing on some events:
/// see the trait's example). To follow every event of a run until its end, see
/// [`RunStream`](super::RunStream).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fanout::agent::{now_ms, AgentEvent, RunId, RunWaiter, SessionId};
/// use fanout::Bus;
///
/// let bus = Bus::new();
/// let (session, run) = (SessionId::new(), RunId::new());
/// let mut waiter = RunWaiter::new(&bus, run).unwrap();
///
/// let publisher = bus.publisher();
/// let agent_loop = std::thread::spawn(move || {
///     for word in ["Hello", ", ", "world"] {
///         let text = word.to_string();
///         publisher.publish(AgentEvent::TextDelta { session: Some(session), run: Some(run), text, message_id: None, timestamp_ms: now_ms() }).unwrap();
///     }
///     publisher.publish(AgentEvent::RunCompleted { session: Some(session), run, iterations: 1, finish_reason: None, timestamp_ms: now_ms() }).unwrap();
/// });
///
/// let done = waiter.wait(Duration::from_secs(5)).unwrap();
/// assert!(matches!(done, AgentEvent::RunCompleted { iterations: 1, .. }));
/// agent_loop.join().unwrap();
/// ```
///
/// Too late, on a bus with history:
///
/// ```
/// use std::time::Duration;
/// use fanout::agent::{now_ms, AgentEvent, RunId, RunWaiter, SessionId};
/// use fanout::HistoryBus;
///
/// let bus = HistoryBus::builder(1024).build().unwrap();
/// let (session, run) = (SessionId::new(), RunId::new());
/// // The run ends while nobody is waiting.
/// bus.publish(AgentEvent::RunCompleted { session: Some(session), run, iterations: 3, finish_reason: None, timestamp_ms: now_ms() }).unwrap();
/// let mut waiter = RunWaiter::from_history(&bus, run).unwrap();
/// let done = waiter.wait(Duration::ZERO).unwrap(); // answered from the history, no waiting
/// assert!(matches!(*done, AgentEvent::RunCompleted { iterations: 3, .. }));
/// assert_eq!(done.seq(), 1);
/// ```
pub struct RunWaiter<E: RunLifecycle> {
    run: E::RunId,
    subscriber: Subscriber<E>,
}

/// Why a [`RunWaiter`] returned without a terminal event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitError {
    /// The run did not end in time; the waiter can wait again.
    Timeout,
    /// The bus closed before the run ended.
    Closed,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Timeout => f.write_str("timed out waiting for the run to end"),
            WaitError::Closed => f.write_str("the bus closed before the run ended"),
        }
    }
}

impl std::error::Error for WaitError {}

/// Room for a few terminal events of one run: a well-behaved run publishes exactly one.
const WAITER_CAPACITY: usize = 4;

/// A waiter's subscriber settings, on a plain or a history bus's builder (two builder types with
/// the same methods): the run's terminal topics only, a few slots, and a filter for that run.
macro_rules! waiter_settings {
    ($builder:expr, $event:ty, $run:expr) => {{
        let filter_run = $run.clone();
        $builder
            .topics(<$event>::TERMINAL_TOPICS)
            .capacity(WAITER_CAPACITY)
            .overflow(Overflow::DropNewest)
            .name(format!("run-waiter-{:?}", $run))
            .filter(move |event: &$event| event.is_end_of(&filter_run))
    }};
}

impl<E> RunWaiter<E>
where
    E: Event + RunLifecycle,
{
    /// Subscribes a waiter for `run`'s terminal event.
    ///
    /// # Errors
    ///
    /// [`BuildError::Closed`] if the bus is closed.
    pub fn new(bus: &Bus<E>, run: E::RunId) -> Result<Self, BuildError> {
        let subscriber = waiter_settings!(bus.subscriber(), E, run).build()?;
        Ok(RunWaiter { run, subscriber })
    }

    /// The run waited for (a clone of its id).
    pub fn run_id(&self) -> E::RunId {
        self.run.clone()
    }

    /// Waits at most `timeout` for the run's terminal event.
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`] (wait again if you like) or [`WaitError::Closed`].
    pub fn wait(&mut self, timeout: Duration) -> Result<E, WaitError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_deadline(deadline),
            // A timeout too large to represent: wait without one.
            None => self.wait_forever(),
        }
    }

    /// Waits until `deadline` at the latest for the run's terminal event.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_deadline(&mut self, deadline: Instant) -> Result<E, WaitError> {
        loop {
            match self.subscriber.recv_deadline(deadline) {
                Ok(event) => return Ok(event),
                // Only surplus terminal events of this run can be dropped (`DropNewest` keeps the
                // first ones): nothing to report, keep waiting for what is queued.
                Err(RecvTimeoutError::Lagged(_)) => continue,
                Err(RecvTimeoutError::Timeout) => return Err(WaitError::Timeout),
                Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Overflowed) => {
                    return Err(WaitError::Closed)
                }
            }
        }
    }

    /// Waits, without blocking the thread, for the run's terminal event: the async form of
    /// [`wait`](Self::wait), on any executor. It has no timeout of its own: wrap it in your
    /// runtime's (`tokio::time::timeout(d, waiter.wait_async())`); dropping it is harmless, and
    /// the waiter can wait again (cancel-safe, like [`Subscriber::recv_async`]).
    ///
    /// # Errors
    ///
    /// [`WaitError::Closed`] if the bus closed before the run ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{now_ms, AgentEvent, RunId, RunWaiter, SessionId};
    /// use fanout::Bus;
    ///
    /// let bus = Bus::new();
    /// let (session, run) = (SessionId::new(), RunId::new());
    /// let mut waiter = RunWaiter::new(&bus, run).unwrap();
    /// let publisher = bus.publisher();
    /// std::thread::spawn(move || {
    ///     publisher.publish(AgentEvent::RunCompleted { session: Some(session), run, iterations: 2, finish_reason: None, timestamp_ms: now_ms() }).unwrap();
    /// });
    /// let done = futures_executor::block_on(waiter.wait_async()).unwrap();
    /// assert!(matches!(done, AgentEvent::RunCompleted { iterations: 2, .. }));
    /// ```
    pub async fn wait_async(&mut self) -> Result<E, WaitError> {
        loop {
            match self.subscriber.recv_async().await {
                Ok(event) => return Ok(event),
                // As in `wait_deadline`: only surplus terminal events of this run can be dropped.
                Err(crate::error::RecvError::Lagged(_)) => continue,
                Err(_) => return Err(WaitError::Closed),
            }
        }
    }

    fn wait_forever(&mut self) -> Result<E, WaitError> {
        loop {
            match self.subscriber.recv() {
                Ok(event) => return Ok(event),
                Err(crate::error::RecvError::Lagged(_)) => continue,
                Err(_) => return Err(WaitError::Closed),
            }
        }
    }
}

impl<E> RunWaiter<Sequenced<E>>
where
    E: Event + RunLifecycle,
{
    /// Subscribes a waiter for `run`'s terminal event on a bus with history, replaying the
    /// terminal events of `run` the history holds ([`Replay::Since`]`(0)`, filtered), so that a
    /// run that already ended is answered at once. It waits (and times out) like any waiter if
    /// the history does not keep the [terminal topics](RunLifecycle::TERMINAL_TOPICS) or no
    /// longer holds the run's end.
    ///
    /// # Errors
    ///
    /// [`BuildError::Closed`] if the bus is closed.
    pub fn from_history(bus: &HistoryBus<E>, run: E::RunId) -> Result<Self, BuildError> {
        let subscriber = waiter_settings!(bus.subscriber(), E, run)
            .replay(Replay::Since(0))
            .build()?;
        Ok(RunWaiter { run, subscriber })
    }
}

impl<E: RunLifecycle> fmt::Debug for RunWaiter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunWaiter")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}
