//! One file per strategy, each implementing [`Strategy`](crate::support::strategy::Strategy).

pub mod bus_crate;
pub mod disruptor;
pub mod fanout;
pub mod floor;
pub mod mutex;
pub mod tokio;
