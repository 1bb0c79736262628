//! Progress and cancellation: the [`ProgressListener`] foreign trait an app implements
//! (Kotlin interface, Swift protocol), and the adapter that hands it to the core.
//!
//! The core calls its listener every batch of a few hundred resources, on the thread running
//! the operation; returning `false` makes the operation roll back and fail with
//! [`PhrError::Cancelled`]. One number pair per call keeps the foreign side simple: bytes
//! while importing (input size is known, resource count is not), resources while exporting
//! (the count is known before writing). A listener that throws cancels the operation too,
//! and its exception comes back as [`PhrError::Internal`] rather than as `Cancelled`.

use crate::error::PhrError;
use phrkit::progress::{Phase, Progress};
use std::sync::{Arc, Mutex};

/// Which stage a long operation is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ProgressPhase {
    /// Reading, validating and writing resources; `done`/`total` are input bytes.
    Importing,
    /// Resolving references held back until the whole input was read; input bytes.
    Resolving,
    /// Committing the transaction; input bytes (all of them).
    Committing,
    /// Writing an export; `done`/`total` are resources.
    Exporting,
    /// Uploading a share to the link host; `done`/`total` are files. Cancelling revokes
    /// the link on the host and logs nothing.
    Sharing,
}

/// Receives progress of a long operation (import, export, share) and may cancel it.
///
/// Called on the thread that runs the operation (the app's background thread), every few
/// hundred resources: keep it quick, and post to the main thread to update UI.
#[uniffi::export(with_foreign)]
pub trait ProgressListener: Send + Sync {
    /// `done` of `total` units of `phase` (bytes while importing, resources while exporting;
    /// `total` is null when unknown). Return `false` to cancel: the operation stops, rolls
    /// back and fails with `Cancelled`, leaving the store as it was.
    fn on_progress(
        &self,
        phase: ProgressPhase,
        done: u64,
        total: Option<u64>,
    ) -> Result<bool, PhrError>;
}

/// The core's listener, forwarding to the app's (if any) and remembering a thrown error.
pub(crate) struct Forward {
    app: Option<Arc<dyn ProgressListener>>,
    failure: Mutex<Option<PhrError>>,
}

impl Forward {
    /// Wraps the app's listener (`None`: never cancels).
    pub(crate) fn new(app: Option<Arc<dyn ProgressListener>>) -> Self {
        Forward {
            app,
            failure: Mutex::new(None),
        }
    }

    /// The operation's result, with a listener's exception in place of `Cancelled`.
    pub(crate) fn finish<T>(&self, result: phrkit::Result<T>) -> Result<T, PhrError> {
        match result {
            Err(phrkit::Error::Cancelled) => match self.failure.lock() {
                Ok(mut failure) => Err(failure
                    .take()
                    .unwrap_or_else(|| phrkit::Error::Cancelled.into())),
                Err(_) => Err(phrkit::Error::Cancelled.into()),
            },
            other => other.map_err(PhrError::from),
        }
    }
}

impl phrkit::progress::ProgressListener for Forward {
    fn on_progress(&self, p: &Progress) -> bool {
        let Some(app) = &self.app else {
            return true;
        };
        let (phase, done, total) = match p.phase {
            Phase::Importing => (ProgressPhase::Importing, p.bytes, p.total_bytes),
            Phase::Resolving => (ProgressPhase::Resolving, p.bytes, p.total_bytes),
            Phase::Committing => (ProgressPhase::Committing, p.bytes, p.total_bytes),
            Phase::Exporting => (ProgressPhase::Exporting, p.resources, p.total_resources),
            Phase::Sharing => (ProgressPhase::Sharing, p.resources, p.total_resources),
        };
        match app.on_progress(phase, done, total) {
            Ok(go_on) => go_on,
            Err(e) => {
                if let Ok(mut failure) = self.failure.lock() {
                    *failure = Some(e);
                }
                false
            }
        }
    }
}
