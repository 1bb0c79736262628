//! Writing a `.sphr`: the `.phr` entry streamed straight from the store into the zip, then
//! one entry per document — in constant memory, to any `Write` (a file, an HTTP body).
//!
//! The zip is written in streaming mode (sizes in data descriptors), so the output needs no
//! `Seek`. Entries are DEFLATE-compressed, then AES-256 encrypted (WinZip AE-2) under the
//! caller's passphrase or a generated one, unless a plain zip was asked for. The last entry
//! is the [`manifest`](super::manifest) of all the others (names, sizes, SHA-256), encrypted
//! like them, so a reader can refuse an archive whose entries were renamed, swapped or removed.

use super::manifest::{self, Hashing, Listed};
use super::{Secret, generate_passphrase};
use crate::error::{Error, Result};
use crate::export::{CountingWriter, DocumentFile, ExportRequest, ExportSummary};
use crate::media::OutputFormat;
use crate::progress::ProgressListener;
use crate::store::Snapshot;
use std::io::Write;
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(io) => Error::Io(io),
        other => Error::Archive(format!("cannot write the archive ({other})")),
    }
}

/// Writes the `.sphr` for `req` to `out`.
pub(crate) fn write(
    snap: &Snapshot<'_>,
    req: &ExportRequest,
    out: &mut dyn Write,
    progress: &dyn ProgressListener,
) -> Result<ExportSummary> {
    let now_ms = req.timestamp.unwrap_or_else(crate::fhir::date::now_ms);
    let mut req = req.clone();
    req.timestamp = Some(now_ms);
    let name = format!(
        "record-{}",
        &crate::fhir::date::format_instant(now_ms)[..10]
    );
    let (passphrase, generated) = match (req.encrypt, &req.passphrase) {
        (false, _) => (None, false),
        (true, Some(p)) if !p.expose().is_empty() => (Some(p.clone()), false),
        (true, _) => (Some(generate_passphrase()?), true),
    };
    let mut options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    if let Some(p) = &passphrase {
        options = options.with_aes_encryption(AesMode::Aes256, p.expose());
    }
    let mut zip = ZipWriter::new_stream(CountingWriter {
        inner: out,
        bytes: 0,
    });
    let record = format!("{name}/{name}.phr");
    zip.start_file(record.as_str(), options)
        .map_err(zip_error)?;
    let mut hashing = Hashing::new(&mut zip);
    let (mut summary, files) = snap.write_records(
        &req,
        OutputFormat::Phr,
        crate::export::attachments::Mode::Files,
        &mut hashing,
        progress,
    )?;
    let (size, sha256) = hashing.finish();
    let mut listed = vec![Listed {
        name: record,
        size,
        sha256,
    }];
    let mut written: Vec<&DocumentFile> = Vec::new();
    for file in &files {
        if written.iter().any(|w| w.path == file.path) {
            continue;
        }
        let Some((_, bytes)) = snap.document(&file.sha256)? else {
            continue;
        };
        let entry = format!("{name}/{}", file.path);
        zip.start_file(entry.as_str(), options).map_err(zip_error)?;
        zip.write_all(&bytes)?;
        listed.push(Listed {
            name: entry,
            size: bytes.len() as u64,
            // The store's documents are content-addressed by this very hash.
            sha256: file.sha256.clone(),
        });
        written.push(file);
    }
    zip.start_file(format!("{name}/{}", manifest::FILE_NAME), options)
        .map_err(zip_error)?;
    zip.write_all(&manifest::encode(listed)?)?;
    let counter = zip.finish().map_err(zip_error)?.into_inner();
    summary.format = OutputFormat::Sphr;
    summary.media_type = OutputFormat::Sphr.media_type();
    summary.bytes = counter.bytes;
    summary.documents = written.len() as u64;
    summary.file_name = format!("{name}.sphr");
    summary.passphrase = if generated {
        passphrase
    } else {
        None::<Secret>
    };
    Ok(summary)
}
