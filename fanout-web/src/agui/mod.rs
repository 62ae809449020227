//! AG-UI: `POST /agui` takes a [`RunAgentInput`], hands it to the host's [`AguiHost`] (which
//! says which key the run's events carry and starts it), and streams that run's events as AG-UI
//! events ([`AguiEncoder`]) until its terminal event.
//!
//! The order is what makes it lossless: the gateway subscribes to the run's key **before** it
//! starts the run, so the run's first event is already the stream's.

mod encode;
mod types;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::sse::Event as Frame;
use axum::response::{IntoResponse, Response};
use fanout::Topics;
use futures_util::stream;
use tokio::sync::watch;

pub use encode::{AgentRunEncoder, AguiEncoder};
pub use types::{AguiEvent, Context, Message, Outcome, Role, RunAgentInput, TokenUsage, Tool};

use crate::error::NotOpened;
use crate::feed::{Follow, KeySet, Start, Step};
use crate::gateway::{sse_response, Shared, Slot};
use crate::{Refusal, WebError, WebEvent};

/// The host's side of `POST /agui`: from the client's input, a [`RunPlan`].
///
/// Any `Fn(RunAgentInput, &Parts) -> Result<RunPlan<E>, Refusal>` is one. The request is also
/// put to the gateway's [`Authorize`](crate::Authorize) hook, and a plan whose key or topics
/// its grant does not cover is refused (403) before anything is subscribed or started.
pub trait AguiHost<E: WebEvent>: Send + Sync + 'static {
    /// Plans the run of `input`: which key its events carry, and how to start it.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] (401 or 403); nothing is started.
    fn plan(&self, input: RunAgentInput, request: &Parts) -> Result<RunPlan<E>, Refusal>;
}

impl<E: WebEvent, F> AguiHost<E> for F
where
    F: Fn(RunAgentInput, &Parts) -> Result<RunPlan<E>, Refusal> + Send + Sync + 'static,
{
    fn plan(&self, input: RunAgentInput, request: &Parts) -> Result<RunPlan<E>, Refusal> {
        self(input, request)
    }
}

/// A run, planned: the key its events carry, the topics worth streaming, the encoder of its
/// events, and what starts it.
pub struct RunPlan<E: WebEvent> {
    /// The key of the run's events (the connection follows only it, and unkeyed events of
    /// `topics`).
    pub key: E::Key,
    /// The topics to follow (default: all).
    pub topics: Topics,
    /// Encodes the run's events, and says when the run is over.
    pub encoder: Box<dyn AguiEncoder<E>>,
    /// Starts the run; called once, after the gateway subscribed, on the server's runtime: it
    /// must return at once (spawn the run on a thread of its own).
    pub start: Box<dyn FnOnce() + Send>,
}

impl<E: WebEvent> RunPlan<E> {
    /// A plan following every topic of `key`.
    pub fn new(
        key: E::Key,
        encoder: impl AguiEncoder<E>,
        start: impl FnOnce() + Send + 'static,
    ) -> Self {
        RunPlan {
            key,
            topics: Topics::ALL,
            encoder: Box::new(encoder),
            start: Box::new(start),
        }
    }
}

/// `POST /agui`.
pub(crate) async fn endpoint<E: WebEvent>(
    State(shared): State<Arc<Shared<E>>>,
    request: Request,
) -> Response {
    run(shared, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run<E: WebEvent>(shared: Arc<Shared<E>>, request: Request) -> Result<Response, NotOpened> {
    let (parts, body) = request.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(WebError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a RunAgentInput is sent as Content-Type: application/json",
        )
        .into());
    }
    let limit = shared.body_limit;
    let too_large = || {
        NotOpened::from(WebError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        ))
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    let input: RunAgentInput = serde_json::from_slice(&bytes)
        .map_err(|err| WebError::bad_request(format!("the body is not a RunAgentInput: {err}")))?;
    let grant = shared.auth.authorize(&parts)?;
    let Some(host) = shared.agui.as_ref() else {
        return Err(WebError::new(StatusCode::NOT_FOUND, "no AG-UI host").into());
    };
    let plan = host.plan(input, &parts)?;
    if !grant.keys.allows(&plan.key) {
        return Err(WebError::forbidden(format!(
            "this connection may not follow key {}",
            plan.key
        ))
        .into());
    }
    let topics = Topics::from_bits(plan.topics.bits() & grant.topics.bits());
    if topics.is_empty() {
        return Err(
            WebError::forbidden("this connection may follow none of the run's topics").into(),
        );
    }
    let slot = shared.reserve()?;
    let follow = shared.follow(
        format!("agui-{}", slot.id),
        topics,
        KeySet::Only(vec![plan.key].into()),
        Start::Now,
        None,
    )?;
    (plan.start)();
    let state = RunStream {
        follow,
        encoder: plan.encoder,
        pending: VecDeque::new(),
        scratch: Vec::new(),
        stop: shared.stop_signal(),
        ended: false,
        _slot: slot,
    };
    let frames = stream::unfold(state, |mut state| async move {
        let frame = state.next().await?;
        Some((Ok::<_, Infallible>(frame), state))
    });
    Ok(sse_response(frames, shared.keep_alive()))
}

/// One AG-UI run stream's state.
struct RunStream<E: WebEvent> {
    follow: Follow<E>,
    encoder: Box<dyn AguiEncoder<E>>,
    pending: VecDeque<AguiEvent>,
    scratch: Vec<AguiEvent>,
    stop: watch::Receiver<u64>,
    ended: bool,
    _slot: Slot<E>,
}

impl<E: WebEvent> RunStream<E> {
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                let data = serde_json::to_string(&event).expect("AG-UI events serialize");
                return Some(Frame::default().data(data));
            }
            if self.ended || self.encoder.is_done() {
                return None;
            }
            let step = tokio::select! {
                biased;
                _ = self.stop.changed() => {
                    self.encoder.abort("the gateway ended the stream", &mut self.scratch);
                    self.ended = true;
                    self.pending.extend(self.scratch.drain(..));
                    continue;
                }
                step = self.follow.next() => step,
            };
            match step {
                Step::Event(_, event) => self.encoder.event(&event, &mut self.scratch),
                Step::Gap(missed) => self.encoder.gap(missed, &mut self.scratch),
                Step::Closed => {
                    self.encoder
                        .abort("the bus closed before the run ended", &mut self.scratch);
                    self.ended = true;
                }
                Step::Overflowed => {
                    self.encoder.abort(
                        "the run's stream fell too far behind and was cut off",
                        &mut self.scratch,
                    );
                    self.ended = true;
                }
            }
            self.pending.extend(self.scratch.drain(..));
        }
    }
}
