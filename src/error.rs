//! Error types. Every error that carries an undelivered event hands it back, and none requires
//! `E: Debug`.

use std::fmt;

/// A publish that could not go ahead; the event is handed back.
///
/// # Examples
///
/// ```
/// use fanout::Bus;
/// use fanout::error::PublishError;
/// # #[derive(Clone, PartialEq, Debug)] struct Ping;
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// bus.close();
/// let err = bus.publish(Ping).unwrap_err();
/// assert!(err.is_closed());
/// assert_eq!(err.into_inner(), Ping);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum PublishError<E> {
    /// The bus was closed before this publish started; nobody received the event.
    Closed(E),
    /// A [`HistoryBus`](crate::HistoryBus) publish with a deadline
    /// ([`publish_timeout`](crate::HistoryBus::publish_timeout)) could not start in time: another
    /// publish held the bus's order lock (waiting on a full `Block` queue, say) until the deadline
    /// passed. Nobody received the event and it took no sequence number; it is handed back, to
    /// retry or drop. (A plain [`Bus`](crate::Bus) never returns it: its publishes do not wait
    /// for each other.)
    Timeout(E),
}

impl<E> PublishError<E> {
    /// The event that was not published.
    pub fn into_inner(self) -> E {
        match self {
            PublishError::Closed(event) | PublishError::Timeout(event) => event,
        }
    }

    /// Whether the bus was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, PublishError::Closed(_))
    }

    /// Whether the publish could not start before its deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, PublishError::Timeout(_))
    }
}

impl<E> fmt::Debug for PublishError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Closed(_) => f.write_str("Closed(..)"),
            PublishError::Timeout(_) => f.write_str("Timeout(..)"),
        }
    }
}

impl<E> fmt::Display for PublishError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Closed(_) => f.write_str("publishing on a closed bus"),
            PublishError::Timeout(_) => {
                f.write_str("timed out waiting for another publish of the history bus")
            }
        }
    }
}

impl<E> std::error::Error for PublishError<E> {}

/// Why a blocking [`recv`](crate::Subscriber::recv) returned no event.
///
/// `Lagged` is not an end: the subscription goes on, and the next call returns the first event
/// after the gap. `Overflowed` and `Disconnected` are ends, returned only once everything queued
/// before them has been received ([`is_terminal`](Self::is_terminal) tells them apart).
///
/// So a receive loop must go on after `Lagged`: iterate ([`Subscriber::iter`](crate::Subscriber::iter)
/// yields `Lagged` as an item and ends at the end), or match every `Err`. `while let Ok(event) =
/// sub.recv()` stops at the first lag and leaves the rest of the stream unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// This subscriber lost this many events (its overflow policy discarded them) since the last
    /// report. Never late: it comes before the first event after the gap (it may come earlier;
    /// see the crate docs, "Overflow and lag"). The count is exact, and the counts of all reports
    /// add up to everything the subscriber lost.
    Lagged(u64),
    /// The subscriber could not keep up and its [`Overflow::Disconnect`](crate::Overflow) policy
    /// ended it. Everything queued before the cut (and everything the publishes under way at the
    /// cut delivered) has been received; nothing comes after it.
    Overflowed,
    /// The bus is closed (or every `Bus` and `Publisher` handle is gone) and the queue is empty.
    Disconnected,
}

/// Why [`try_recv`](crate::Subscriber::try_recv) returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// Nothing is queued right now.
    Empty,
    /// This many events were lost since the last report; see [`RecvError::Lagged`].
    Lagged(u64),
    /// Ended by [`Overflow::Disconnect`](crate::Overflow); see [`RecvError::Overflowed`].
    Overflowed,
    /// Closed and drained; see [`RecvError::Disconnected`].
    Disconnected,
}

/// Why [`recv_timeout`](crate::Subscriber::recv_timeout) returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the deadline.
    Timeout,
    /// This many events were lost since the last report; see [`RecvError::Lagged`].
    Lagged(u64),
    /// Ended by [`Overflow::Disconnect`](crate::Overflow); see [`RecvError::Overflowed`].
    Overflowed,
    /// Closed and drained; see [`RecvError::Disconnected`].
    Disconnected,
}

macro_rules! recv_error_common {
    ($name:ident) => {
        impl $name {
            /// The number of events lost, if this is a lag report.
            pub fn lagged(&self) -> Option<u64> {
                match self {
                    $name::Lagged(n) => Some(*n),
                    _ => None,
                }
            }

            /// Whether the subscription has ended (overflowed or disconnected): no event will
            /// ever arrive again.
            pub fn is_terminal(&self) -> bool {
                matches!(self, $name::Overflowed | $name::Disconnected)
            }
        }

        impl std::error::Error for $name {}
    };
}

recv_error_common!(RecvError);
recv_error_common!(TryRecvError);
recv_error_common!(RecvTimeoutError);

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "subscriber lagged and lost {n} events"),
            RecvError::Overflowed => f.write_str("subscriber overflowed and was disconnected"),
            RecvError::Disconnected => f.write_str("bus closed and queue drained"),
        }
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no event queued"),
            TryRecvError::Lagged(n) => RecvError::Lagged(*n).fmt(f),
            TryRecvError::Overflowed => RecvError::Overflowed.fmt(f),
            TryRecvError::Disconnected => RecvError::Disconnected.fmt(f),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting for an event"),
            RecvTimeoutError::Lagged(n) => RecvError::Lagged(*n).fmt(f),
            RecvTimeoutError::Overflowed => RecvError::Overflowed.fmt(f),
            RecvTimeoutError::Disconnected => RecvError::Disconnected.fmt(f),
        }
    }
}

