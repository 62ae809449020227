//! The errors of the [`broadcast`](super) channel: the same types, variants, `Display`, `Debug`
//! and `Error` impls as `tokio::sync::broadcast::error`, so code matching on them is unchanged.

use std::fmt;

/// The value of a [`send`](super::Sender::send) that no receiver can get: there is no receiver
/// (or the channel was closed through [`Bus::close`](crate::Bus::close)). The value is handed
/// back in the field.
///
/// # Examples
///
/// ```
/// use fanout::broadcast;
/// let (tx, rx) = broadcast::channel::<u32>(4);
/// drop(rx);
/// let err = tx.send(7).unwrap_err();
/// assert_eq!(err.0, 7);
/// assert_eq!(err.to_string(), "channel closed");
/// ```
#[derive(Debug)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// Why [`recv`](super::Receiver::recv) returned no value.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum RecvError {
    /// Every sender is gone (or the channel was closed) and this receiver has received
    /// everything it had: no value will come any more. Returned again by every later call.
    Closed,
    /// This receiver fell more than its capacity behind: the `n` oldest values it had not
    /// received were overwritten. The next receive returns the oldest value it still has.
    Lagged(u64),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("channel closed"),
            RecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`try_recv`](super::Receiver::try_recv) returned no value.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum TryRecvError {
    /// Nothing to receive now; the channel is open.
    Empty,
    /// Every sender is gone and everything was received (see [`RecvError::Closed`]).
    Closed,
    /// `n` values were overwritten before this receiver got them (see [`RecvError::Lagged`]).
    Lagged(u64),
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel empty"),
            TryRecvError::Closed => f.write_str("channel closed"),
            TryRecvError::Lagged(n) => write!(f, "channel lagged by {n}"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// The core's stream ends (`Disconnected`, and `Overflowed` for a receiver built with
/// [`Overflow::Disconnect`](crate::Overflow::Disconnect)) are both the end of the channel here.
impl From<crate::error::RecvError> for RecvError {
    fn from(err: crate::error::RecvError) -> Self {
        match err {
            crate::error::RecvError::Lagged(n) => RecvError::Lagged(n),
            crate::error::RecvError::Disconnected | crate::error::RecvError::Overflowed => {
                RecvError::Closed
            }
        }
    }
}

/// See the `RecvError` conversion: both ends of the core's stream are `Closed`.
impl From<crate::error::TryRecvError> for TryRecvError {
    fn from(err: crate::error::TryRecvError) -> Self {
        match err {
            crate::error::TryRecvError::Empty => TryRecvError::Empty,
            crate::error::TryRecvError::Lagged(n) => TryRecvError::Lagged(n),
            crate::error::TryRecvError::Disconnected | crate::error::TryRecvError::Overflowed => {
                TryRecvError::Closed
            }
        }
    }
}
