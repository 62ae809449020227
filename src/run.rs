//! Run helpers for any event type: [`RunLifecycle`] (which run an event belongs to, whether it
//! ends it), [`RunWaiter`] (wait for a run's terminal event, immune to the loss of everything
//! else) and [`RunStream`] (follow one run's events until the one that ends it, as an iterator or
//! an async stream).
//!
//! They need no vocabulary: they are in the core crate, without the `agent` feature, for a host
//! that keeps its own event type and wants nothing else (no serde, no uuid). With the feature,
//! [`AgentEvent`](crate::agent::AgentEvent) implements [`RunLifecycle`], and `fanout::agent`
//! re-exports these names, so `fanout::agent::RunWaiter` and `fanout::run::RunWaiter` are one
//! type. [`RunLifecycle`]'s docs have a complete example on a host's own type.

mod follow;
mod lifecycle;
mod waiter;

pub use follow::{Iter, RunStream};
pub use lifecycle::RunLifecycle;
pub use waiter::{RunWaiter, WaitError};