impl From<RecvError> for TryRecvError {
    fn from(err: RecvError) -> Self {
        match err {
            RecvError::Lagged(n) => TryRecvError::Lagged(n),
            RecvError::Overflowed => TryRecvError::Overflowed,
            RecvError::Disconnected => TryRecvError::Disconnected,
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(err: RecvError) -> Self {
        match err {
            RecvError::Lagged(n) => RecvTimeoutError::Lagged(n),
            RecvError::Overflowed => RecvTimeoutError::Overflowed,
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
        }
    }
}

/// A subscriber or bus configuration that makes no sense; nothing was created.
///
/// # Examples
///
/// ```
/// use fanout::Bus;
/// use fanout::error::BuildError;
/// # #[derive(Clone)] struct Ping;
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::<Ping>::new();
/// let err = bus.subscriber().capacity(0).build().unwrap_err();
/// assert_eq!(err, BuildError::ZeroCapacity);
/// assert_eq!(err.to_string(), "queue capacity must be at least 1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A queue capacity of 0 was asked for; a subscriber needs room for at least one event.
    ZeroCapacity,
    /// The capacity is above [`MAX_CAPACITY`](crate::MAX_CAPACITY) (the queue is allocated up
    /// front, so a typo here would allocate gigabytes).
    CapacityTooLarge {
        /// The capacity asked for.
        requested: usize,
    },
    /// The bus was closed before the subscriber was built.
    Closed,
    /// A history of 0 events was asked for (build a plain [`Bus`](crate::Bus) for none).
    ZeroHistory,
    /// The history size is above [`MAX_CAPACITY`](crate::MAX_CAPACITY) (it is allocated up
    /// front).
    HistoryTooLarge {
        /// The history size asked for.
        requested: usize,
    },
    /// The queue or history could not be allocated: the allocator refused this many bytes (an
    /// event type of 64 KiB in a queue of [`MAX_CAPACITY`](crate::MAX_CAPACITY), say). Nothing
    /// was created; a smaller capacity, or `Arc<E>` for large events, fits.
    OutOfMemory {
        /// The bytes asked of the allocator.
        bytes: usize,
    },
    /// [`Replay::Since`](crate::history::Replay::Since) named a sequence number the bus has not given
    /// yet: a cursor from another bus (a server that restarted, say), not from this one.
    ReplayFromFuture {
        /// The sequence number asked for.
        requested: u64,
        /// The last sequence number the bus gave (0 before the first publish).
        last: u64,
    },
    /// [`SubscriberBuilder::keys`](crate::SubscriberBuilder::keys) was given no key. A
    /// subscriber for no key would be offered only unkeyed events, which is rarely what a
    /// computed, empty list of sessions meant; and receiving every key instead would leak one
    /// session's events into another's tab. Leave `keys` out for an unkeyed subscriber.
    NoKeys,
    /// [`SubscriberBuilder::lossless`](crate::SubscriberBuilder::lossless) was asked of a
    /// subscriber whose policy is not `DropOldest`. Only `DropOldest` evicts what is queued;
    /// `Block` is lossless already, `DropNewest` and `Disconnect` lose the newest event, which no
    /// second lane would keep.
    LosslessNeedsDropOldest {
        /// The policy asked for.
        overflow: crate::Overflow,
    },
    /// More than [`MAX_KEYS`](crate::key::MAX_KEYS) distinct keys were asked for.
    TooManyKeys {
        /// The number of distinct keys asked for.
        requested: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroCapacity => f.write_str("queue capacity must be at least 1"),
            BuildError::CapacityTooLarge { requested } => write!(
                f,
                "queue capacity {requested} is above the maximum of {}",
                crate::capacity::MAX_CAPACITY
            ),
            BuildError::Closed => f.write_str("the bus is closed"),
            BuildError::ZeroHistory => f.write_str("a history must hold at least 1 event"),
            BuildError::HistoryTooLarge { requested } => write!(
                f,
                "history size {requested} is above the maximum of {}",
                crate::capacity::MAX_CAPACITY
            ),
            BuildError::OutOfMemory { bytes } => {
                write!(
                    f,
                    "the allocator refused {bytes} bytes for a queue or history"
                )
            }
            BuildError::ReplayFromFuture { requested, last } => write!(
                f,
                "replay since sequence number {requested}, but the bus's last is {last}"
            ),
            BuildError::NoKeys => f.write_str(
                "a keyed subscriber needs at least one key (leave `keys` out for an unkeyed one)",
            ),
            BuildError::LosslessNeedsDropOldest { overflow } => write!(
                f,
                "lossless topics need the DropOldest policy, not {overflow:?}"
            ),
            BuildError::TooManyKeys { requested } => write!(
                f,
                "{requested} keys is above the maximum of {} per subscriber",
                crate::key::MAX_KEYS
            ),
        }
    }
}

impl std::error::Error for BuildError {}
