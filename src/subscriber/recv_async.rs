//! Receiving on any executor: [`Subscriber::poll_recv`], the one code path behind
//! [`recv_async`](Subscriber::recv_async), [`recv_into_async`](Subscriber::recv_into_async) and
//! the `Stream` implementation (feature `stream`, on by default).
//!
//! `poll_recv` is [`try_recv`](Subscriber::try_recv) (the same lag reporting and end detection),
//! then, if nothing is there, a short backoff that polls the queue (an event arriving meanwhile
//! costs no wake-up), then the waiter's half of the handshake in [`crate::notify`]: register the
//! task's waker, look again, and return `Pending` only if the queue is still empty. Publishers
//! check after every enqueue whether a task is parked on the queue (one load when none is).
//!
//! Cooperative yielding: see the `subscriber` module's docs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::RecvError;
use crate::Subscriber;

/// Consecutive `Ready` results after which [`Subscriber::poll_recv`] yields once: tokio's budget
/// per task poll (a batch receive counts as one).
pub(crate) const YIELD_AFTER: u32 = 128;

impl<E> Subscriber<E> {
    /// Polls for the next item of the stream: the next event, a `Lagged(n)` report, or the end.
    ///
    /// The building block of [`recv_async`](Self::recv_async) and of the `Stream` implementation
    /// (feature `stream`, on by default), for hand-written futures and `poll_fn`. Same items, in the same order,
    /// as [`recv`](Self::recv). On `Pending`, the task of `cx` is woken when an event is enqueued,
    /// when the subscription ends, or (rarely) spuriously; only the task of the most recent
    /// `Pending` poll is woken.
    ///
    /// After 128 consecutive `Ready` results it returns `Pending` once and wakes the task at
    /// once, so that a receive loop whose queue never empties still lets the other tasks of its
    /// executor run (see [Cooperative yielding](crate::subscriber#cooperative-yielding)).
    ///
    /// # Cancel safety
    ///
    /// An item is taken from the queue only when `Ready` is returned; a `Pending` poll leaves the
    /// queue as it was. Dropping a future built on it loses nothing.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<E, RecvError>> {
        if self.ready_run >= YIELD_AFTER {
            // Cooperative yield (module docs): nothing is taken, the task is polled again soon.
            self.ready_run = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        match self.poll_or_register(cx) {
            Some(item) => {
                self.ready_run += 1;
                Poll::Ready(item)
            }
            None => {
                self.ready_run = 0;
                Poll::Pending
            }
        }
    }

    /// The next item, or `None` once the task's waker is registered and the queue was found
    /// empty after the registration.
    fn poll_or_register(&mut self, cx: &mut Context<'_>) -> Option<Result<E, RecvError>> {
        if let Some(item) = self.next_ready() {
            return Some(item);
        }
        if self.spin_for_event() {
            if let Some(item) = self.next_ready() {
                return Some(item);
            }
        }
        self.state.event_waiter.register(cx.waker());
        // Look again: an event enqueued before the registration may not have woken us.
        self.next_ready()
    }

    /// Before a task gives up its turn, a short exponential backoff polling the empty queue (1,
    /// 2, 4, ... 64 spin hints, 127 in all, the bound crossbeam's channels spin before they park a
    /// thread): an event that comes during it is taken without a wake-up, which on a busy stream
    /// is what dominates the cost of an async receive (a wake-up, a reschedule and a new
    /// registration per event; measured in BENCHMARKS.md, "Async delivery throughput"). Returns
    /// whether the queue has something now. Not under loom, where it would only multiply the
    /// interleavings of the handshake without changing it (it is the same `poll` as before).
    #[inline]
    fn spin_for_event(&self) -> bool {
        #[cfg(not(loom))]
        for step in 0..=6 {
            for _ in 0..1u32 << step {
                std::hint::spin_loop();
            }
            let lanes_empty = self.lanes.as_ref().map_or(true, |lanes| lanes.is_empty());
            if !self.rx.is_empty() || !lanes_empty {
                return true;
            }
        }
        false
    }

