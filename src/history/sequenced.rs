//! [`Sequenced`]: an event with the sequence number its bus with history gave it.

use std::ops::Deref;

use crate::{Event, Topic};

/// An event with the bus-wide sequence number its [`HistoryBus`](crate::HistoryBus) gave it.
///
/// Every event published on a bus with history gets the next number of one sequence (the first
/// is 1), which is also the order of the history and of every subscriber's queue. The
/// subscribers of a history bus are plain [`Subscriber<Sequenced<E>>`](crate::Subscriber)s, so
/// every way of receiving (`recv`, `try_recv`, `recv_timeout`, `recv_into`, `iter`,
/// `recv_async`, the `Stream`, `receiver()` in a `select!`) hands out the number with the event.
///
/// It dereferences to the event; use the number as a resume cursor (an SSE `Last-Event-ID`):
/// a client that reconnects with the last number it saw subscribes with
/// [`Replay::Since`](crate::history::Replay::Since) and misses nothing the history still holds.
///
/// # Examples
///
/// ```
/// use fanout::HistoryBus;
/// use fanout::history::Replay;
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = HistoryBus::builder(16).build().unwrap();
/// bus.publish(Ping(7)).unwrap();
/// let mut sub = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
/// let got = sub.try_recv().unwrap();
/// assert_eq!(got.seq(), 1);
/// assert_eq!(*got, Ping(7)); // `Deref` to the event
/// assert_eq!(got.into_inner(), Ping(7));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Sequenced<E> {
    seq: u64,
    event: E,
}

impl<E> Sequenced<E> {
    pub(crate) fn new(seq: u64, event: E) -> Self {
        Sequenced { seq, event }
    }

    /// The event's sequence number (from 1, strictly increasing in publish order, bus-wide).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The event.
    pub fn event(&self) -> &E {
        &self.event
    }

    /// The event, without its sequence number.
    pub fn into_inner(self) -> E {
        self.event
    }

    /// The sequence number and the event.
    pub fn into_parts(self) -> (u64, E) {
        (self.seq, self.event)
    }
}

impl<E> Deref for Sequenced<E> {
    type Target = E;

    fn deref(&self) -> &E {
        &self.event
    }
}

impl<E> AsRef<E> for Sequenced<E> {
    fn as_ref(&self) -> &E {
        &self.event
    }
}

/// The event's own topic: a subscriber's topics and the history's topics mean the same on a
/// history bus as on a plain one.
impl<E: Event> Event for Sequenced<E> {
    #[inline]
    fn topic(&self) -> Topic {
        self.event.topic()
    }

    #[inline]
    fn key(&self) -> Option<crate::Key> {
        self.event.key()
    }
}
