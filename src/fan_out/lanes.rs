//! Lossless topics on a `DropOldest` subscriber: the publisher's half of the two lanes.
//!
//! A subscriber built with [`lossless(topics)`](crate::SubscriberBuilder::lossless) has two
//! bounded queues instead of one: the *lossy lane*, `DropOldest` as usual, for every other topic,
//! and the *kept lane* for the lossless topics, which is never evicted from (when it is full the
//! publisher waits as an `Overflow::Block` publish does). Every item carries a **ticket**, taken
//! from the subscriber's own counter (one `fetch_add`) **before** the item is enqueued; the
//! consumer merges the two lanes by ticket (the consumer's half and the proof of the merge are in
//! `crate::subscriber::lanes`).
//!
//! A subscriber without lossless topics has no lanes: `Entry::lanes` is `None`, and its publish
//! path pays one test of it per delivery (BENCHMARKS.md, issue 21).
//!
//! The lossy lane's evictions follow the loss counter's protocol exactly as a plain `DropOldest`
//! queue's (announce, evict, count and withdraw in one step; see [`crate::loss`]), so `Lagged`
//! counts stay exact. A kept event that cannot be enqueued before the publish's deadline (a
//! `try_publish`, a passed `publish_timeout`) or before the bus closes is counted as lost and
//! reported as `Lagged`, as for a `Block` queue: never silently.

use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::{enqueued, is_own_tap, Delivery, Served};
use crate::queue::{self, Receiver, Sender, TrySendError, WaitError};
use crate::registry::{Entry, SubscriberState};
use crate::sync::{AtomicU64, Ordering};

/// A lane item: the subscriber's ticket for it, and the event.
pub(crate) type Ticketed<E> = (u64, E);

/// The publishers' side of a subscriber's two lanes, shared by every table entry naming it (an
/// `Arc`, so the senders are dropped, and the lanes disconnect, with the last entry).
pub(crate) struct Lanes<E> {
    /// The topics that go to the kept lane.
    pub(crate) kept: u64,
    /// The next ticket. Taken (`AcqRel` read-modify-write) before each enqueue into either lane:
    /// the merge's proof needs every enqueue that happened before a ticket was taken to come
    /// before every enqueue made with a later ticket, which the release sequence of this
    /// counter gives (see `crate::subscriber::lanes`). Written by every publisher: its own line.
    ticket: CachePadded<AtomicU64>,
    /// The lossy lane (`DropOldest`).
    pub(crate) lossy: Sender<Ticketed<E>>,
    /// A second receiver of the lossy lane, through which a publisher evicts its oldest item.
    evictor: Receiver<Ticketed<E>>,
    /// The kept lane (never evicted from).
    pub(crate) keep: Sender<Ticketed<E>>,
}

impl<E> Lanes<E> {
    /// The publishers' side, the lossy lane's receiving side and the kept lane's, each lane of
    /// `capacity` items.
    pub(crate) fn new(
        capacity: usize,
        kept: u64,
    ) -> (Self, Receiver<Ticketed<E>>, Receiver<Ticketed<E>>) {
        let (lossy, lossy_rx) = queue::bounded(capacity);
        let (keep, keep_rx) = queue::bounded(capacity);
        let lanes = Lanes {
            kept,
            ticket: CachePadded::new(AtomicU64::new(0)),
            lossy,
            evictor: lossy_rx.clone(),
            keep,
        };
        (lanes, lossy_rx, keep_rx)
    }

    /// A new ticket, taken before an enqueue (see the field).
    #[inline]
    fn ticket(&self) -> u64 {
        self.ticket.fetch_add(1, Ordering::AcqRel)
    }

    /// Items in both lanes (for stats).
    pub(crate) fn len(&self) -> usize {
        self.lossy.len() + self.keep.len()
    }

    /// Enqueues into the kept lane if there is room (an async publish waiting for room).
    pub(crate) fn try_keep(&self, event: E) -> Result<(), TrySendError<E>> {
        self.keep
            .try_send((self.ticket(), event))
            .map_err(|err| match err {
                TrySendError::Full((_, event)) => TrySendError::Full(event),
                TrySendError::Disconnected((_, event)) => TrySendError::Disconnected(event),
            })
    }
}

