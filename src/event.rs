//! The [`Event`] trait: what a bus carries.

use crate::{Key, Topic};

/// An event a [`Bus`](crate::Bus) can fan out: cloneable, sendable, and mapped to one [`Topic`].
///
/// The bus clones an event once for every interested subscriber but the last, which gets the
/// original. For large events, publish `Arc<E>` instead (this trait is implemented for it), so a
/// clone is a reference-count increment.
///
/// # Examples
///
/// ```
/// use fanout::{topic, Event, Topic};
///
/// #[derive(Clone)]
/// enum Telemetry {
///     Token(u32),
///     Done,
/// }
///
/// impl Event for Telemetry {
///     fn topic(&self) -> Topic {
///         match self {
///             Telemetry::Token(_) => topic!(0),
///             Telemetry::Done => topic!(1),
///         }
///     }
/// }
///
/// assert_eq!(Telemetry::Done.topic(), topic!(1));
/// ```
pub trait Event: Clone + Send + 'static {
    /// The topic this event belongs to; subscribers whose mask lacks it never see the event.
    fn topic(&self) -> Topic;

    /// The routing key of this event: the session, connection or run it is for, or `None` (the
    /// default) for an event that is for everyone. A keyed event is offered only to the
    /// subscribers of its key and to unkeyed subscribers; an unkeyed one to every subscriber
    /// (see [`crate::key`]).
    ///
    /// Called by a publish only on a bus that has keyed subscribers, once per publish, on the
    /// publishing thread: keep it a field read. An event type that never names a key need not
    /// implement it.
    ///
    /// ```
    /// use fanout::{topic, Event, Key, Topic};
    /// #[derive(Clone)]
    /// struct Line { session: u64 }
    /// impl Event for Line {
    ///     fn topic(&self) -> Topic { topic!(0) }
    ///     fn key(&self) -> Option<Key> { Some(Key::from(self.session)) }
    /// }
    /// assert_eq!(Line { session: 7 }.key(), Some(Key::from(7u64)));
    /// ```
    #[inline]
    fn key(&self) -> Option<Key> {
        None
    }
}

impl<E: Event + Sync> Event for std::sync::Arc<E> {
    fn topic(&self) -> Topic {
        (**self).topic()
    }

    #[inline]
    fn key(&self) -> Option<Key> {
        (**self).key()
    }
}
