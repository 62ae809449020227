//! [`JsonLinesRecorder`]: a tap handler that writes every event it gets as one JSON line.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::{Received, TapEnd, TapHandler};

/// A [`TapHandler`] that writes each event as one line of JSON (JSON Lines), and each lag report
/// as a line `{"lagged":n}`, so a gap in the log is visible and counted.
///
/// It writes through `W` (a [`BufWriter`] over a file with [`create`](Self::create)), flushes
/// whenever the tap's queue runs dry and when the tap ends, and remembers the first I/O error
/// (after which it writes nothing more). Give its tap [`Overflow::Block`](crate::Overflow::Block)
/// for an audit log that loses nothing, and [`topics::AUDIT`](super::topics::AUDIT) to leave out
/// per-token deltas.
///
/// # Examples
///
/// ```
/// use fanout::agent::{now_ms, topics, AgentEvent, JsonLinesRecorder, SessionId};
/// use fanout::{Bus, Overflow};
///
/// let path = std::env::temp_dir().join(format!("fanout-doc-audit-{}.jsonl", std::process::id()));
/// let bus = Bus::new();
/// let audit = bus
///     .tap()
///     .name("audit")
///     .topics(topics::AUDIT)
///     .overflow(Overflow::Block)
///     .spawn(JsonLinesRecorder::create(&path).unwrap())
///     .unwrap();
///
/// let session = SessionId::new();
/// for _ in 0..10 {
///     bus.publish(AgentEvent::SessionStarted { session, timestamp_ms: now_ms() }).unwrap();
/// }
/// bus.close();
/// let (report, recorder) = audit.join_handler();
/// assert_eq!((report.stats.events, recorder.lines()), (10, 10));
/// assert!(recorder.error().is_none());
/// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 10);
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct JsonLinesRecorder<W: Write> {
    writer: W,
    lines: u64,
    lag_lines: u64,
    skipped: u64,
    error: Option<io::Error>,
}

impl JsonLinesRecorder<BufWriter<File>> {
    /// A recorder writing to a new (or truncated) file at `path`.
    ///
    /// # Errors
    ///
    /// The error of [`File::create`].
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(JsonLinesRecorder::new(BufWriter::new(File::create(path)?)))
    }
}

impl<W: Write> JsonLinesRecorder<W> {
    /// A recorder writing to `writer`.
    pub fn new(writer: W) -> Self {
        JsonLinesRecorder {
            writer,
            lines: 0,
            lag_lines: 0,
            skipped: 0,
            error: None,
        }
    }

    /// Event lines written.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// `{"lagged":n}` lines written.
    pub fn lag_lines(&self) -> u64 {
        self.lag_lines
    }

    /// Items not written because of an earlier I/O error.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The first I/O (or serialization) error, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.writer
    }

    fn write_line(&mut self, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.writer, value)?;
        self.writer.write_all(b"\n")
    }

    fn record(&mut self, outcome: io::Result<()>) {
        if let Err(err) = outcome {
            self.error = Some(err);
        }
    }
}

/// The line written for a lag report.
#[derive(Serialize)]
struct LagLine {
    lagged: u64,
}

impl<E, W> TapHandler<E> for JsonLinesRecorder<W>
where
    E: Serialize,
    W: Write + Send + 'static,
{
    fn on_item(&mut self, item: Received<E>) {
        if self.error.is_some() {
            self.skipped += 1;
            return;
        }
        let outcome = match &item {
            Received::Event(event) => self.write_line(event),
            Received::Lagged(n) => self.write_line(&LagLine { lagged: *n }),
        };
        match (outcome, item) {
            (Ok(()), Received::Event(_)) => self.lines += 1,
            (Ok(()), Received::Lagged(_)) => self.lag_lines += 1,
            (Err(err), _) => self.record(Err(err)),
        }
    }

    fn on_idle(&mut self) {
        if self.error.is_none() {
            let outcome = self.writer.flush();
            self.record(outcome);
        }
    }

    fn on_stop(&mut self, _end: TapEnd) {
        if self.error.is_none() {
            let outcome = self.writer.flush();
            self.record(outcome);
        }
    }
}

impl<W: Write> fmt::Debug for JsonLinesRecorder<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesRecorder")
            .field("lines", &self.lines)
            .field("lag_lines", &self.lag_lines)
            .field("skipped", &self.skipped)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
