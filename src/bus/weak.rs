//! [`WeakBus`]: a handle to a bus that does not keep it open.

use std::fmt;

use crate::shared::Inner;
use crate::stats::BusStats;
use crate::subscriber::{Subscriber, SubscriberBuilder};
use crate::sync::Arc;
use crate::{Bus, Topics};

use super::NoSubscribers;

/// A handle to a [`Bus`] that does not keep it open: made by [`Bus::downgrade`].
///
/// The bus closes when its last `Bus` and [`Publisher`](crate::Publisher) handle goes (or at
/// [`close`](Bus::close)), whatever weak handles remain. A weak handle still does what a
/// component that only *listens* needs: subscribe, read [`stats`](Self::stats), await
/// [`no_subscribers`](Self::no_subscribers). [`upgrade`](Self::upgrade) gives a `Bus` back
/// while a strong handle is alive, and `None` once the last one is gone: a bus closed by its
/// last handle is never reopened, even by an upgrade racing that drop.
///
/// # Examples
///
/// ```
/// use fanout::{Bus, Topics};
/// use fanout::error::RecvError;
/// # #[derive(Clone, Debug, PartialEq)] struct Ping(u8);
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::new();
/// let registry = bus.downgrade(); // e.g. kept by the HTTP layer to subscribe each new client
/// let mut client = registry.subscribe(Topics::ALL);
/// bus.publish(Ping(1)).unwrap();
/// assert_eq!(registry.stats().published, 1);
/// drop(bus);
/// assert_eq!(client.recv(), Ok(Ping(1)));
/// assert_eq!(client.recv(), Err(RecvError::Disconnected));
/// ```
pub struct WeakBus<E> {
    pub(crate) inner: Arc<Inner<E>>,
}

impl<E> WeakBus<E> {
    /// A `Bus` handle, if the bus still has one (`None` once the last `Bus` and `Publisher`
    /// handle is gone). A bus closed with [`close`](Bus::close) while handles remain upgrades to
    /// a handle of the closed bus.
    pub fn upgrade(&self) -> Option<Bus<E>> {
        let (inner, counter) = Inner::try_acquire_handle(&self.inner)?;
        Some(Bus::from_parts(inner, counter))
    }

    /// Subscribes to `topics` with the bus's defaults; on a closed bus the subscriber is born
    /// disconnected (see [`Bus::subscribe`]).
    pub fn subscribe(&self, topics: impl Into<Topics>) -> Subscriber<E> {
        self.subscriber().topics(topics).build_or_disconnected()
    }

    /// A builder for a subscriber with settings of its own (see [`Bus::subscriber`]).
    pub fn subscriber(&self) -> SubscriberBuilder<E> {
        SubscriberBuilder::new(Arc::clone(&self.inner))
    }

    /// Whether the bus is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.registry.is_closed()
    }

    /// How many subscribers are registered.
    pub fn subscriber_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Counters for the bus and its subscribers (see [`Bus::stats`]).
    pub fn stats(&self) -> BusStats {
        BusStats::of(&self.inner)
    }

    /// Live `Bus` and `Publisher` handles (0 once the bus closed itself).
    pub fn strong_count(&self) -> usize {
        self.inner.handle_count()
    }

    /// Live weak handles, this one included.
    pub fn weak_count(&self) -> usize {
        self.inner.weak_count()
    }

    /// See [`Bus::no_subscribers`].
    pub fn no_subscribers(&self) -> NoSubscribers<'_, E> {
        NoSubscribers {
            registry: &self.inner.registry,
        }
    }

    /// See [`Bus::wait_no_subscribers`].
    #[cfg(not(loom))]
    pub fn wait_no_subscribers(&self) {
        super::wait_no_subscribers(&self.inner.registry);
    }

    /// Whether both handles are of the same bus.
    pub fn same_bus(&self, bus: &Bus<E>) -> bool {
        Arc::ptr_eq(&self.inner, &bus.inner)
    }
}

impl<E> Clone for WeakBus<E> {
    fn clone(&self) -> Self {
        WeakBus {
            inner: Inner::acquire_weak(&self.inner),
        }
    }
}

impl<E> Drop for WeakBus<E> {
    fn drop(&mut self) {
        self.inner.release_weak();
    }
}

impl<E> fmt::Debug for WeakBus<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakBus")
            .field("strong", &self.strong_count())
            .field("weak", &self.weak_count())
            .field("closed", &self.is_closed())
            .finish()
    }
}
