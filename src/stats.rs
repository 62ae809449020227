//! [`BusStats`] and [`SubscriberStats`]: counters for dashboards and tests.

use crate::registry::{SubscriberId, SubscriberState};
use crate::shared::Inner;
use crate::sync::Ordering;
use crate::{Overflow, Topics, WaitStrategy};

/// Counters for a bus, from [`Bus::stats`](crate::Bus::stats).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct BusStats {
    /// Publishes whose topic at least one subscriber wanted. (A publish nobody wants costs one
    /// load and is not counted.)
    pub published: u64,
    /// Events emitted through [`EventSink::emit`](crate::EventSink::emit) after the bus closed,
    /// which `emit` cannot hand back.
    pub rejected_after_close: u64,
    /// Whether the bus is closed.
    pub closed: bool,
    /// One entry per registered subscriber, oldest first.
    pub subscribers: Vec<SubscriberStats>,
}

/// Counters for one subscriber.
///
/// The conservation law the bus keeps: every event published to a subscriber (topic matched,
/// filter passed, while it was subscribed) is either received by it or counted in `dropped`, and
/// every dropped event is reported to it as `Lagged`. Once its queue is drained,
/// `received + dropped` is the number of events published to it and `lag_reported == dropped`.
/// The counters are read one by one while events flow, so a snapshot taken mid-flight may be off
/// by the events in transit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct SubscriberStats {
    /// The subscriber's id.
    pub id: SubscriberId,
    /// Its name.
    pub name: String,
    /// The topics it asked for.
    pub topics: Topics,
    /// Its queue capacity.
    pub capacity: usize,
    /// Its overflow policy.
    pub overflow: Overflow,
    /// Its wait strategy.
    pub wait: WaitStrategy,
    /// Events in its queue now.
    pub queued: usize,
    /// Events it has received.
    pub received: u64,
    /// Events its overflow policy threw away.
    pub dropped: u64,
    /// Of `dropped`, how many have been reported to it as `Lagged`.
    pub lag_reported: u64,
    /// Events that went into its queue: received, still queued, or evicted from the queue by
    /// `DropOldest` (so under `DropOldest` it can be far above `received`; `enqueued - received
    /// - queued` were evicted).
    pub enqueued: u64,
    /// Whether `Overflow::Disconnect` cut it off.
    pub overflowed: bool,
}

impl BusStats {
    /// The counters of the bus `inner` (for `Bus::stats` and `HistoryBus::stats`).
    pub(crate) fn of<E>(inner: &Inner<E>) -> Self {
        let subscribers = inner
            .registry
            .states()
            .into_iter()
            .map(|(state, queued)| SubscriberStats::from_state(&state, queued))
            .collect();
        BusStats {
            published: inner.published(),
            rejected_after_close: inner.rejected.load(Ordering::Relaxed),
            closed: inner.registry.is_closed(),
            subscribers,
        }
    }
}

impl SubscriberStats {
    pub(crate) fn from_state(state: &SubscriberState, in_queue: usize) -> Self {
        let received = state.received.load(Ordering::Relaxed);
        let dropped = state.lost.current();
        // Taken out of the queue but not handed out yet: still queued for the consumer.
        let queued = in_queue + state.held.load(Ordering::Relaxed) as usize;
        // Under DropOldest a loss is an event that was queued and evicted (unless a publish
        // interrupted by a panic counted it before it got in); under every other policy a loss
        // is an event that never entered the queue.
        let evicted = if state.overflow == Overflow::DropOldest {
            dropped.saturating_sub(state.lost_unqueued.load(Ordering::Relaxed))
        } else {
            0
        };
        SubscriberStats {
            id: state.id,
            name: state.name.clone(),
            topics: state.topics(),
            capacity: state.capacity,
            overflow: state.overflow,
            wait: state.wait,
            queued,
            received,
            dropped,
            lag_reported: state.lag_reported.load(Ordering::Relaxed),
            enqueued: received + queued as u64 + evicted,
            overflowed: state.overflowed.load(Ordering::Relaxed),
        }
    }
}
