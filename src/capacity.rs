//! The limits of a subscriber's queue capacity. A module of its own (constants only) so that
//! `error` can name the maximum without depending on `shared`, which depends on `error`.

/// The largest queue capacity a subscriber may ask for (2^24 events). A queue is allocated up front.
pub const MAX_CAPACITY: usize = 1 << 24;

/// The default capacity of a subscriber's queue.
pub const DEFAULT_CAPACITY: usize = 256;
