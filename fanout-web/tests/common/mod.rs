//! The tests' server (the gateway on a loopback port, on the test's own runtime) and SSE client
//! (reqwest, reading the body chunk by chunk and parsing frames as a browser does).

#![allow(dead_code)]

pub mod js;

use std::net::SocketAddr;
use std::time::Duration;

use fanout::{topic, Event, Topic};
use fanout_web::WebEvent;

/// A test event: its key, its number in the test, its topic (`a` or `b`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ev {
    pub key: Option<u32>,
    pub n: u64,
    pub b: bool,
}

pub const A: Topic = topic!(0);
pub const B: Topic = topic!(1);

impl Ev {
    pub fn a(key: u32, n: u64) -> Ev {
        Ev {
            key: Some(key),
            n,
            b: false,
        }
    }
    pub fn b(key: u32, n: u64) -> Ev {
        Ev {
            key: Some(key),
            n,
            b: true,
        }
    }
    pub fn unkeyed(n: u64) -> Ev {
        Ev {
            key: None,
            n,
            b: false,
        }
    }
}

impl Event for Ev {
    fn topic(&self) -> Topic {
        if self.b {
            B
        } else {
            A
        }
    }
}

impl WebEvent for Ev {
    type Key = u32;
    fn key(&self) -> Option<u32> {
        self.key
    }
    fn topic_names() -> &'static [(&'static str, Topic)] {
        &[("a", A), ("b", B)]
    }
}

/// Serves `router` on a free loopback port, on the current runtime.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// How long a test waits for a frame before it fails (a bound, so a bug cannot hang the suite;
/// nothing is timed).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One SSE frame, as a browser's `EventSource` parses it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
    /// Comment lines (`:` keep-alives) in the frame.
    pub comments: usize,
}

impl Frame {
    pub fn seq(&self) -> u64 {
        self.id.as_deref().expect("an id").parse().unwrap()
    }
    pub fn ev(&self) -> Ev {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {:?}", self.data))
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap()
    }
    pub fn is_keep_alive(&self) -> bool {
        self.comments > 0 && self.id.is_none() && self.event.is_none() && self.data.is_empty()
    }
}

/// An open `text/event-stream` response.
pub struct Stream {
    pub response: reqwest::Response,
    buffer: String,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

/// GETs `url` with `headers`; the response whatever its status.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Opens a stream (asserting 200 and the content type).
pub async fn open(url: &str, headers: &[(&str, &str)]) -> Stream {
    let response = get(url, headers).await;
    assert_eq!(response.status(), 200, "GET {url}: {:?}", response.status());
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    Stream {
        response,
        buffer: String::new(),
    }
}

impl Stream {
    /// A stream of a response already checked.
    pub fn new(response: reqwest::Response) -> Stream {
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame, keep-alives included; `None` at the end of the body.
    pub async fn next_raw(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("a frame within the test's patience")
                .expect("the body reads");
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => {
                    assert!(
                        self.buffer.trim().is_empty(),
                        "a partial frame: {:?}",
                        self.buffer
                    );
                    return None;
                }
            }
        }
    }

    /// The next frame that is not a keep-alive or the `retry:` preamble.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            let frame = self.next_raw().await?;
            if frame.is_keep_alive() || (frame.retry.is_some() && frame.data.is_empty()) {
                continue;
            }
            return Some(frame);
        }
    }

    /// The next `n` frames.
    pub async fn take(&mut self, n: usize) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(n);
        for _ in 0..n {
            frames.push(self.next().await.expect("the stream goes on"));
        }
        frames
    }
}

fn parse(block: &str) -> Frame {
    let mut frame = Frame::default();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with(':') {
            frame.comments += 1;
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => frame.id = Some(value.to_owned()),
            "event" => frame.event = Some(value.to_owned()),
            "data" => data.push(value),
            "retry" => frame.retry = value.parse().ok(),
            other => panic!("unknown field {other:?} in {block:?}"),
        }
    }
    frame.data = data.join("\n");
    frame
}
