//! `fanout` itself, in a chosen configuration.

use fanout::error::RecvError;
use fanout::{Bus, Overflow, Publisher, Subscriber, Topics, WaitStrategy};

use crate::support::events::Msg;
use crate::support::strategy::{drain_each, Recv, Rx, Strategy, Tally, Tx};

/// `fanout` with one overflow policy and wait strategy for every subscriber.
#[derive(Clone, Copy, Debug)]
pub struct Fanout {
    /// Every subscriber's overflow policy.
    pub overflow: Overflow,
    /// Every subscriber's wait strategy.
    pub wait: WaitStrategy,
    /// Drain with `recv_into` batches of this many events (0: one `recv` per event).
    pub batch: usize,
    /// Publish with `publish_batch` in batches of this many events (0: one `publish` per event).
    pub publish_batch: usize,
}

impl Fanout {
    /// Lossless, parking, one `recv` per event: the defaults a lossless consumer would pick.
    pub const BLOCK_PARK: Fanout = Fanout {
        overflow: Overflow::Block,
        wait: WaitStrategy::Park,
        batch: 0,
        publish_batch: 0,
    };

    /// Lossless, spin-then-park (default window).
    pub const BLOCK_SPIN: Fanout = Fanout {
        overflow: Overflow::Block,
        wait: WaitStrategy::spin_then_park(),
        batch: 0,
        publish_batch: 0,
    };

    /// The bus defaults: `DropOldest`, `Park`.
    pub const DROP_OLDEST_PARK: Fanout = Fanout {
        overflow: Overflow::DropOldest,
        wait: WaitStrategy::Park,
        batch: 0,
        publish_batch: 0,
    };

    /// Draining in batches of `batch`.
    pub const fn batched(self, batch: usize) -> Fanout {
        Fanout { batch, ..self }
    }

    /// Publishing in batches of `publish_batch`.
    pub const fn publishing_batches(self, publish_batch: usize) -> Fanout {
        Fanout {
            publish_batch,
            ..self
        }
    }
}

impl Strategy for Fanout {
    type Tx<E: Msg> = FanoutTx<E>;
    type Rx<E: Msg> = FanoutRx<E>;

    fn name(&self) -> String {
        let overflow = match self.overflow {
            Overflow::DropOldest => "drop-oldest",
            Overflow::DropNewest => "drop-newest",
            Overflow::Block => "block",
            Overflow::Disconnect => "disconnect",
        };
        let wait = match self.wait {
            WaitStrategy::Park => "park",
            WaitStrategy::SpinThenPark(_) => "spin",
            WaitStrategy::BusySpin => "busy",
        };
        let batch = if self.batch > 0 { "-batch" } else { "" };
        let publish_batch = if self.publish_batch > 0 {
            "-pubbatch"
        } else {
            ""
        };
        format!("fanout-{overflow}-{wait}{batch}{publish_batch}")
    }

    fn build<E: Msg>(
        &self,
        subscribers: &[Topics],
        capacity: usize,
    ) -> (FanoutTx<E>, Vec<FanoutRx<E>>) {
        let bus = Bus::new();
        let rxs = subscribers
            .iter()
            .map(|&topics| FanoutRx {
                sub: bus
                    .subscriber()
                    .topics(topics)
                    .capacity(capacity)
                    .overflow(self.overflow)
                    .wait(self.wait)
                    .build()
                    .expect("valid bench subscriber"),
                batch: self.batch,
            })
            .collect();
        // The publisher is the last handle: dropping it closes the bus.
        let tx = FanoutTx {
            publisher: bus.publisher(),
            buf: Vec::with_capacity(self.publish_batch),
            batch: self.publish_batch,
        };
        (tx, rxs)
    }
}

/// The publishing side: a `Publisher`, optionally buffering into `publish_batch` calls.
pub struct FanoutTx<E: Msg> {
    publisher: Publisher<E>,
    buf: Vec<E>,
    batch: usize,
}

impl<E: Msg> Tx<E> for FanoutTx<E> {
    #[inline]
    fn publish(&mut self, event: E) {
        if self.batch == 0 {
            let _ = self.publisher.publish(event);
            return;
        }
        self.buf.push(event);
        if self.buf.len() >= self.batch {
            let _ = self.publisher.publish_batch(&mut self.buf);
        }
    }

    fn fork(&self) -> Option<Self> {
        Some(FanoutTx {
            publisher: self.publisher.clone(),
            buf: Vec::with_capacity(self.batch),
            batch: self.batch,
        })
    }
}

impl<E: Msg> Drop for FanoutTx<E> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.publisher.publish_batch(&mut self.buf);
        }
    }
}

/// A `fanout` subscriber.
pub struct FanoutRx<E> {
    sub: Subscriber<E>,
    batch: usize,
}

impl<E: Msg> Rx<E> for FanoutRx<E> {
    #[inline]
    fn recv(&mut self) -> Recv<E> {
        match self.sub.recv() {
            Ok(e) => Recv::Event(e),
            Err(RecvError::Lagged(n)) => Recv::Lost(n),
            Err(RecvError::Overflowed | RecvError::Disconnected) => Recv::Closed,
        }
    }

    fn drain(mut self, mut on_event: impl FnMut(&E)) -> Tally {
        if self.batch == 0 {
            return drain_each(&mut self, on_event);
        }
        let mut tally = Tally::default();
        let mut buf = Vec::with_capacity(self.batch);
        loop {
            match self.sub.recv_into(&mut buf, self.batch) {
                Ok(n) => {
                    tally.received += n as u64;
                    buf.iter().for_each(&mut on_event);
                    buf.clear();
                }
                Err(RecvError::Lagged(n)) => tally.lost += n,
                Err(_) => return tally,
            }
        }
    }
}
