//! `.sphr`: the zip container that carries a `.phr` record and its documents.
//!
//! Layout written (DESIGN decision 5): one neutral top folder `record-<date>/` holding
//! `record-<date>.phr` (the NDJSON export) and `documents/<resource id>.<ext>`, each pointed
//! to by its DocumentReference / Media / DiagnosticReport attachment `url` (relative to the
//! `.phr`), with `contentType`, `size`, `hash` (base64 SHA-1, as R4 defines) and `title`.
//! Entry names never contain the patient's name. Every entry is AES-256 encrypted (WinZip
//! AE-2, which 7-Zip, WinZip, Keka and pyzipper open) unless the caller asks for a plain zip.
//!
//! Reading ([`read`]) accepts the layouts in circulation: plain or encrypted, the `.phr` /
//! `.ndjson` / `index.phr` at any depth, macOS junk ignored, documents referenced by
//! `./name.jpg`, bare names or `documents/x.pdf` — behind guards against path traversal,
//! symlinks and zip bombs. An encrypted archive must be encrypted throughout, and the
//! [`manifest`] phrkit adds pins its entries' names and hashes (see [`read`]).

pub mod manifest;
pub mod read;
pub mod write;

use rand::TryRngCore;

use crate::secret::Secret;

/// Crockford's base32 alphabet: no I, L, O, U, so it reads aloud and types without mix-ups.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new passphrase: 120 bits from the OS RNG as 24 Crockford base32 characters in groups
/// of four (`7KQM-2XPA-…`): strong, and easy to read aloud or type on a phone.
pub fn generate_passphrase() -> crate::Result<Secret> {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| crate::Error::Io(std::io::Error::other(format!("no OS randomness: {e}"))))?;
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CROCKFORD[(b & 31) as usize] as char)
        .collect();
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    Ok(Secret::new(groups.join("-")))
}

/// Limits that keep a hostile archive from exhausting the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most entries an archive may have.
    pub max_entries: usize,
    /// Largest decompressed size of one entry, bytes.
    pub max_entry_bytes: u64,
    /// Largest decompressed size of all entries together, bytes.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 10_000,
            max_entry_bytes: 1 << 30,
            max_total_bytes: 4 << 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrases_are_strong_readable_and_fresh() {
        let a = generate_passphrase().unwrap();
        let b = generate_passphrase().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 24 + 5);
        assert!(
            a.expose()
                .chars()
                .all(|c| c == '-' || CROCKFORD.contains(&(c as u8)))
        );
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
    }
}
