//! A loom-visible stand-in for `crossbeam_channel::bounded`, with the subset of its surface the
//! bus uses and the same disconnection rules: senders see `Disconnected` once every receiver is
//! gone, receivers once every sender is gone *and* the queue is empty.

use std::collections::VecDeque;
use std::time::Instant;

use loom::sync::{Arc, Condvar, Mutex};

use super::WaitError;

struct State<T> {
    items: VecDeque<T>,
    capacity: usize,
    senders: usize,
    receivers: usize,
}

struct Channel<T> {
    state: Mutex<State<T>>,
    /// Signalled when an item is pushed or the last sender leaves.
    not_empty: Condvar,
    /// Signalled when an item is popped or the last receiver leaves.
    not_full: Condvar,
}

pub(crate) fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let channel = Arc::new(Channel {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(capacity),
            capacity,
            senders: 1,
            receivers: 1,
        }),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
    });
    (
        Sender {
            channel: Arc::clone(&channel),
        },
        Receiver { channel },
    )
}

pub(crate) enum TrySendError<T> {
    Full(T),
    Disconnected(T),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TryRecvError {
    Empty,
    Disconnected,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecvTimeoutError {
    Disconnected,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RecvError;

pub(crate) struct Sender<T> {
    channel: Arc<Channel<T>>,
}

impl<T> Sender<T> {
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut state = self.channel.state.lock().unwrap();
        if state.receivers == 0 {
            return Err(TrySendError::Disconnected(item));
        }
        if state.items.len() == state.capacity {
            return Err(TrySendError::Full(item));
        }
        state.items.push_back(item);
        drop(state);
        self.channel.not_empty.notify_one();
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.channel.state.lock().unwrap().items.len()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.channel.state.lock().unwrap().senders += 1;
        Sender {
            channel: Arc::clone(&self.channel),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.channel.state.lock().unwrap();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            self.channel.not_empty.notify_all();
        }
    }
}

pub(crate) struct Receiver<T> {
    channel: Arc<Channel<T>>,
}

impl<T> Receiver<T> {
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.channel.state.lock().unwrap();
        match state.items.pop_front() {
            Some(item) => {
                drop(state);
                self.channel.not_full.notify_one();
                Ok(item)
            }
            None if state.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(crate) fn recv(&self) -> Result<T, RecvError> {
        let mut state = self.channel.state.lock().unwrap();
        loop {
            if let Some(item) = state.items.pop_front() {
                drop(state);
                self.channel.not_full.notify_one();
                return Ok(item);
            }
            if state.senders == 0 {
                return Err(RecvError);
            }
            state = self.channel.not_empty.wait(state).unwrap();
        }
    }

    pub(crate) fn recv_deadline(&self, _deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv()
            .map_err(|RecvError| RecvTimeoutError::Disconnected)
    }

    pub(crate) fn len(&self) -> usize {
        self.channel.state.lock().unwrap().items.len()
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.channel.state.lock().unwrap().receivers += 1;
        Receiver {
            channel: Arc::clone(&self.channel),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.channel.state.lock().unwrap();
        state.receivers -= 1;
        let last = state.receivers == 0;
        drop(state);
        if last {
            self.channel.not_full.notify_all();
        }
    }
}

/// Wakes the senders waiting on one channel (a stop keeps one per sender that waits under it).
type WakeSenders = Box<dyn Fn() + Send + Sync>;

/// Tells waiters apart, so each can take its own registration back. Plain `std`: it is
/// bookkeeping of the stand-in, not part of any protocol the models check.
static NEXT_WAITER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

struct StopState {
    fired: bool,
    /// Senders waiting under this stop (with their ids), to wake when it fires.
    waiters: Vec<(usize, WakeSenders)>,
}

/// The waiting side of a stop signal: fired when its [`StopTrigger`] is dropped.
#[derive(Clone)]
pub(crate) struct Stop {
    state: Arc<Mutex<StopState>>,
}

/// Fires its [`Stop`] when dropped.
pub(crate) struct StopTrigger {
    stop: Stop,
}

pub(crate) fn stop() -> (StopTrigger, Stop) {
    let stop = Stop {
        state: Arc::new(Mutex::new(StopState {
            fired: false,
            waiters: Vec::new(),
        })),
    };
    (StopTrigger { stop: stop.clone() }, stop)
}

impl Stop {
    pub(crate) fn is_fired(&self) -> bool {
        self.state.lock().unwrap().fired
    }

    /// Takes back the registration of waiter `id`, if it is still there.
    fn forget(&self, id: usize) {
        self.state
            .lock()
            .unwrap()
            .waiters
            .retain(|(waiter, _)| *waiter != id);
    }
}

impl Drop for StopTrigger {
    fn drop(&mut self) {
        let waiters = {
            let mut state = self.stop.state.lock().unwrap();
            state.fired = true;
            std::mem::take(&mut state.waiters)
        };
        // Each waiter locks its channel before notifying: a sender that registered before `fired`
        // was set is either already waiting (and woken) or still holds its channel's lock and
        // will see `fired` when it looks (it registers and checks under the same stop lock).
        for (_, wake) in waiters {
            wake();
        }
    }
}

/// The stand-in's `send_waiting` (see `crate::queue`): blocks on the channel's condition
/// variable until there is room, every receiver is gone, or a stop fires. Nothing times out.
/// A waiter registers with each stop before it checks it, under the channel's lock, and takes
/// its registrations back whenever it stops waiting (so a stop never keeps a channel alive).
pub(crate) fn send_waiting<T: Send + 'static>(
    tx: &Sender<T>,
    item: T,
    _deadline: Option<Instant>,
    stops: [&Stop; 2],
) -> Result<(), WaitError<T>> {
    let id = NEXT_WAITER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let forget = || stops.iter().for_each(|stop| stop.forget(id));
    let channel = &tx.channel;
    let mut state = channel.state.lock().unwrap();
    loop {
        if state.receivers == 0 {
            forget();
            return Err(WaitError::Disconnected(item));
        }
        if state.items.len() < state.capacity {
            state.items.push_back(item);
            drop(state);
            forget();
            channel.not_empty.notify_one();
            return Ok(());
        }
        for stop in stops {
            let mut stop = stop.state.lock().unwrap();
            if stop.fired {
                drop(stop);
                forget();
                return Err(WaitError::Stopped(item));
            }
            let waiting = Arc::clone(channel);
            stop.waiters.push((
                id,
                Box::new(move || {
                    let _state = waiting.state.lock().unwrap();
                    waiting.not_full.notify_all();
                }),
            ));
        }
        state = channel.not_full.wait(state).unwrap();
        forget();
    }
}
