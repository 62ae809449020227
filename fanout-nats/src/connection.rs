//! Where and how a bridge connects: [`Connection`] (server URL, credentials, client name, timeouts
//! and the report hook), shared by both directions.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::{RequestError, RequestErrorKind};
use async_nats::{ConnectErrorKind, ConnectOptions, Request};

use crate::BridgeError;

/// How many reports the default hook writes to stderr before it says it stops.
const STDERR_REPORTS: u64 = 20;

/// Returns once the server has processed everything `client` sent before the call, its
/// subscriptions included, or an error after `timeout`.
///
/// [`Client::flush`](async_nats::Client::flush) does not promise that: it only writes the
/// client's buffer to the socket, so a message another connection publishes right after a
/// `subscribe` + `flush` can reach the server first and miss the subscription. A server handles
/// one connection's protocol in order, so the answer to a request sent after the subscriptions
/// proves they are in place. The request goes to a fresh inbox subject nobody listens on; the
/// server's "no responders" status is the answer (servers since 2.2, which send headers).
///
/// The [`Importer`](crate::Importer) does this before `start` returns; a test or a tool that
/// watches the bridge's subjects with a client of its own needs it too.
///
/// ```no_run
/// # async fn watch() -> Result<(), Box<dyn std::error::Error>> {
/// let client = async_nats::connect("nats://127.0.0.1:4222").await?;
/// let subscription = client.subscribe("agent.>").await?;
/// fanout_nats::server_round_trip(&client, std::time::Duration::from_secs(5)).await?;
/// // Everything published on `agent.>` from now on, by anyone, reaches `subscription`.
/// # drop(subscription);
/// # Ok(())
/// # }
/// ```
pub async fn server_round_trip(
    client: &async_nats::Client,
    timeout: Duration,
) -> Result<(), RequestError> {
    let request = Request::new().timeout(Some(timeout));
    match client.send_request(client.new_inbox(), request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(e),
    }
}

/// A function that receives the bridge's problem reports (one line each: a malformed message, a
/// failed publish, a lost connection). See [`Connection::on_report`].
pub type ReportHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Where a bridge connects and with what credentials.
///
/// ```
/// use std::time::Duration;
/// use fanout_nats::Connection;
/// let connection = Connection::new("nats://127.0.0.1:4222")
///     .user_and_password("agent-host", "secret")
///     .name("agent-host-1")
///     .connect_timeout(Duration::from_secs(2))
///     .on_report(|line| eprintln!("[nats bridge] {line}"));
/// assert_eq!(connection.url(), "nats://127.0.0.1:4222");
/// ```
#[derive(Clone)]
pub struct Connection {
    url: String,
    auth: Auth,
    name: Option<String>,
    connect_timeout: Duration,
    report: Option<ReportHook>,
}

#[derive(Clone)]
enum Auth {
    None,
    UserPassword(String, String),
    Token(String),
}

impl Connection {
    /// A connection to `url` (`nats://host:port`), with no credentials, a 5 s connect timeout
    /// and reports written to stderr (the first 20, then a line saying the rest are only counted).
    pub fn new(url: impl Into<String>) -> Self {
        Connection {
            url: url.into(),
            auth: Auth::None,
            name: None,
            connect_timeout: Duration::from_secs(5),
            report: None,
        }
    }

    /// Authenticate with a user and password.
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth = Auth::UserPassword(user.into(), password.into());
        self
    }

    /// Authenticate with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Token(token.into());
        self
    }

    /// The client name the server shows for this connection.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long the first connection may take before the bridge gives up starting.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Send the bridge's problem reports to `hook` instead of stderr. Every report is also
    /// counted in the bridge's stats; the hook is for the log line.
    pub fn on_report(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.report = Some(Arc::new(hook));
        self
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How long connecting may take; answers from the server get as long.
    pub(crate) fn patience(&self) -> Duration {
        self.connect_timeout
    }

    pub(crate) fn reporter(&self, bridge: &str) -> Reporter {
        Reporter {
            hook: self.report.clone(),
            bridge: bridge.to_owned(),
            written: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Connects (on the caller's runtime). The client reconnects by itself after that, forever,
    /// with a short backoff; `events` receives its connection events. `subscription_capacity`
    /// bounds each subscription's buffer in the client (its default if `None`).
    pub(crate) async fn connect(
        &self,
        subscription_capacity: Option<usize>,
        events: impl Fn(async_nats::Event) + Send + Sync + 'static,
    ) -> Result<async_nats::Client, BridgeError> {
        let mut options = match &self.auth {
            Auth::None => ConnectOptions::new(),
            Auth::UserPassword(user, pass) => {
                ConnectOptions::with_user_and_password(user.clone(), pass.clone())
            }
            Auth::Token(token) => ConnectOptions::with_token(token.clone()),
        };
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        if let Some(capacity) = subscription_capacity {
            options = options.subscription_capacity(capacity);
        }
        let events = Arc::new(events);
        options = options
            .connection_timeout(self.connect_timeout)
            .max_reconnects(None)
            // Loopback and LAN servers come back in well under a second; poll them briskly.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 50).min(1000))
            })
            .event_callback(move |event| {
                let events = events.clone();
                async move { events(event) }
            });
        let connect = options.connect(self.url.as_str());
        match tokio::time::timeout(self.connect_timeout + Duration::from_secs(1), connect).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication
                ) =>
            {
                Err(BridgeError::Unauthorized {
                    url: self.url.clone(),
                })
            }
            Ok(Err(e)) => Err(BridgeError::Connect {
                url: self.url.clone(),
                reason: e.to_string(),
            }),
            Err(_) => Err(BridgeError::Connect {
                url: self.url.clone(),
                reason: format!("timed out after {:?}", self.connect_timeout),
            }),
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match self.auth {
            Auth::None => "none",
            Auth::UserPassword(..) => "user and password",
            Auth::Token(_) => "token",
        };
        f.debug_struct("Connection")
            .field("url", &self.url)
            .field("auth", &auth)
            .field("name", &self.name)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Writes a bridge's reports to its hook, or to stderr (bounded).
#[derive(Clone)]
pub(crate) struct Reporter {
    hook: Option<ReportHook>,
    bridge: String,
    written: Arc<AtomicU64>,
}

impl Reporter {
    pub fn report(&self, line: impl fmt::Display) {
        match &self.hook {
            Some(hook) => hook(&format!("{}: {line}", self.bridge)),
            None => {
                let n = self.written.fetch_add(1, Relaxed);
                if n < STDERR_REPORTS {
                    eprintln!("fanout-nats {}: {line}", self.bridge);
                } else if n == STDERR_REPORTS {
                    eprintln!(
                        "fanout-nats {}: further reports are only counted in its stats",
                        self.bridge
                    );
                }
            }
        }
    }
}
