//! `disruptor`: a pre-allocated ring with a fixed consumer set and a busy-spinning consumer.
//! Used for the latency scenario with one subscriber (its consumer set is fixed at build time).

use disruptor::{
    BusySpin, EventPoller, Polling, Producer, SingleConsumerBarrier, SingleProducer,
    SingleProducerBarrier,
};
use fanout::Topics;

use crate::support::events::Msg;
use crate::support::strategy::{Recv, Rx, Strategy, Tx};

/// `disruptor` with one busy-spinning event poller.
#[derive(Clone, Copy, Debug)]
pub struct Disruptor;

impl Strategy for Disruptor {
    type Tx<E: Msg> = DisruptorTx<E>;
    type Rx<E: Msg> = DisruptorRx<E>;

    fn name(&self) -> String {
        "disruptor-busy".into()
    }

    /// Only a single subscriber is supported.
    fn build<E: Msg>(
        &self,
        subscribers: &[Topics],
        capacity: usize,
    ) -> (DisruptorTx<E>, Vec<DisruptorRx<E>>) {
        assert_eq!(
            subscribers.len(),
            1,
            "the disruptor strategy has one consumer"
        );
        let builder = disruptor::build_single_producer(capacity, || None, BusySpin);
        let (poller, builder) = builder.new_event_poller();
        let rx = DisruptorRx {
            poller,
            mask: subscribers[0].bits(),
        };
        (DisruptorTx(builder.build()), vec![rx])
    }
}

/// The single producer.
pub struct DisruptorTx<E: Msg>(SingleProducer<Option<E>, SingleConsumerBarrier>);

impl<E: Msg> Tx<E> for DisruptorTx<E> {
    #[inline]
    fn publish(&mut self, event: E) {
        self.0.publish(move |slot| *slot = Some(event));
    }

    fn fork(&self) -> Option<Self> {
        None
    }
}

/// A busy-polling consumer.
pub struct DisruptorRx<E: Msg> {
    poller: EventPoller<Option<E>, SingleProducerBarrier>,
    mask: u64,
}

impl<E: Msg> Rx<E> for DisruptorRx<E> {
    #[inline]
    fn recv(&mut self) -> Recv<E> {
        let mut spins: u32 = 0;
        loop {
            match self.poller.take(1) {
                Ok(mut guard) => {
                    let event = (&mut guard).next().and_then(Option::clone);
                    drop(guard);
                    if let Some(e) = event {
                        if e.topic().bit() & self.mask != 0 {
                            return Recv::Event(e);
                        }
                    }
                }
                Err(Polling::NoEvents) => {
                    // Like fanout's BusySpin: give the core away now and then (2 cores).
                    spins = spins.wrapping_add(1);
                    if spins % 4096 == 0 {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
                Err(Polling::Shutdown) => return Recv::Closed,
            }
        }
    }
}
