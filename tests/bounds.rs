//! The thread-safety the docs promise, checked by the compiler: a regression is a build error.

use fanout::{Bus, HistoryBus, Publisher, Subscriber};

#[derive(Clone)]
struct Ev;
impl fanout::Event for Ev {
    fn topic(&self) -> fanout::Topic {
        fanout::topic!(0)
    }
}

fn send_sync_clone<T: Send + Sync + Clone>() {}
fn send_sync<T: Send + Sync>() {}
fn send_unpin<T: Send + Unpin>() {}

#[test]
fn publishing_handles_are_send_sync_and_clone() {
    send_sync_clone::<Publisher<Ev>>();
    send_sync::<Bus<Ev>>();
    send_sync::<HistoryBus<Ev>>();
}

#[test]
fn a_subscriber_moves_to_a_thread_or_task() {
    send_unpin::<Subscriber<Ev>>();
}
