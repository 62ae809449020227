//! The naive bus most agent runtimes write by hand: `Mutex<Vec<(mask, Sender)>>`, locked per publish.

use std::sync::{Arc, Mutex};

use fanout::Topics;

use super::floor::{channels, fan_out, ChannelRx, Senders};
use crate::support::events::Msg;
use crate::support::strategy::{Strategy, Tx};

/// The naive mutex bus.
#[derive(Clone, Copy, Debug)]
pub struct NaiveMutex;

impl Strategy for NaiveMutex {
    type Tx<E: Msg> = MutexTx<E>;
    type Rx<E: Msg> = ChannelRx<E>;

    fn name(&self) -> String {
        "naive-mutex-vec".into()
    }

    fn build<E: Msg>(
        &self,
        subscribers: &[Topics],
        capacity: usize,
    ) -> (MutexTx<E>, Vec<ChannelRx<E>>) {
        let (senders, rxs) = channels(subscribers, capacity);
        (MutexTx(Arc::new(Mutex::new(senders))), rxs)
    }
}

/// The naive bus's publisher: every publish locks the subscriber list.
pub struct MutexTx<E>(Arc<Mutex<Senders<E>>>);

impl<E: Msg> Tx<E> for MutexTx<E> {
    #[inline]
    fn publish(&mut self, event: E) {
        let senders = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        fan_out(&senders, event);
    }

    fn fork(&self) -> Option<Self> {
        Some(MutexTx(Arc::clone(&self.0)))
    }
}
