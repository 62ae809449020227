//! A synchronous, runtime-agnostic, lock-free fan-out event bus.
//!
//! One event in, every interested subscriber gets it, each through its own bounded queue, filtered
//! by topic *before* it is enqueued, with an overflow policy per subscriber, and with every lost
//! event counted and reported to the subscriber that lost it. Built for hosts whose hot loop emits
//! events from plain synchronous code (an AI agent loop streaming tokens and tool calls to a UI,
//! telemetry, an audit log, persistence and a cost tracker) with no async runtime; its
//! subscribers and publishers also work from async tasks, on any executor (see [Async](#async)).
//!
//! ```toml
//! [dependencies]
//! fanout = { path = "../fanout" }   # a checkout of this repository (or a `git = ".."` URL)
//! # without the agent vocabulary (and so without serde, serde_json and uuid):
//! # fanout = { path = "../fanout", default-features = false }
//! ```
//!
//! # Quick start
//!
//! An event type needs `Clone + Send + 'static` and an [`Event`] impl that names its [`Topic`]
//! (`Debug`, `Sync` and `PartialEq` are not required). A [`Publisher`] is `Send + Sync + Clone`:
//! move one to each thread that publishes. A [`Subscriber`] is `Send`: move it to the thread that
//! consumes.
//!
//! ```
//! use std::thread;
//! use fanout::{topic, Bus, Event, Overflow, Topic, Topics};
//! use fanout::error::RecvError;
//!
//! #[derive(Clone)]
//! enum HostEvent { Token(String), ToolCall(&'static str), Done }
//! const TOKENS: Topic = topic!(0);
//! const TOOLS: Topic = topic!(1);
//! const LIFECYCLE: Topic = topic!(2);
//! impl Event for HostEvent {
//!     fn topic(&self) -> Topic {
//!         match self {
//!             HostEvent::Token(_) => TOKENS,
//!             HostEvent::ToolCall(_) => TOOLS,
//!             HostEvent::Done => LIFECYCLE,
//!         }
//!     }
//! }
//!
//! let bus = Bus::new();
//! // Subscribe first: a subscriber gets what is published after it subscribed.
//! // A small UI queue that keeps the newest events, and a lossless audit log without tokens.
//! let mut ui = bus.subscriber().capacity(8).overflow(Overflow::DropOldest).build()?;
//! let mut audit = bus.subscriber().topics(Topics::ALL - TOKENS).overflow(Overflow::Block).build()?;
//!
//! // The agent loop publishes from its own thread.
//! let publisher = bus.publisher();
//! let agent = thread::spawn(move || {
//!     for i in 0..100 {
//!         publisher.publish(HostEvent::Token(format!(" tok{i}"))).unwrap();
//!     }
//!     publisher.publish(HostEvent::ToolCall("grep")).unwrap();
//!     publisher.publish(HostEvent::Done).unwrap();
//! });
//!
//! // Each consumer on its own thread, with the loop to write: `Lagged(n)` is an item of the
//! // stream (n events this subscriber lost), and the loop ends only when the bus is closed and
//! // the queue drained.
//! let ui = thread::spawn(move || {
//!     let (mut shown, mut lost) = (0, 0);
//!     for item in ui.iter() {
//!         match item {
//!             Ok(_event) => shown += 1,             // render it
//!             Err(RecvError::Lagged(n)) => lost += n, // say "n skipped", go on
//!             Err(end) => panic!("{end}"),          // Overflowed: only with Overflow::Disconnect
//!         }
//!     }
//!     (shown, lost)
//! });
//! let audit = thread::spawn(move || audit.iter().collect::<Result<Vec<_>, _>>());
//!
//! agent.join().unwrap();
//! drop(bus); // the last Bus/Publisher handle: closes the bus, consumers drain and finish
//! let (shown, lost) = ui.join().unwrap();
//! assert_eq!(shown + lost, 102); // every event either shown or reported lost, never silently gone
//! assert_eq!(audit.join().unwrap()?.len(), 2); // the tool call and Done: nothing lost
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Do not write `while let Ok(event) = sub.recv()`, the habit from `tokio::sync::broadcast`: it
//! stops at the first `Lagged(n)` and leaves the rest of the stream unread. Iterate
//! ([`Subscriber::iter`], or `for item in sub`), or match every `Err` of
//! [`recv`](Subscriber::recv) as above.
//!
//! Coming from `tokio::sync::broadcast`: [`broadcast`] has its API and behaviour (`channel`,
//! `Sender`, `Receiver`, `Lagged(n)`, `Closed`) over this bus, so `use fanout::broadcast;` in
//! place of `use tokio::sync::broadcast;` is the migration, and each receiver gets a queue of
//! its own.
//!
//! A whole agent host (concurrent runs, a slow UI, telemetry, a lossless audit log, a cost
//! tracker, run waiters, and a table of what each got and lost) is the example
//! `examples/agent_loop.rs` in the repository:
//! `cargo run --release -p fanout-examples --example agent_loop` in a checkout (`-- --help`
//! lists its flags).
//!
//! # Topics
//!
//! Every [`Event`] maps itself to a [`Topic`], an index in `0..64` ([`topic!`] checks it at compile
//! time, [`Topic::new`] at run time). Every subscriber holds a [`Topics`] mask (a `u64`); the bus
//! keeps the union of all live masks, its [`interest`](Bus::interest). A publish first tests the
//! topic against the interest with one atomic load and returns at once if nobody wants it; then it
//! tests each subscriber's mask, so an uninterested subscriber costs a bit test, never a queue
//! operation, a clone or a wake-up. [`publish_with`](Publisher::publish_with) goes further and
//! does not even build the event when nobody wants its topic.
//!
//! A subscriber can add a [`filter`](SubscriberBuilder::filter), a predicate the publisher runs
//! after the topic test (per-run, per-session, per-connection targeting), and can change its
//! topics at any time with [`set_topics`](Subscriber::set_topics): every publish that starts
//! after the call returns obeys the new mask.
//!
//! # Routing keys
//!
//! For targeting one connection, session or run among thousands, a filter per subscriber costs
//! the publisher one call per open subscriber. A routing [`Key`] costs one hash lookup: an event
//! names its key ([`Event::key`], default `None`), a subscriber asks for one
//! ([`key`](SubscriberBuilder::key), or a small set with [`keys`](SubscriberBuilder::keys)), and
//! a keyed publish reaches the subscribers of its key and the unkeyed subscribers only; an unkeyed
//! event reaches every subscriber. Topics, filters and overflow policies apply to what a
//! subscriber is offered, as before. See [`key`](mod@key).
//!
//! # Overflow and lag
//!
//! Each subscriber has its own bounded queue and its own [`Overflow`] policy for when it is full:
//! [`DropOldest`](Overflow::DropOldest) (the default: a UI sees the newest events),
//! [`DropNewest`](Overflow::DropNewest), [`Block`](Overflow::Block) (lossless back-pressure: the
//! only policy that can make a publish wait, bounded by
//! [`publish_timeout`](Publisher::publish_timeout)), and [`Disconnect`](Overflow::Disconnect)
//! (cut off a consumer that cannot keep up; it learns so through [`RecvError::Overflowed`](error::RecvError::Overflowed)).
//! A `DropOldest` subscriber can keep some topics lossless
//! ([`SubscriberBuilder::lossless`]): a run's lifecycle among its token deltas, say. Those go to a
//! second, never-evicted lane, merged back in publish order on receive.
//!
//! Nothing is lost silently. Every event a policy throws away is counted against the subscriber
//! that lost it and reported **in its stream** as [`RecvError::Lagged(n)`](error::RecvError::Lagged),
//! before every event enqueued after the loss; the subscription goes on. The counts are exact:
//! for every subscriber, events received plus events reported as lag equals the events published
//! to it (topic matched, filter passed) while it was subscribed. [`Delivery`], returned by each
//! publish, says how many subscribers took the event and how many events overflow dropped.
//!
//! ```
//! use fanout::{Bus, Overflow};
//! use fanout::error::RecvError;
//! # #[derive(Clone, Debug, PartialEq)] struct Tick(u32);
//! # impl fanout::Event for Tick { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//! let bus = Bus::new();
//! let mut newest = bus.subscriber().capacity(2).overflow(Overflow::DropNewest).build().unwrap();
//! for i in 0..5 {
//!     bus.publish(Tick(i)).unwrap();
//! }
//! // Tick(2..5) found the queue full and were dropped; the report comes first, with the exact count.
//! assert_eq!(newest.recv(), Err(RecvError::Lagged(3)));
//! assert_eq!(newest.recv(), Ok(Tick(0)));
//! assert_eq!(newest.recv(), Ok(Tick(1)));
//! ```
//!
//! Where in the stream a report lands: a publisher counts a loss before it enqueues anything after
//! it (and a `DropOldest` eviction is announced before it happens and withdrawn once counted), and
//! a subscriber reads its loss counter after every dequeue, once no announced eviction is under
//! way. So a `Lagged(n)` is never late: it comes before the first event after the gap. It can come
//! early, ahead of events that were queued before the loss: with `DropNewest`, `Disconnect` and a
//! timed-out `Block` the lost events are newer than everything queued, yet the report is handed
//! out at the next dequeue (as above). With `DropOldest` the lost events are the oldest still in
//! the queue and the report comes before the survivors; the newest event always gets in. An event
//! that was already dequeued when a loss was found is out of the queue: it is held behind that
//! report and comes right after it, before any later loss (those losses are of newer events):
//!
//! ```
//! use fanout::{Bus, Overflow};
//! use fanout::error::TryRecvError;
//! # #[derive(Clone, Debug, PartialEq)] struct Tick(u32);
//! # impl fanout::Event for Tick { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//! let bus = Bus::new();
//! let mut ui = bus.subscriber().capacity(2).overflow(Overflow::DropOldest).build().unwrap();
//! for i in 1..=3 {
//!     bus.publish(Tick(i)).unwrap(); // Tick(3) evicts Tick(1)
//! }
//! // Tick(2) is dequeued, the loss before it found: reported first, Tick(2) is held behind it.
//! assert_eq!(ui.try_recv(), Err(TryRecvError::Lagged(1)));
//! for i in 4..=6 {
//!     bus.publish(Tick(i)).unwrap(); // Tick(5) and Tick(6) evict Tick(3) and Tick(4)
//! }
//! assert_eq!(ui.try_recv(), Ok(Tick(2)));
//! assert_eq!(ui.try_recv(), Err(TryRecvError::Lagged(2)));
//! assert_eq!(ui.try_recv(), Ok(Tick(5)));
//! assert_eq!(ui.try_recv(), Ok(Tick(6)));
//! ```
//!
//! # Ordering
//!
//! Events from one publishing handle ([`Bus`] or [`Publisher`]) reach each subscriber in the order
//! they were published (FIFO per publisher, per subscriber). Events from different publishers
//! have no order relative to each other; two subscribers may see two concurrent publishers'
//! events interleaved differently (on a [`HistoryBus`] one sequence orders them all; see below).
//! No thread or task is spawned per event.
//!
//! # History and replay
//!
//! A subscriber normally starts at "now". A UI rarely does: a tab opened mid-run, a WebSocket
//! that reconnects, a dashboard attached to a long session. A [`HistoryBus`] (built by
//! [`BusBuilder::history`] or [`HistoryBus::builder`]) numbers every event it publishes with a
//! bus-wide sequence number, from 1, which is also the order of every subscriber's queue, and
//! keeps the last `n` events (optionally of some topics only, [`HistoryBusBuilder::history_topics`](history::HistoryBusBuilder::history_topics)).
//! A new subscriber asks for the recent past with [`HistorySubscriberBuilder::replay`](history::HistorySubscriberBuilder::replay):
//! [`Replay::Tail`](history::Replay::Tail)`(k)` (the last `k` events it wants), [`Replay::Since`](history::Replay::Since)`(seq)` (every event
//! after `seq`: resume from the last number a client saw, an SSE `Last-Event-ID`) or
//! [`Replay::LastPerTopic`](history::Replay::LastPerTopic) (the last event of each topic it follows: the current state). It
//! receives the replayed events its topics and filter want, then the live stream, **with no gap
//! and no duplicate between them** however many threads publish meanwhile; if `Since` reaches
//! further back than the history, a `Lagged(n)` first.
//!
//! Its subscribers are plain [`Subscriber<Sequenced<E>>`](Subscriber)s: every receive form
//! (`recv`, `iter`, `recv_into`, `recv_async`, the `Stream`, `receiver()` in a `select!`) hands
//! out a [`Sequenced`](history::Sequenced) envelope, which dereferences to the event.
//!
//! ```
//! use fanout::HistoryBus;
//! use fanout::error::RecvError;
//! use fanout::history::Replay;
//! # #[derive(Clone, Debug, PartialEq)] struct Tick(u32);
//! # impl fanout::Event for Tick { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//! let bus = HistoryBus::builder(100).build().unwrap();
//! for i in 0..150 {
//!     bus.publish(Tick(i)).unwrap(); // numbers 1..=150; the history keeps 51..=150
//! }
//! let mut late = bus.subscriber().replay(Replay::Since(10)).build().unwrap();
//! bus.publish(Tick(150)).unwrap(); // live: number 151
//! assert_eq!(late.recv(), Err(RecvError::Lagged(40))); // 11..=50 are gone: exactly 40
//! let first = late.recv().unwrap();
//! assert_eq!((first.seq(), &*first), (51, &Tick(50)));
//! assert_eq!(late.try_iter().count(), 100); // 52..=150 replayed, then 151 live
//! ```
//!
//! Decisions worth knowing:
//!
//! - **Plain buses pay nothing.** A history bus is its own type over the same core; a [`Bus`]'s
//!   publish path is unchanged (instruction counts in `BENCHMARKS.md`, issue 12).
//! - **Publishes of a history bus are serialised**, each for its whole fan-out (that is what
//!   makes sequence order every queue's order). One publisher blocked on a full
//!   [`Block`](Overflow::Block) queue holds up the others, never a subscribe: a subscribe with
//!   replay takes only the history's short ring lock, so the consumer of that very queue can
//!   subscribe again (no deadlock). Each kept event is cloned once more, into the history.
//! - **Replay meets the overflow policy** as a burst of live events would, before any live
//!   event: `DropOldest` keeps the newest and reports the rest exactly, `DropNewest` keeps the
//!   oldest and reports the rest, `Disconnect` cuts off a subscriber whose replay does not fit.
//!   `Block` stays lossless: what does not fit its queue is held by the subscriber and handed
//!   out first (memory bounded by the history's size).
//! - **The replay is copied under the history's ring lock** (`Clone` and the filter, user
//!   code): a slow `Clone` delays publishers; a panicking one leaves nothing registered.
//! - **Numbers**: an event nobody wants and the history does not keep takes no number (nobody
//!   could see it); a publish refused because the bus is closed takes none either.
//!   `Since(n)` for a number not given yet is an error ([`BuildError::ReplayFromFuture`](error::BuildError::ReplayFromFuture)), as
//!   are `history(0)` and a history above [`MAX_CAPACITY`].
//! - **LastPerTopic** keeps the last event of every topic even after it left the ring (one slot
//!   per topic, moved there on eviction, never cloned).
//! - The `agent` module's [`RunWaiter::from_history`](crate::run::RunWaiter::from_history)
//!   answers for a run that already ended; its docs describe a session's state for a late UI.
//!
//! Every publish form of a plain bus is on a history bus too (`publish_timeout`, `publish_with`,
//! `publish_all`, `publish_batch`, [`publish_async`](HistoryBus::publish_async)); publishes take
//! turns, threads and tasks alike, so the numbers are every queue's order. Not on a history bus
//! (yet): a tap with replay (a [`tap`](HistoryBus::tap) gets the live, numbered stream).
//!
//! # Closing
//!
//! [`Bus::close`] (or dropping the last `Bus` and `Publisher` handle) closes the bus. Later
//! publishes hand their event back as [`PublishError::Closed`](error::PublishError::Closed); every subscriber first receives
//! everything that was accepted before the close, then [`RecvError::Disconnected`](error::RecvError::Disconnected). A publish
//! racing the close is either delivered or handed back, never accepted by nobody.
//!
//! Close ends every stream promptly, even while a publish waits for room in the full queue of a
//! [`Block`](Overflow::Block) subscriber that never reads: that wait ends at the close, the
//! publish goes on to the subscribers that have room, and the event it could not queue is counted
//! as lost for the stuck subscriber, which receives its queue, `Lagged(1)`, then `Disconnected`.
//! (Without that, the waiting publish would keep every other subscriber's queue open.)
//!
//! A subscriber dropped at any time unsubscribes: it stops costing publishers anything, and a
//! publish waiting on its full `Block` queue returns (even if a clone of its
//! [`receiver`](Subscriber::receiver) lives on elsewhere). Every end of a stream is final:
//! after `Disconnected` or `Overflowed` a subscriber never receives anything again.
//!
//! # Panics
//!
//! User code runs inside the bus: `Event::topic` and `Event::key`, `Clone` and `Drop` of
//! events, filters (on the publishing thread) and tap handlers (on the tap's thread). Any of it
//! may panic, and the bus keeps its promise when it does:
//!
//! - The panic reaches the caller that ran the user code (the publisher, or the subscriber whose
//!   receive dropped an event); a tap catches its handler's panics and goes on.
//! - Nothing hangs and nothing is poisoned: the bus's bookkeeping for each subscriber is done
//!   before the user code that follows it runs (a `DropOldest` eviction is counted before the
//!   evicted event is dropped, a refused event before it is dropped), and the bus stays usable.
//! - Nothing is lost silently: a publish interrupted by a panic counts the event as lost, once,
//!   for every subscriber it had not served yet whose topics want it, and those subscribers get
//!   `Lagged` for it. Filters are not run again for that (they may panic again), so a subscriber
//!   whose filter would have rejected the event can be told of one loss too many, never of one
//!   too few. Subscribers already served keep the event.
//!
//! The publish path pays nothing for this: no `catch_unwind`, no atomic; a guard on its stack is
//! updated with plain stores and forgotten at the end.
//!
//! # Wait strategies
//!
//! A subscriber's blocking calls wait the way its [`WaitStrategy`] says: [`Park`](WaitStrategy::Park)
//! (the default: sleep in the kernel, wake on the next event),
//! [`SpinThenPark`](WaitStrategy::SpinThenPark) (poll for a bounded time, then park) or
//! [`BusySpin`](WaitStrategy::BusySpin). Waking a parked thread costs the publisher a system call
//! and the subscriber tens of microseconds; a subscriber that is spinning when the event lands
//! sees it in well under a microsecond, and the publisher pays no wake-up at all. A tap's thread
//! ([`Bus::tap`]) waits the way its subscriber's strategy says too.
//!
//! ```
//! use std::time::Duration;
//! use fanout::{Bus, WaitStrategy};
//! # #[derive(Clone)] struct Tick;
//! # impl fanout::Event for Tick { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//! let bus = Bus::<Tick>::new();
//! let latency_sensitive = bus
//!     .subscriber()
//!     .wait(WaitStrategy::SpinThenPark(Duration::from_micros(100)))
//!     .build()
//!     .unwrap();
//! # drop(latency_sensitive);
//! ```
//!
//! # Async
//!
//! A [`Subscriber`] is one type for threads and tasks, and can be handed from one to the other.
//! [`recv_async`](Subscriber::recv_async) (and [`recv_into_async`](Subscriber::recv_into_async),
//! and with the `stream` feature, on by default, the `futures_core::Stream` impl, `Item =
//! Result<E, RecvError>`) yields exactly what [`recv`](Subscriber::recv) yields, `Lagged(n)`
//! in-stream included; all are built on [`poll_recv`](Subscriber::poll_recv) and are
//! cancel-safe. [`Publisher::publish_async`] awaits room in full [`Block`](Overflow::Block)
//! queues instead of blocking the thread; dropped mid-wait, it counts the event as lost to the
//! subscribers it had not served yet.
//! [`RunWaiter::wait_async`](crate::run::RunWaiter::wait_async) awaits a run's end. A
//! [tap](Bus::tap) stays a thread.
//!
//! Nothing here depends on a runtime: wake-ups go through `core::task::Waker`. After each
//! enqueue a publish checks whether the subscriber's task is parked (one load of a flag that
//! stays unwritten while nobody waits asynchronously, crossbeam's own bar for "free when
//! unused"); only a parked task costs it a swap and a wake. A `Block` subscriber's receive makes
//! the same check for publishers' tasks waiting for room. No user code (a waker's `clone`,
//! `wake` or `Drop`, which may publish or close the bus) runs while a lock of the bus is held.
//!
//! The async receive is also a good citizen of its executor: after 128 consecutive ready
//! receives it yields once (wakes its own task and returns `Pending`, taking nothing), so a
//! receive loop whose queue never empties cannot starve the other tasks of a single-threaded
//! runtime (see [Cooperative yielding](subscriber#cooperative-yielding)).
//!
//! ```
//! use fanout::{Bus, Topics};
//! use fanout::error::RecvError;
//! # #[derive(Clone, Debug, PartialEq)] struct Tick(u32);
//! # impl fanout::Event for Tick { fn topic(&self) -> fanout::Topic { fanout::topic!(0) } }
//! let bus = Bus::new();
//! let mut sub = bus.subscribe(Topics::ALL);
//! let publisher = bus.publisher();
//! drop(bus);
//! let producer = std::thread::spawn(move || publisher.publish(Tick(1)).unwrap());
//! futures_executor::block_on(async {
//!     assert_eq!(sub.recv_async().await, Ok(Tick(1)));
//!     assert_eq!(sub.recv_async().await, Err(RecvError::Disconnected));
//! });
//! # producer.join().unwrap();
//! ```
//!
//! # Cost
//!
//! The publish path takes no lock and allocates nothing (beyond what `E::clone` does): it reads the
//! interest mask, loads a lock-free snapshot of the subscriber table, and enqueues into each
//! interested subscriber's queue, moving the event into the last one and cloning it for the others.
//! Subscribing, unsubscribing, `set_topics` and closing take a lock that publishers never take.
//! Publish `Arc<E>` when events are large.
//!
//! Memory: a subscriber's queue is allocated once, when it subscribes: `capacity` slots of
//! `size_of::<E>()` plus an 8-byte stamp each, and about 1.2 KiB besides (its counters, the
//! queue's header, its row in the table), whatever the capacity (`tests/memory.rs` checks it).
//!
//! # Seams
//!
//! [`EventSink`] is an object-safe `Send + Sync` trait implemented by [`Bus`] and [`Publisher`],
//! [`NullSink`](sink::NullSink) and [`RecordingSink`](sink::RecordingSink), so code that emits
//! events need not depend on the bus. [`Bus::tap`] runs a subscriber on a thread of its own (an
//! audit log, an exporter) and survives its handler's panics. With the `agent` feature (on by
//! default), [`fanout::agent`](crate::agent) has a ready event vocabulary for AI-agent runtimes,
//! a JSON-lines audit recorder and run waiters.
//!
//! # Crate layout
//!
//! The root holds what a program names: [`Bus`] and its [`BusBuilder`], [`Publisher`],
//! [`Subscriber`] and its [`SubscriberBuilder`], the [`Event`] trait with [`Topic`], [`Topics`],
//! [`topic!`] and [`Key`], the policies [`Overflow`] and [`WaitStrategy`], what a publish returns
//! ([`Delivery`]), the [`EventSink`] seam, [`HistoryBus`], and the capacity limits. The types a
//! program mostly receives rather than names live in the module of the capability they belong to:
//!
//! | module | what is in it |
//! |---|---|
//! | [`broadcast`] | `tokio::sync::broadcast`'s API (`channel`, `Sender`, `Receiver`, its `error`s) over the bus: migrate by changing one import |
//! | [`bus`] | [`WeakBus`](bus::WeakBus), a handle that does not keep the bus open; [`NoSubscribers`](bus::NoSubscribers), awaiting the last subscriber's departure |
//! | [`error`] | every error: [`PublishError`](error::PublishError), [`RecvError`](error::RecvError), [`TryRecvError`](error::TryRecvError), [`RecvTimeoutError`](error::RecvTimeoutError), [`BuildError`](error::BuildError) |
//! | [`subscriber`] | the receive iterators and futures, [`SubscriberId`](subscriber::SubscriberId), `Accepted` (for `select!`) |
//! | [`publisher`] | [`PublishAsync`](publisher::PublishAsync), the future of `publish_async` |
//! | [`history`] | the history bus's builders and publisher, [`Replay`](history::Replay), [`Sequenced`](history::Sequenced), [`PublishAsync`](history::PublishAsync) |
//! | [`tap`] | a tap's builder, handle, handler trait, report and stats |
//! | [`stats`] | [`BusStats`](stats::BusStats), [`SubscriberStats`](stats::SubscriberStats) |
//! | [`sink`] | [`NullSink`](sink::NullSink), [`RecordingSink`](sink::RecordingSink) |
//! | [`key`](mod@key) | [`MAX_KEYS`](key::MAX_KEYS), [`ParseKeyError`](key::ParseKeyError), how keys route |
//! | [`topic`](mod@topic) | [`TopicsIter`](topic::TopicsIter), [`TopicOutOfRange`](topic::TopicOutOfRange), [`TOPIC_COUNT`](topic::TOPIC_COUNT) |
//! | [`run`] | the run helpers for any event type: [`RunLifecycle`](run::RunLifecycle), [`RunWaiter`](run::RunWaiter), [`RunStream`](run::RunStream) (no feature needed) |
//! | `agent` | the agent-runtime vocabulary (feature `agent`) |
//! | [`crossbeam_channel`] | the queue crate, re-exported for `select!` |
#![warn(missing_docs)]
// The core's docs link the `agent` vocabulary where it is the example; without the feature those
// targets do not exist, and the links render as plain code instead of failing the build.
#![cfg_attr(not(feature = "agent"), allow(rustdoc::broken_intra_doc_links))]
#![deny(unsafe_code)]

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(not(loom))]
pub mod broadcast;
pub mod bus;
mod capacity;
pub mod error;
mod event;
mod fan_out;
pub mod history;
pub mod key;
mod loss;
mod notify;
mod overflow;
pub mod publisher;
mod queue;
mod registry;
#[cfg(not(loom))]
pub mod run;
mod shared;
pub mod sink;
pub mod stats;
pub mod subscriber;
mod sync;
#[cfg(not(loom))]
pub mod tap;
pub mod topic;
mod wait;

pub use bus::{Bus, BusBuilder};
pub use capacity::{DEFAULT_CAPACITY, MAX_CAPACITY};
pub use event::Event;
pub use fan_out::Delivery;
pub use history::HistoryBus;
pub use key::Key;
pub use overflow::Overflow;
pub use publisher::Publisher;
pub use sink::EventSink;
pub use subscriber::{Subscriber, SubscriberBuilder};
pub use topic::{Topic, Topics};
pub use wait::WaitStrategy;

/// The `crossbeam-channel` crate fanout's queues are built on, re-exported so that
/// [`Subscriber::receiver`] can go into a `select!` without a dependency (and a version match) of
/// your own: `fanout::crossbeam_channel::select!`.
pub use crossbeam_channel;

// The README's examples, compiled and run as doctests so they cannot drift from the code.
#[cfg(doctest)]
mod readme;
