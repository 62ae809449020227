//! [`Receiver`]: the receiving half of the channel, over a [`Subscriber`], and its [`Recv`]
//! future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use crate::sync::Arc;
use crate::Subscriber;

use super::error::{RecvError, TryRecvError};

/// The receiving half of a [`broadcast`](super) channel: `tokio::sync::broadcast::Receiver`'s
/// API, over a [`Subscriber`] with its own queue.
///
/// A receiver that falls more than its capacity behind loses its oldest values: its next
/// receive returns [`Lagged(n)`](RecvError::Lagged) (exactly the values it lost), then the
/// oldest value it still has. Only that receiver lags: the others have queues of their own.
/// Once every [`Sender`](super::Sender) is gone and it has received everything, it returns
/// [`Closed`](RecvError::Closed).
///
/// `Send + Sync` for `T: Send`, as tokio's. A [`Subscriber`] (built by
/// [`Sender::subscriber`](super::Sender::subscriber), with a capacity, policy or filter of its
/// own) becomes a `Receiver` with `From`; [`into_subscriber`](Self::into_subscriber) goes back.
///
/// # Examples
///
/// ```
/// use fanout::broadcast::{self, error::RecvError};
/// # futures_executor::block_on(async {
/// let (tx, mut rx) = broadcast::channel(2);
/// for i in 1..=3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(rx.recv().await, Err(RecvError::Lagged(1))); // 1 was overwritten
/// assert_eq!(rx.recv().await, Ok(2));
/// assert_eq!(rx.recv().await, Ok(3));
/// assert_eq!(rx.recv().await, Err(RecvError::Closed));
/// # });
/// ```
pub struct Receiver<T> {
    /// Behind a mutex only so that `Receiver` is `Sync` for `T: Send` (a `Subscriber` holds
    /// back values, so it is `Sync` only for `T: Sync`). Every receive takes `&mut self` and
    /// reaches it with `get_mut`, which locks nothing; only the `&self` queries lock it, for a
    /// few loads, and no user code runs while they hold it.
    sub: Mutex<Subscriber<T>>,
}

impl<T> Receiver<T> {
    fn sub(&mut self) -> &mut Subscriber<T> {
        self.sub.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    fn peek(&self) -> MutexGuard<'_, Subscriber<T>> {
        self.sub.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the next value: `recv().await`.
    ///
    /// # Errors
    ///
    /// [`Lagged(n)`](RecvError::Lagged) if `n` values were overwritten before this receiver got
    /// them (the next call returns the oldest it still has); [`Closed`](RecvError::Closed) once
    /// every sender is gone and everything was received.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a value is taken only when the future completes; dropping it (a `select!`
    /// branch that lost) loses nothing. The future yields to its executor after 128 values in a
    /// row, so a receive loop that never waits does not starve the executor's other tasks.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { rx: self }
    }

    /// Takes the next value without waiting.
    ///
    /// # Errors
    ///
    /// [`Empty`](TryRecvError::Empty) if there is nothing to receive now; otherwise as
    /// [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.sub().try_recv().map_err(TryRecvError::from)
    }

    /// Blocks the thread until the next value: for synchronous code.
    ///
    /// Unlike tokio's, it does not panic inside an async runtime (fanout knows no runtime); it
    /// blocks that runtime's thread, so do not call it from a task.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv).
    pub fn blocking_recv(&mut self) -> Result<T, RecvError> {
        self.sub().recv().map_err(RecvError::from)
    }

    /// A new receiver of the same channel, with this one's settings, starting at the tail: it
    /// gets what is sent after this returns, none of what this one has still to receive.
    pub fn resubscribe(&self) -> Self {
        // Built outside the lock: subscribing swaps the bus's table, whose old copy may hold the
        // last handle of a dropped receiver's values (their `Drop` is user code).
        let settings = self.peek().same_settings();
        let mut sub = settings.build_or_disconnected();
        sub.set_ring(true);
        Receiver {
            sub: Mutex::new(sub),
        }
    }

    /// How many values this receiver has not received yet, those it lost and has not been told
    /// of by `Lagged` included (as tokio counts from the receiver's position).
    pub fn len(&self) -> usize {
        let sub = self.peek();
        sub.len() + sub.unreported_loss() as usize
    }

    /// Whether there is nothing to receive (or to be told of).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone (the channel is closed): no value sent from now on reaches
    /// this receiver. It may still have values to receive before [`Closed`](RecvError::Closed).
    pub fn is_closed(&self) -> bool {
        let sub = self.peek();
        sub.is_closed() || sub.is_overflowed() || sub.shared().handle_count() == 0
    }

    /// Whether both receivers are of the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        let inner = Arc::clone(self.peek().shared());
        let same = Arc::ptr_eq(&inner, other.peek().shared());
        same
    }

    /// How many `Sender`s there are.
    pub fn sender_strong_count(&self) -> usize {
        self.peek().shared().handle_count()
    }

    /// How many `WeakSender`s there are.
    pub fn sender_weak_count(&self) -> usize {
        self.peek().shared().weak_count()
    }

    /// The [`Subscriber`] underneath, for the full API: [`lost`](Subscriber::lost),
    /// [`set_topics`](Subscriber::set_topics), `select!` on its queue, the `Stream`.
    pub fn subscriber(&mut self) -> &mut Subscriber<T> {
        self.sub()
    }

    /// The [`Subscriber`] underneath, with its own semantics from now on: an event it held back
    /// behind a `Lagged` report is handed out even if later evictions would have overwritten it
    /// in a ring (see [`From<Subscriber<T>>`](#impl-From<Subscriber<T>>-for-Receiver<T>)).
    pub fn into_subscriber(self) -> Subscriber<T> {
        let mut sub = self
            .sub
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        sub.set_ring(false);
        sub
    }
}

/// A subscriber as a channel receiver (built with [`Sender::subscriber`](super::Sender::subscriber),
/// or on the bus).
///
/// A `DropOldest` subscriber then behaves exactly as a slot of tokio's ring: when it holds a
/// value back behind a `Lagged` report and more values are overwritten before it is received,
/// that value (the oldest) is counted as overwritten too, so `Lagged` counts and what is
/// received next match tokio's to the value. Other policies lose the newest values (or none),
/// and are unchanged.
impl<T> From<Subscriber<T>> for Receiver<T> {
    fn from(mut sub: Subscriber<T>) -> Self {
        sub.set_ring(true);
        Receiver {
            sub: Mutex::new(sub),
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Receiver")
    }
}

/// The future of [`Receiver::recv`]: the next value, a `Lagged(n)` report, or `Closed`.
/// Cancel-safe (see there).
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.rx.sub().poll_recv(cx).map_err(RecvError::from)
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Recv")
    }
}
