//! How events become NATS payloads and back: the [`Codec`] trait and its default, [`JsonCodec`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Turns events into bytes for NATS and bytes back into events.
///
/// Both directions report failure as a [`CodecError`]: the bridge counts it
/// ([`ExportStats::encode_failed`](crate::ExportStats::encode_failed),
/// [`ImportStats::decode_failed`](crate::ImportStats::decode_failed)), reports it, and goes on with
/// the next event. A codec never needs to panic.
///
/// # Examples
///
/// A codec for plain UTF-8 text events:
///
/// ```
/// use fanout_nats::{Codec, CodecError};
/// struct Text;
/// impl Codec<String> for Text {
///     fn encode(&self, event: &String, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         out.extend_from_slice(event.as_bytes());
///         Ok(())
///     }
///     fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
///         String::from_utf8(bytes.to_vec()).map_err(CodecError::new)
///     }
/// }
/// let mut buf = Vec::new();
/// Text.encode(&"hi".to_string(), &mut buf).unwrap();
/// assert_eq!(Text.decode(&buf).unwrap(), "hi");
/// assert!(Text.decode(&[0xff]).is_err());
/// ```
pub trait Codec<E>: Send + Sync + 'static {
    /// Appends `event`'s encoding to `out` (which the bridge clears before each call).
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if the event cannot be encoded; the bridge counts it and skips the event.
    fn encode(&self, event: &E, out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Reads an event from `bytes`.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] if `bytes` is not a valid encoding; the bridge counts it and skips the
    /// message.
    fn decode(&self, bytes: &[u8]) -> Result<E, CodecError>;
}

/// The default codec: serde JSON, one JSON document per message.
///
/// ```
/// use fanout::agent::{AgentEvent, RunId, SessionId};
/// use fanout_nats::{Codec, JsonCodec};
/// let event = AgentEvent::run_completed(SessionId::new(), RunId::new(), 3);
/// let codec = JsonCodec::<AgentEvent>::new();
/// let mut buf = Vec::new();
/// codec.encode(&event, &mut buf).unwrap();
/// assert!(buf.starts_with(br#"{"type":"run_completed""#));
/// assert_eq!(codec.decode(&buf).unwrap(), event);
/// ```
pub struct JsonCodec<E>(PhantomData<fn() -> E>);

impl<E> JsonCodec<E> {
    /// The JSON codec.
    pub const fn new() -> Self {
        JsonCodec(PhantomData)
    }
}

impl<E> Default for JsonCodec<E> {
    fn default() -> Self {
        JsonCodec::new()
    }
}

impl<E> Clone for JsonCodec<E> {
    fn clone(&self) -> Self {
        JsonCodec::new()
    }
}

impl<E> fmt::Debug for JsonCodec<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonCodec")
    }
}

impl<E: Serialize + DeserializeOwned + 'static> Codec<E> for JsonCodec<E> {
    fn encode(&self, event: &E, out: &mut Vec<u8>) -> Result<(), CodecError> {
        serde_json::to_writer(out, event).map_err(CodecError::new)
    }

    fn decode(&self, bytes: &[u8]) -> Result<E, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}

/// Why a [`Codec`] could not encode or decode: a message for the report, nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError(String);

impl CodecError {
    /// An error saying `why`.
    pub fn new(why: impl fmt::Display) -> Self {
        CodecError(why.to_string())
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}
