//! The per-subscriber bounded queue, and the stop signals that end a publisher's wait on one.
//!
//! Every subscriber owns one bounded multi-producer queue: publishers enqueue into it, the
//! subscriber dequeues, and under [`Overflow::DropOldest`](crate::Overflow::DropOldest) a
//! publisher also dequeues (through a second receiver) to evict the oldest event. Outside loom it
//! is `crossbeam_channel::bounded`, the array flavour: a lock-free ring of stamped slots whose
//! blocking operations park through a waker that the sending side only touches when a receiver is
//! actually asleep.
//!
//! # Stopping a blocked send
//!
//! An [`Overflow::Block`](crate::Overflow::Block) publisher waits for room with
//! [`send_waiting`], which also returns as soon as one of its [`Stop`]s fires: the subscriber's
//! own (its handle was dropped, even if a clone of its `Receiver` is still alive elsewhere) or the
//! bus's (it was closed). A stop fires when its [`StopTrigger`] is dropped. Outside loom a stop is
//! a zero-capacity channel that never carries a message, and firing disconnects it, which a
//! `crossbeam_channel::Select` waiting on the send and on the stops sees at once; nothing of this
//! runs unless a `Block` queue is full.
//!
//! crossbeam-channel is invisible to loom, so under `cfg(loom)` [`model`] supplies a stand-in with
//! the same surface built from loom's mutex and condition variable. In a model no call really
//! times out: the `*_deadline` operations block like their untimed versions, and the models never
//! rely on a deadline passing.

#[cfg(not(loom))]
pub(crate) use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
#[cfg(not(loom))]
pub(crate) use signal::{send_waiting, stop, Stop, StopTrigger};

#[cfg(loom)]
mod model;
#[cfg(loom)]
pub(crate) use model::{
    bounded, send_waiting, stop, Receiver, Sender, Stop, StopTrigger, TryRecvError, TrySendError,
};

/// Why [`send_waiting`] gave the item back.
pub(crate) enum WaitError<T> {
    /// The deadline passed with the queue still full.
    #[cfg_attr(loom, allow(dead_code))] // in a model nothing times out
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
    /// A [`Stop`] fired while the queue was full.
    Stopped(T),
}

#[cfg(not(loom))]
mod signal {
    use std::convert::Infallible;
    use std::time::Instant;

    use crossbeam_channel::{Receiver, Select, Sender, TryRecvError, TrySendError};
    use crossbeam_utils::Backoff;

    use super::WaitError;

    /// The waiting side of a stop signal (cheap to clone; see the module docs).
    #[derive(Clone, Debug)]
    pub(crate) struct Stop(Receiver<Infallible>);

    /// Fires its [`Stop`] (and every clone of it) when dropped.
    #[derive(Debug)]
    pub(crate) struct StopTrigger(#[allow(dead_code)] Sender<Infallible>);

    /// A new, unfired stop signal.
    pub(crate) fn stop() -> (StopTrigger, Stop) {
        let (tx, rx) = crossbeam_channel::bounded(0);
        (StopTrigger(tx), Stop(rx))
    }

    impl Stop {
        /// Whether the trigger was dropped.
        pub(crate) fn is_fired(&self) -> bool {
            matches!(self.0.try_recv(), Err(TryRecvError::Disconnected))
        }
    }

    /// Sends `item`, waiting for room until `deadline` (none: no limit) or until one of `stops`
    /// fires, whichever comes first. A queue that has room when a stop fires still takes the item.
    ///
    /// Under sustained load a full queue usually has room again within microseconds (its
    /// consumer is draining it), so first, like crossbeam's own blocking `send`, it retries with
    /// a short exponential backoff (spins, then a few `yield_now`s); only then does it build a
    /// `Select` over the send and the stops and park. The backoff is bounded (crossbeam's
    /// `Backoff::is_completed`) and does not look at the deadline: it is far shorter than any
    /// useful one.
    pub(crate) fn send_waiting<T>(
        tx: &Sender<T>,
        mut item: T,
        deadline: Option<Instant>,
        stops: [&Stop; 2],
    ) -> Result<(), WaitError<T>> {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            match tx.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(back)) => return Err(WaitError::Disconnected(back)),
                Err(TrySendError::Full(back)) => item = back,
            }
        }
        loop {
            match tx.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(back)) => return Err(WaitError::Disconnected(back)),
                Err(TrySendError::Full(back)) => item = back,
            }
            if stops.iter().any(|stop| stop.is_fired()) {
                return Err(WaitError::Stopped(item));
            }
            // Wait until the send would not block or a stop's channel disconnects; then look again.
            let mut select = Select::new();
            select.send(tx);
            for stop in stops {
                select.recv(&stop.0);
            }
            let ready = match deadline {
                None => Ok(select.ready()),
                Some(deadline) => select.ready_deadline(deadline),
            };
            if ready.is_err() {
                // Timed out: one last try, so a slot freed at the deadline is not wasted.
                return match tx.try_send(item) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Full(back)) => Err(WaitError::Timeout(back)),
                    Err(TrySendError::Disconnected(back)) => Err(WaitError::Disconnected(back)),
                };
            }
        }
    }
}
