//! [`EventSink`]: the seam between code that emits events and whatever fans them out.

use std::fmt;

use crate::sync::{Mutex, Ordering};
use crate::{Bus, Event, Publisher, Topic};

/// Somewhere to emit events: an object-safe, `Send + Sync` seam, so that an agent loop can take
/// `&dyn EventSink<E>` (or `Arc<dyn EventSink<E>>`) and not depend on the bus itself.
///
/// Implemented by [`Bus`] and [`Publisher`] (publish; lock-free, allocation-free), [`NullSink`]
/// (discard) and [`RecordingSink`] (keep, for tests).
///
/// # Examples
///
/// ```
/// use fanout::{topic, Bus, EventSink, Topics};
/// use fanout::sink::NullSink;
/// # #[derive(Clone, Debug, PartialEq)] struct Ev(u8);
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// fn agent_turn(sink: &dyn EventSink<Ev>) {
///     if sink.is_interested(topic!(0)) {
///         sink.emit(Ev(1));
///     }
/// }
///
/// agent_turn(&NullSink); // no bus configured: nothing happens
/// let bus = Bus::new();
/// let mut sub = bus.subscribe(Topics::ALL);
/// agent_turn(&bus);
/// assert_eq!(sub.try_recv(), Ok(Ev(1)));
/// ```
pub trait EventSink<E>: Send + Sync {
    /// Emits `event`. Never blocks, except on a bus subscriber whose policy is
    /// [`Overflow::Block`](crate::Overflow::Block); never fails: a sink that cannot take the event
    /// counts it (for a bus, in [`BusStats::rejected_after_close`](crate::stats::BusStats)).
    fn emit(&self, event: E);

    /// Whether an event of `topic` would reach anyone; lets callers skip building it.
    fn is_interested(&self, topic: Topic) -> bool;
}

impl<E: Event> EventSink<E> for Bus<E> {
    #[inline]
    fn emit(&self, event: E) {
        if self.publish(event).is_err() {
            self.inner.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn is_interested(&self, topic: Topic) -> bool {
        Bus::is_interested(self, topic)
    }
}

// `Publisher` is `Send` but its `EventSink` impl also needs `Sync`: it is, every method takes
// `&self` and touches only atomics and the snapshot cell.
impl<E: Event> EventSink<E> for Publisher<E> {
    #[inline]
    fn emit(&self, event: E) {
        if self.publish(event).is_err() {
            self.rejected();
        }
    }

    #[inline]
    fn is_interested(&self, topic: Topic) -> bool {
        Publisher::is_interested(self, topic)
    }
}

/// A sink that discards everything and is interested in nothing (for hosts with no bus).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NullSink;

impl<E> EventSink<E> for NullSink {
    fn emit(&self, _event: E) {}

    fn is_interested(&self, _topic: Topic) -> bool {
        false
    }
}

/// A sink that keeps every event it is given, in order: for tests of code that emits.
///
/// It takes a lock per event; it is a test double, not a fan-out.
///
/// # Examples
///
/// ```
/// use fanout::EventSink;
/// use fanout::sink::RecordingSink;
/// # #[derive(Clone, Debug, PartialEq)] struct Ev(u8);
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let sink = RecordingSink::new();
/// sink.emit(Ev(1));
/// sink.emit(Ev(2));
/// assert_eq!(sink.events(), [Ev(1), Ev(2)]);
/// assert_eq!(sink.take(), [Ev(1), Ev(2)]);
/// assert!(sink.is_empty());
/// ```
pub struct RecordingSink<E> {
    events: Mutex<Vec<E>>,
}

impl<E> RecordingSink<E> {
    /// An empty recording sink.
    pub fn new() -> Self {
        RecordingSink {
            events: Mutex::new(Vec::new()),
        }
    }

    /// A copy of everything recorded so far.
    ///
    /// The events are cloned with the sink's lock released (a `Clone` that emits into this sink
    /// must not find it held): they are taken out, cloned, and put back in front of anything
    /// emitted meanwhile, also when a `Clone` panics.
    pub fn events(&self) -> Vec<E>
    where
        E: Clone,
    {
        /// Puts the taken events back, in front of those emitted while they were out.
        struct PutBack<'a, E> {
            sink: &'a Mutex<Vec<E>>,
            taken: Vec<E>,
        }
        impl<E> Drop for PutBack<'_, E> {
            fn drop(&mut self) {
                let mut events = self.sink.lock();
                let newer = std::mem::replace(&mut *events, std::mem::take(&mut self.taken));
                events.extend(newer);
            }
        }
        let out = PutBack {
            taken: std::mem::take(&mut *self.events.lock()),
            sink: &self.events,
        };
        out.taken.clone()
    }

    /// Takes everything recorded so far, leaving the sink empty.
    pub fn take(&self) -> Vec<E> {
        std::mem::take(&mut *self.events.lock())
    }

    /// How many events are recorded.
    pub fn len(&self) -> usize {
        self.events.lock().len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<E> Default for RecordingSink<E> {
    fn default() -> Self {
        RecordingSink::new()
    }
}

impl<E: Send> EventSink<E> for RecordingSink<E> {
    fn emit(&self, event: E) {
        self.events.lock().push(event);
    }

    fn is_interested(&self, _topic: Topic) -> bool {
        true
    }
}

impl<E> fmt::Debug for RecordingSink<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingSink")
            .field("len", &self.len())
            .finish()
    }
}
