//! [`WaitStrategy`]: how a subscriber waits for its next event.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync;

/// How a subscriber's blocking calls ([`recv`](crate::Subscriber::recv),
/// [`recv_timeout`](crate::Subscriber::recv_timeout), [`iter`](crate::Subscriber::iter)) wait
/// when the queue is empty.
///
/// Parking a thread and waking it costs the publisher a system call and the subscriber tens of
/// microseconds of wake-up latency (about 30 µs on a small shared VM). Spinning first trades CPU
/// for latency: a subscriber that is spinning when the event lands sees it within a cache-line
/// transfer, and the publisher pays no wake-up at all.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fanout::{Bus, WaitStrategy};
/// # #[derive(Clone)] struct Ping;
/// # impl fanout::Event for Ping { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
/// let bus = Bus::<Ping>::new();
/// let fast = bus
///     .subscriber()
///     .wait(WaitStrategy::SpinThenPark(Duration::from_micros(100)))
///     .build()
///     .unwrap();
/// assert_eq!(fast.wait_strategy(), WaitStrategy::SpinThenPark(Duration::from_micros(100)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WaitStrategy {
    /// Park the thread at once (the default): no CPU while idle, a wake-up per event burst.
    #[default]
    Park,
    /// Poll the queue for up to this long, then park. Delivery within the window costs no wake-up;
    /// choose a window longer than the usual gap between events to get sub-microsecond delivery,
    /// at the price of burning a core for that long after each event.
    SpinThenPark(Duration),
    /// Poll forever and never park: the lowest latency, a whole core while idle. Yields its time
    /// slice now and then so it cannot starve the publisher on an oversubscribed machine.
    BusySpin,
}

impl WaitStrategy {
    /// Spin-then-park with a window of [`DEFAULT_SPIN`](Self::DEFAULT_SPIN).
    pub const fn spin_then_park() -> WaitStrategy {
        WaitStrategy::SpinThenPark(Self::DEFAULT_SPIN)
    }

    /// The spin window of [`spin_then_park`](Self::spin_then_park): 100 µs, twice the gap between
    /// tokens of a fast model stream.
    pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitStrategy::Park => f.write_str("park"),
            WaitStrategy::SpinThenPark(window) => write!(f, "spin {window:?} then park"),
            WaitStrategy::BusySpin => f.write_str("busy-spin"),
        }
    }
}

/// Polls `poll` until it yields a value or the spin budget runs out, then returns `None`.
///
/// `until` is the end of the spin window (`None`: spin forever, for busy-spin). The clock is read
/// once every 64 polls, so a poll costs a queue check and a spin hint. Under loom a window is two
/// polls: loom does not model time, and a model only needs both the spinning and the parking
/// branch to be reachable.
pub(crate) fn spin<T>(until: Option<Instant>, mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let mut polls: u32 = 0;
    loop {
        if let Some(value) = poll() {
            return Some(value);
        }
        polls = polls.wrapping_add(1);
        if cfg!(loom) && until.is_some() && polls >= 2 {
            return None;
        }
        if polls % 64 == 0 {
            match until {
                Some(end) if Instant::now() >= end => return None,
                // Spin-then-park: give the core away every 64 polls. On an oversubscribed
                // machine the spinner would otherwise hold the core the publisher needs to make
                // the very event it waits for; with a core to itself the yield returns at once.
                Some(_) => sync::yield_now(),
                // Busy-spin: let someone else run now and then (2 cores, many threads).
                None if polls % 4096 == 0 => sync::yield_now(),
                _ => {}
            }
        }
        sync::spin_step();
    }
}
