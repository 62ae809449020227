//! [`LossCounter`]: one subscriber's count of lost events, and the `DropOldest` eviction
//! announcement, in one atomic word.
//!
//! # Protocol
//!
//! Publishers add every event a subscriber's overflow policy throws away to its counter (a
//! release add) before they enqueue anything after it. A `DropOldest` eviction takes a dequeue by
//! the publisher, and a consumer that dequeues just after it must already see it counted, or its
//! `Lagged` report would come after the survivor instead of before. So an eviction is *announced*
//! before it happens and withdrawn once it is counted:
//!
//! 1. [`begin_eviction`](LossCounter::begin_eviction): add one to the announcement field;
//! 2. evict (dequeue the oldest event through the publisher's own receiver), or find the queue
//!    already emptied by the consumer;
//! 3. [`end_eviction`](LossCounter::end_eviction): withdraw the announcement and, if an event was
//!    evicted, count it, in **one** release add.
//!
//! A consumer reads the word with [`settled`](LossCounter::settled) after each dequeue: while an
//! announcement is up it waits (a few instructions of the publisher's), then it takes the count.
//! An eviction that the queue ordered before the consumer's dequeue raised its announcement before
//! it evicted, so the consumer's acquire load sees the announcement raised or already withdrawn
//! (and then the count). Both fields in one word make step 3 a single read-modify-write: the
//! announcement cannot be seen withdrawn without the count that goes with it.
//!
//! The low 48 bits are the count (2.8 × 10¹⁴ events: decades at a billion losses a second), the
//! high 16 the number of evictions under way (at most one per publishing thread).
//!
//! `loom-tests/tests/loom_drop_oldest.rs` checks the protocol against a racing consumer.

use crossbeam_utils::CachePadded;

use crate::sync::{self, AtomicU64, Ordering};

/// One announced eviction, in the high field.
const EVICTION: u64 = 1 << 48;
/// The count field.
const COUNT: u64 = EVICTION - 1;

/// A subscriber's lost-event count and its eviction announcements (see the module docs).
#[derive(Debug)]
pub(crate) struct LossCounter {
    /// Written by publishers only on loss, read by the consumer after every dequeue: its own line.
    word: CachePadded<AtomicU64>,
}

impl LossCounter {
    pub(crate) fn new() -> Self {
        LossCounter {
            word: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// Counts `n` events lost without an eviction (the event never entered the queue).
    #[inline]
    pub(crate) fn record(&self, n: u64) {
        // Release: pairs with the consumer's acquire load after a dequeue, so a consumer that
        // dequeues an event enqueued after this loss also sees the loss.
        self.word.fetch_add(n, Ordering::Release);
    }

    /// Announces an eviction about to happen (step 1).
    #[inline]
    pub(crate) fn begin_eviction(&self) {
        // Relaxed: the eviction's own dequeue orders it before any later dequeue of the
        // consumer's, which then reads this value or a later one of the same word.
        self.word.fetch_add(EVICTION, Ordering::Relaxed);
    }

    /// Withdraws an announcement, counting one loss if `evicted` (step 3).
    #[inline]
    pub(crate) fn end_eviction(&self, evicted: bool) {
        // Release: a consumer that sees the announcement withdrawn sees the count.
        let withdraw = if evicted { EVICTION - 1 } else { EVICTION };
        self.word.fetch_sub(withdraw, Ordering::Release);
    }

    /// The count, once no announced eviction is under way (the consumer's read after a dequeue).
    /// One load, inline, when none is (almost always); the wait is out of line.
    #[inline]
    pub(crate) fn settled(&self) -> u64 {
        let word = self.word.load(Ordering::Acquire);
        if word & !COUNT == 0 {
            return word;
        }
        self.settle()
    }

    /// An eviction was announced: wait until none is under way, then take the count.
    #[cold]
    #[inline(never)]
    fn settle(&self) -> u64 {
        let mut spins: u32 = 0;
        loop {
            spins = spins.wrapping_add(1);
            if spins % 64 == 0 {
                // The evicting publisher was preempted mid-eviction: let it run.
                sync::yield_now();
            } else {
                sync::spin_step();
            }
            let word = self.word.load(Ordering::Acquire);
            if word & !COUNT == 0 {
                return word;
            }
        }
    }

    /// The count now, evictions in flight or not (for `lost()` and stats).
    pub(crate) fn current(&self) -> u64 {
        self.word.load(Ordering::Acquire) & COUNT
    }
}
