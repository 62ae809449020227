//! [`RunStream`]: every event of one run, in order, until the event that ends it.

use std::fmt;
#[cfg(feature = "stream")]
use std::pin::Pin;
use std::task::{Context, Poll};

use super::RunLifecycle;
use crate::error::{BuildError, RecvError};
use crate::{Bus, Event, Overflow, Subscriber, SubscriberBuilder, Topics};

/// Follows one run: yields its events in order (FIFO per publisher), and ends right after the
/// event that ends it. What a per-run forwarder (an SSE stream, a WebSocket, a job's log) wants:
/// no hand-written "stop at the terminal event" loop, on any event type that implements
/// [`RunLifecycle`].
///
/// It is a blocking iterator ([`iter`](Self::iter), [`recv`](Self::recv)), an async stream ([`next_async`](Self::next_async), and
/// `futures_core::Stream` with the `stream` feature, on by default), on any executor. Its items:
///
/// - `Ok(event)`: the run's next event; the last one is the event that ends the run, after which
///   the stream is finished ([`is_finished`](Self::is_finished)) and yields nothing more;
/// - `Err(RecvError::Lagged(n))`: its subscriber's overflow policy lost `n` events here;
/// - `Err(RecvError::Disconnected)` or `Err(RecvError::Overflowed)`: the bus closed, or the
///   subscriber was cut off, **before** the run ended. It is the last item: a forwarder can tell
///   a run that ended from a stream that was cut.
///
/// Its subscriber's policy decides what a slow consumer costs. Under `DropOldest` (the default)
/// [`new`](Self::new) and [`with`](Self::with) make the event type's
/// [`TERMINAL_TOPICS`](RunLifecycle::TERMINAL_TOPICS) lossless
/// ([`SubscriberBuilder::lossless`]): no flood of the run's other events, before or after its
/// end, evicts the event that ends it, so the stream always ends; what else is lost is reported as
/// `Lagged`. That needs `TERMINAL_TOPICS` narrower than [`Topics::ALL`](crate::Topics::ALL)
/// (for `fanout::agent::AgentEvent`: `topics::RUN`); with `ALL`, which would make every
/// event lossless, the subscriber stays plain `DropOldest`. Under `DropNewest` the end can
/// still be lost: choose `DropOldest` or [`Overflow::Block`](crate::Overflow::Block) where the
/// end must be seen.
///
/// # Examples
///
/// ```
/// use fanout::agent::{AgentEvent, RunId, RunStream, SessionId};
/// use fanout::Bus;
///
/// let bus = Bus::new();
/// let (session, run, other) = (SessionId::new(), RunId::new(), RunId::new());
/// let mut stream = RunStream::new(&bus, run).unwrap();
/// bus.publish(AgentEvent::text_delta(session, run, "Hel")).unwrap();
/// bus.publish(AgentEvent::text_delta(session, other, "not this run")).unwrap();
/// bus.publish(AgentEvent::text_delta(session, run, "lo")).unwrap();
/// bus.publish(AgentEvent::run_completed(session, run, 1)).unwrap();
/// bus.publish(AgentEvent::text_delta(session, run, "after the end")).unwrap();
///
/// // The bus is still open: the iterator ends because the run did.
/// let items: Vec<_> = stream.iter().map(Result::unwrap).collect();
/// assert_eq!(items.len(), 3);
/// assert!(items[2].is_terminal());
/// ```
pub struct RunStream<E: RunLifecycle> {
    run: E::RunId,
    subscriber: Subscriber<E>,
    finished: bool,
}

