//! The export's response body: a `std::io::Write` on a blocking thread whose bytes become the
//! chunks of an axum streaming body.
//!
//! [`BodyWriter`] collects output into 64 KiB chunks and hands them to a bounded tokio channel
//! (4 chunks), whose receiver is the response body. A slow client therefore slows the export
//! down instead of growing a buffer: server memory stays flat whatever the record's size.
//!
//! **The first byte decides the status.** Headers go out with the first chunk, so the writer
//! holds a oneshot for the response head: the handler waits on it, and gets either "stream"
//! (the first chunk is ready, or the export finished) or the error the export failed with
//! before it wrote anything (unknown patient, bad parameter), which becomes a 4xx answer.
//!
//! **After the first byte** a failure cannot change the status. For NDJSON the writer only
//! ever ships whole lines, so it drops the partial line, appends one OperationOutcome line
//! (`Error at line N: …`, N being that line's number) and ends the stream cleanly: every line
//! sent stays usable. A Bundle or zip cut in the middle is not a usable file whatever follows,
//! so there the stream ends with an error and the connection is aborted, which a client sees
//! as a truncated transfer rather than a complete-looking file.
//!
//! [`ExportFault`] and [`TestHook`] are test hooks configured on the host.

use std::io::{self, Write};
use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::outcome::FhirError;

/// Chunk size of the response body.
const CHUNK: usize = 64 * 1024;

/// Test hook: every export fails after `after_lines` complete lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportFault {
    /// Lines shipped before the fault.
    pub after_lines: u64,
    /// `false`: the server writes the inline OperationOutcome line and ends cleanly (what a
    /// storage failure does); `true`: the connection is cut instead (a network failure).
    pub cut_connection: bool,
}

/// Test hook: a callback the host runs at a fixed point of an operation (see
/// [`super::FhirConfig`]'s `export_hook` and `import_hook`), so a test can observe or block
/// at that point to order events without timing.
#[derive(Clone)]
pub struct TestHook(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for TestHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestHook")
    }
}

/// One item of the response body.
pub(crate) type Chunk = Result<Bytes, io::Error>;

/// The export side of a streaming response. See the module docs.
pub(crate) struct BodyWriter {
    head: Option<oneshot::Sender<Result<(), FhirError>>>,
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    /// NDJSON: ship whole lines only.
    lines_only: bool,
    /// Complete lines handed over so far (shipped or buffered).
    lines: u64,
    /// Length of the buffer's whole-lines part (kept up to date, so a long line costs no rescans).
    whole: usize,
    /// True once the export wrote anything.
    started: bool,
    fault: Option<ExportFault>,
    hook: Option<TestHook>,
}

impl BodyWriter {
    pub fn new(
        head: oneshot::Sender<Result<(), FhirError>>,
        tx: mpsc::Sender<Chunk>,
        lines_only: bool,
        fault: Option<ExportFault>,
        hook: Option<TestHook>,
    ) -> Self {
        BodyWriter {
            head: Some(head),
            tx,
            buf: Vec::with_capacity(CHUNK),
            lines_only,
            lines: 0,
            whole: 0,
            started: false,
            fault,
            hook,
        }
    }

    /// Ships `buf[..end]`, sending the head first if it has not gone yet.
    fn ship(&mut self, end: usize) -> io::Result<()> {
        if end == 0 {
            return Ok(());
        }
        let first = self.head.is_some();
        if let Some(head) = self.head.take() {
            head.send(Ok(()))
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        }
        let chunk = Bytes::copy_from_slice(&self.buf[..end]);
        self.buf.drain(..end);
        self.whole = self.whole.saturating_sub(end);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        if first && let Some(hook) = &self.hook {
            (hook.0)();
        }
        Ok(())
    }

    /// Where the shippable part of the buffer ends.
    fn shippable(&self) -> usize {
        if self.lines_only {
            self.whole
        } else {
            self.buf.len()
        }
    }

    /// Ends the stream after the export returned `result`.
    pub fn finish(mut self, result: Result<(), phrkit::Error>) {
        match result {
            Ok(()) => {
                let end = self.buf.len();
                if self.ship(end).is_ok()
                    && let Some(head) = self.head.take()
                {
                    let _ = head.send(Ok(())); // an empty body
                }
            }
            Err(e) if !self.started => {
                if let Some(head) = self.head.take() {
                    let _ = head.send(Err(FhirError::from_core(e)));
                }
            }
            Err(e) => self.fail_mid_stream(&e),
        }
    }

    /// A failure after the first byte: see the module docs.
    fn fail_mid_stream(&mut self, e: &phrkit::Error) {
        let cut = self.fault.is_some_and(|f| f.cut_connection);
        if self.lines_only && !cut {
            let keep = self.shippable();
            self.buf.truncate(keep);
            let what = match e {
                phrkit::Error::Storage(_) => "the record store could not be read",
                phrkit::Error::Io(_) => "an I/O error",
                _ => "an internal error",
            };
            let line = serde_json::json!({
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "error",
                    "code": "processing",
                    "diagnostics": format!(
                        "Error at line {}: the export stopped ({what}); the lines before this one are complete",
                        self.lines + 1
                    ),
                }],
            });
            self.buf.extend_from_slice(line.to_string().as_bytes());
            self.buf.push(b'\n');
            let end = self.buf.len();
            let _ = self.ship(end);
        } else {
            let end = self.shippable();
            if self.ship(end).is_ok() {
                let _ = self
                    .tx
                    .blocking_send(Err(io::Error::other("export failed mid-stream")));
            }
        }
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        self.started = true;
        let mut take = data.len();
        let mut fault = false;
        let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some(f) = self.fault
            && self.lines + newlines >= f.after_lines
        {
            // Keep exactly up to the fault line's newline, then fail.
            let wanted = f.after_lines.saturating_sub(self.lines);
            take = if wanted == 0 {
                0
            } else {
                data.iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .nth(wanted as usize - 1)
                    .map_or(data.len(), |(i, _)| i + 1)
            };
            fault = true;
        }
        let kept = &data[..take];
        self.lines += kept.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some(i) = kept.iter().rposition(|&b| b == b'\n') {
            self.whole = self.buf.len() + i + 1;
        }
        self.buf.extend_from_slice(kept);
        if self.buf.len() >= CHUNK {
            let end = self.shippable();
            self.ship(end)?;
        }
        if fault {
            return Err(io::Error::other("injected fault"));
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // chunks go out when full or at the end; a flush must not break line batching
    }
}
