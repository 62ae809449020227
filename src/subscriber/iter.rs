//! Iterators over a [`Subscriber`]'s stream.

use std::fmt;

use crate::error::RecvError;
use crate::Subscriber;

/// The blocking iterator of [`Subscriber::iter`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Iter<'a, E> {
    subscriber: &'a mut Subscriber<E>,
    done: bool,
}

impl<'a, E> Iter<'a, E> {
    pub(super) fn new(subscriber: &'a mut Subscriber<E>) -> Self {
        Iter {
            subscriber,
            done: false,
        }
    }
}

/// Maps one blocking receive to an iterator item: `Disconnected` ends the iteration, `Overflowed`
/// is yielded once and then ends it.
fn blocking_item<E>(
    received: Result<E, RecvError>,
    done: &mut bool,
) -> Option<Result<E, RecvError>> {
    match received {
        Err(RecvError::Disconnected) => {
            *done = true;
            None
        }
        Err(RecvError::Overflowed) => {
            *done = true;
            Some(Err(RecvError::Overflowed))
        }
        item => Some(item),
    }
}

impl<E> Iterator for Iter<'_, E> {
    type Item = Result<E, RecvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        blocking_item(self.subscriber.recv(), &mut self.done)
    }
}

impl<E> fmt::Debug for Iter<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("done", &self.done).finish()
    }
}

/// The non-blocking iterator of [`Subscriber::try_iter`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct TryIter<'a, E> {
    subscriber: &'a mut Subscriber<E>,
    done: bool,
}

impl<'a, E> TryIter<'a, E> {
    pub(super) fn new(subscriber: &'a mut Subscriber<E>) -> Self {
        TryIter {
            subscriber,
            done: false,
        }
    }
}

impl<E> Iterator for TryIter<'_, E> {
    type Item = Result<E, RecvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.subscriber.next_ready() {
            Some(Err(RecvError::Overflowed)) => {
                self.done = true;
                Some(Err(RecvError::Overflowed))
            }
            None | Some(Err(RecvError::Disconnected)) => {
                self.done = true;
                None
            }
            item => item,
        }
    }
}

impl<E> fmt::Debug for TryIter<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter").field("done", &self.done).finish()
    }
}

/// The owning blocking iterator of `Subscriber::into_iter`; see [`Subscriber::iter`].
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct IntoIter<E> {
    subscriber: Subscriber<E>,
    done: bool,
}

impl<E> IntoIter<E> {
    pub(super) fn new(subscriber: Subscriber<E>) -> Self {
        IntoIter {
            subscriber,
            done: false,
        }
    }

    /// The subscriber being iterated.
    pub fn subscriber(&self) -> &Subscriber<E> {
        &self.subscriber
    }
}

impl<E> Iterator for IntoIter<E> {
    type Item = Result<E, RecvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        blocking_item(self.subscriber.recv(), &mut self.done)
    }
}

impl<E> fmt::Debug for IntoIter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter")
            .field("done", &self.done)
            .finish()
    }
}

/// What one `select!`ed message becomes: iterate it to the end. Made by [`Subscriber::accept`].
///
/// Dropped before the end, it loses nothing: an event it did not hand out goes back to the
/// subscriber, whose next receive (of any form) returns it first.
#[cfg(not(loom))]
#[must_use = "the event taken from the queue is in here: iterate it to the end"]
pub struct Accepted<'a, E> {
    subscriber: &'a mut Subscriber<E>,
    /// `Some(Some(event))`: a dequeued event; `Some(None)`: the queue disconnected; `None`: used.
    msg: Option<Option<E>>,
}

#[cfg(not(loom))]
impl<'a, E> Accepted<'a, E> {
    pub(super) fn new(subscriber: &'a mut Subscriber<E>, msg: Option<E>) -> Self {
        Accepted {
            subscriber,
            msg: Some(msg),
        }
    }
}

#[cfg(not(loom))]
impl<E> Iterator for Accepted<'_, E> {
    type Item = Result<E, RecvError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.subscriber.accept_next(&mut self.msg)
    }
}

#[cfg(not(loom))]
impl<E> Drop for Accepted<'_, E> {
    fn drop(&mut self) {
        if let Some(Some(event)) = self.msg.take() {
            self.subscriber.hold_back(event);
        }
    }
}

#[cfg(not(loom))]
impl<E> fmt::Debug for Accepted<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted").finish_non_exhaustive()
    }
}
