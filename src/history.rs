//! History and replay: a bus that numbers its events and keeps the recent ones
//! ([`HistoryBus`]), and the hand-off that gives a new subscriber the recent past and then the
//! live stream (see the crate docs, "History and replay").
//!
//! The types of this module: [`HistoryBus`] (also at the crate root) and its builder
//! [`HistoryBusBuilder`], [`HistoryPublisher`], the [`PublishAsync`] future of their
//! `publish_async`, [`HistorySubscriberBuilder`] with its [`Replay`], and the [`Sequenced`]
//! envelope every subscriber of a history bus receives.

// # Shape
//
// A history bus is the ordinary core instantiated at [`Sequenced<E>`] plus a [`History`]: its
// subscribers are plain `Subscriber<Sequenced<E>>`s and its fan-out is the plain fan-out, so a
// plain [`Bus`](crate::Bus) pays nothing for history (not a branch, not a field). Only the
// publish entry point differs (`publish::publish`), and the subscribe with replay
// (`subscribe`).
//
// # Two locks
//
// - The **order** lock is held by a publish for its whole fan-out. Publishes of one history bus
//   are therefore serialised, and sequence order = history order = every queue's order: each
//   subscriber sees strictly increasing numbers, whatever the number of publishers. A publish
//   blocked on a full `Overflow::Block` queue holds it (and so holds up the other publishers,
//   as one publisher blocked in a plain bus holds up itself).
// - The **ring** lock is held briefly. Under it a publish takes the next number, stores its
//   copy in the ring (the clone is made *before* taking the lock; what it displaces is dropped
//   *after* releasing it, after the fan-out even), and **loads the subscriber snapshot** it will
//   fan out to. The fan-out itself runs with that snapshot after the ring lock is released
//   ([`crate::fan_out::fan_out_to`]). A subscribe with replay takes **only** the ring lock:
//   under it, it copies what its [`Replay`] asks for into its new, still private queue, and
//   registers (publishes a snapshot naming it); then it releases the lock.
//
// So a subscribe never waits for a publish's fan-out: a publish blocked on a full `Block` queue
// whose consumer is the very thread now subscribing holds the order lock, not the ring lock,
// and the subscribe goes through (`tests/history.rs` tests exactly that).
//
// # The hand-off: no duplicate, no gap
//
// Ring sections (publishes' and the subscribe's) are totally ordered by the ring lock. Take a
// publish P of an event the new subscriber S wants:
//
// - P's ring section **precedes** S's. P loaded its snapshot before S registered (S publishes
//   its snapshot inside its own section), so P's snapshot does not name S and P never enqueues
//   to S. P stored its event in the ring before S copied it: the event is in S's replay (unless
//   it fell out of the ring, which S's `Lagged` or its `Replay` accounts for). Once.
// - P's ring section **follows** S's. P's lock acquisition synchronises with S's release, which
//   comes after S's snapshot swap, so P loads that snapshot or a later one: it names S (until S
//   leaves), and P enqueues to S. S's copy was taken before P stored its event: not in the
//   replay. Once.
//
// No dedup is needed. Order: S enqueued its whole replay before registering, so before any live
// event (no publisher can load a snapshot naming S before the ring lock is released); replayed
// numbers are below every live one (assigned in earlier ring sections); live events arrive in
// ring-section order, because the order lock makes each publish's fan-out finish before the
// next publish's ring section. `loom-tests/tests/loom_history.rs` checks this, and catches the
// snapshot loaded outside the ring lock and the registration outside it.
//
// # Replay meets the overflow policy
//
// The replay is offered to the new queue as a burst of live events would be, through the
// subscriber's own policy, with no consumer yet: `DropOldest` keeps the newest and counts the
// rest exactly, `DropNewest` refuses the rest and counts them, `Disconnect` cuts the subscriber
// off. `Block` cannot wait (its consumer is not receiving yet: it would wait forever), so what
// does not fit goes to a private backlog held by the subscriber and handed out before its
// queue: `Block` stays lossless, and the backlog is bounded by the history's size.

mod bus;
mod order;
mod publish;
mod publish_async;
mod replay;
mod ring;
mod sequenced;
mod subscribe;

pub use bus::{HistoryBus, HistoryBusBuilder};
pub use publish::HistoryPublisher;
pub use publish_async::PublishAsync;
pub use replay::Replay;
pub(crate) use ring::History;
pub use sequenced::Sequenced;
pub use subscribe::HistorySubscriberBuilder;
