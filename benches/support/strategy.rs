//! The trait every fan-out strategy implements. To add your own, write one file under
//! `benches/strategies/` implementing [`Strategy`] and list it in the scenarios you care about.

use fanout::Topics;

use super::events::Msg;

/// One thing a receiver can get.
pub enum Recv<E> {
    /// An event.
    Event(E),
    /// This many events were lost (lossy strategies report it, or it is counted).
    Lost(u64),
    /// The publisher side is gone and everything was drained.
    Closed,
}

/// What one receiver saw by the end of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events received.
    pub received: u64,
    /// Events the strategy lost for this receiver.
    pub lost: u64,
    /// Events received but not wanted (strategies that filter after receipt).
    pub skipped: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.received += other.received;
        self.lost += other.lost;
        self.skipped += other.skipped;
    }
}

/// The publishing side of one strategy instance.
pub trait Tx<E>: Send + Sized + 'static {
    /// Publishes one event to every receiver whose topics contain its topic. Lossless
    /// strategies may block here when a receiver is full.
    fn publish(&mut self, event: E);
    /// A second publishing handle for another thread, if the strategy has multiple producers.
    fn fork(&self) -> Option<Self>;
}

/// The receiving side: one subscriber.
pub trait Rx<E>: Send + Sized + 'static {
    /// Waits for the next thing.
    fn recv(&mut self) -> Recv<E>;

    /// Consumes until closed, counting. Strategies with a faster batch receive override it.
    fn drain(mut self, on_event: impl FnMut(&E)) -> Tally {
        drain_each(&mut self, on_event)
    }
}

/// Receives one event at a time until closed, counting: the default `Rx::drain`, and the
/// fallback of strategies whose override adds to it.
pub fn drain_each<E, R: Rx<E>>(rx: &mut R, mut on_event: impl FnMut(&E)) -> Tally {
    let mut tally = Tally::default();
    loop {
        match rx.recv() {
            Recv::Event(e) => {
                on_event(&e);
                tally.received += 1;
            }
            Recv::Lost(n) => tally.lost += n,
            Recv::Closed => return tally,
        }
    }
}

/// A fan-out strategy: builds a bus with one receiver per entry of `subscribers` (its topics).
pub trait Strategy: Sync {
    /// The publishing handle.
    type Tx<E: Msg>: Tx<E>;
    /// A receiver.
    type Rx<E: Msg>: Rx<E>;
    /// The label in reports (`BenchmarkId` function name).
    fn name(&self) -> String;
    /// Builds one instance: a publisher and one receiver per subscriber mask, each with a queue
    /// (or ring) of `capacity` events.
    fn build<E: Msg>(
        &self,
        subscribers: &[Topics],
        capacity: usize,
    ) -> (Self::Tx<E>, Vec<Self::Rx<E>>);
}