    /// Waits, without blocking the thread, for the next event: the async form of
    /// [`recv`](Self::recv), on any executor (it uses nothing but the task's `Waker`).
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv): `Lagged(n)` if events were lost since the last report (the
    /// subscription goes on); `Overflowed` or `Disconnected` once it has ended and everything
    /// queued was received.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future at any point (in a `select!` branch that lost, on a
    /// timeout) loses nothing. An event is either returned or still queued for the next receive,
    /// and a `Lagged` report is either returned or still pending.
    ///
    /// # Examples
    ///
    /// ```
    /// use fanout::{Bus, Topics};
    /// use fanout::error::RecvError;
    /// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
    /// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
    /// let bus = Bus::new();
    /// let mut sub = bus.subscribe(Topics::ALL);
    /// let publisher = bus.publisher();
    /// std::thread::spawn(move || publisher.publish(Ping(7)).unwrap());
    /// drop(bus);
    /// futures_executor::block_on(async {
    ///     assert_eq!(sub.recv_async().await, Ok(Ping(7)));
    ///     assert_eq!(sub.recv_async().await, Err(RecvError::Disconnected));
    /// });
    /// ```
    pub fn recv_async(&mut self) -> Recv<'_, E> {
        Recv { subscriber: self }
    }

    /// Waits, without blocking the thread, until at least one event is queued, then moves up to
    /// `max` into `buf`; resolves to how many it moved. The async form of
    /// [`recv_into`](Self::recv_into): a task that wakes once per batch instead of once per event.
    /// A batch never spans a loss (the next call reports it).
    ///
    /// # Errors
    ///
    /// As [`recv_async`](Self::recv_async), when no event was moved.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`recv_async`](Self::recv_async): events are moved into `buf` only when
    /// the future resolves.
    pub fn recv_into_async<'a>(&'a mut self, buf: &'a mut Vec<E>, max: usize) -> RecvInto<'a, E> {
        RecvInto {
            subscriber: self,
            buf,
            max,
        }
    }
}

/// The future of [`Subscriber::recv_async`]. Cancel-safe.
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, E> {
    subscriber: &'a mut Subscriber<E>,
}

impl<E> Future for Recv<'_, E> {
    type Output = Result<E, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().subscriber.poll_recv(cx)
    }
}

impl<E> fmt::Debug for Recv<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("subscriber", &self.subscriber.id())
            .finish()
    }
}

/// The future of [`Subscriber::recv_into_async`]. Cancel-safe.
#[must_use = "futures do nothing unless polled"]
pub struct RecvInto<'a, E> {
    subscriber: &'a mut Subscriber<E>,
    buf: &'a mut Vec<E>,
    max: usize,
}

impl<E> Future for RecvInto<'_, E> {
    type Output = Result<usize, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.max == 0 {
            return Poll::Ready(Ok(0));
        }
        match this.subscriber.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Ready(Ok(first)) => {
                Poll::Ready(Ok(this.subscriber.top_up(this.buf, first, this.max)))
            }
        }
    }
}

impl<E> fmt::Debug for RecvInto<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvInto")
            .field("subscriber", &self.subscriber.id())
            .field("max", &self.max)
            .finish()
    }
}

/// A subscriber is a `Stream` of the same items as [`Subscriber::iter`]: `Ok(event)` and
/// `Err(Lagged(n))` (a loss is an item, never hidden), then `Err(Overflowed)` if the subscriber
/// was cut off, and the stream ends once the bus is closed and the queue drained. Built on
/// [`Subscriber::poll_recv`]; cancel-safe like it.
///
/// ```
/// use futures_lite::StreamExt;
/// use fanout::{Bus, Topics};
/// use fanout::error::RecvError;
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let sub = bus.subscriber().capacity(2).build().unwrap(); // DropOldest
/// for i in 0..3 {
///     bus.publish(Ping(i)).unwrap();
/// }
/// drop(bus);
/// let items: Vec<_> = futures_lite::future::block_on(sub.collect());
/// assert_eq!(items, [Err(RecvError::Lagged(1)), Ok(Ping(1)), Ok(Ping(2))]);
/// ```
#[cfg(feature = "stream")]
impl<E> futures_core::Stream for Subscriber<E> {
    type Item = Result<E, RecvError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.stream_done {
            return Poll::Ready(None);
        }
        match this.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(RecvError::Disconnected)) => {
                this.stream_done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Err(RecvError::Overflowed)) => {
                this.stream_done = true;
                Poll::Ready(Some(Err(RecvError::Overflowed)))
            }
            Poll::Ready(item) => Poll::Ready(Some(item)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (if self.stream_done { 0 } else { self.len() }, None)
    }
}

#[cfg(feature = "stream")]
impl<E> futures_core::FusedStream for Subscriber<E> {
    fn is_terminated(&self) -> bool {
        self.stream_done
    }
}
