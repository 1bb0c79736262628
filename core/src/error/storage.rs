//! [`StorageError`]: what SQLite said when the store failed, kept opaque so the public API
//! names no rusqlite type (an embedder can upgrade SQLite bindings without an API change).
//! The one place outside `store/` that names rusqlite; `tests/module_layers.rs` checks that.

use super::Error;

/// A failure of the SQLite store (disk full, locked, corrupt file…). Its text is SQLite's
/// message, which never carries resource content.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StorageError(rusqlite::Error);

impl StorageError {
    /// SQLite's own error, for the store's decisions (busy, not a database).
    pub(crate) fn sqlite(&self) -> &rusqlite::Error {
        &self.0
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Storage(StorageError(e))
    }
}

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Error {
        Error::Storage(StorageError(e.into()))
    }
}
