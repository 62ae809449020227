//! `tokio::sync::broadcast`'s API on fanout: migrate by changing one import.
//!
//! ```
//! // use tokio::sync::broadcast;
//! use fanout::broadcast;
//! # futures_executor::block_on(async {
//!
//! let (tx, mut rx1) = broadcast::channel(16);
//! let mut rx2 = tx.subscribe();
//! tx.send(10).unwrap();
//! tx.send(20).unwrap();
//! assert_eq!(rx1.recv().await, Ok(10));
//! assert_eq!(rx1.recv().await, Ok(20));
//! assert_eq!(rx2.recv().await, Ok(10));
//! assert_eq!(rx2.recv().await, Ok(20));
//! # });
//! ```
//!
//! The values are any `T: Clone + Send + 'static` (no [`Event`](crate::Event) impl, no topics).
//! Everything a tokio user can see is the same: [`channel`] and [`Sender::new`] panic on a
//! capacity of 0, and round the capacity up to a power of two; [`Sender::send`] returns the
//! number of receivers, or hands the value back in [`SendError`](error::SendError) when there
//! is none; a receiver that falls more than its capacity behind gets
//! [`Lagged(n)`](error::RecvError::Lagged), exactly the values it lost, then the oldest value
//! it still has; [`Closed`](error::RecvError::Closed) comes once every sender is gone and the
//! receiver has drained; [`resubscribe`](Receiver::resubscribe) starts at the tail;
//! [`Sender::len`] counts what the slowest receiver has not read; [`Sender::closed`] completes
//! when the last receiver goes; the weak sender, the counts, `same_channel`, `is_closed`,
//! `blocking_recv`; the errors' `Display`, `Debug` and `Error`; `Sender`, `WeakSender` and
//! `Receiver` are `Send + Sync` for `T: Send`; `recv()` is cancel-safe and yields to its
//! executor after 128 values in a row.
//!
//! # The difference
//!
//! tokio's channel is one ring that every receiver reads; a receiver that falls behind is
//! overwritten by the senders. Here **each receiver has its own queue** (a [`Subscriber`]
//! of a [`Bus`](crate::Bus)): a slow receiver lags alone, and what it costs the others is one
//! clone per value sent, made by the sender (tokio clones on receive). Memory is per receiver:
//! `capacity` slots each, allocated when it subscribes.
//!
//! Beyond tokio, per receiver and opt-in ([`Sender::subscriber`], then `.into()`): its own
//! capacity, another [`Overflow`](crate::Overflow) policy (a lossless
//! [`Block`](crate::Overflow::Block) receiver for an audit log: `send` then waits for room in
//! its queue, blocking the thread), a filter run before its value is cloned, a name in
//! [`stats`](crate::Bus::stats). [`Sender::bus`] and [`Receiver::subscriber`] reach the full
//! [`Bus`](crate::Bus) / [`Subscriber`] API, and a `Bus` of an [`Event`](crate::Event) type
//! becomes a `Sender` (`From`), for topics.
//!
//! # What differs, and tokio's tests
//!
//! tokio's own `tests/sync_broadcast.rs` (42 tests) and `tests/sync_broadcast_weak.rs` (10),
//! from tokio-rs/tokio at `ea91b33c` (August 2026), were run against this module in a scratch
//! crate, with `use tokio::sync::broadcast` changed to `use fanout::broadcast`: 51 of the 52
//! pass. The exceptions:
//!
//! - `resubscribe_to_closed_channel` names `tokio::sync::broadcast::channel` in full, so with
//!   only the import changed the file mixes tokio's channel with fanout's error types and does
//!   not compile. With that one path changed too, the test passes.
//! - `panic_in_clone` fails, by design: it expects the receive to panic in the value's `Clone`.
//!   Here the *sender* clones (once per receiver but the last, which gets the value itself), so
//!   with one receiver nothing is cloned and the receive returns the value; with two, `send`
//!   panics, and every receiver it had not served yet is told `Lagged(1)` for the value.
//! - `capacity_too_big` passes, for a different reason: tokio's limit is `usize::MAX / 2`,
//!   fanout's [`MAX_CAPACITY`](crate::MAX_CAPACITY), 2^24 (a queue per receiver is allocated
//!   up front). A capacity in between panics here and works in tokio.
//!
//! Differences no tokio test sees: `blocking_recv` does not panic inside an async runtime (it
//! blocks its thread); `Sender`'s methods need `T: Clone + Send + 'static` where tokio's need
//! nothing (the values are cloned by the sender); [`Recv`] is `Unpin`; `closed()` returns a
//! named future ([`NoSubscribers`](crate::bus::NoSubscribers)) rather than an `async fn`'s.
//!
//! [`Subscriber`]: crate::Subscriber

pub mod error;
mod receiver;
mod sender;

pub use receiver::{Receiver, Recv};
pub use sender::{Sender, WeakSender};

/// A channel whose receivers each hold `capacity` values (rounded up to a power of two), and
/// its first receiver.
///
/// # Panics
///
/// If `capacity` is 0 or above [`MAX_CAPACITY`](crate::MAX_CAPACITY).
///
/// # Examples
///
/// ```
/// use fanout::broadcast::{self, error::TryRecvError};
/// let (tx, mut rx) = broadcast::channel(3); // 4 slots
/// for i in 0..5 {
///     tx.send(i).unwrap();
/// }
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(1)));
/// assert_eq!(rx.try_recv(), Ok(1));
/// ```
#[track_caller]
pub fn channel<T: Clone + Send + 'static>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let tx = Sender::new(capacity);
    let rx = tx.subscribe();
    (tx, rx)
}
