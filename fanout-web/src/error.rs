//! [`WebError`]: a request the gateway refused, as the response it becomes.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::Refusal;

/// A request the gateway answers with an error status and a plain-text reason (`fanout-web:
/// <reason>`), before anything is subscribed or streamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebError {
    status: StatusCode,
    reason: String,
}

impl WebError {
    /// An error with this status and reason.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        WebError {
            status,
            reason: reason.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(reason: impl Into<String>) -> Self {
        WebError::new(StatusCode::BAD_REQUEST, reason)
    }

    /// 403 Forbidden.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        WebError::new(StatusCode::FORBIDDEN, reason)
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason given in the body.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl From<Refusal> for WebError {
    fn from(refusal: Refusal) -> Self {
        WebError::new(refusal.status(), refusal.reason())
    }
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.reason)
    }
}

impl std::error::Error for WebError {}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("fanout-web: {}\n", self.reason)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Why a stream is not opened: an error, or (the bus is closed) 204 No Content, which tells a
/// browser's `EventSource` to stop reconnecting.
#[derive(Debug)]
pub(crate) enum NotOpened {
    Error(WebError),
    Closed,
}

impl From<WebError> for NotOpened {
    fn from(error: WebError) -> Self {
        NotOpened::Error(error)
    }
}

impl From<Refusal> for NotOpened {
    fn from(refusal: Refusal) -> Self {
        NotOpened::Error(refusal.into())
    }
}

impl IntoResponse for NotOpened {
    fn into_response(self) -> Response {
        match self {
            NotOpened::Error(error) => error.into_response(),
            NotOpened::Closed => StatusCode::NO_CONTENT.into_response(),
        }
    }
}
