//! The agent-loop demo: written in the agent-runtime work (see README).
fn main() {}
