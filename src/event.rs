//! The [`Event`] trait: what a bus carries.

use crate::Topic;

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
}

impl<E: Event + Sync> Event for std::sync::Arc<E> {
    fn topic(&self) -> Topic {
        (**self).topic()
    }
}
