//! Writing a `.sphr`: the `.phr` entry streamed into the zip, then one entry per document —
//! in constant memory, to any `Write` (a file, an HTTP body). This module knows the
//! container only; what goes into it comes from the caller (`export` streams the store's
//! record into [`SphrWriter::record`]).
//!
//! The zip is written in streaming mode (sizes in data descriptors), so the output needs no
//! `Seek`. Entries are DEFLATE-compressed, then AES-256 encrypted (WinZip AE-2) under the
//! caller's passphrase, unless a plain zip was asked for. The last entry is the
//! [`manifest`](super::manifest) of all the others (names, sizes, SHA-256), encrypted like
//! them, so a reader can refuse an archive whose entries were renamed, swapped or removed.

use super::Secret;
use super::manifest::{self, Hashing, Listed};
use crate::error::{Error, Result};
use std::io::Write;
use zip::write::{FileOptions, StreamWriter};
use zip::{AesMode, CompressionMethod, ZipWriter};

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::Io(io) => Error::Io(io),
        other => Error::Archive(format!("cannot write the archive ({other})")),
    }
}

/// A `.sphr` being written: its top folder, its entries so far, and the manifest to come.
pub struct SphrWriter<'p, W: Write> {
    zip: ZipWriter<StreamWriter<W>>,
    options: FileOptions<'p, 'static, ()>,
    folder: String,
    listed: Vec<Listed>,
}

impl<'p, W: Write> SphrWriter<'p, W> {
    /// Starts an archive whose entries live in the top folder `folder` (`record-<date>`),
    /// encrypted under `passphrase` when one is given.
    pub fn new(out: W, folder: &str, passphrase: Option<&'p Secret>) -> Self {
        let mut options = FileOptions::<'p, 'static, ()>::default()
            .compression_method(CompressionMethod::Deflated)
            .large_file(true);
        if let Some(p) = passphrase {
            options = options.with_aes_encryption(AesMode::Aes256, p.expose());
        }
        SphrWriter {
            zip: ZipWriter::new_stream(out),
            options,
            folder: folder.to_string(),
            listed: Vec::new(),
        }
    }

    /// Writes the record entry `<folder>/<folder>.phr`: `write` streams the NDJSON into the
    /// writer it is given. Returns what `write` returned.
    pub fn record<T>(&mut self, write: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
        let name = format!("{0}/{0}.phr", self.folder);
        self.zip
            .start_file(name.as_str(), self.options)
            .map_err(zip_error)?;
        let mut hashing = Hashing::new(&mut self.zip);
        let answer = write(&mut hashing)?;
        let (size, sha256) = hashing.finish();
        self.listed.push(Listed { name, size, sha256 });
        Ok(answer)
    }

    /// Adds the document entry `<folder>/<path>` whose lower-case hex SHA-256 the caller
    /// already knows (the store's documents are content-addressed by it).
    pub fn document(&mut self, path: &str, sha256: &str, bytes: &[u8]) -> Result<()> {
        let name = format!("{}/{path}", self.folder);
        self.zip
            .start_file(name.as_str(), self.options)
            .map_err(zip_error)?;
        self.zip.write_all(bytes)?;
        self.listed.push(Listed {
            name,
            size: bytes.len() as u64,
            sha256: sha256.to_string(),
        });
        Ok(())
    }

    /// Writes the manifest of every entry, then the zip's directory; gives the output back.
    pub fn finish(mut self) -> Result<W> {
        let name = format!("{}/{}", self.folder, manifest::FILE_NAME);
        self.zip.start_file(name, self.options).map_err(zip_error)?;
        self.zip.write_all(&manifest::encode(self.listed)?)?;
        Ok(self.zip.finish().map_err(zip_error)?.into_inner())
    }
}
