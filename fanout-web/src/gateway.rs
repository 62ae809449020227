//! [`Gateway`]: the configuration, the shared state of every connection, and the router.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as Frame, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use fanout::error::BuildError;
use fanout::{Overflow, MAX_CAPACITY};
use futures_util::stream::{self, Stream};
use tokio::sync::watch;

use crate::agui::{self, AguiHost};
use crate::error::NotOpened;
use crate::feed::{Follow, Start, Step, Target};
use crate::{metrics, request, Authorize, Feed, WebError, WebEvent};

/// The default queue capacity of a connection's subscriber.
pub const DEFAULT_CONNECTION_CAPACITY: usize = 1024;
/// The default bound on open streams.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Builds a [`Gateway`]: from [`Gateway::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct GatewayBuilder<E: WebEvent> {
    feed: Feed<E>,
    auth: Arc<dyn Authorize<E::Key>>,
    capacity: usize,
    overflow: Overflow,
    max_connections: usize,
    keep_alive: Duration,
    retry: Duration,
    body_limit: usize,
    agui: Option<Arc<dyn AguiHost<E>>>,
}

impl<E: WebEvent> GatewayBuilder<E> {
    /// Each connection's queue capacity, in `1..=MAX_CAPACITY` (default
    /// [`DEFAULT_CONNECTION_CAPACITY`]).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Each connection's overflow policy (default `DropOldest`: a slow tab loses the oldest
    /// events, gets a gap frame, and on a bus with history gets them back from it where it
    /// still holds them). `Disconnect` ends a slow connection's stream with an `overflowed`
    /// frame (the browser reconnects and resumes); `Block` makes publishers wait for the
    /// slowest tab (lossless, rarely what a host wants).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// The most streams open at once (`/events` and AG-UI runs together); beyond it a request is
    /// answered 503 with `Retry-After` (default [`DEFAULT_MAX_CONNECTIONS`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How often an idle stream gets a keep-alive comment (default 15 s).
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.keep_alive = every;
        self
    }

    /// The reconnection delay a stream asks its browser for (`retry:`, default 1 s).
    pub fn retry(mut self, after: Duration) -> Self {
        self.retry = after;
        self
    }

    /// The largest request body accepted (the AG-UI `RunAgentInput`), in bytes; larger is 413
    /// (default 1 MiB).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Serves `POST /agui` for this host (see [`AguiHost`]).
    pub fn agui(mut self, host: impl AguiHost<E>) -> Self {
        self.agui = Some(Arc::new(host));
        self
    }

    /// The gateway.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroCapacity`] or [`BuildError::CapacityTooLarge`] for the connections'
    /// capacity.
    pub fn build(self) -> Result<Gateway<E>, BuildError> {
        if self.capacity == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        if self.capacity > MAX_CAPACITY {
            return Err(BuildError::CapacityTooLarge {
                requested: self.capacity,
            });
        }
        let (stop, _) = watch::channel(0);
        Ok(Gateway {
            shared: Arc::new(Shared {
                feed: self.feed,
                auth: self.auth,
                capacity: self.capacity,
                overflow: self.overflow,
                max_connections: self.max_connections,
                keep_alive: self.keep_alive,
                retry: self.retry,
                body_limit: self.body_limit,
                agui: self.agui,
                open: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                refused_full: AtomicU64::new(0),
                repaired: Arc::new(AtomicU64::new(0)),
                stop,
            }),
        })
    }
}

/// An SSE gateway in front of a fanout bus.
///
/// Its [`router`](Self::router) serves:
///
/// - `GET /events?topics=a,b&key=k`: a `text/event-stream` of the bus, one subscriber per
///   connection, limited to what the host's [`Authorize`] hook grants. Frames: `id:` the
///   event's sequence number (on a [`HistoryBus`](fanout::HistoryBus)), `event:` its
///   [`event_name`](WebEvent::event_name), `data:` its JSON; `event: gap` with
///   `{"missed":n}` where the connection lost `n` events for good; `event: close` when the bus
///   closed; keep-alive comments. A reconnect with `Last-Event-ID` resumes after that number
///   with no gap and no duplicate.
/// - `POST /agui`: an AG-UI run (see [`AguiHost`]), when configured.
/// - `GET /metrics`: Prometheus text from the bus's stats; `GET /stats.json` the same as JSON;
///   `GET /dashboard`: a page showing them live, and one stream.
///
/// Statuses: 400 for malformed input (a query parameter, topic name, key or `Last-Event-ID`,
/// a body), 401/403 from the hook or for asking beyond the grant, 409 for a `Last-Event-ID`
/// beyond the bus's last number, 413 for a body over the limit, 503 beyond
/// [`max_connections`](GatewayBuilder::max_connections), 204 when the bus is closed (a
/// browser's `EventSource` stops reconnecting).
///
/// A `Gateway` is a cheap handle (`Clone`); the router holds one.
pub struct Gateway<E: WebEvent> {
    shared: Arc<Shared<E>>,
}

