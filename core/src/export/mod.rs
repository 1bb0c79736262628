//! `$phr-export`: the patient's record as a FHIR document Bundle, NDJSON or `.phr`.
//!
//! [`request`] parses the operation's parameters; [`select`] resolves what to include
//! (compartment + referenced shared resources, filtered); [`writer`] streams it in a
//! cut-tolerant order, starting at once (no pass over the record before the first byte);
//! [`cover`] and [`contents`] keep every line bounded. The whole export reads one consistent
//! snapshot (one read transaction), writes through any `std::io::Write` in constant memory,
//! and reports progress. Nothing in the store changes.

pub(crate) mod attachments;
mod contents;
mod cover;
mod escape;
mod file;
pub mod request;
mod select;
mod sphr;
mod writer;

pub use crate::fhir::tags::EXPORT_CONTENTS_TAG;
pub use attachments::DocumentFile;
pub use file::ExportFile;
pub use request::{DEFAULT_BASE_URL, ExportRequest};
pub(crate) use select::resolve_patient;

use crate::secret::Secret;

use crate::error::{Error, Result};
use crate::media::OutputFormat;
use crate::progress::{Phase, Progress, ProgressListener};
use crate::store::{Snapshot, Store};
use std::collections::BTreeMap;
use std::io::Write;

pub use crate::fhir::tags::{EXPORT_COVER_TAG, PHRKIT_TAG_SYSTEM};

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
    /// A file name for it: `<Given>-<Family>-<yyyy-mm-dd>.<ext>`; for `.sphr`, the neutral
    /// `record-<yyyy-mm-dd>.sphr` (the name travels with the file; it must not say whose).
    pub file_name: String,
    /// Documents (attachment files) written into a `.sphr`.
    pub documents: u64,
    /// The passphrase phrkit generated for a `.sphr` (shown once; not stored anywhere).
    pub passphrase: Option<Secret>,
    /// Resources left out as sensitive, per category code: nothing disappears silently.
    pub excluded: BTreeMap<String, u64>,
}

/// What an export or share would contain, computed without producing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    /// Resources per type (the cover page not counted).
    pub by_type: BTreeMap<String, u64>,
    /// All resources.
    pub resources: u64,
    /// Resources that would be left out as sensitive, per category code.
    pub excluded: BTreeMap<String, u64>,
    /// Earliest clinical date in the selection (RFC 3339), if any.
    pub earliest: Option<String>,
    /// Latest clinical date in the selection (RFC 3339), if any.
    pub latest: Option<String>,
}

impl Store {
    /// What `req` would export — counts by type, sensitive categories left out, date span —
    /// without writing anything (and without an access-log entry).
    pub fn preview_export(&self, req: &ExportRequest) -> Result<Preview> {
        req.check()?;
        let snap = self.snapshot()?;
        let plan = select::plan(&snap, req)?;
        let (earliest, latest) =
            snap.compartment_span(&plan.scope.compartment, plan.scope.left_out)?;
        let fmt = |ms: Option<i64>| {
            ms.filter(|m| *m > i64::MIN)
                .map(crate::fhir::date::format_instant)
        };
        Ok(Preview {
            resources: plan.total(),
            by_type: plan.counts.clone(),
            excluded: plan.excluded.clone(),
            earliest: fmt(earliest),
            latest: fmt(latest),
        })
    }

