//! `tokio::sync::broadcast` through its synchronous API: a shared lossy ring, receivers filter by
//! topic after receipt, lag counted.

use fanout::Topics;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::support::events::Msg;
use crate::support::strategy::{drain_each, Recv, Rx, Strategy, Tally, Tx};

/// `tokio::sync::broadcast`.
#[derive(Clone, Copy, Debug)]
pub struct TokioBroadcast;

impl Strategy for TokioBroadcast {
    type Tx<E: Msg> = broadcast::Sender<E>;
    type Rx<E: Msg> = TokioRx<E>;

    fn name(&self) -> String {
        "tokio-broadcast".into()
    }

    fn build<E: Msg>(
        &self,
        subscribers: &[Topics],
        capacity: usize,
    ) -> (broadcast::Sender<E>, Vec<TokioRx<E>>) {
        let (tx, _) = broadcast::channel(capacity);
        let rxs = subscribers
            .iter()
            .map(|topics| TokioRx {
                rx: tx.subscribe(),
                mask: topics.bits(),
                skipped: 0,
            })
            .collect();
        (tx, rxs)
    }
}

impl<E: Msg> Tx<E> for broadcast::Sender<E> {
    #[inline]
    fn publish(&mut self, event: E) {
        let _ = self.send(event);
    }

    fn fork(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// A tokio receiver with its topic mask (applied after receipt: tokio has no filter).
pub struct TokioRx<E> {
    rx: broadcast::Receiver<E>,
    mask: u64,
    skipped: u64,
}

impl<E: Msg> Rx<E> for TokioRx<E> {
    #[inline]
    fn recv(&mut self) -> Recv<E> {
        loop {
            match self.rx.blocking_recv() {
                Ok(e) if e.topic().bit() & self.mask != 0 => return Recv::Event(e),
                Ok(_) => self.skipped += 1,
                Err(RecvError::Lagged(n)) => return Recv::Lost(n),
                Err(RecvError::Closed) => return Recv::Closed,
            }
        }
    }

    fn drain(mut self, on_event: impl FnMut(&E)) -> Tally {
        let mut tally = drain_each(&mut self, on_event);
        tally.skipped = self.skipped;
        tally
    }
}
