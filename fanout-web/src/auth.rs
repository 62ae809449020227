//! Authorization: the host's [`Authorize`] hook turns a request (headers, cookie, token) into the
//! [`Grant`] of what its connection may see, or a [`Refusal`].

use std::fmt;

use axum::http::request::Parts;
use axum::http::StatusCode;
use fanout::Topics;

/// What one connection may see: topics, and keys.
///
/// A request asks for a subset (`?topics=`, `?key=`); asking for anything outside its grant is
/// refused with 403 before anything is subscribed, so nothing outside it is ever streamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant<K> {
    /// The topics it may follow (unkeyed events of these topics reach it too).
    pub topics: Topics,
    /// The keys it may follow.
    pub keys: Keys<K>,
}

impl<K> Grant<K> {
    /// Every topic, every key: a trusted operator's dashboard.
    pub fn everything() -> Self {
        Grant {
            topics: Topics::ALL,
            keys: Keys::Any,
        }
    }

    /// Every topic of `key` (and unkeyed events): a user's own tab.
    pub fn key(key: K) -> Self {
        Grant {
            topics: Topics::ALL,
            keys: Keys::Only(vec![key]),
        }
    }

    /// The same grant, limited to `topics`.
    pub fn topics(mut self, topics: impl Into<Topics>) -> Self {
        self.topics = topics.into();
        self
    }
}

/// The keys a [`Grant`] allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keys<K> {
    /// Any key; a request without `?key=` follows all of them.
    Any,
    /// These keys only; a request without `?key=` follows all of these.
    Only(Vec<K>),
}

impl<K: PartialEq> Keys<K> {
    /// Whether `key` is allowed.
    pub fn allows(&self, key: &K) -> bool {
        match self {
            Keys::Any => true,
            Keys::Only(keys) => keys.contains(key),
        }
    }
}

/// Why a request was refused; the response's status and its plain-text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No (valid) credentials: 401.
    Unauthenticated(String),
    /// Credentials, but not for this: 403.
    Forbidden(String),
}

impl Refusal {
    /// The HTTP status: 401 or 403.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        match self {
            Refusal::Unauthenticated(reason) | Refusal::Forbidden(reason) => reason,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status(), self.reason())
    }
}

/// The host's authorization hook: from a request's head (method, URI, headers, cookies), what
/// its connection may see. Called once per request, before anything is subscribed; it runs on
/// the server's runtime, so it must not block for long (look a token up in memory).
///
/// Any `Fn(&Parts) -> Result<Grant<K>, Refusal>` is one.
///
/// # Examples
///
/// ```
/// use fanout_web::{Authorize, Grant, Refusal};
/// use axum::http::Request;
///
/// // Bearer tokens "user-<n>" may see key n.
/// let auth = |req: &axum::http::request::Parts| -> Result<Grant<u32>, Refusal> {
///     let token = req.headers.get("authorization").and_then(|v| v.to_str().ok())
///         .and_then(|v| v.strip_prefix("Bearer user-"))
///         .ok_or_else(|| Refusal::Unauthenticated("a bearer token is required".into()))?;
///     let user = token.parse().map_err(|_| Refusal::Forbidden("unknown user".into()))?;
///     Ok(Grant::key(user))
/// };
/// let (parts, ()) = Request::builder().header("authorization", "Bearer user-7")
///     .body(()).unwrap().into_parts();
/// assert_eq!(auth.authorize(&parts), Ok(Grant::key(7)));
/// ```
pub trait Authorize<K>: Send + Sync + 'static {
    /// What the request's connection may see.
    ///
    /// # Errors
    ///
    /// A [`Refusal`]: the request is answered 401 or 403 and nothing is streamed.
    fn authorize(&self, request: &Parts) -> Result<Grant<K>, Refusal>;
}

impl<K, F> Authorize<K> for F
where
    F: Fn(&Parts) -> Result<Grant<K>, Refusal> + Send + Sync + 'static,
{
    fn authorize(&self, request: &Parts) -> Result<Grant<K>, Refusal> {
        self(request)
    }
}

/// Grants everything to everyone: for a gateway on loopback, or behind a proxy that
/// authenticates. Named, so that no gateway is open by accident.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl<K: 'static> Authorize<K> for AllowAll {
    fn authorize(&self, _: &Parts) -> Result<Grant<K>, Refusal> {
        Ok(Grant::everything())
    }
}
