//! The export request and result records, and the translation of a request into the core's
//! [`phrkit::ExportRequest`].
//!
//! Dates, patient and types go through [`phrkit::ExportRequest`]'s `with_*` builders, the checks
//! the CLI and the HTTP operation use, so a bad date fails here with the same message naming
//! the parameter (`start`, `end`, `_since`, `_type`, `patient`). The result carries the
//! generated passphrase of a `.sphr` once, as a plain string: the app shows it to the user or
//! keeps it in the Keychain/Keystore; phrkit does not store it.

use crate::error::PhrError;
use phrkit::OutputFormat;
use phrkit::secret::Secret;
use std::collections::HashMap;

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExportFormat {
    /// A FHIR document Bundle, `application/fhir+json`, `.json`.
    Bundle,
    /// NDJSON, one resource per line, `.ndjson`.
    Ndjson,
    /// The same NDJSON under the PHR IG's `.phr` name.
    Phr,
    /// A zip (AES-256 encrypted unless `encrypt` is false) holding the `.phr` and the
    /// record's documents, `.sphr`.
    Sphr,
}

/// What to export. Only `format` is required: `ExportRequest(format = ExportFormat.SPHR)`.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ExportRequest {
    /// The output format.
    pub format: ExportFormat,
    /// The Patient's id (`123` or `Patient/123`); required when the store holds several.
    #[uniffi(default = None)]
    pub patient: Option<String>,
    /// Clinical-date range start, a FHIR (partial) date: `2010`, `2020-06`, `2024-01-31`.
    #[uniffi(default = None)]
    pub start: Option<String>,
    /// Clinical-date range end, inclusive by precision (`2020` = through 2020-12-31).
    #[uniffi(default = None)]
    pub end: Option<String>,
    /// Only resources this store changed at or after this FHIR date or instant.
    #[uniffi(default = None)]
    pub since: Option<String>,
    /// Only these resource types (empty = all; the Patient is always included).
    #[uniffi(default)]
    pub types: Vec<String>,
    /// `SPHR` only: the passphrase; null with `encrypt` makes phrkit generate one.
    #[uniffi(default = None)]
    pub passphrase: Option<String>,
    /// `SPHR` only: encrypt the entries (default true); false writes a plain zip.
    #[uniffi(default = true)]
    pub encrypt: bool,
    /// The export's time, epoch milliseconds, instead of now: the same store and request
    /// then give the same bytes (tests, reproducible archives).
    #[uniffi(default = None)]
    pub timestamp: Option<i64>,
    /// Sensitive categories the patient chose to include (`mental-health`,
    /// `substance-use`, `sexual-health`, `hiv`, `restricted`, or `all`); by default they are
    /// left out and counted in `ExportResult.excluded`.
    #[uniffi(default)]
    pub include_sensitive: Vec<String>,
}

/// Parses sensitive-category codes (`all` = every category), as every front does.
pub(crate) fn categories(codes: &[String]) -> Result<Vec<phrkit::sensitivity::Category>, PhrError> {
    Ok(phrkit::sensitivity::parse_categories(
        codes.iter().map(String::as_str),
        "includeSensitive",
    )?)
}

impl ExportRequest {
    /// The core's request, checked as the `$phr-export` parameters are.
    pub(crate) fn to_core(&self) -> Result<phrkit::ExportRequest, PhrError> {
        let format = match self.format {
            ExportFormat::Bundle => OutputFormat::Bundle,
            ExportFormat::Ndjson => OutputFormat::Ndjson,
            ExportFormat::Phr => OutputFormat::Phr,
            ExportFormat::Sphr => OutputFormat::Sphr,
        };
        let mut req =
            phrkit::ExportRequest::new(format).with_types(self.types.iter().map(String::as_str))?;
        if let Some(p) = &self.patient {
            req = req.with_patient(p)?;
        }
        if let Some(d) = &self.start {
            req = req.with_start(d)?;
        }
        if let Some(d) = &self.end {
            req = req.with_end(d)?;
        }
        if let Some(d) = &self.since {
            req = req.with_since(d)?;
        }
        req.passphrase = self.passphrase.clone().map(Secret::new);
        req.encrypt = self.encrypt;
        req.timestamp = self.timestamp;
        req.include_sensitive = categories(&self.include_sensitive)?;
        Ok(req)
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExportResult {
    /// The file written (the path the app gave).
    pub path: String,
    /// Its media type (`application/fhir+json`, `application/x-ndjson`, `application/zip`).
    pub media_type: String,
    /// A file name to offer when sharing it: `<Given>-<Family>-<date>.<ext>`; for `.sphr` the
    /// neutral `record-<date>.sphr` (the name travels with the file and must not say whose).
    pub suggested_file_name: String,
    /// The exported Patient's id.
    pub patient: String,
    /// Resources written per type (the cover Composition included).
    pub by_type: HashMap<String, u64>,
    /// All resources written.
    pub resources: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Documents (attachment files) written into a `.sphr`.
    pub documents: u64,
    /// The passphrase phrkit generated for an encrypted `.sphr` when none was given; shown
    /// once, stored nowhere. Null otherwise.
    pub generated_passphrase: Option<String>,
    /// Resources left out as sensitive, per category code (nothing disappears silently).
    pub excluded: HashMap<String, u64>,
}

impl ExportResult {
    /// The result of writing `summary` to `path`.
    pub(crate) fn new(path: String, s: phrkit::ExportSummary) -> Self {
        ExportResult {
            path,
            media_type: s.media_type.to_string(),
            suggested_file_name: s.file_name,
            patient: s.patient,
            by_type: s.by_type.into_iter().collect(),
            resources: s.resources,
            bytes: s.bytes,
            documents: s.documents,
            generated_passphrase: s.passphrase.map(|p| p.expose().to_string()),
            excluded: s.excluded.into_iter().collect(),
        }
    }
}