impl<E: WebEvent> Clone for Gateway<E> {
    fn clone(&self) -> Self {
        Gateway {
            shared: Arc::clone(&self.shared),
        }
    }
}

pub(crate) struct Shared<E: WebEvent> {
    pub(crate) feed: Feed<E>,
    pub(crate) auth: Arc<dyn Authorize<E::Key>>,
    capacity: usize,
    overflow: Overflow,
    max_connections: usize,
    keep_alive: Duration,
    retry: Duration,
    pub(crate) body_limit: usize,
    pub(crate) agui: Option<Arc<dyn AguiHost<E>>>,
    open: AtomicUsize,
    next_id: AtomicU64,
    refused_full: AtomicU64,
    repaired: Arc<AtomicU64>,
    stop: watch::Sender<u64>,
}

impl<E: WebEvent> Gateway<E> {
    /// A builder for a gateway of `feed` (a [`Bus`](fanout::Bus) or a
    /// [`HistoryBus`](fanout::HistoryBus)), whose connections `auth` authorizes (use
    /// [`AllowAll`](crate::AllowAll) to grant everything).
    pub fn builder(feed: impl Into<Feed<E>>, auth: impl Authorize<E::Key>) -> GatewayBuilder<E> {
        GatewayBuilder {
            feed: feed.into(),
            auth: Arc::new(auth),
            capacity: DEFAULT_CONNECTION_CAPACITY,
            overflow: Overflow::DropOldest,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keep_alive: Duration::from_secs(15),
            retry: Duration::from_secs(1),
            body_limit: 1 << 20,
            agui: None,
        }
    }

    /// The routes (see [`Gateway`]); nest them under a prefix with `Router::nest`.
    pub fn router(&self) -> Router {
        let mut router = Router::new()
            .route("/events", get(events::<E>))
            .route("/metrics", get(metrics_text::<E>))
            .route("/stats.json", get(stats_json::<E>))
            .route("/dashboard", get(dashboard));
        if self.shared.agui.is_some() {
            router = router.route("/agui", post(agui::endpoint::<E>));
        }
        router.with_state(Arc::clone(&self.shared))
    }

