//! What can stop a bridge from starting: [`BridgeError`].

use std::fmt;

/// Why an [`Exporter`](crate::Exporter) or [`Importer`](crate::Importer) could not start.
///
/// Once started, a bridge never stops on a bad event or a network error: those are counted in its
/// stats and reported through its [report hook](crate::Connection::on_report).
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// The server rejected the credentials (an authorization violation): check the user and
    /// password or token given to [`Connection`](crate::Connection).
    Unauthorized {
        /// The server's URL.
        url: String,
    },
    /// The server could not be reached or the connection failed for another reason.
    Connect {
        /// The server's URL.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// A JetStream stream or consumer could not be created or looked up.
    JetStream(String),
    /// The core NATS subscription could not be made.
    Subscribe(String),
    /// The bridge's bus subscriber could not be built (a capacity of 0, say).
    Bus(fanout::error::BuildError),
    /// The bridge's runtime or threads could not be started.
    Runtime(std::io::Error),
    /// The builder's settings cannot be used together, or one is invalid (what, in words).
    Config(String),
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::Unauthorized { url } => write!(
                f,
                "the NATS server at {url} rejected the credentials (authorization violation): \
                 check the user and password or token"
            ),
            BridgeError::Connect { url, reason } => {
                write!(f, "cannot connect to the NATS server at {url}: {reason}")
            }
            BridgeError::JetStream(why) => write!(f, "JetStream: {why}"),
            BridgeError::Subscribe(why) => write!(f, "cannot subscribe: {why}"),
            BridgeError::Bus(e) => write!(f, "cannot subscribe to the bus: {e}"),
            BridgeError::Runtime(e) => write!(f, "cannot start the bridge's runtime: {e}"),
            BridgeError::Config(why) => write!(f, "invalid bridge settings: {why}"),
        }
    }
}

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BridgeError::Bus(e) => Some(e),
            BridgeError::Runtime(e) => Some(e),
            _ => None,
        }
    }
}