impl<E> RunStream<E>
where
    E: Event + RunLifecycle,
{
    /// Follows `run` on `bus` through a subscriber of its own: every topic, the default capacity
    /// and policy, and a filter (run by the publisher) that passes only `run`'s events.
    ///
    /// Like every subscriber it sees what is published after it subscribed: create it before the
    /// run starts, or use [`from_subscriber`](Self::from_subscriber) with a history bus's
    /// replaying subscriber.
    ///
    /// # Errors
    ///
    /// [`BuildError::Closed`] if the bus is closed.
    pub fn new(bus: &Bus<E>, run: E::RunId) -> Result<Self, BuildError> {
        Self::with(bus.subscriber(), run)
    }

    /// Follows `run` through a subscriber built from `builder`, where you choose its topics,
    /// capacity, policy and name. The run's filter replaces any filter `builder` has. Under
    /// `DropOldest`, if `builder` names no lossless topics, the event type's terminal topics are
    /// made lossless (see the type's docs).
    ///
    /// # Errors
    ///
    /// As [`SubscriberBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{topics, AgentEvent, RunId, RunStream, SessionId};
    /// use fanout::{Bus, Overflow};
    ///
    /// let bus = Bus::<AgentEvent>::new();
    /// let run = RunId::new();
    /// let lifecycle_only = RunStream::with(
    ///     bus.subscriber().topics(topics::RUN).overflow(Overflow::Block).name("forwarder"),
    ///     run,
    /// )
    /// .unwrap();
    /// assert_eq!(lifecycle_only.subscriber().name(), "forwarder");
    /// ```
    pub fn with(builder: SubscriberBuilder<E>, run: E::RunId) -> Result<Self, BuildError> {
        let filter_run = run.clone();
        let (lossless, overflow) = builder.lossless_and_overflow();
        let builder = if overflow == Overflow::DropOldest
            && lossless.is_empty()
            && E::TERMINAL_TOPICS != Topics::ALL
        {
            builder.lossless(E::TERMINAL_TOPICS)
        } else {
            builder
        };
        let subscriber = builder
            .filter(move |event: &E| event.is_of(&filter_run))
            .build()?;
        Ok(Self::from_subscriber(subscriber, run))
    }
}

impl<E: RunLifecycle> RunStream<E> {
    /// Follows `run` through a subscriber built elsewhere: a history bus's subscriber with a
    /// [`Replay`](crate::history::Replay) (for a forwarder that joins mid-run), or one with a
    /// filter of your own. Events of other runs it receives are skipped (give it the run's filter
    /// so that they never reach its queue).
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{AgentEvent, RunId, RunStream, SessionId};
    /// use fanout::history::Replay;
    /// use fanout::HistoryBus;
    ///
    /// let bus = HistoryBus::builder(64).build().unwrap();
    /// let (session, run) = (SessionId::new(), RunId::new());
    /// bus.publish(AgentEvent::text_delta(session, run, "before anyone listened")).unwrap();
    /// let late = bus
    ///     .subscriber()
    ///     .replay(Replay::Since(0))
    ///     .filter(move |e: &AgentEvent| e.run_id() == Some(run))
    ///     .build()
    ///     .unwrap();
    /// let mut stream = RunStream::from_subscriber(late, run);
    /// bus.publish(AgentEvent::run_completed(session, run, 1)).unwrap();
    /// let seqs: Vec<u64> = stream.iter().map(|item| item.unwrap().seq()).collect();
    /// assert_eq!(seqs, [1, 2]);
    /// ```
    pub fn from_subscriber(subscriber: Subscriber<E>, run: E::RunId) -> Self {
        RunStream {
            run,
            subscriber,
            finished: false,
        }
    }

    /// The run followed.
    pub fn run_id(&self) -> &E::RunId {
        &self.run
    }

    /// Whether the stream is over: the run's end was yielded, or the bus closed (or the
    /// subscriber was cut off) and that was yielded.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The subscriber underneath (its stats, its lag so far).
    pub fn subscriber(&self) -> &Subscriber<E> {
        &self.subscriber
    }

    /// The subscriber underneath, to go on receiving after the run's end.
    pub fn into_subscriber(self) -> Subscriber<E> {
        self.subscriber
    }

