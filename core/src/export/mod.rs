//! `$phr-export`: the patient's record as a FHIR document Bundle, NDJSON or `.phr`.
//!
//! [`request`] parses the operation's parameters; [`select`] plans what to include
//! (compartment + referenced shared resources, filtered); [`writer`] streams it. The whole
//! export reads one consistent snapshot (one read transaction), writes through any
//! `std::io::Write` in constant memory, and reports progress. Nothing in the store changes.

pub mod request;
mod select;
mod writer;

pub use request::{DEFAULT_BASE_URL, ExportRequest};

use crate::error::{Error, Result};
use crate::media::OutputFormat;
use crate::progress::{Phase, Progress, ProgressListener};
use crate::store::Store;
use std::collections::BTreeMap;
use std::io::Write;

/// `meta.tag` system phrkit puts on the cover Composition of its exports.
pub const PHRKIT_TAG_SYSTEM: &str = "https://phrkit.dev/CodeSystem/tag";
/// `meta.tag` code of the cover Composition: an importer skips it (it describes an export,
/// not the record).
pub const EXPORT_COVER_TAG: &str = "export-cover";

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// The format written.
    pub format: OutputFormat,
    /// Its media type.
    pub media_type: &'static str,
    /// The exported Patient's id.
    pub patient: String,
    /// Resources written per type (the cover Composition included).
    pub by_type: BTreeMap<String, u64>,
    /// All resources written.
    pub resources: u64,
    /// Bytes written.
    pub bytes: u64,
    /// A file name for it: `<Given>-<Family>-<yyyy-mm-dd>.<ext>`.
    pub file_name: String,
}

impl Store {
    /// Writes the export `req` asks for to `out`. Blocks; call off the main thread.
    /// Parameter problems (unknown patient, two patients and none chosen…) are errors before
    /// anything is written.
    pub fn export(
        &self,
        req: &ExportRequest,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<ExportSummary> {
        req.check()?;
        if req.format == OutputFormat::Sphr {
            return Err(Error::Unsupported(
                "outputFormat=sphr (the encrypted .sphr container) is not in this build yet".into(),
            ));
        }
        // One read transaction: every planning and writing query sees the same snapshot.
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let result = self.export_in_snapshot(req, out, progress);
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    fn export_in_snapshot(
        &self,
        req: &ExportRequest,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<ExportSummary> {
        let plan = select::plan(self, req)?;
        let now_ms = crate::fhir::date::now_ms();
        let now = crate::fhir::date::format_instant(now_ms);
        let cover_id = uuid::Uuid::new_v4().to_string();
        let mut counter = CountingWriter {
            inner: out,
            bytes: 0,
        };
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        let total = plan.total() + 1;
        let mut written = 0u64;
        let bytes_so_far;
        {
            let mut tick = |ty: &str| -> Result<()> {
                *by_type.entry(ty.to_string()).or_insert(0) += 1;
                written += 1;
                if written.is_multiple_of(1000) || written == total {
                    let p = Progress {
                        phase: Phase::Exporting,
                        bytes: 0,
                        total_bytes: None,
                        resources: written,
                        total_resources: Some(total),
                    };
                    if !progress.on_progress(&p) {
                        return Err(Error::Cancelled);
                    }
                }
                Ok(())
            };
            match req.format {
                OutputFormat::Bundle => {
                    let mut sink = writer::Bundle::begin(
                        &mut counter,
                        &req.base_url,
                        &uuid::Uuid::new_v4().to_string(),
                        &now,
                    )?;
                    writer::write_all(self, &plan, &cover_id, &now, &mut sink, &mut tick)?;
                    sink.end()?;
                }
                _ => {
                    let mut sink = writer::Ndjson(&mut counter);
                    writer::write_all(self, &plan, &cover_id, &now, &mut sink, &mut tick)?;
                }
            }
            bytes_so_far = counter.bytes;
        }
        counter.flush()?;
        Ok(ExportSummary {
            format: req.format,
            media_type: req.format.media_type(),
            patient: plan.patient.clone(),
            resources: written,
            by_type,
            bytes: bytes_so_far,
            file_name: file_name(&plan.patient_json, &now, req.format),
        })
    }
}

/// Counts bytes on their way out.
struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    bytes: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `<Given>-<Family>-<yyyy-mm-dd>.<ext>` from the Patient's first name, reduced to letters,
/// digits and `-`; `patient-record-<date>` when the Patient has no usable name.
pub fn file_name(patient_json: &str, now: &str, format: OutputFormat) -> String {
    let date = now.get(..10).unwrap_or("undated");
    let patient: serde_json::Value = serde_json::from_str(patient_json).unwrap_or_default();
    let name = &patient["name"][0];
    let given = name["given"][0]
        .as_str()
        .or_else(|| name["given"].as_str())
        .unwrap_or("");
    let family = name["family"].as_str().unwrap_or("");
    let clean = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric() || *c == '-')
            .collect::<String>()
    };
    let parts: Vec<String> = [clean(given), clean(family)]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect();
    let stem = if parts.is_empty() {
        "patient-record".to_string()
    } else {
        parts.join("-")
    };
    format!("{stem}-{date}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_given_family_date() {
        let p =
            r#"{"resourceType":"Patient","name":[{"family":"O'Brien","given":["Mary Ann","X"]}]}"#;
        assert_eq!(
            file_name(p, "2026-11-26T10:00:00Z", OutputFormat::Phr),
            "MaryAnn-OBrien-2026-11-26.phr"
        );
        assert_eq!(
            file_name("{}", "2026-11-26T10:00:00Z", OutputFormat::Bundle),
            "patient-record-2026-11-26.json"
        );
    }
}