    /// Streams open now.
    pub fn connections(&self) -> usize {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Events connections lost and got back from the history (never in a gap frame), so far.
    pub fn repaired(&self) -> u64 {
        self.shared.repaired()
    }

    /// Ends every open stream now (without a `close` frame): browsers reconnect by themselves
    /// and resume with `Last-Event-ID`. For a deploy's drain, or a test.
    pub fn disconnect_all(&self) {
        self.shared.stop.send_modify(|generation| *generation += 1);
    }

    /// The bus.
    pub fn feed(&self) -> &Feed<E> {
        &self.shared.feed
    }
}

/// A reserved place among the open streams, given back on drop (when the client goes away,
/// hyper drops the body, and with it this and the subscriber).
pub(crate) struct Slot<E: WebEvent> {
    shared: Arc<Shared<E>>,
    pub(crate) id: u64,
}

impl<E: WebEvent> Drop for Slot<E> {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<E: WebEvent> Shared<E> {
    /// A place for one more stream, or 503.
    pub(crate) fn reserve(self: &Arc<Self>) -> Result<Slot<E>, WebError> {
        let reserved = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < self.max_connections).then_some(open + 1)
            });
        if reserved.is_err() {
            self.refused_full.fetch_add(1, Ordering::Relaxed);
            return Err(WebError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{} streams are open, the most this gateway takes",
                    self.max_connections
                ),
            ));
        }
        Ok(Slot {
            shared: Arc::clone(self),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Subscribes one connection (its slot already reserved).
    pub(crate) fn follow(
        &self,
        name: String,
        topics: fanout::Topics,
        keys: crate::feed::KeySet<E::Key>,
        start: Start,
        capacity: Option<usize>,
    ) -> Result<Follow<E>, NotOpened> {
        let target = Target {
            name,
            topics,
            keys,
            capacity: capacity.unwrap_or(self.capacity),
            overflow: self.overflow,
        };
        let repaired = Arc::clone(&self.repaired);
        Follow::new(self.feed.clone(), target, start, repaired).map_err(|err| match err {
            BuildError::Closed => NotOpened::Closed,
            BuildError::ReplayFromFuture { requested, last } => WebError::new(
                StatusCode::CONFLICT,
                format!(
                    "Last-Event-ID {requested} is beyond this bus's last sequence number {last} \
                     (a cursor from another run of the server?): reconnect without it"
                ),
            )
            .into(),
            other => WebError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()).into(),
        })
    }

    pub(crate) fn stop_signal(&self) -> watch::Receiver<u64> {
        self.stop.subscribe()
    }

    pub(crate) fn keep_alive(&self) -> KeepAlive {
        KeepAlive::new().interval(self.keep_alive)
    }

    pub(crate) fn refused_full(&self) -> u64 {
        self.refused_full.load(Ordering::Relaxed)
    }

    pub(crate) fn repaired(&self) -> u64 {
        self.repaired.load(Ordering::Relaxed)
    }

    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// `GET /events`.
async fn events<E: WebEvent>(State(shared): State<Arc<Shared<E>>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    open_stream(&shared, &parts).unwrap_or_else(IntoResponse::into_response)
}

fn open_stream<E: WebEvent>(
    shared: &Arc<Shared<E>>,
    parts: &axum::http::request::Parts,
) -> Result<Response, NotOpened> {
    let raw = request::read::<E>(parts)?;
    if raw.last_event_id.is_some() && matches!(shared.feed, Feed::Plain(_)) {
        return Err(WebError::bad_request(
            "this gateway's bus keeps no history, so it cannot resume from a Last-Event-ID",
        )
        .into());
    }
    let grant = shared.auth.authorize(parts)?;
    let asked = raw.within(&grant)?;
    let slot = shared.reserve()?;
    let start = asked.last_event_id.map_or(Start::Now, Start::After);
    let follow = shared.follow(
        format!("sse-{}", slot.id),
        asked.topics,
        asked.keys,
        start,
        None,
    )?;
    let live = Live {
        follow,
        stop: shared.stop_signal(),
        first: Some(Frame::default().retry(shared.retry)),
        ended: false,
        _slot: slot,
    };
    let frames = stream::unfold(live, |mut live| async move {
        let frame = live.next().await?;
        Some((Ok::<_, Infallible>(frame), live))
    });
    Ok(sse_response(frames, shared.keep_alive()))
}

pub(crate) fn sse_response<S>(frames: S, keep_alive: KeepAlive) -> Response
where
    S: Stream<Item = Result<Frame, Infallible>> + Send + 'static,
{
    let mut response = Sse::new(frames).keep_alive(keep_alive).into_response();
    // A proxy (nginx) must pass frames through as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    response
}

/// One `/events` stream's state.
struct Live<E: WebEvent> {
    follow: Follow<E>,
    stop: watch::Receiver<u64>,
    first: Option<Frame>,
    ended: bool,
    _slot: Slot<E>,
}

impl<E: WebEvent> Live<E> {
    async fn next(&mut self) -> Option<Frame> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.ended {
            return None;
        }
        let step = tokio::select! {
            biased;
            _ = self.stop.changed() => return None,
            step = self.follow.next() => step,
        };
        Some(match step {
            Step::Event(seq, event) => event_frame(seq, &event),
            Step::Gap(missed) => gap_frame(missed),
            Step::Closed => {
                self.ended = true;
                Frame::default().event("close").data("{}")
            }
            Step::Overflowed => {
                self.ended = true;
                Frame::default().event("overflowed").data("{}")
            }
        })
    }
}

/// An event's frame: `id:` its number, `event:` its name, `data:` its JSON. An event the host's
/// type cannot serialize, or whose name is not one line, becomes an `event: invalid` frame (not `error`, which is `EventSource`'s own connection event) (with
/// its `id:`, so the stream and its resume go on).
pub(crate) fn event_frame<E: WebEvent>(seq: Option<u64>, event: &E) -> Frame {
    let frame = match seq {
        Some(seq) => Frame::default().id(seq.to_string()),
        None => Frame::default(),
    };
    let name = event.event_name();
    if let Some(name) = name {
        if name.is_empty() || name.contains(['\r', '\n']) {
            let error =
                serde_json::json!({ "error": format!("event name {name:?} is not one line") });
            return frame.event("invalid").data(error.to_string());
        }
    }
    match serde_json::to_string(event) {
        Ok(json) => match name {
            Some(name) => frame.event(name).data(json),
            None => frame.data(json),
        },
        Err(err) => {
            let error =
                serde_json::json!({ "error": format!("the event does not serialize: {err}") });
            frame.event("invalid").data(error.to_string())
        }
    }
}

/// `event: gap`, `data: {"missed":n}`.
pub(crate) fn gap_frame(missed: u64) -> Frame {
    Frame::default()
        .event("gap")
        .data(serde_json::json!({ "missed": missed }).to_string())
}

/// `GET /metrics`.
async fn metrics_text<E: WebEvent>(State(shared): State<Arc<Shared<E>>>) -> Response {
    let text = metrics::prometheus(
        &shared.feed.stats(),
        &metrics::GatewayCounts {
            connections: shared.open(),
            refused_full: shared.refused_full(),
            repaired: shared.repaired(),
        },
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /stats.json`.
async fn stats_json<E: WebEvent>(State(shared): State<Arc<Shared<E>>>) -> Response {
    let body = serde_json::json!({
        "bus": shared.feed.stats(),
        "connections": shared.open(),
        "refused_full": shared.refused_full(),
        "repaired": shared.repaired(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /dashboard`.
async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}
