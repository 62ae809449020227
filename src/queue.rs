//! The per-subscriber bounded queue.
//!
//! Every subscriber owns one bounded multi-producer queue: publishers enqueue into it, the
//! subscriber dequeues, and under [`Overflow::DropOldest`](crate::Overflow::DropOldest) a
//! publisher also dequeues (through a second receiver) to evict the oldest event. Outside loom it
//! is `crossbeam_channel::bounded`, the array flavour: a lock-free ring of stamped slots whose
//! blocking operations park through a waker that the sending side only touches when a receiver is
//! actually asleep.
//!
//! crossbeam-channel is invisible to loom, so under `cfg(loom)` [`model`] supplies a stand-in with
//! the same surface built from loom's mutex and condition variable. In a model no call really
//! times out: the `*_deadline` operations block like their untimed versions, and the models never
//! rely on a deadline passing.

#[cfg(not(loom))]
pub(crate) use crossbeam_channel::{
    bounded, Receiver, SendTimeoutError, Sender, TryRecvError, TrySendError,
};

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub(crate) use model::{bounded, Receiver, SendTimeoutError, Sender, TryRecvError, TrySendError};
