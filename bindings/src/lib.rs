//! phrkit-ffi: phrkit's UniFFI surface, from which the Kotlin (`dev.phrkit`) and Swift
//! (`PhrKit`) SDKs are generated.
//!
//! A translation layer with no logic of its own: core types become records, enums and one
//! object ([`PhrStore`]); core errors become one error type ([`PhrError`]); long operations
//! take a [`ProgressListener`] the app implements. Calls are synchronous and block (apps call
//! them from a background thread, as with any disk or network API); big data moves as file
//! paths, small data as strings and bytes, FHIR resources as JSON strings.
//!
//! | file | job |
//! |---|---|
//! | `store.rs` | [`PhrStore`]: open, close, import a file or bytes, export to a file, get, search, stats |
//! | `import.rs` | import options and the import report |
//! | `export.rs` | the export request and result |
//! | `share.rs` | SMART Health Links: share, revoke, accesses, QR, open, import what arrived |
//! | `progress.rs` | the [`ProgressListener`] foreign trait and its adapter to the core |
//! | `error.rs` | [`PhrError`] and the one mapping from the core's errors |
//! | `types.rs` | small records about a store ([`Stats`]) |
//!
//! Binding names come from `uniffi.toml` at the repository root (pass it to
//! `uniffi-bindgen generate --config uniffi.toml`).

mod error;
mod export;
mod import;
mod progress;
mod records;
mod share;
mod store;
mod types;

pub use error::PhrError;
pub use export::{ExportFormat, ExportRequest, ExportResult};
pub use import::{
    ConflictPolicy, ImportIssue, ImportMode, ImportOptions, ImportReport, IssueSeverity, OnInvalid,
    Strategy, TypeCounts,
};
pub use progress::{ProgressListener, ProgressPhase};
pub use share::{
    LinkAccess, ReceivedFile, ReceivedLink, ShareOptions, ShareProfile, SharedLink, list_accesses,
    open_link, qr_png, qr_svg, revoke_link, share_profile_from_code,
};
pub use store::PhrStore;
pub use types::Stats;

uniffi::setup_scaffolding!();
