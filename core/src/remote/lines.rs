//! [`CompleteLines`]: a pulled body passed on whole lines at a time, a cut turned into a clean
//! end at the last complete line (see the module doc of [`super`]).

use super::{Cut, PullProgress};
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// What [`CompleteLines`] has seen, shared with the caller.
#[derive(Debug, Clone, Default)]
pub struct LineState {
    /// Bytes and lines received so far.
    pub progress: PullProgress,
    /// Set when the inner reader failed mid-stream.
    pub cut: Option<Cut>,
}

/// A reader that passes on only complete lines and turns a mid-stream failure into a clean
/// end at the last complete line (recording the cut in the shared [`LineState`]). A final line
/// without a newline is complete only if the stream ended cleanly.
pub struct CompleteLines<'p, R> {
    inner: R,
    /// Received, not yet passed on; `buf[..ready]` is whole lines.
    buf: Vec<u8>,
    pos: usize,
    ready: usize,
    done: bool,
    last_report: u64,
    state: Arc<Mutex<LineState>>,
    progress: &'p (dyn Fn(&PullProgress) + Sync),
}

impl<'p, R: Read> CompleteLines<'p, R> {
    /// Wraps `inner`; `total` is the expected size if known; `state` receives the counts.
    pub fn new(
        inner: R,
        total: Option<u64>,
        state: Arc<Mutex<LineState>>,
        progress: &'p (dyn Fn(&PullProgress) + Sync),
    ) -> Self {
        if let Ok(mut s) = state.lock() {
            s.progress.total_bytes = total;
        }
        CompleteLines {
            inner,
            buf: Vec::with_capacity(128 * 1024),
            pos: 0,
            ready: 0,
            done: false,
            last_report: 0,
            state,
            progress,
        }
    }

    /// Counts the lines in `buf[from..to]` (each ending at a newline, or at `to`).
    fn count_lines(&mut self, from: usize, to: usize, received: u64) {
        let Ok(mut s) = self.state.lock() else { return };
        s.progress.bytes = received;
        for line in self.buf[from..to].split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            s.progress.resources += 1;
            let ty = resource_type(line).unwrap_or("(unknown)");
            *s.progress.by_type.entry(ty.to_owned()).or_insert(0) += 1;
        }
        if received - self.last_report >= 256 * 1024 || self.done {
            self.last_report = received;
            (self.progress)(&s.progress);
        }
    }

    fn fill(&mut self) {
        self.buf.drain(..self.pos);
        self.ready -= self.pos;
        self.pos = 0;
        let start = self.buf.len();
        self.buf.resize(start + 64 * 1024, 0);
        let result = loop {
            match self.inner.read(&mut self.buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let received = self
            .state
            .lock()
            .map(|s| s.progress.bytes)
            .unwrap_or_default();
        match result {
            Ok(0) => {
                self.buf.truncate(start);
                self.done = true;
                let from = self.ready;
                self.ready = self.buf.len();
                self.count_lines(from, self.ready, received);
            }
            Ok(n) => {
                self.buf.truncate(start + n);
                if let Some(nl) = self.buf[start..].iter().rposition(|&b| b == b'\n') {
                    let from = self.ready;
                    self.ready = start + nl + 1;
                    self.count_lines(from, self.ready - 1, received + n as u64);
                } else if let Ok(mut s) = self.state.lock() {
                    s.progress.bytes = received + n as u64;
                }
            }
            Err(e) => {
                self.buf.truncate(start);
                self.done = true;
                let dropped = (self.buf.len() - self.ready) as u64;
                self.buf.truncate(self.ready);
                if let Ok(mut s) = self.state.lock() {
                    s.cut = Some(Cut {
                        bytes_received: received,
                        lines_kept: s.progress.resources,
                        bytes_dropped: dropped,
                        reason: format!("{} ({})", e.kind(), cut_reason(&e)),
                    });
                    (self.progress)(&s.progress);
                }
            }
        }
    }
}

/// A short reason for a cut, free of URLs.
fn cut_reason(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "the connection closed before the end of the body",
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            "the connection was reset"
        }
        io::ErrorKind::TimedOut => "the transfer timed out",
        _ => "the transfer failed",
    }
}

impl<R: Read> Read for CompleteLines<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.ready {
            if self.done {
                return Ok(0);
            }
            self.fill();
        }
        let n = out.len().min(self.ready - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// `resourceType` of an NDJSON line, when it is the first member (as every exporter writes).
fn resource_type(line: &[u8]) -> Option<&str> {
    let head = &line[..line.len().min(64)];
    let text = std::str::from_utf8(head)
        .ok()
        .or_else(|| std::str::from_utf8(&head[..head.len().saturating_sub(3)]).ok())?;
    let rest = text.split_once("\"resourceType\"")?.1;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.split_once('"').map(|(t, _)| t)
}
