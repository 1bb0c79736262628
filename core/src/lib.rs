//! phrkit: a personal health record on the device.
//!
//! FHIR R4 resources live in one SQLite file ([`store`]); [`import`] reads the PHR files
//! people actually have (NDJSON `.phr`, Bundles of any type, single resources) through a
//! streaming, validating, deduplicating pipeline; [`generate`] makes realistic synthetic
//! records for demos and benchmarks. See `core/src/README.md` for a map of the modules.
//!
//! What an app uses is re-exported here: open a [`Store`] (plain or with a [`StoreKey`]),
//! read it ([`Store::get`], [`Store::search`], a [`Snapshot`] for several consistent reads),
//! [`Store::import`] with [`ImportOptions`], [`Store::export`] an [`ExportRequest`],
//! [`Store::share`] with [`ShareOptions`] and [`open_link`] as a recipient; every long call
//! takes a [`ProgressListener`] that can cancel it. Errors are one [`Error`]; SQLite never
//! appears in a public signature. The modules stay public for the CLI, the server and the
//! tests, which reach the parts (formats, FHIR rules, the generator) directly.

#[cfg(feature = "mimalloc")]
pub mod allocator;
mod audit;
pub mod capability;
pub mod error;
pub mod export;
pub mod fhir;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    //! Crate-private functions the fuzz targets in `fuzz/` call directly (feature `fuzzing`).
    //! Not a public API: nothing outside `fuzz/` may use it.

    /// Whether a `YYYY-MM-DD…` value names a day its month has (what validation adds to the
    /// schema's date patterns); see `fhir::date`.
    pub fn has_valid_calendar_day(value: &str) -> bool {
        crate::fhir::date::has_valid_calendar_day(value)
    }
}
pub mod generate;
pub mod import;
pub mod media;
pub mod ndjson;
pub mod net;
pub mod private_files;
pub mod progress;
pub mod records;
pub mod remote;
pub mod secret;
pub mod sensitivity;
pub mod shl;
pub mod sphr;
pub mod store;

pub use audit::AuditEntry;
pub use error::{Error, Result, ShlError, StorageError};
pub use export::{ExportRequest, ExportSummary, Preview};
pub use import::{ConflictPolicy, ImportMode, ImportOptions, ImportReport, OnInvalid, Strategy};
pub use media::OutputFormat;
pub use progress::{NoProgress, Phase, Progress, ProgressListener};
pub use secret::Secret;
pub use shl::share::{Received, ShareOptions, SharedLink, open_link};
pub use store::crypto::StoreKey;
pub use store::{
    Page, Quarantined, RunInfo, Search, Snapshot, Stats, Store, StoreOptions, StoredDocument,
    StoredResource,
};

/// This library's name and version, as recorded in Provenance and cover pages.
pub const SOFTWARE: &str = concat!("phrkit ", env!("CARGO_PKG_VERSION"));