    /// The next item, blocking the thread (as the subscriber's wait strategy says) until there is
    /// one; `None` once the stream is finished.
    pub fn recv(&mut self) -> Option<Result<E, RecvError>> {
        loop {
            if self.finished {
                return None;
            }
            let received = self.subscriber.recv();
            if let Some(item) = self.accept(received) {
                return Some(item);
            }
        }
    }

    /// The items as a blocking iterator (`for item in &mut stream` does the same).
    pub fn iter(&mut self) -> Iter<'_, E> {
        Iter { stream: self }
    }

    /// The next item, waiting without blocking the thread: the async form of [`recv`](Self::recv),
    /// on any executor. `None` once the stream is finished. Cancel-safe, like
    /// [`Subscriber::recv_async`]: dropping the future takes nothing from the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::agent::{AgentEvent, RunId, RunStream, SessionId};
    /// use fanout::Bus;
    ///
    /// let bus = Bus::new();
    /// let (session, run) = (SessionId::new(), RunId::new());
    /// let mut stream = RunStream::new(&bus, run).unwrap();
    /// let publisher = bus.publisher();
    /// std::thread::spawn(move || {
    ///     publisher.publish(AgentEvent::text_delta(session, run, "hi")).unwrap();
    ///     publisher.publish(AgentEvent::run_completed(session, run, 1)).unwrap();
    /// });
    /// futures_executor::block_on(async {
    ///     let mut seen = 0;
    ///     while let Some(item) = stream.next_async().await {
    ///         item.unwrap();
    ///         seen += 1;
    ///     }
    ///     assert_eq!(seen, 2);
    /// });
    /// ```
    pub async fn next_async(&mut self) -> Option<Result<E, RecvError>> {
        std::future::poll_fn(|cx| self.poll_next_item(cx)).await
    }

    /// Polls for the next item: the one code path behind [`next_async`](Self::next_async) and
    /// the `Stream` impl. Built on [`Subscriber::poll_recv`], cancel-safe like it.
    pub fn poll_next_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<E, RecvError>>> {
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            let received = match self.subscriber.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(received) => received,
            };
            if let Some(item) = self.accept(received) {
                return Poll::Ready(Some(item));
            }
        }
    }

    /// What the stream makes of what its subscriber received: `None` for an event of another
    /// run (skipped).
    fn accept(&mut self, received: Result<E, RecvError>) -> Option<Result<E, RecvError>> {
        match received {
            Ok(event) if !event.is_of(&self.run) => None,
            Ok(event) => {
                self.finished = event.is_terminal();
                Some(Ok(event))
            }
            Err(RecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
            Err(end) => {
                self.finished = true;
                Some(Err(end))
            }
        }
    }
}

/// The blocking iterator of a [`RunStream`] ([`RunStream::iter`]): each `next` is
/// [`RunStream::recv`].
pub struct Iter<'a, E: RunLifecycle> {
    stream: &'a mut RunStream<E>,
}

impl<E: RunLifecycle> Iterator for Iter<'_, E> {
    type Item = Result<E, RecvError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.stream.recv()
    }
}

impl<E: RunLifecycle> fmt::Debug for Iter<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("stream", &self.stream)
            .finish()
    }
}

impl<'a, E: RunLifecycle> IntoIterator for &'a mut RunStream<E> {
    type Item = Result<E, RecvError>;
    type IntoIter = Iter<'a, E>;

    fn into_iter(self) -> Iter<'a, E> {
        self.iter()
    }
}

/// The same items as [`RunStream::iter`], asynchronously; see the type's docs.
#[cfg(feature = "stream")]
impl<E: RunLifecycle> futures_core::Stream for RunStream<E> {
    type Item = Result<E, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_item(cx)
    }
}

impl<E: RunLifecycle> Unpin for RunStream<E> {}

impl<E: RunLifecycle> fmt::Debug for RunStream<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunStream")
            .field("run", &self.run)
            .field("finished", &self.finished)
            .field("subscriber", &self.subscriber.id())
            .finish()
    }
}