    /// Writes the export `req` asks for to `out`. Blocks; call off the main thread.
    /// Parameter problems (unknown patient, two patients and none chosen…) are errors before
    /// anything is written. For `sphr`, a generated passphrase comes back in the summary.
    pub fn export(
        &self,
        req: &ExportRequest,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<ExportSummary> {
        let summary = self.export_unlogged(req, out, progress)?;
        let excluded: Vec<String> = summary
            .excluded
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        self.record_audit(
            &summary.patient,
            &crate::audit::AuditAction::Export {
                format: summary.format.code().to_string(),
                resources: summary.resources,
                excluded: excluded.join(", "),
            },
        )?;
        Ok(summary)
    }

    /// [`Store::export`] without the access-log entry: for exports that are part of a
    /// larger logged operation (a share logs the share, not its parts).
    pub(crate) fn export_unlogged(
        &self,
        req: &ExportRequest,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<ExportSummary> {
        // One read transaction: every planning and writing query sees the same snapshot.
        let snap = self.snapshot()?;
        let summary = snap.export_unlogged(req, out, progress)?;
        snap.finish()?;
        Ok(summary)
    }
}

impl Snapshot<'_> {
    /// [`Store::export_unlogged`] inside this snapshot.
    pub(crate) fn export_unlogged(
        &self,
        req: &ExportRequest,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<ExportSummary> {
        req.check()?;
        if req.format == OutputFormat::Sphr {
            self.write_sphr(req, out, progress)
        } else {
            self.write_records(req, req.format, attachments::Mode::Inline, out, progress)
                .map(|(summary, _)| summary)
        }
    }

    /// Writes the selection as `format` (Bundle or NDJSON) with documents placed as `mode`
    /// says; returns the summary and the document files a `.sphr` must add.
    pub(crate) fn write_records(
        &self,
        req: &ExportRequest,
        format: OutputFormat,
        mode: attachments::Mode,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<(ExportSummary, Vec<DocumentFile>)> {
        let scope = select::scope(self, req)?;
        let now_ms = req.timestamp.unwrap_or_else(crate::fhir::date::now_ms);
        let now = crate::fhir::date::format_instant(now_ms);
        let cover_id = derived_id(&scope.patient, now_ms, "cover");
        let mut counter = CountingWriter {
            inner: out,
            bytes: 0,
        };
        let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
        let mut written = 0u64;
        let mut docs = attachments::Attachments::new(self, mode);
        let excluded = {
            // The total is known only at the end: nothing counts the record before it streams.
            let report = |written: u64, total: Option<u64>| -> Result<()> {
                let p = Progress {
                    phase: Phase::Exporting,
                    bytes: 0,
                    total_bytes: None,
                    resources: written,
                    total_resources: total,
                };
                if progress.on_progress(&p) {
                    Ok(())
                } else {
                    Err(Error::Cancelled)
                }
            };
            let mut tick = |ty: &str| -> Result<()> {
                match by_type.get_mut(ty) {
                    Some(n) => *n += 1,
                    None => {
                        by_type.insert(ty.to_string(), 1);
                    }
                }
                written += 1;
                if written.is_multiple_of(1000) {
                    report(written, None)?;
                }
                Ok(())
            };
            let (mut bundle, mut ndjson) = (None, None);
            let (sink, first_page): (&mut dyn writer::Sink, Option<String>) =
                if format == OutputFormat::Bundle {
                    let bundle_id = derived_id(&scope.patient, now_ms, "bundle");
                    let contents = contents::Contents::new(&scope.patient, &now, now_ms);
                    let b = bundle.insert(writer::Bundle::begin(
                        &mut counter,
                        &req.base_url,
                        &bundle_id,
                        &now,
                        contents,
                    )?);
                    let first = b.first_page();
                    (b, Some(first))
                } else {
                    (ndjson.insert(writer::Ndjson(&mut counter)), None)
                };
            let mut out = writer::Output {
                sink,
                docs: &mut docs,
                tick: &mut tick,
                excluded: BTreeMap::new(),
            };
            writer::write_all(
                self,
                &scope,
                &cover_id,
                &now,
                first_page.as_deref(),
                &mut out,
            )?;
            let excluded = out.excluded;
            if let Some(b) = bundle {
                b.end()?;
            }
            report(written, Some(written))?;
            excluded
        };
        counter.flush()?;
        let summary = ExportSummary {
            format,
            media_type: format.media_type(),
            patient: scope.patient.clone(),
            resources: written,
            by_type,
            bytes: counter.bytes,
            file_name: file_name(&scope.patient_json, &now, format),
            documents: docs.files.len() as u64,
            passphrase: None,
            excluded,
        };
        Ok((summary, docs.files))
    }
}

/// A UUID derived from the patient, the export's timestamp and a role, so an export made
/// with a fixed `timestamp` is byte-for-byte reproducible.
fn derived_id(patient: &str, now_ms: i64, role: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{patient}|{now_ms}|{role}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}

/// Counts bytes on their way out.
pub(crate) struct CountingWriter<'a> {
    pub inner: &'a mut dyn Write,
    pub bytes: u64,
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

/// Who an export is about and the file name it suggests, known before any of it is written
/// (a server's `Content-Disposition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTarget {
    /// The Patient's id, resolved as the export resolves it.
    pub patient: String,
    /// The name [`ExportSummary::file_name`] will carry.
    pub file_name: String,
}

impl Store {
    /// The patient `req` exports (the one asked for, or the store's only one) and the file
    /// name the export will suggest at `req.timestamp` (or now). Errors as the export's own.
    pub fn export_target(&self, req: &ExportRequest) -> Result<ExportTarget> {
        let snap = self.snapshot()?;
        let patient = resolve_patient(&snap, req.patient.as_deref(), "export")?;
        let now_ms = req.timestamp.unwrap_or_else(crate::fhir::date::now_ms);
        Ok(ExportTarget {
            file_name: suggested_name(req.format, &patient.json, now_ms),
            patient: patient.id,
        })
    }
}

/// The file name an export in `format` of the Patient `patient_json` made at `now_ms`
/// suggests: [`file_name`], or `record-<date>.sphr` (a `.sphr` name never shows who it is).
pub(crate) fn suggested_name(format: OutputFormat, patient_json: &str, now_ms: i64) -> String {
    let now = crate::fhir::date::format_instant(now_ms);
    if format == OutputFormat::Sphr {
        format!("{}.sphr", sphr_folder(now_ms))
    } else {
        file_name(patient_json, &now, format)
    }
}

/// The top folder of a `.sphr` made at `now_ms`: `record-<date>`.
pub(crate) fn sphr_folder(now_ms: i64) -> String {
    let now = crate::fhir::date::format_instant(now_ms);
    format!("record-{}", now.get(..10).unwrap_or("undated"))
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
