//! Opening `.sphr` archives safely: guards first, then the `.phr` entries and a resolver for
//! the documents they point to.
//!
//! Every entry is checked before anything is read: names that climb out (`../`), absolute
//! paths and drive letters, symlinks, more entries than allowed, declared sizes over the
//! limits. Declared sizes can lie, so every read is also capped while decompressing. An
//! encrypted archive without a passphrase, or with a wrong one, fails with its own error
//! before any data is imported.
//!
//! Integrity: an archive is either plain or wholly encrypted. When a passphrase is given or
//! any entry is encrypted, every file entry must be AES-256 (WinZip AE-1/AE-2, whose HMAC
//! authenticates the bytes; legacy ZipCrypto, AES-128/192 and plain entries are refused), so
//! nobody without the passphrase can slip a readable entry into an encrypted record, and a
//! passphrase never "opens" a plain archive that someone swapped in. Each entry's HMAC is
//! checked as it is read to the end. When the archive carries phrkit's
//! [`manifest`](super::manifest), the entries must be exactly the ones it lists, and each
//! entry read must match its SHA-256 and size.

use super::manifest::{self, Listed};
use super::{Limits, Secret};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::Mutex;
use zip::read::HasZipMetadata;
use zip::result::ZipError;
use zip::{AesMode, ZipArchive};

/// An opened, checked archive.
pub struct Archive {
    zip: Mutex<ZipArchive<File>>,
    passphrase: Option<Secret>,
    limits: Limits,
    /// Entry names (index order).
    names: Vec<String>,
    /// Indexes of the record entries (`.phr`, `.ndjson`), shallowest first.
    records: Vec<usize>,
    /// What the manifest says of each entry, by name, when the archive has one.
    listed: Option<HashMap<String, Listed>>,
}

fn archive_error(e: ZipError) -> Error {
    match e {
        ZipError::InvalidPassword => Error::WrongPassphrase,
        ZipError::Io(io) => Error::Archive(format!("cannot read the archive ({io})")),
        ZipError::InvalidArchive(_) | ZipError::UnsupportedArchive(_) => Error::Archive(
            "not a readable zip archive (truncated, corrupted or unsupported)".into(),
        ),
        other => Error::Archive(format!("cannot read the archive ({other})")),
    }
}

/// macOS resource forks, `.DS_Store` and other dotfiles are not part of the record.
pub fn is_junk(name: &str) -> bool {
    name.split('/')
        .any(|part| part == "__MACOSX" || (part.starts_with('.') && part != "." && part != ".."))
}

fn is_unsafe(name: &str) -> bool {
    let bytes = name.as_bytes();
    name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\\')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
        || name.split('/').any(|p| p == "..")
}

