//! [`Overflow`]: what a publish does when a subscriber's queue is full.

use std::fmt;

/// What a publish does when this subscriber's queue is full.
///
/// Each subscriber picks its own policy, so one slow consumer never decides for the others.
/// Every event a policy throws away is counted and reported to the subscriber that lost it as
/// [`RecvError::Lagged`](crate::error::RecvError::Lagged) in its stream.
///
/// # Examples
///
/// ```
/// use fanout::{Bus, Overflow, Topics};
/// use fanout::error::TryRecvError;
///
/// # #[derive(Clone)] struct Tick(u32);
/// # impl fanout::Event for Tick { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let mut ui = bus.subscriber().capacity(2).overflow(Overflow::DropOldest).build().unwrap();
/// for i in 0..5 {
///     bus.publish(Tick(i)).unwrap();
/// }
/// assert_eq!(ui.try_recv().err(), Some(TryRecvError::Lagged(3)));
/// assert_eq!(ui.try_recv().unwrap().0, 3);
/// assert_eq!(ui.try_recv().unwrap().0, 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Overflow {
    /// Evict the oldest queued event to make room for the new one: the subscriber always sees the
    /// most recent events (a UI, a live SSE client). The publisher never blocks.
    #[default]
    DropOldest,
    /// Discard the new event and keep what is queued: the subscriber sees an unbroken prefix
    /// (a sampler that wants the start of each burst). The publisher never blocks.
    DropNewest,
    /// Wait for room: lossless back-pressure (an audit log, persistence). A publish blocks until
    /// the subscriber makes room, the subscriber goes away, the bus is closed, or the deadline of
    /// [`Publisher::publish_timeout`](crate::Publisher::publish_timeout) passes (in the last two
    /// cases the event is dropped for this subscriber and counted). The only policy under which
    /// `publish` can block.
    Block,
    /// End the subscription: a consumer that cannot keep up is cut off, learns it through
    /// [`RecvError::Overflowed`](crate::error::RecvError::Overflowed) after draining what was queued,
    /// and stops costing the publisher anything (a remote client that should reconnect).
    /// `Overflowed` is final: it comes once the publishes that were under way at the cut are done
    /// (what they deliver is received before it);
    /// [`Subscriber::is_overflowed`](crate::Subscriber::is_overflowed) says so at once.
    Disconnect,
}

impl Overflow {
    /// Whether this policy can make a publish wait.
    pub const fn may_block(self) -> bool {
        matches!(self, Overflow::Block)
    }
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Overflow::DropOldest => "drop-oldest",
            Overflow::DropNewest => "drop-newest",
            Overflow::Block => "block",
            Overflow::Disconnect => "disconnect",
        })
    }
}
