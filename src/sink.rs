//! [`EventSink`]: the seam between code that emits events and whatever fans them out, and the
//! sinks that come with it: [`NonBlocking`] (a publisher whose `emit` never waits),
//! [`NullSink`], [`RecordingSink`].
//!
//! # A sink that never waits
//!
//! `EventSink for Bus` and `for Publisher` publish with [`Publisher::publish`]: lossless for
//! [`Overflow::Block`](crate::Overflow::Block) subscribers, so `emit` waits while one's queue is
//! full. A loop that must never block wraps its publisher in [`NonBlocking`], whose `emit` is
//! [`Publisher::try_publish`]: a full `Block` queue then loses the event, counted and reported to
//! that subscriber as `Lagged`, like every other loss.
//!
//! # Your own sink trait
//!
//! A runtime that already has a sink trait of its own (fluers' `EventSink { fn emit(&self,
//! RunEvent) }`) keeps it and puts the bus behind it. Rust's orphan rule decides where the impl
//! may go: a crate may implement a trait for a type only if it owns one of the two.
//!
//! - **In the crate that defines the trait**, implement it for `fanout::Publisher<E>` (or for
//!   [`NonBlocking<E>`]) directly: the trait is local there.
//!
//!   ```
//!   // The host's crate: it owns `HostSink`, so it may implement it for fanout's types.
//!   # #[derive(Clone)] pub struct RunEvent;
//!   # impl fanout::Event for RunEvent { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//!   pub trait HostSink: Send + Sync {
//!       /// Non-blocking; returns immediately.
//!       fn emit(&self, event: RunEvent);
//!   }
//!
//!   impl HostSink for fanout::sink::NonBlocking<RunEvent> {
//!       fn emit(&self, event: RunEvent) {
//!           fanout::EventSink::emit(self, event) // try_publish; a loss is counted, not returned
//!       }
//!   }
//!
//!   let bus = fanout::Bus::new();
//!   let sink: Box<dyn HostSink> = Box::new(fanout::sink::NonBlocking::new(bus.publisher()));
//!   sink.emit(RunEvent);
//!   ```
//!
//! - **In another crate** (the trait in `host-core`, which must not depend on fanout; the bus in
//!   `host-runtime`), neither the trait nor `Publisher` is local, and `impl HostSink for
//!   Publisher<RunEvent>` is refused (E0117). Wrap the publisher in a newtype of that crate.
//!   The same rule governs `impl fanout::Event for RunEvent`: it belongs in `host-core` (behind
//!   an optional `fanout` feature; it is the one line below marked so), or the bus carries a
//!   newtype of `host-runtime` around the event.
//!
//!   ```
//!   # mod host_core {
//!   #     #[derive(Clone)] pub struct RunEvent;
//!   #     pub trait HostSink: Send + Sync { fn emit(&self, event: RunEvent); }
//!   # }
//!   // In host-core (`#[cfg(feature = "fanout")]`): the event's topic.
//!   # /*
//!   impl fanout::Event for RunEvent { .. }
//!   # */
//!   # impl fanout::Event for host_core::RunEvent { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//!   use host_core::{HostSink, RunEvent};
//!
//!   /// `host-runtime`'s bus, behind `host-core`'s trait.
//!   pub struct BusSink(fanout::sink::NonBlocking<RunEvent>);
//!
//!   impl HostSink for BusSink {
//!       fn emit(&self, event: RunEvent) {
//!           fanout::EventSink::emit(&self.0, event)
//!       }
//!   }
//!
//!   let bus = fanout::Bus::new();
//!   let sink = BusSink(bus.publisher().into());
//!   sink.emit(RunEvent);
//!   ```

use std::fmt;

use crate::sync::{Mutex, Ordering};
use crate::{Bus, Event, Publisher, Topic};

/// Somewhere to emit events: an object-safe, `Send + Sync` seam, so that an agent loop can take
/// `&dyn EventSink<E>` (or `Arc<dyn EventSink<E>>`) and not depend on the bus itself.
///
/// Implemented by [`Bus`] and [`Publisher`] (publish; lock-free, allocation-free), [`NonBlocking`]
/// (publish, never waiting), [`NullSink`] (discard) and [`RecordingSink`] (keep, for tests). A
/// host with a sink trait of its own implements it for these (see the [module docs](self)).
///
/// `emit` on a `Bus` or a `Publisher` waits while an [`Overflow::Block`](crate::Overflow::Block)
/// subscriber's queue is full, as [`Publisher::publish`] does (so a `Block` audit stays
/// lossless); [`NonBlocking`] never does.
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
    /// [`Overflow::Block`](crate::Overflow::Block) (and never for [`NonBlocking`]); never fails:
    /// a sink that cannot take the event counts it (for a bus, in
    /// [`BusStats::rejected_after_close`](crate::stats::BusStats)).
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

/// A publisher whose [`emit`](EventSink::emit) never waits: [`Publisher::try_publish`].
///
/// Where an [`Overflow::Block`](crate::Overflow::Block) subscriber's queue is full, the event is
/// lost to that subscriber, counted, and reported to it as `Lagged` (its other subscribers get
/// it as usual); on a closed bus it is counted in
/// [`BusStats::rejected_after_close`](crate::stats::BusStats). For an agent loop whose `emit`
/// must return at once whoever listens.
///
/// # Examples
///
/// ```
/// use fanout::{Bus, EventSink, Overflow};
/// use fanout::error::TryRecvError;
/// use fanout::sink::NonBlocking;
/// # #[derive(Clone, Debug, PartialEq)] struct Ev(u8);
/// # impl fanout::Event for Ev { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let mut audit = bus.subscriber().capacity(1).overflow(Overflow::Block).build().unwrap();
/// let sink = NonBlocking::new(bus.publisher());
/// sink.emit(Ev(1));
/// sink.emit(Ev(2)); // the audit's queue is full and nobody reads it: returns at once
/// assert_eq!(audit.try_recv(), Err(TryRecvError::Lagged(1)));
/// assert_eq!(audit.try_recv(), Ok(Ev(1)));
/// ```
pub struct NonBlocking<E> {
    publisher: Publisher<E>,
}

impl<E> NonBlocking<E> {
    /// A sink publishing through `publisher`, never waiting.
    pub fn new(publisher: Publisher<E>) -> Self {
        NonBlocking { publisher }
    }

    /// The publisher inside (for the publishes that may wait).
    pub fn publisher(&self) -> &Publisher<E> {
        &self.publisher
    }

    /// The publisher inside.
    pub fn into_inner(self) -> Publisher<E> {
        self.publisher
    }
}

impl<E> Clone for NonBlocking<E> {
    fn clone(&self) -> Self {
        NonBlocking::new(self.publisher.clone())
    }
}

impl<E> fmt::Debug for NonBlocking<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("NonBlocking").field(&self.publisher).finish()
    }
}

impl<E> From<Publisher<E>> for NonBlocking<E> {
    fn from(publisher: Publisher<E>) -> Self {
        NonBlocking::new(publisher)
    }
}

impl<E: Event> EventSink<E> for NonBlocking<E> {
    #[inline]
    fn emit(&self, event: E) {
        if self.publisher.try_publish(event).is_err() {
            self.publisher.rejected();
        }
    }

    #[inline]
    fn is_interested(&self, topic: Topic) -> bool {
        self.publisher.is_interested(topic)
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
