//! The core's error type.
//!
//! One `thiserror` enum for everything the engine can refuse. Messages name the problem and,
//! where it helps, the parameter or line — never resource content, keys or passphrases, so an
//! error can be logged or shown without leaking health data. Per-resource problems during an
//! import are not errors: they are issues in the [`crate::import::ImportReport`].

mod shl;
mod storage;

pub use shl::ShlError;
pub use storage::StorageError;

/// Everything that can go wrong in a phrkit call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite store failed (disk full, locked, corrupt file…).
    #[error("storage error: {0}")]
    Storage(StorageError),
    /// Reading or writing a file or stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input as a whole cannot be used (not JSON, not FHIR, an unsupported container…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A request parameter is malformed or refers to something that does not exist.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name as the caller spelled it (`start`, `patient`, `_type`…).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested resource is not in the store (or was deleted).
    #[error("not found: {0}")]
    NotFound(String),
    /// The store file was written by a newer phrkit whose schema this build does not know.
    #[error(
        "the store has schema version {found}, newer than this phrkit understands ({known}); upgrade phrkit"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build can read.
        known: i64,
    },
    /// A write expected another version of the resource than the current one (FHIR's
    /// `If-Match`): someone changed or deleted it meanwhile. Nothing was written.
    #[error("{resource} is at version {found}, not {expected}: reload it and try again")]
    VersionMismatch {
        /// `Type/id`.
        resource: String,
        /// The version the caller expected.
        expected: i64,
        /// The current version (0: absent or deleted).
        found: i64,
    },
    /// An import was aborted on purpose (conflict policy `fail`); nothing was written.
    #[error("import aborted, nothing was written: {0}")]
    ImportAborted(String),
    /// The store file is encrypted and was opened without a key.
    #[error("this store is encrypted: open it with its key")]
    KeyRequired,
    /// The key does not open the store (or the file is not a phrkit store).
    #[error("wrong key for this store (or the file is not an encrypted phrkit store)")]
    WrongKey,
    /// The `.sphr` archive is encrypted and no passphrase was given.
    #[error("this .sphr archive is encrypted: a passphrase is required")]
    PassphraseRequired,
    /// The passphrase does not open the `.sphr` archive.
    #[error("wrong passphrase for this .sphr archive")]
    WrongPassphrase,
    /// The archive is unreadable or unsafe (truncated, corrupted, path traversal, symlink,
    /// over a size or entry limit); nothing was imported.
    #[error("unusable .sphr archive: {0}")]
    Archive(String),
    /// A SMART Health Link, its encryption or its QR code failed.
    #[error("SMART Health Link: {0}")]
    Shl(#[from] ShlError),
    /// The caller cancelled a long operation; nothing was written.
    #[error("cancelled, nothing was written")]
    Cancelled,
    /// The feature exists in the specification but not (yet) in this build.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A defect in phrkit itself, not in the input: please report it. Nothing was written.
    #[error("internal error (a phrkit defect, not a problem with the input): {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: &str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// Result type of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
