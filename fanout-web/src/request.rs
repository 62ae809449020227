//! A stream request, read and checked: `?topics=a,b`, `?key=k`, `Last-Event-ID` (header, or
//! `?last_event_id=` for a first connection that resumes), against the connection's [`Grant`].

use axum::extract::Query;
use axum::http::request::Parts;
use fanout::Topics;

use crate::feed::KeySet;
use crate::{Grant, Keys, WebError, WebEvent};

/// The query string of `GET /events`; any other parameter is refused (a typo must not widen or
/// narrow a stream silently).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    topics: Option<String>,
    key: Option<String>,
    last_event_id: Option<String>,
}

/// What a checked request asks for.
#[derive(Debug)]
pub(crate) struct Asked<K> {
    pub(crate) topics: Topics,
    pub(crate) keys: KeySet<K>,
    pub(crate) last_event_id: Option<u64>,
}

/// Reads `?topics=`, `?key=` and `Last-Event-ID` (syntax only: 400 on anything malformed).
pub(crate) struct Raw<K> {
    topics: Option<Topics>,
    key: Option<K>,
    pub(crate) last_event_id: Option<u64>,
}

pub(crate) fn read<E: WebEvent>(parts: &Parts) -> Result<Raw<E::Key>, WebError> {
    let Query(params) = Query::<Params>::try_from_uri(&parts.uri)
        .map_err(|err| WebError::bad_request(format!("bad query string: {}", err.body_text())))?;
    let topics = match params.topics.as_deref() {
        None => None,
        Some(list) => Some(parse_topics::<E>(list)?),
    };
    let key = match params.key.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<E::Key>()
                .map_err(|_| WebError::bad_request(format!("malformed key {text:?}")))?,
        ),
    };
    let header = match parts.headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| WebError::bad_request("Last-Event-ID is not text"))?
                .to_owned(),
        ),
    };
    // The header (a browser's reconnect) wins over the query (the page's first URL).
    let last_event_id = match header.or(params.last_event_id) {
        None => None,
        Some(text) if text.trim().is_empty() => None,
        Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
            WebError::bad_request(format!(
                "malformed Last-Event-ID {text:?}: expected a sequence number this gateway gave"
            ))
        })?),
    };
    Ok(Raw {
        topics,
        key,
        last_event_id,
    })
}

/// `a,b,c` into topics: every name known, at least one.
fn parse_topics<E: WebEvent>(list: &str) -> Result<Topics, WebError> {
    let mut topics = Topics::NONE;
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(WebError::bad_request(format!(
                "empty topic name in {list:?}"
            )));
        }
        let topic = E::topic_by_name(name).ok_or_else(|| {
            let known: Vec<&str> = E::topic_names().iter().map(|(n, _)| *n).collect();
            WebError::bad_request(format!(
                "unknown topic {name:?} (known: {})",
                known.join(", ")
            ))
        })?;
        topics |= topic;
    }
    Ok(topics)
}

impl<K: Clone + PartialEq + std::fmt::Display> Raw<K> {
    /// The request checked against its grant: 403 for anything outside it.
    pub(crate) fn within(self, grant: &Grant<K>) -> Result<Asked<K>, WebError> {
        let topics = match self.topics {
            None => grant.topics,
            Some(asked) => {
                if asked.bits() & !grant.topics.bits() != 0 {
                    return Err(WebError::forbidden(
                        "this connection may not follow some of the topics asked for",
                    ));
                }
                asked
            }
        };
        if topics.is_empty() {
            return Err(WebError::forbidden("this connection may follow no topic"));
        }
        let keys = match (self.key, &grant.keys) {
            (Some(key), keys) if keys.allows(&key) => KeySet::Only(vec![key].into()),
            (Some(key), _) => {
                return Err(WebError::forbidden(format!(
                    "this connection may not follow key {key}"
                )))
            }
            (None, Keys::Any) => KeySet::All,
            (None, Keys::Only(keys)) if keys.is_empty() => {
                return Err(WebError::forbidden("this connection may follow no key"))
            }
            (None, Keys::Only(keys)) => KeySet::Only(keys.clone().into()),
        };
        Ok(Asked {
            topics,
            keys,
            last_event_id: self.last_event_id,
        })
    }
}
