//! [`JsonLinesRecorder`]: a tap handler that writes every event it gets as one JSON line.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::tap::{Received, TapEnd, TapHandler};

/// A [`TapHandler`] that writes each event as one line of JSON (JSON Lines), and each lag report
/// as a line `{"lagged":n}`, so a gap in the log is visible and counted.
///
/// It buffers lines itself and hands them to `W` (a [`File`] with [`create`](Self::create))
/// whenever the tap's queue runs dry, when 8 KiB are buffered and when the tap ends. Its counts
/// are an audit trail: a line counts as written only once the writer took all of it, and the
/// first I/O error is kept, after which every item is counted as [`skipped`](Self::skipped). Give its tap [`Overflow::Block`](crate::Overflow::Block)
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
    /// Whole lines not yet handed to `writer` (reused: no allocation per line once grown).
    buffer: Vec<u8>,
    /// For each line in `buffer`: where it ends, and whether it is a lag line.
    pending: Vec<(usize, bool)>,
    lines: u64,
    lag_lines: u64,
    skipped: u64,
    error: Option<io::Error>,
}

/// The buffer is written out when it grows past this (and whenever the tap's queue runs dry).
const FLUSH_AT: usize = 8 * 1024;

impl JsonLinesRecorder<File> {
    /// A recorder writing to a new (or truncated) file at `path`. It buffers lines itself (no
    /// `BufWriter` needed) and counts a line only once the file has taken all of it.
    ///
    /// # Errors
    ///
    /// The error of [`File::create`].
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(JsonLinesRecorder::new(File::create(path)?))
    }
}

impl<W: Write> JsonLinesRecorder<W> {
    /// A recorder writing to `writer`. Lines are buffered here and written out in runs; a line
    /// counts as written once `writer` has accepted every byte of it and `flush` succeeded (a
    /// `writer` that buffers on its own, such as a `BufWriter`, is taken at its word).
    pub fn new(writer: W) -> Self {
        JsonLinesRecorder {
            writer,
            buffer: Vec::new(),
            pending: Vec::new(),
            lines: 0,
            lag_lines: 0,
            skipped: 0,
            error: None,
        }
    }

    /// Event lines written (accepted whole by the writer).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// `{"lagged":n}` lines written (accepted whole by the writer).
    pub fn lag_lines(&self) -> u64 {
        self.lag_lines
    }

    /// Items (events and lag reports) that did not reach the writer because of an error: the
    /// lines the writer did not take when it failed, and every item after that. Every item the
    /// recorder was handed is in exactly one of `lines`, `lag_lines` and `skipped` once the tap
    /// has ended.
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

    /// Appends one line to the buffer; a value that cannot be serialized leaves no partial line.
    fn buffer_line(&mut self, value: &impl Serialize, lag: bool) -> io::Result<()> {
        let start = self.buffer.len();
        if let Err(err) = serde_json::to_writer(&mut self.buffer, value) {
            self.buffer.truncate(start);
            return Err(err.into());
        }
        self.buffer.push(b'\n');
        self.pending.push((self.buffer.len(), lag));
        Ok(())
    }

    /// Hands the buffered lines to the writer and counts those it took whole; on an error the
    /// rest are counted as skipped and the error is kept.
    fn write_out(&mut self) {
        let mut written = 0;
        let mut outcome = Ok(());
        while written < self.buffer.len() {
            match self.writer.write(&self.buffer[written..]) {
                Ok(0) => {
                    outcome = Err(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    outcome = Err(err);
                    break;
                }
            }
        }
        if outcome.is_ok() {
            outcome = self.writer.flush();
            if outcome.is_err() {
                // Nothing says how much of what it buffered reached its destination.
                written = 0;
            }
        }
        for &(end, lag) in &self.pending {
            match (end <= written, lag) {
                (true, false) => self.lines += 1,
                (true, true) => self.lag_lines += 1,
                (false, _) => self.skipped += 1,
            }
        }
        self.buffer.clear();
        self.pending.clear();
        self.record(outcome);
    }

    fn record(&mut self, outcome: io::Result<()>) {
        if let Err(err) = outcome {
            self.error.get_or_insert(err);
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
            Received::Event(event) => self.buffer_line(event, false),
            Received::Lagged(n) => self.buffer_line(&LagLine { lagged: *n }, true),
        };
        if outcome.is_err() {
            self.skipped += 1;
            self.record(outcome);
        } else if self.buffer.len() >= FLUSH_AT {
            self.write_out();
        }
    }

    fn on_idle(&mut self) {
        if self.error.is_none() {
            self.write_out();
        }
    }

    fn on_stop(&mut self, _end: TapEnd) {
        if self.error.is_none() {
            self.write_out();
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
