//! [`AgentEvent`]'s run lifecycle: the [`RunLifecycle`] the run helpers ([`RunWaiter`],
//! [`RunStream`]) ask of it, and the `Borrow` a history bus's events give code written for it.
//!
//! [`RunWaiter`]: crate::run::RunWaiter
//! [`RunStream`]: crate::run::RunStream

use std::borrow::Borrow;

use super::{topics, AgentEvent, RunId};
use crate::history::Sequenced;
use crate::run::RunLifecycle;
use crate::Topics;

impl RunLifecycle for AgentEvent {
    type RunId = RunId;
    const TERMINAL_TOPICS: Topics = Topics::only(topics::RUN);

    fn run_id(&self) -> Option<&RunId> {
        self.run_ref()
    }

    fn is_terminal(&self) -> bool {
        AgentEvent::is_terminal(self)
    }
}

/// A history bus's events are [`Sequenced`]: they borrow as the [`AgentEvent`] inside, so code
/// generic over `Borrow<AgentEvent>` takes them as they come.
impl<E: Borrow<AgentEvent>> Borrow<AgentEvent> for Sequenced<E> {
    fn borrow(&self) -> &AgentEvent {
        self.event().borrow()
    }
}
