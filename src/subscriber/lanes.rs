//! Lossless topics on a `DropOldest` subscriber: the consumer's half of the two lanes, and the
//! merge that gives back one stream in publish order.
//!
//! The publishers' half is in `crate::fan_out::lanes`: each item carries a ticket from the
//! subscriber's counter, taken (`AcqRel` read-modify-write) before the item is enqueued into the
//! lossy lane (`DropOldest`) or the kept lane (never evicted from).
//!
//! # The merge
//!
//! The consumer keeps at most one item taken from each lane, its *head*. To hand out the next
//! event it fills the missing heads, polling the lossy lane, then the kept lane, and, **if the
//! kept lane's head was just taken and the lossy lane had none, the lossy lane once more**; then
//! it hands out the head with the smaller ticket (or the only one). It never waits for a ticket
//! that is missing: a publisher may hold one it has not used yet, or lost (an eviction).
//!
//! # Why FIFO per publisher holds for what is delivered
//!
//! Take two events of one publisher, `a` then `b` (ticket `ta < tb`). In the same lane they keep
//! their order: the lane is FIFO, and `a` was enqueued before `b`. In different lanes, say `a` in
//! lane A and `b` in lane B, suppose `b` is handed out while `a` is still queued in A (if `a` was
//! evicted, it is lost and counted: nothing to order).
//!
//! 1. `a`'s enqueue happens before `b`'s ticket is taken, which happens before `b`'s enqueue,
//!    which happens before the consumer takes `b` (the lane's release/acquire).
//! 2. The rule above makes the consumer poll A *after* it took `b` (the lossy lane is polled
//!    after the kept lane's head was taken in the same step, or was polled in a later step; the
//!    kept lane is always polled after the lossy lane). So that poll sees `a`, or an item ahead of
//!    `a` in A, as A's head.
//! 3. Every item `x` ahead of `a` in A has `tx < tb`: if `tx > tb`, `x`'s ticket was taken after
//!    `b`'s in the counter's modification order, so (the `AcqRel` read-modify-writes form a release
//!    sequence) `b`'s ticket happens before `x`'s, so `a`'s enqueue happens before `x`'s, and `x`
//!    would be behind `a` in A.
//!
//! So A's head has a smaller ticket than `b` and goes first, and so on until `a` has gone: `b`
//! could not have been handed out while `a` was queued. Without the second poll of the lossy lane
//! the consumer can find it empty, then take `b` from the kept lane, and hand `b` out before `a`
//! (enqueued in between): `loom-tests/tests/loom_lanes.rs` finds that schedule when the second
//! poll is left out (`--cfg fanout_lane_bug`).
//!
//! # Losses
//!
//! Evictions from the lossy lane are counted with the loss counter's protocol (`crate::loss`),
//! and the consumer reads the counter as it hands each head out (after it took it), so every
//! loss counted before an event was enqueued is reported (`Lagged`) before that event. A head
//! taken early may be handed out after a report of losses newer than it: a report is never late,
//! and the counts stay exact.

use crate::fan_out::lanes::Ticketed;
use crate::queue::{Receiver, TryRecvError};

/// The consumer's side of the two lanes.
pub(crate) struct LaneEnds<E> {
    /// The lossless topics (for `resubscribe`).
    pub(crate) kept: u64,
    lossy: Receiver<Ticketed<E>>,
    keep: Receiver<Ticketed<E>>,
    /// The item taken from the lossy lane and not handed out yet.
    lossy_head: Option<Ticketed<E>>,
    /// The item taken from the kept lane and not handed out yet.
    keep_head: Option<Ticketed<E>>,
}

/// What one step of the merge found.
pub(crate) enum Next<E> {
    /// The next event, and whether it came from the kept lane.
    Event(E, bool),
    /// Both lanes are empty for now.
    Empty,
    /// Both lanes are empty and disconnected: the stream is over.
    Disconnected,
}

/// What polling one lane found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Polled {
    /// A head was already there.
    Held,
    /// A head was just taken.
    Taken,
    Empty,
    Gone,
}

fn poll<E>(lane: &Receiver<Ticketed<E>>, head: &mut Option<Ticketed<E>>) -> Polled {
    if head.is_some() {
        return Polled::Held;
    }
    match lane.try_recv() {
        Ok(item) => {
            *head = Some(item);
            Polled::Taken
        }
        Err(TryRecvError::Empty) => Polled::Empty,
        Err(TryRecvError::Disconnected) => Polled::Gone,
    }
}

impl<E> LaneEnds<E> {
    pub(crate) fn new(
        kept: u64,
        lossy: Receiver<Ticketed<E>>,
        keep: Receiver<Ticketed<E>>,
    ) -> Self {
        LaneEnds {
            kept,
            lossy,
            keep,
            lossy_head: None,
            keep_head: None,
        }
    }

    /// One step of the merge (see the module docs).
    pub(crate) fn next(&mut self) -> Next<E> {
        let mut lossy = poll(&self.lossy, &mut self.lossy_head);
        let keep = poll(&self.keep, &mut self.keep_head);
        if keep == Polled::Taken && self.lossy_head.is_none() && !cfg!(fanout_lane_bug) {
            // The kept head was taken after the lossy lane was found empty: an event enqueued
            // into it in between may be older (module docs, step 2).
            lossy = poll(&self.lossy, &mut self.lossy_head);
        }
        let from_keep = match (&self.lossy_head, &self.keep_head) {
            (Some((lossy_ticket, _)), Some((keep_ticket, _))) => keep_ticket < lossy_ticket,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => {
                return if lossy == Polled::Gone && keep == Polled::Gone {
                    Next::Disconnected
                } else {
                    Next::Empty
                };
            }
        };
        let head = if from_keep {
            self.keep_head.take()
        } else {
            self.lossy_head.take()
        };
        match head {
            Some((_, event)) => Next::Event(event, from_keep),
            None => Next::Empty, // not reached: the head was just seen
        }
    }

    /// Items queued in both lanes or taken as heads.
    pub(crate) fn len(&self) -> usize {
        self.lossy.len()
            + self.keep.len()
            + usize::from(self.lossy_head.is_some())
            + usize::from(self.keep_head.is_some())
    }

    /// Whether nothing is queued or held.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heads taken and not handed out (for stats: held events).
    pub(crate) fn heads(&self) -> usize {
        usize::from(self.lossy_head.is_some()) + usize::from(self.keep_head.is_some())
    }

    /// Waits until either lane has an item or is disconnected, or `deadline` passes.
    #[cfg(not(loom))]
    pub(crate) fn wait(&self, deadline: Option<std::time::Instant>) {
        let mut select = crossbeam_channel::Select::new();
        select.recv(&self.lossy);
        select.recv(&self.keep);
        match deadline {
            None => drop(select.ready()),
            Some(deadline) => drop(select.ready_deadline(deadline)),
        }
    }

    /// Under loom there is no `Select`: a yield, and the caller polls again.
    #[cfg(loom)]
    pub(crate) fn wait(&self, _deadline: Option<std::time::Instant>) {
        crate::sync::yield_now();
    }
}
