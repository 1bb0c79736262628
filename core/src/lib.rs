//! phrkit: a personal health record on the device.
//!
//! FHIR R4 resources live in one SQLite file ([`store`]); [`import`] reads the PHR files
//! people actually have (NDJSON `.phr`, Bundles of any type, single resources) through a
//! streaming, validating, deduplicating pipeline; [`generate`] makes realistic synthetic
//! records for demos and benchmarks. See `core/src/README.md` for a map of the modules.

#[cfg(feature = "mimalloc")]
pub mod allocator;
pub mod audit;
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
pub mod private_files;
pub mod progress;
pub mod remote;
pub mod secret;
pub mod sensitivity;
pub mod shl;
pub mod sphr;
pub mod store;

pub use error::{Error, Result};
pub use export::{ExportRequest, ExportSummary};
pub use import::{ConflictPolicy, ImportMode, ImportOptions, ImportReport, OnInvalid, Strategy};
pub use media::OutputFormat;
pub use store::{Store, StoreOptions};

/// This library's name and version, as recorded in Provenance and cover pages.
pub const SOFTWARE: &str = concat!("phrkit ", env!("CARGO_PKG_VERSION"));
