//! [`PublishAsync`]: a history publish as a future, which awaits its turn and room in full
//! `Overflow::Block` queues instead of blocking its executor's thread.
//!
//! The same steps as a synchronous history publish (`publish::publish`): the idle check, then
//! the turn ([`OrderLock::poll_lock`]), then the ring section (number, keep, load the snapshot),
//! then the fan-out, here the walk of [`crate::publisher::PublishAsync`] through that snapshot.
//! The turn is held until the walk is done, so sequence order stays every queue's order whether
//! the publishes are synchronous, asynchronous or both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::order::OrderGuard;
use super::publish::{is_interested, unwrap_closed};
use super::ring::Displaced;
use super::{History, Sequenced};
use crate::error::PublishError;
use crate::fan_out::{self, Delivery};
use crate::shared::{Inner, PublishCounter};
use crate::Event;

/// The future of [`HistoryBus::publish_async`](crate::HistoryBus::publish_async) and
/// [`HistoryPublisher::publish_async`](super::HistoryPublisher::publish_async).
///
/// # Cancel safety
///
/// Dropped while it waits for its turn, it has published nothing: the event took no number and
/// is dropped with the future. Dropped during its fan-out, it is like
/// [`crate::publisher::PublishAsync`]: subscribers already served keep the event, every interested
/// subscriber not yet served gets it counted as lost (reported as `Lagged`); the event keeps its
/// number and its place in the history.
#[must_use = "futures do nothing unless polled: the event is not published until then"]
pub struct PublishAsync<'a, E> {
    inner: &'a Inner<Sequenced<E>>,
    counter: &'a PublishCounter,
    history: &'a History<E>,
    stage: Stage<'a, E>,
}

// Nothing in the future is pinned.
impl<E> Unpin for PublishAsync<'_, E> {}

enum Stage<'a, E> {
    /// Waiting for the turn (or not polled yet).
    Turn(E),
    /// Holding the turn, fanning out. Fields drop in order: the walk first (it counts what it
    /// still owes), then the events the ring displaced (user code), then the turn.
    Fan {
        walk: crate::publisher::PublishAsync<'a, Sequenced<E>>,
        _displaced: Displaced<E>,
        _turn: OrderGuard<'a>,
    },
    /// Resolved.
    Done,
}

impl<'a, E: Event> PublishAsync<'a, E> {
    pub(crate) fn new(
        inner: &'a Inner<Sequenced<E>>,
        counter: &'a PublishCounter,
        history: &'a History<E>,
        event: E,
    ) -> Self {
        PublishAsync {
            inner,
            counter,
            history,
            stage: Stage::Turn(event),
        }
    }
}

impl<E: Event> Future for PublishAsync<'_, E> {
    type Output = Result<Delivery, PublishError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Stage::Turn(event) = &this.stage {
            let topic = event.topic();
            if !is_interested(this.inner, this.history, topic) {
                let Stage::Turn(event) = std::mem::replace(&mut this.stage, Stage::Done) else {
                    unreachable!()
                };
                let idle = fan_out::idle(this.inner, || Sequenced::new(0, event));
                return Poll::Ready(idle.map_err(unwrap_closed));
            }
            let Poll::Ready(turn) = this.history.order.poll_lock(cx) else {
                return Poll::Pending;
            };
            let Stage::Turn(event) = std::mem::replace(&mut this.stage, Stage::Done) else {
                unreachable!()
            };
            match this.begin(event, turn) {
                Ok(stage) => this.stage = stage,
                Err(closed) => return Poll::Ready(Err(closed)),
            }
        }
        let Stage::Fan { walk, .. } = &mut this.stage else {
            panic!("`history::PublishAsync` polled after it resolved");
        };
        let Poll::Ready(published) = Pin::new(walk).poll(cx) else {
            return Poll::Pending;
        };
        // Ends the walk, drops what the ring displaced, then releases the turn.
        this.stage = Stage::Done;
        Poll::Ready(published.map_err(unwrap_closed))
    }
}

impl<'a, E: Event> PublishAsync<'a, E> {
    /// The ring section, with the turn held: numbers the event, keeps it if the history keeps
    /// its topic, and loads the snapshot the walk goes through.
    fn begin(&self, event: E, turn: OrderGuard<'a>) -> Result<Stage<'a, E>, PublishError<E>> {
        let history = self.history;
        let topic = event.topic();
        let bit = topic.bit();
        // User code (Clone, Event::key) before the ring lock, as in a synchronous publish.
        let copy = (history.topics & bit != 0).then(|| (event.key(), event.clone()));
        let mut ring = history.ring.lock();
        let snapshot = self.inner.registry.load_full();
        if snapshot.closed {
            drop(ring);
            drop(copy);
            return Err(PublishError::Closed(event));
        }
        let mut displaced = Displaced::new();
        let seq = match copy {
            Some((key, copy)) => {
                ring.keep(topic.index(), key, copy, history.capacity, &mut displaced)
            }
            None => ring.number(),
        };
        drop(ring);
        let walk = crate::publisher::PublishAsync::through(
            self.inner,
            self.counter,
            snapshot,
            Sequenced::new(seq, event),
            bit,
        );
        Ok(Stage::Fan {
            walk,
            _displaced: displaced,
            _turn: turn,
        })
    }
}

impl<E> fmt::Debug for PublishAsync<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match &self.stage {
            Stage::Turn(_) => "waiting for its turn",
            Stage::Fan { walk, .. } => return f.debug_tuple("PublishAsync").field(walk).finish(),
            Stage::Done => "done",
        };
        f.debug_struct("PublishAsync")
            .field("stage", &stage)
            .finish()
    }
}
