//! The `bus` crate: one shared ring, a single producer that blocks while any reader is full;
//! readers filter by topic after receipt.

use fanout::Topics;

use crate::support::events::Msg;
use crate::support::strategy::{Recv, Rx, Strategy, Tally, Tx};

/// The `bus` crate.
#[derive(Clone, Copy, Debug)]
pub struct BusCrate;

impl Strategy for BusCrate {
    type Tx<E: Msg> = BusTx<E>;
    type Rx<E: Msg> = BusRx<E>;

    fn name(&self) -> String {
        "bus-crate".into()
    }

    fn build<E: Msg>(&self, subscribers: &[Topics], capacity: usize) -> (BusTx<E>, Vec<BusRx<E>>) {
        let mut bus = bus::Bus::new(capacity);
        let rxs = subscribers
            .iter()
            .map(|topics| BusRx {
                rx: bus.add_rx(),
                mask: topics.bits(),
                skipped: 0,
            })
            .collect();
        (BusTx(bus), rxs)
    }
}

/// The `bus` crate's (only) producer.
pub struct BusTx<E>(bus::Bus<E>);

impl<E: Msg> Tx<E> for BusTx<E> {
    #[inline]
    fn publish(&mut self, event: E) {
        self.0.broadcast(event);
    }

    fn fork(&self) -> Option<Self> {
        None
    }
}

/// A `bus` reader with its topic mask.
pub struct BusRx<E> {
    rx: bus::BusReader<E>,
    mask: u64,
    skipped: u64,
}

impl<E: Msg> Rx<E> for BusRx<E> {
    #[inline]
    fn recv(&mut self) -> Recv<E> {
        loop {
            match self.rx.recv() {
                Ok(e) if e.topic().bit() & self.mask != 0 => return Recv::Event(e),
                Ok(_) => self.skipped += 1,
                Err(_) => return Recv::Closed,
            }
        }
    }

    fn drain(mut self, mut on_event: impl FnMut(&E)) -> Tally {
        let mut tally = Tally::default();
        while let Recv::Event(e) = self.recv() {
            on_event(&e);
            tally.received += 1;
        }
        tally.skipped = self.skipped;
        tally
    }
}
