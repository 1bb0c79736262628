//! The inputs of an import run: files, bytes or any reader, and `.sphr` archives, which are
//! checked whole and replaced by the records inside them (each with a resolver for the
//! documents its attachments name).

use super::prepare;
use crate::error::Result;
use crate::secret::Secret;
use crate::sphr::read::Archive;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// One input of an import run.
pub struct ImportSource<'a> {
    pub(super) name: String,
    pub(super) reader: Box<dyn Read + Send + 'a>,
    pub(super) size: Option<u64>,
    pub(super) path: Option<std::path::PathBuf>,
    pub(super) passphrase: Option<Secret>,
    pub(super) resolver: Option<prepare::SharedResolver>,
}

impl<'a> ImportSource<'a> {
    /// A file on disk; its name is recorded in the run's Provenance.
    pub fn from_path(path: impl AsRef<Path>) -> Result<ImportSource<'static>> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)?;
        let size = file.metadata().ok().map(|m| m.len());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".into());
        Ok(ImportSource {
            path: Some(path.to_path_buf()),
            ..ImportSource::from_reader(name, file, size)
        })
    }

    /// Bytes already in memory.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> ImportSource<'static> {
        let size = Some(bytes.len() as u64);
        ImportSource::from_reader(name, std::io::Cursor::new(bytes), size)
    }

    /// Any reader (a network stream, a decompressor…); `size` if known, for progress.
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl Read + Send + 'a,
        size: Option<u64>,
    ) -> Self {
        ImportSource {
            name: name.into(),
            reader: Box::new(reader),
            size,
            path: None,
            passphrase: None,
            resolver: None,
        }
    }

    /// The passphrase for an encrypted `.sphr` (ignored for other inputs).
    pub fn with_passphrase(mut self, passphrase: Option<Secret>) -> Self {
        self.passphrase = passphrase;
        self
    }
}

/// Replaces each `.sphr` (zip) source by the records inside it, each with a resolver for
/// the documents its attachments name. Archives are checked whole before anything is read.
pub(super) fn expand_archives<'a>(
    sources: Vec<ImportSource<'a>>,
    opts: &super::ImportOptions,
) -> Result<Vec<ImportSource<'a>>> {
    use std::io::{BufRead, Seek};
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        let ImportSource {
            name,
            reader,
            size,
            path,
            passphrase,
            resolver,
        } = source;
        let mut br = BufReader::new(reader);
        let head = br.fill_buf()?;
        if !(head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")) {
            out.push(ImportSource {
                name,
                reader: Box::new(br),
                size,
                path,
                passphrase,
                resolver,
            });
            continue;
        }
        let file = match &path {
            Some(p) => std::fs::File::open(p)?,
            None => {
                let mut spool = tempfile::tempfile()?;
                std::io::copy(
                    &mut br.take(opts.archive_limits.max_total_bytes),
                    &mut spool,
                )?;
                spool.rewind()?;
                spool
            }
        };
        let archive = Arc::new(Archive::open(
            file,
            passphrase.as_ref(),
            opts.archive_limits,
        )?);
        for (n, entry) in archive.record_names().into_iter().enumerate() {
            let mut record = tempfile::tempfile()?;
            let bytes = archive.extract_record(n, &mut record)?;
            record.rewind()?;
            let archive = archive.clone();
            let resolver: prepare::SharedResolver = Arc::new(move |relative: &str| {
                archive
                    .read_relative(n, relative)
                    .map_err(|e| e.to_string())
            });
            out.push(ImportSource {
                name: format!("{name}/{entry}"),
                reader: Box::new(record),
                size: Some(bytes),
                path: None,
                passphrase: None,
                resolver: Some(resolver),
            });
        }
    }
    Ok(out)
}
