//! [`Replay`]: what a new subscriber of a bus with history receives before the live stream.

/// What a new subscriber of a [`HistoryBus`](crate::HistoryBus) receives before the live stream;
/// set with [`HistorySubscriberBuilder::replay`](crate::history::HistorySubscriberBuilder::replay).
///
/// Replayed events are those the history holds that the subscriber's topics and filter want, in
/// sequence order, each with its original sequence number; the live stream follows with no gap
/// and no duplicate between them, even while other threads publish (see the crate docs,
/// [History and replay](crate#history-and-replay)).
///
/// # Examples
///
/// ```
/// use fanout::{topic, Event, HistoryBus, Topic};
/// use fanout::history::Replay;
/// use fanout::error::RecvError;
/// #[derive(Clone, Debug, PartialEq)]
/// enum Ev { Status(&'static str), Token(char) }
/// impl Event for Ev {
///     fn topic(&self) -> Topic {
///         match self { Ev::Status(_) => topic!(0), Ev::Token(_) => topic!(1) }
///     }
/// }
/// let bus = HistoryBus::builder(3).build().unwrap();
/// for ev in [Ev::Status("idle"), Ev::Token('a'), Ev::Status("busy"), Ev::Token('b')] {
///     bus.publish(ev).unwrap(); // sequence numbers 1..=4; the history keeps 2..=4
/// }
/// // The last event of each topic: a UI's "current state".
/// let mut ui = bus.subscriber().replay(Replay::LastPerTopic).build().unwrap();
/// assert_eq!(*ui.try_recv().unwrap(), Ev::Status("busy"));
/// assert_eq!(*ui.try_recv().unwrap(), Ev::Token('b'));
///
/// // Resume after number 0: number 1 fell out of the history, so `Lagged(1)` comes first.
/// let mut resumed = bus.subscriber().replay(Replay::Since(0)).build().unwrap();
/// assert_eq!(resumed.recv().unwrap_err(), RecvError::Lagged(1));
/// assert_eq!(resumed.recv().unwrap().seq(), 2);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Replay {
    /// Nothing: the live stream only (the default).
    #[default]
    None,
    /// The last `k` wanted events the history holds (`Tail(0)` is `None`; a `k` above the
    /// history's length is everything it holds).
    Tail(usize),
    /// Every wanted event with a sequence number **above** `seq`: pass the last number a client
    /// saw (an SSE `Last-Event-ID`); `Since(0)` is everything the history holds, and the last
    /// number the bus gave is nothing (live only).
    ///
    /// If the history no longer reaches back to `seq + 1`, the subscriber first receives
    /// `Lagged(n)`, `n` counting the sequence numbers from `seq + 1` to the newest one the
    /// history dropped. Exact when the history keeps every topic (the default) and the
    /// subscriber wants every topic unfiltered; otherwise an upper bound on what it would have
    /// wanted (the history no longer knows the topics of what it dropped, and never knew those
    /// of events it does not keep).
    ///
    /// A number the bus has not given yet (a cursor from another bus, say a server that
    /// restarted) is refused with [`BuildError::ReplayFromFuture`](crate::error::BuildError), so the
    /// caller chooses (replay everything, or the tail) instead of silently missing events.
    Since(u64),
    /// For each topic the subscriber wants, the last event of that topic the bus kept, if the
    /// subscriber's filter passes it, in sequence order: the current state of everything it
    /// follows (like MQTT retained messages). The last event of a topic is kept even after it
    /// fell out of the ring (one slot per topic, at most 64 events beyond the history's size):
    /// a status published once at the start of a long session is still replayed.
    LastPerTopic,
}
