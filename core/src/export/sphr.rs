//! The `.sphr` export: the record's `.phr` and its documents, read in one snapshot, written
//! through [`crate::sphr::write::SphrWriter`]. The passphrase is the caller's, or a new one
//! that comes back once in the summary.

use super::{CountingWriter, DocumentFile, ExportRequest, ExportSummary, attachments};
use crate::error::Result;
use crate::media::OutputFormat;
use crate::progress::ProgressListener;
use crate::secret::Secret;
use crate::sphr::generate_passphrase;
use crate::sphr::write::SphrWriter;
use crate::store::Snapshot;
use std::io::Write;

impl Snapshot<'_> {
    /// Writes the `.sphr` for `req` to `out`.
    pub(crate) fn write_sphr(
        &self,
        req: &ExportRequest,
        out: &mut dyn Write,
        progress: &dyn ProgressListener,
    ) -> Result<ExportSummary> {
        let now_ms = req.timestamp.unwrap_or_else(crate::fhir::date::now_ms);
        let mut req = req.clone();
        req.timestamp = Some(now_ms);
        let folder = super::sphr_folder(now_ms);
        let (passphrase, generated) = match (req.encrypt, &req.passphrase) {
            (false, _) => (None, false),
            (true, Some(p)) if !p.expose().is_empty() => (Some(p.clone()), false),
            (true, _) => (Some(generate_passphrase()?), true),
        };
        let counter = CountingWriter {
            inner: out,
            bytes: 0,
        };
        let mut sphr = SphrWriter::new(counter, &folder, passphrase.as_ref());
        let (mut summary, files) = sphr.record(|phr| {
            self.write_records(
                &req,
                OutputFormat::Phr,
                attachments::Mode::Files,
                phr,
                progress,
            )
        })?;
        let mut written: Vec<&DocumentFile> = Vec::new();
        for file in &files {
            if written.iter().any(|w| w.path == file.path) {
                continue;
            }
            let Some(doc) = self.document(&file.sha256)? else {
                continue;
            };
            sphr.document(&file.path, &file.sha256, &doc.bytes)?;
            written.push(file);
        }
        let counter = sphr.finish()?;
        summary.format = OutputFormat::Sphr;
        summary.media_type = OutputFormat::Sphr.media_type();
        summary.bytes = counter.bytes;
        summary.documents = written.len() as u64;
        summary.file_name = super::suggested_name(OutputFormat::Sphr, "", now_ms);
        summary.passphrase = if generated {
            passphrase
        } else {
            None::<Secret>
        };
        Ok(summary)
    }
}