impl Archive {
    /// Opens and checks `file`. `passphrase` is needed when the entries are encrypted.
    pub fn open(file: File, passphrase: Option<&Secret>, limits: Limits) -> Result<Archive> {
        // An empty passphrase is no passphrase (what a form left blank sends).
        let passphrase = passphrase.filter(|p| !p.expose().is_empty());
        let mut zip = ZipArchive::new(file).map_err(archive_error)?;
        if zip.len() > limits.max_entries {
            return Err(Error::Archive(format!(
                "{} entries, more than the limit of {}",
                zip.len(),
                limits.max_entries
            )));
        }
        let mut names = Vec::with_capacity(zip.len());
        let mut total = 0u64;
        let mut first_encrypted = None;
        let mut plain_file = false;
        let mut manifest_at = None;
        for i in 0..zip.len() {
            let entry = zip.by_index_raw(i).map_err(archive_error)?;
            let name = entry.name().map_err(archive_error)?.to_string();
            if is_unsafe(&name) || entry.enclosed_name().is_none() {
                return Err(Error::Archive(format!(
                    "entry {i} has an unsafe path (`..`, absolute or drive letter); refused"
                )));
            }
            if entry.is_symlink() {
                return Err(Error::Archive(format!(
                    "entry {i} is a symbolic link; refused"
                )));
            }
            if entry.size() > limits.max_entry_bytes {
                return Err(Error::Archive(format!(
                    "entry {i} would decompress to {} bytes, over the {}-byte limit",
                    entry.size(),
                    limits.max_entry_bytes
                )));
            }
            total = total.saturating_add(entry.size());
            let is_file = !entry.is_dir();
            if is_file && entry.encrypted() {
                match entry.get_metadata().aes_settings() {
                    Some((AesMode::Aes256, _)) => {}
                    Some(_) => {
                        return Err(Error::Archive(format!(
                            "entry {i} is encrypted with a key shorter than AES-256; refused"
                        )));
                    }
                    None => {
                        return Err(Error::Archive(format!(
                            "entry {i} uses legacy ZipCrypto, which anyone can break; refused"
                        )));
                    }
                }
                first_encrypted.get_or_insert(i);
            } else if is_file {
                plain_file = true;
            }
            if is_file && manifest::is_manifest(&name) && manifest_at.replace(i).is_some() {
                return Err(Error::Archive("two manifest entries; refused".into()));
            }
            names.push(name);
        }
        if total > limits.max_total_bytes {
            return Err(Error::Archive(format!(
                "the entries would decompress to {total} bytes, over the {}-byte limit",
                limits.max_total_bytes
            )));
        }
        match (first_encrypted, passphrase) {
            (Some(_), None) => return Err(Error::PassphraseRequired),
            (Some(_), Some(_)) if plain_file => {
                return Err(Error::Archive(
                    "some entries are encrypted and others are not: an encrypted archive \
                     is encrypted throughout, so it was altered; refused"
                        .into(),
                ));
            }
            (None, Some(_)) => {
                return Err(Error::Archive(
                    "a passphrase was given but the archive is not encrypted: it is not \
                     the encrypted record expected; refused"
                        .into(),
                ));
            }
            (Some(i), Some(pw)) => {
                zip.by_index_decrypt(i, pw.expose().as_bytes())
                    .map_err(archive_error)?;
            }
            _ => {}
        }
        let mut records: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !is_junk(n) && !n.ends_with('/'))
            .filter(|(_, n)| {
                let lower = n.to_ascii_lowercase();
                lower.ends_with(".phr") || lower.ends_with(".ndjson")
            })
            .map(|(i, _)| i)
            .collect();
        if records.is_empty() {
            return Err(Error::Archive("no .phr or .ndjson record inside".into()));
        }
        records.sort_by_key(|&i| (names[i].matches('/').count(), names[i].clone()));
        let mut archive = Archive {
            zip: Mutex::new(zip),
            passphrase: passphrase.cloned(),
            limits,
            names,
            records,
            listed: None,
        };
        if let Some(i) = manifest_at {
            archive.listed = Some(archive.read_manifest(i)?);
        }
        Ok(archive)
    }

    /// Reads the manifest at entry `index` and checks that the archive's file entries are
    /// exactly those it lists.
    fn read_manifest(&self, index: usize) -> Result<HashMap<String, Listed>> {
        let mut bytes = Vec::new();
        self.copy_capped(index, manifest::MAX_BYTES, &mut bytes)?;
        let listed = manifest::decode(&bytes)?;
        let mut files = 0;
        for (i, name) in self.names.iter().enumerate() {
            if i == index || name.ends_with('/') {
                continue;
            }
            if !listed.contains_key(name) {
                return Err(Error::Archive(format!(
                    "entry {i} is not in the archive's manifest (added or renamed); refused"
                )));
            }
            files += 1;
        }
        if files != listed.len() {
            return Err(Error::Archive(format!(
                "{} of the entries its manifest lists are missing (removed or renamed); refused",
                listed.len() - files
            )));
        }
        Ok(listed)
    }

    /// The record entries' names, shallowest first.
    pub fn record_names(&self) -> Vec<&str> {
        self.records
            .iter()
            .map(|&i| self.names[i].as_str())
            .collect()
    }

    /// Decompresses (and decrypts) record entry `n` into `out`, capped by the limits.
    pub fn extract_record(&self, n: usize, out: &mut dyn Write) -> Result<u64> {
        let index = *self
            .records
            .get(n)
            .ok_or_else(|| Error::Archive("no such record entry".into()))?;
        self.copy_entry(index, out)
    }

    /// Decompresses (and decrypts) entry `index` into `out`, capped by the entry limit and
    /// checked against the manifest when there is one.
    fn copy_entry(&self, index: usize, out: &mut dyn Write) -> Result<u64> {
        let Some(listed) = &self.listed else {
            return self.copy_capped(index, self.limits.max_entry_bytes, out);
        };
        let expected = listed
            .get(&self.names[index])
            .ok_or_else(|| Error::Archive(format!("entry {index} is not in the manifest")))?;
        let mut hashing = manifest::Hashing::new(out);
        self.copy_capped(index, self.limits.max_entry_bytes, &mut hashing)?;
        let (size, sha256) = hashing.finish();
        if size != expected.size || sha256 != expected.sha256 {
            return Err(Error::Archive(format!(
                "entry {index} does not match the archive's manifest (altered or swapped); \
                 refused"
            )));
        }
        Ok(size)
    }

    /// Copies entry `index` to `out`, refusing more than `limit` bytes. Reading an AES entry
    /// to its end checks its HMAC: a failure is an altered entry (or a wrong passphrase).
    fn copy_capped(&self, index: usize, limit: u64, out: &mut dyn Write) -> Result<u64> {
        let mut zip = self
            .zip
            .lock()
            .map_err(|_| Error::Archive("archive lock poisoned".into()))?;
        let entry = match &self.passphrase {
            Some(pw) if zip.by_index_raw(index).map_err(archive_error)?.encrypted() => {
                zip.by_index_decrypt(index, pw.expose().as_bytes())
            }
            _ => zip.by_index(index),
        }
        .map_err(archive_error)?;
        let copied =
            std::io::copy(&mut entry.take(limit + 1), out).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                    Error::Archive(format!(
                        "entry {index} is corrupted, truncated or altered (its checksum or \
                         authentication code does not match)"
                    ))
                }
                _ => Error::Io(e),
            })?;
        if copied > limit {
            return Err(Error::Archive(format!(
                "entry {index} decompresses past the {limit}-byte limit (a zip bomb?)"
            )));
        }
        Ok(copied)
    }

    /// The bytes of the entry `relative` names, resolved against the folder of record entry
    /// `n` (`./x.jpg`, `x.jpg`, `documents/x.pdf`); `None` when absent or when the path
    /// would leave the archive.
    pub fn read_relative(&self, n: usize, relative: &str) -> Result<Option<Vec<u8>>> {
        let Some(&record) = self.records.get(n) else {
            return Ok(None);
        };
        let base = self.names[record]
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir);
        let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
        let decoded = percent_encoding::percent_decode_str(relative)
            .decode_utf8_lossy()
            .into_owned();
        for part in decoded.split('/') {
            match part {
                "" | "." => {}
                ".." => return Ok(None),
                p => parts.push(p),
            }
        }
        let wanted = parts.join("/");
        let Some(index) = self.names.iter().position(|n| *n == wanted) else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        self.copy_entry(index, &mut bytes)?;
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_and_unsafe_names() {
        assert!(is_junk("__MACOSX/WilliamSim/._x.jpg"));
        assert!(is_junk("WilliamSim/.DS_Store"));
        assert!(!is_junk("WilliamSim/WilliamSim.phr"));
        for bad in [
            "../x.phr",
            "a/../../x",
            "/etc/passwd",
            "C:/x.phr",
            "a\\..\\b",
        ] {
            assert!(is_unsafe(bad), "{bad}");
        }
        assert!(!is_unsafe("record-2026/documents/a.pdf"));
    }
}
