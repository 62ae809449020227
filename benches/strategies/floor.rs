//! The floor of the per-subscriber-queue design: a hand-rolled `Vec<(mask, Sender)>`, no registry,
//! no policies, blocking (lossless) sends.

use crossbeam_channel::{bounded, Receiver, Sender};
use fanout::Topics;

use crate::support::events::Msg;
use crate::support::strategy::{Recv, Rx, Strategy, Tx};

/// The hand-rolled floor.
#[derive(Clone, Copy, Debug)]
pub struct Floor;

impl Strategy for Floor {
    type Tx<E: Msg> = FloorTx<E>;
    type Rx<E: Msg> = ChannelRx<E>;

    fn name(&self) -> String {
        "floor-vec-crossbeam".into()
    }

    fn build<E: Msg>(
        &self,
        subscribers: &[Topics],
        capacity: usize,
    ) -> (FloorTx<E>, Vec<ChannelRx<E>>) {
        let (senders, rxs) = channels(subscribers, capacity);
        (FloorTx { senders }, rxs)
    }
}

/// Each subscriber's topic mask and the sending side of its queue.
pub type Senders<E> = Vec<(u64, Sender<E>)>;

/// One bounded crossbeam channel per subscriber.
pub fn channels<E: Msg>(
    subscribers: &[Topics],
    capacity: usize,
) -> (Senders<E>, Vec<ChannelRx<E>>) {
    subscribers
        .iter()
        .map(|topics| {
            let (tx, rx) = bounded(capacity);
            ((topics.bits(), tx), ChannelRx(rx))
        })
        .unzip()
}

/// Sends to every interested sender: clones for all but the last, which gets the original.
#[inline]
pub fn fan_out<E: Msg>(senders: &[(u64, Sender<E>)], event: E) {
    let bit = event.topic().bit();
    let mut pending: Option<&Sender<E>> = None;
    for (mask, tx) in senders {
        if mask & bit != 0 {
            if let Some(previous) = pending.replace(tx) {
                let _ = previous.send(event.clone());
            }
        }
    }
    if let Some(last) = pending {
        let _ = last.send(event);
    }
}

/// The floor's publisher.
pub struct FloorTx<E> {
    senders: Senders<E>,
}

impl<E: Msg> Tx<E> for FloorTx<E> {
    #[inline]
    fn publish(&mut self, event: E) {
        fan_out(&self.senders, event);
    }

    fn fork(&self) -> Option<Self> {
        Some(FloorTx {
            senders: self.senders.clone(),
        })
    }
}

/// A plain crossbeam receiver (also the raw-crossbeam latency peer).
pub struct ChannelRx<E>(pub Receiver<E>);

impl<E: Msg> Rx<E> for ChannelRx<E> {
    #[inline]
    fn recv(&mut self) -> Recv<E> {
        match self.0.recv() {
            Ok(e) => Recv::Event(e),
            Err(_) => Recv::Closed,
        }
    }
}
