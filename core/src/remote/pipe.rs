//! The push pipe: the export writes 64 KiB chunks into a bounded channel on one thread, and
//! the HTTP request body reads them on another. An export that fails sends `Abort`, so the
//! body ends in an error and the upload is never completed as a truncated but valid-looking
//! body.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Chunks waiting between the export and the upload.
const PIPE_DEPTH: usize = 4;

/// Bytes per chunk.
const PIPE_CHUNK: usize = 64 * 1024;

/// What travels through the pipe.
enum Piece {
    Data(Vec<u8>),
    Abort,
}

/// The export end of the push pipe.
pub(super) struct PipeWriter {
    tx: SyncSender<Piece>,
    buf: Vec<u8>,
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIPE_CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(PIPE_CHUNK));
        self.tx
            .send(Piece::Data(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped"))
    }
}

/// The request-body end of the push pipe.
pub(super) struct PipeReader {
    rx: Receiver<Piece>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Piece::Data(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Piece::Abort) => return Err(io::Error::other("the local export failed")),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A new pipe: its export end and its request-body end.
pub(super) fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel::<Piece>(PIPE_DEPTH);
    (
        PipeWriter {
            tx,
            buf: Vec::with_capacity(PIPE_CHUNK),
        },
        PipeReader {
            rx,
            current: Vec::new(),
            pos: 0,
        },
    )
}

impl PipeWriter {
    /// Ends the body in an error: the export failed.
    pub(super) fn abort(self) {
        let _ = self.tx.send(Piece::Abort);
    }
}
