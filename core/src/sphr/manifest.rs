//! The archive's manifest: an entry listing every other entry's name, size and SHA-256.
//!
//! WinZip AE-2 authenticates each entry's bytes, not its name, and not which entries the
//! archive holds: without the passphrase nobody can forge an entry, but anyone can rename,
//! swap or delete one. phrkit writes this manifest as the archive's last entry, encrypted
//! like the others, so a reader that holds the passphrase can tell the archive is exactly
//! what was written: the reader refuses an archive whose entries are missing, extra or
//! renamed against it, and an entry whose bytes do not match their hash. Archives made by
//! other tools have no manifest; they are read as before, with each entry's bytes still
//! authenticated when encrypted and attachments still checked against their `size`/`hash`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;

/// File name of the manifest entry, in the archive's top folder.
pub const FILE_NAME: &str = "phrkit-manifest.json";

/// Largest manifest accepted (10,000 entries of long names fit in well under this).
pub(crate) const MAX_BYTES: u64 = 4 << 20;

/// What the manifest says about one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Listed {
    /// The entry's full name in the archive.
    pub name: String,
    /// Its decompressed size, bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of its decompressed bytes.
    pub sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// Always [`FORMAT`]: says what this file is to anyone who opens the zip by hand.
    format: String,
    entries: Vec<Listed>,
}

const FORMAT: &str = "phrkit .sphr manifest v1";

/// True when an archive entry's name is a manifest's.
pub(crate) fn is_manifest(name: &str) -> bool {
    name == FILE_NAME || name.rsplit_once('/').is_some_and(|(_, f)| f == FILE_NAME)
}

/// The manifest's bytes for `entries`.
pub(crate) fn encode(entries: Vec<Listed>) -> Result<Vec<u8>> {
    let manifest = Manifest {
        format: FORMAT.into(),
        entries,
    };
    serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::Archive(format!("cannot write the manifest ({e})")))
}

/// The entries a manifest lists, by name; an error when it is not one phrkit wrote.
pub(crate) fn decode(bytes: &[u8]) -> Result<HashMap<String, Listed>> {
    let bad = || Error::Archive("its manifest entry is not a phrkit manifest; refused".into());
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|_| bad())?;
    if manifest.format != FORMAT {
        return Err(bad());
    }
    let mut listed = HashMap::with_capacity(manifest.entries.len());
    for entry in manifest.entries {
        if listed.insert(entry.name.clone(), entry).is_some() {
            return Err(Error::Archive(
                "its manifest lists an entry twice; refused".into(),
            ));
        }
    }
    Ok(listed)
}

/// A writer that passes bytes through while hashing and counting them.
pub(crate) struct Hashing<'a> {
    inner: &'a mut dyn Write,
    hasher: Sha256,
    bytes: u64,
}

impl<'a> Hashing<'a> {
    /// Hashes what goes to `inner`.
    pub fn new(inner: &'a mut dyn Write) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Size and lower-case hex SHA-256 of everything written.
    pub fn finish(self) -> (u64, String) {
        (
            self.bytes,
            crate::fhir::hash::to_hex(&self.hasher.finalize()),
        )
    }
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_refuse_lookalikes() {
        let e = Listed {
            name: "r/r.phr".into(),
            size: 3,
            sha256: "ab".into(),
        };
        let bytes = encode(vec![e.clone()]).unwrap();
        assert_eq!(decode(&bytes).unwrap()["r/r.phr"], e);
        assert!(decode(br#"{"format":"other","entries":[]}"#).is_err());
        assert!(decode(b"[]").is_err());
        let twice = encode(vec![e.clone(), e]).unwrap();
        assert!(decode(&twice).is_err());
        assert!(is_manifest("record-2026-01-01/phrkit-manifest.json"));
        assert!(!is_manifest("record/not-phrkit-manifest.json"));
    }

    #[test]
    fn hashing_writer_counts_and_hashes() {
        let mut out = Vec::new();
        let mut w = Hashing::new(&mut out);
        w.write_all(b"abc").unwrap();
        let (n, sha) = w.finish();
        assert_eq!(n, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(out, b"abc");
    }
}
