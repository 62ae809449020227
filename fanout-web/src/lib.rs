//! An SSE gateway for a [`fanout`] bus: from the bus to the browser.
//!
//! One subscriber per connection (its capacity and overflow policy configurable, drop-oldest by
//! default), topics and key from the request, limited to what the host's [`Authorize`] hook
//! grants. On a [`HistoryBus`](fanout::HistoryBus) every frame's `id:` is the event's sequence
//! number, and a reconnect with `Last-Event-ID` resumes after it (`Replay::Since`): no gap, no
//! duplicate. A connection that falls behind gets what it lost back from the history where it
//! still holds it, and an `event: gap` frame with the exact count of the rest; the stream goes
//! on. Keep-alive comments, an `event: close` frame when the bus closes, a bound on open
//! streams (503 beyond it). `POST /agui` speaks AG-UI 1.0 ([`agui`]); `/metrics` is
//! Prometheus text from `bus.stats()`; `/dashboard` a page showing them live.
//!
//! ```no_run
//! use fanout::agent::AgentEvent;
//! use fanout::HistoryBus;
//! use fanout_web::{AllowAll, Gateway};
//!
//! # async fn serve() -> std::io::Result<()> {
//! let bus = HistoryBus::<AgentEvent>::builder(4096).build().unwrap();
//! let gateway = Gateway::builder(bus.clone(), AllowAll).build().unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, gateway.router()).await
//! # }
//! ```
//!
//! The host's event type implements [`WebEvent`] (its key, its topics' names); the agent
//! vocabulary's [`AgentEvent`](fanout::agent::AgentEvent) does, keyed by session.
//!
//! | module | what |
//! |---|---|
//! | [`WebEvent`] | what the gateway needs of an event type |
//! | [`Gateway`], [`GatewayBuilder`] | configuration and routes |
//! | [`Feed`] | the bus streamed: a `Bus` or a `HistoryBus` |
//! | [`Authorize`], [`Grant`], [`Keys`], [`Refusal`], [`AllowAll`] | who may see what |
//! | [`WebError`] | a refused request, as its response |
//! | [`agui`] | AG-UI: the types, the encoder of `AgentEvent`, the host's trait |
//! | [`prometheus`] | the `/metrics` text |

mod auth;
mod error;
mod event;
mod feed;
mod gateway;
mod metrics;
mod request;

pub mod agui;

pub use auth::{AllowAll, Authorize, Grant, Keys, Refusal};
pub use error::WebError;
pub use event::WebEvent;
pub use feed::Feed;
pub use gateway::{Gateway, GatewayBuilder, DEFAULT_CONNECTION_CAPACITY, DEFAULT_MAX_CONNECTIONS};
pub use metrics::{prometheus, GatewayCounts};
