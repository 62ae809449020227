//! A chat server's event bus written for `tokio::sync::broadcast`, that builds and runs
//! unchanged on `fanout::broadcast`: the one `use` line below is the migration.
//!
//! One task publishes the server's events (users joining, messages, users leaving) on one
//! broadcast channel. An audit loop receives every event and counts it. Each connection has a
//! forwarding task that receives every event and forwards what the other users do to its
//! socket (simulated); connection 0 has a slow socket and falls behind: it gets `Lagged(n)`
//! and carries on from the oldest event it still has, as tokio's receivers do. At the end,
//! for every receiver, events received + events reported lagged must equal the events sent
//! (the program exits non-zero if not).
//!
//! ```text
//! cargo run --example event_bus --features fanout-examples/async            # fanout::broadcast
//! RUSTFLAGS="--cfg tokio_broadcast" cargo run --example event_bus --features fanout-examples/async
//! ```
//!
//! On fanout each receiver has its own queue, so the slow connection's lag costs the others
//! nothing; on tokio they share one ring. The counts are the same kind of numbers either way.

#[cfg(not(tokio_broadcast))]
use fanout::broadcast;
#[cfg(tokio_broadcast)]
use tokio::sync::broadcast;

use std::process::ExitCode;
use std::time::Duration;

use broadcast::error::RecvError;

const CONNECTIONS: u32 = 6;
const ROUNDS: u32 = 60;
const CAPACITY: usize = 32;

#[derive(Clone, Debug)]
enum ServerEvent {
    Joined(u32),
    Said { from: u32, text: String },
    Left(u32),
}

/// What one receiver saw.
#[derive(Debug, Default)]
struct Tally {
    name: String,
    received: u64,
    lagged: u64,
    /// Messages forwarded to the socket (connections) or messages logged (audit).
    forwarded: u64,
}

/// The audit loop: every event, counted.
async fn audit(mut events: broadcast::Receiver<ServerEvent>) -> Tally {
    let mut tally = Tally {
        name: "audit".into(),
        ..Tally::default()
    };
    loop {
        match events.recv().await {
            Ok(ServerEvent::Said { .. }) => {
                tally.received += 1;
                tally.forwarded += 1;
            }
            Ok(ServerEvent::Joined(_) | ServerEvent::Left(_)) => tally.received += 1,
            Err(RecvError::Lagged(n)) => tally.lagged += n,
            Err(RecvError::Closed) => return tally,
        }
    }
}

/// A connection's forwarding task: the other users' messages and comings and goings go to its
/// socket.
async fn forward(id: u32, mut events: broadcast::Receiver<ServerEvent>, slow: bool) -> Tally {
    let mut tally = Tally {
        name: format!("connection {id}{}", if slow { " (slow)" } else { "" }),
        ..Tally::default()
    };
    let mut socket = Vec::new();
    loop {
        match events.recv().await {
            Ok(event) => {
                tally.received += 1;
                let line = match event {
                    ServerEvent::Said { from, text } if from != id => text,
                    ServerEvent::Joined(who) if who != id => format!("{who} joined"),
                    ServerEvent::Left(who) if who != id => format!("{who} left"),
                    _ => continue, // its own
                };
                socket.push(line);
                tally.forwarded += 1;
                if slow && socket.len() % 8 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await; // a slow client
                }
            }
            Err(RecvError::Lagged(n)) => tally.lagged += n,
            Err(RecvError::Closed) => return tally,
        }
    }
}

/// The server: publishes joins, rounds of messages, leaves; returns how many events it sent.
async fn serve(events: broadcast::Sender<ServerEvent>) -> u64 {
    let receivers = events.receiver_count();
    let mut sent = 0;
    let mut send = |event| {
        let reached = events.send(event).expect("every receiver is subscribed");
        assert_eq!(reached, receivers, "send reaches every receiver");
        sent += 1;
    };
    for id in 0..CONNECTIONS {
        send(ServerEvent::Joined(id));
    }
    for round in 0..ROUNDS {
        for from in 0..CONNECTIONS {
            send(ServerEvent::Said {
                from,
                text: format!("message {round} from {from}"),
            });
        }
        tokio::task::yield_now().await;
    }
    for id in 0..CONNECTIONS {
        send(ServerEvent::Left(id));
    }
    sent
}

/// Runs the server, the audit loop and the connections; returns what was sent and every
/// receiver's tally.
async fn run() -> (u64, Vec<Tally>) {
    let (events, audit_rx) = broadcast::channel(CAPACITY);
    let audit = tokio::spawn(audit(audit_rx));
    let connections: Vec<_> = (0..CONNECTIONS)
        .map(|id| tokio::spawn(forward(id, events.subscribe(), id == 0)))
        .collect();
    let sent = tokio::spawn(serve(events)).await.expect("the server");
    // The server dropped the last sender: every receiver drains, then gets `Closed`.
    let mut tallies = vec![audit.await.expect("the audit loop")];
    for connection in connections {
        tallies.push(connection.await.expect("a connection"));
    }
    (sent, tallies)
}

/// Every receiver received or was told it lagged, for each event sent.
fn check(sent: u64, tallies: &[Tally]) -> Result<(), String> {
    for tally in tallies {
        if tally.received + tally.lagged != sent {
            return Err(format!(
                "{}: {} received + {} lagged != {sent} sent",
                tally.name, tally.received, tally.lagged
            ));
        }
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

fn main() -> ExitCode {
    let (sent, tallies) = runtime().block_on(run());
    println!(
        "{} events sent on {}",
        sent,
        std::any::type_name::<broadcast::Sender<ServerEvent>>()
    );
    println!(
        "{:<22} {:>9} {:>7} {:>10}",
        "receiver", "received", "lagged", "forwarded"
    );
    for t in &tallies {
        println!(
            "{:<22} {:>9} {:>7} {:>10}",
            t.name, t.received, t.lagged, t.forwarded
        );
    }
    match check(sent, &tallies) {
        Ok(()) => {
            println!("every receiver: received + lagged == sent");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_receiver_accounts_for_every_event() {
        let (sent, tallies) = runtime().block_on(run());
        let events = u64::from(CONNECTIONS * (ROUNDS + 2));
        assert_eq!(sent, events);
        assert_eq!(tallies.len(), 1 + CONNECTIONS as usize);
        check(sent, &tallies).unwrap();
        // A connection forwards what the other users did, of what it received.
        for t in &tallies[1..] {
            assert!(
                t.forwarded <= u64::from((CONNECTIONS - 1) * (ROUNDS + 2)),
                "{t:?}"
            );
        }
    }
}