/// `offer` for a subscriber with lanes: the event's topic picks the lane. Out of line, so that
/// the publish path of the subscribers without lanes stays what it was.
#[cold]
#[inline(never)]
pub(super) fn offer_lanes<E: Send + 'static, T>(
    entry: &Entry<E>,
    lanes: &Lanes<E>,
    event: E,
    bit: u64,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
    served: Served<'_, T>,
) {
    if lanes.kept & bit != 0 {
        offer_kept(entry, lanes, event, deadline, delivery, served);
    } else {
        offer_lossy(entry, lanes, event, delivery, served);
    }
}

/// Enqueues into the lossy lane, evicting its oldest item while it is full.
fn offer_lossy<E: Send + 'static, T>(
    entry: &Entry<E>,
    lanes: &Lanes<E>,
    mut event: E,
    delivery: &mut Delivery,
    served: Served<'_, T>,
) {
    let state = &entry.state;
    loop {
        // The ticket before the enqueue, every attempt: a ticket whose item never entered the
        // lane is simply never seen (the merge never waits for a missing ticket).
        match lanes.lossy.try_send((lanes.ticket(), event)) {
            Ok(()) => {
                enqueued(entry, delivery);
                return;
            }
            Err(TrySendError::Full((_, back))) => event = back,
            // The subscriber dropped its receivers during this publish: nothing is owed.
            Err(TrySendError::Disconnected((_, back))) => {
                served.mark();
                drop(back);
                return;
            }
        }
        // As `overflow` evicts from a plain `DropOldest` queue (protocol in `crate::loss`); the
        // evicted item is dropped only once counted (its `Drop` may panic; the new event is then
        // still owed, and counted by the publish's guard).
        state.lost.begin_eviction();
        let evicted = lanes.evictor.try_recv().ok();
        state.lost.end_eviction(evicted.is_some());
        delivery.dropped += u32::from(evicted.is_some());
        drop(evicted);
    }
}

/// Enqueues into the kept lane, waiting for room as a `Block` publish does.
fn offer_kept<E: Send + 'static, T>(
    entry: &Entry<E>,
    lanes: &Lanes<E>,
    event: E,
    deadline: Option<Instant>,
    delivery: &mut Delivery,
    served: Served<'_, T>,
) {
    let state = &entry.state;
    let sent = match lanes.keep.try_send((lanes.ticket(), event)) {
        Ok(()) => Ok(()),
        Err(TrySendError::Disconnected(item)) => Err(WaitError::Disconnected(item)),
        // As the `Block` arm of `overflow`: no wait past the deadline, nor on a tap's own queue
        // from the tap's thread. A ticket taken long before the item enters the lane is still
        // a ticket taken before it: the merge's order holds.
        Err(TrySendError::Full(item)) => match deadline {
            Some(deadline) if deadline <= Instant::now() => Err(WaitError::Timeout(item)),
            _ if is_own_tap(state) => Err(WaitError::Timeout(item)),
            _ => queue::send_waiting(&lanes.keep, item, deadline, [&entry.gone, &entry.closing]),
        },
    };
    let refused = match sent {
        Ok(()) => {
            enqueued(entry, delivery);
            return;
        }
        Err(WaitError::Timeout(item)) => {
            lose_kept(state, delivery);
            delivery.timed_out += 1;
            item
        }
        Err(WaitError::Disconnected(item)) => item,
        Err(WaitError::Stopped(item)) if entry.gone.is_fired() => item,
        // The bus closed while we waited: lost to this subscriber, reported before the end.
        Err(WaitError::Stopped(item)) => {
            lose_kept(state, delivery);
            item
        }
    };
    // Counted (or not owed): only now may its `Drop` run.
    served.mark();
    drop(refused);
}

/// Counts a kept event that never entered the kept lane.
fn lose_kept(state: &SubscriberState, delivery: &mut Delivery) {
    // A `DropOldest` subscriber's losses are otherwise evictions of queued events (stats).
    state.lost_unqueued.fetch_add(1, Ordering::Relaxed);
    state.lost.record(1);
    state.event_waiter.wake_strict();
    delivery.dropped += 1;
}
