//! oxios's `EventBus` on fanout (issue 21): the kernel's own `KernelEvent`, its `EventBus` API
//! (`new(capacity)`, `subscribe()`, `publish(event)`, `attach_audit_trail(audit)`) kept, with
//! fanout underneath.
//!
//! ```sh
//! cargo run -p fanout-examples --example oxios_bus
//! ```
//!
//! The failure of the first port: the audit trail ran on a tap, and a tap stops when its handle is
//! dropped, discarding what is still queued, so a lossless audit needed a hand-written
//! close-then-join at exit (and over tokio's broadcast, `while let Ok(e) = rx.recv().await` ended
//! the audit at its first lag). Here the audit tap is `Block` (lossless) and detached: the bus
//! owns it, and `EventBus::shutdown` closes the bus and joins it once everything is written.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanout::tap::{Received, Shutdown};
use fanout::{topic, Bus, Event, Overflow, Subscriber, Topic};

/// The kernel's events (a few of oxios' variants, written for this example).
#[derive(Clone, Debug, PartialEq)]
pub enum KernelEvent {
    AgentCreated { id: u64, name: String },
    AgentStarted { id: u64 },
    AgentOutput { id: u64, output: String },
    AgentStopped { id: u64 },
    AgentFailed { id: u64, error: String },
}

const LIFECYCLE: Topic = topic!(0);
const OUTPUT: Topic = topic!(1);

impl Event for KernelEvent {
    fn topic(&self) -> Topic {
        match self {
            KernelEvent::AgentOutput { .. } => OUTPUT,
            _ => LIFECYCLE,
        }
    }
}

/// oxios's audit trail: appends one line per kernel event (a file or a database in oxios).
#[derive(Default)]
pub struct AuditTrail {
    lines: Mutex<Vec<String>>,
}

impl AuditTrail {
    pub fn append(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    pub fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }
}

/// oxios's `EventBus`, its API unchanged.
pub struct EventBus {
    bus: Bus<KernelEvent>,
}

impl EventBus {
    /// A bus whose subscribers hold `capacity` events each.
    pub fn new(capacity: usize) -> Self {
        let bus = Bus::builder()
            .capacity(capacity)
            .build()
            .expect("capacity in range");
        EventBus { bus }
    }

    /// Every kernel event published after this call; a slow subscriber gets `Lagged(n)` in its
    /// stream and goes on (the default policy keeps the newest).
    pub fn subscribe(&self) -> Subscriber<KernelEvent> {
        self.bus.subscriber().build().expect("the bus is open")
    }

    /// Publishes to every subscriber. It's okay if there are none.
    pub fn publish(&self, event: KernelEvent) -> Result<(), String> {
        self.bus.publish(event).map(drop).map_err(|e| e.to_string())
    }

    /// Forwards every kernel event to the audit trail, losing none: a `Block` tap, owned by the
    /// bus (detached), so that nothing queued is discarded at exit.
    pub fn attach_audit_trail(&self, audit: Arc<AuditTrail>) {
        self.bus
            .tap()
            .name("audit-trail")
            .overflow(Overflow::Block)
            .spawn(move |item: Received<KernelEvent>| match item {
                Received::Event(event) => audit.append(format!("{event:?}")),
                // Cannot happen under `Block`; an audit says so rather than staying silent.
                Received::Lagged(n) => audit.append(format!("LOST {n} events")),
            })
            .expect("the bus is open")
            .detach();
    }

    /// At exit: closes the bus and waits, at most `timeout`, for the audit (and any other owned
    /// tap) to write everything queued.
    pub fn shutdown(&self, timeout: Duration) -> Shutdown {
        self.bus.shutdown(timeout)
    }
}

/// Agents publishing lifecycle and output events, the audit attached, then the kernel exits.
fn run(agents: u64, outputs: u64) -> (Arc<AuditTrail>, Shutdown) {
    // A small capacity, so the audit's queue is full often and publishers wait for it.
    let bus = Arc::new(EventBus::new(8));
    let audit = Arc::new(AuditTrail::default());
    bus.attach_audit_trail(Arc::clone(&audit));
    let workers: Vec<_> = (0..agents)
        .map(|id| {
            let bus = Arc::clone(&bus);
            std::thread::spawn(move || {
                bus.publish(KernelEvent::AgentCreated {
                    id,
                    name: format!("agent-{id}"),
                })
                .unwrap();
                bus.publish(KernelEvent::AgentStarted { id }).unwrap();
                for n in 0..outputs {
                    let output = format!("step {n}");
                    bus.publish(KernelEvent::AgentOutput { id, output })
                        .unwrap();
                }
                let end = if id % 2 == 0 {
                    KernelEvent::AgentStopped { id }
                } else {
                    KernelEvent::AgentFailed {
                        id,
                        error: "tool timeout".into(),
                    }
                };
                bus.publish(end).unwrap();
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    // Exit: no hand-written close-then-join; the audit is still draining its queue here.
    let shutdown = bus.shutdown(Duration::from_secs(60));
    (audit, shutdown)
}

fn main() {
    let (agents, outputs) = (4, 500);
    let (audit, shutdown) = run(agents, outputs);
    println!(
        "{agents} agents published {} kernel events; the audit wrote {} lines",
        agents * (outputs + 3),
        audit.line_count()
    );
    for report in &shutdown.reports {
        println!(
            "tap {}: ended {:?}, {} events, {} lost, {} unhandled",
            report.name, report.end, report.stats.events, report.stats.lagged, report.unhandled
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanout::tap::TapEnd;

    #[test]
    fn the_audit_writes_every_event_before_shutdown_returns() {
        let (agents, outputs) = (4, 500);
        let (audit, shutdown) = run(agents, outputs);
        assert!(shutdown.running.is_empty());
        let report = &shutdown.reports[0];
        assert_eq!(report.end, TapEnd::Closed);
        assert_eq!((report.stats.lagged, report.unhandled), (0, 0));
        assert_eq!(audit.line_count() as u64, agents * (outputs + 3));
        assert!(!audit
            .lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("LOST")));
    }
}
