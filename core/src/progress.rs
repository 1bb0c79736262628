//! Progress reporting and cancellation for long operations.
//!
//! A caller passes a [`ProgressListener`]; the operation calls it every few hundred
//! resources (never per byte) from the thread that runs the operation. Returning `false`
//! cancels: the operation stops at the next checkpoint, rolls back, and returns
//! [`crate::Error::Cancelled`], leaving the store as it was.

/// Which stage a long operation is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading, parsing, validating and writing resources.
    Importing,
    /// Resolving references deferred until the whole input was read.
    Resolving,
    /// Committing the transaction.
    Committing,
    /// Writing an export.
    Exporting,
    /// Uploading a share's files to the link host (`resources` counts files).
    Sharing,
}

/// A snapshot of an operation's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Current stage.
    pub phase: Phase,
    /// Input bytes consumed (or output bytes written, for exports).
    pub bytes: u64,
    /// Total bytes when known (file size, `Content-Length`).
    pub total_bytes: Option<u64>,
    /// Resources processed so far.
    pub resources: u64,
    /// Total resources when known (exports know it in advance).
    pub total_resources: Option<u64>,
}

/// Receives progress; return `false` to cancel.
pub trait ProgressListener: Send + Sync {
    /// Called periodically; `false` asks the operation to stop and roll back.
    fn on_progress(&self, progress: &Progress) -> bool;
}

/// A listener that ignores progress and never cancels.
pub struct NoProgress;

impl ProgressListener for NoProgress {
    fn on_progress(&self, _: &Progress) -> bool {
        true
    }
}

impl<F: Fn(&Progress) -> bool + Send + Sync> ProgressListener for F {
    fn on_progress(&self, progress: &Progress) -> bool {
        self(progress)
    }
}
