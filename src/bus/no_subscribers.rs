//! [`NoSubscribers`]: awaiting the moment a bus has no subscriber left.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::registry::Registry;

/// The future of [`Bus::no_subscribers`](crate::Bus::no_subscribers): completes once no
/// subscriber is registered.
///
/// The wait is the waiter's half of the handshake in `crate::notify`: register the task, then
/// look at the table (under its lock); the removal or close that empties the table wakes the
/// registered tasks after releasing that lock. Cancel-safe: dropping it takes nothing.
#[must_use = "futures do nothing unless polled"]
pub struct NoSubscribers<'a, E> {
    pub(crate) registry: &'a Registry<E>,
}

impl<E> Future for NoSubscribers<'_, E> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.registry.len() == 0 {
            return Poll::Ready(());
        }
        self.registry.wait_emptied(cx.waker());
        if self.registry.len() == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<E> fmt::Debug for NoSubscribers<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoSubscribers")
            .field("subscribers", &self.registry.len())
            .finish()
    }
}

/// Blocks the thread until the table is empty: the future's wait with a waker that unparks this
/// thread.
#[cfg(not(loom))]
pub(crate) fn wait_no_subscribers<E>(registry: &Registry<E>) {
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::thread::{self, Thread};

    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(NoSubscribers { registry });
    // A spurious unpark only costs another look.
    while future.as_mut().poll(&mut cx).is_pending() {
        thread::park();
    }
}
