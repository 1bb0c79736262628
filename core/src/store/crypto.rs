//! The encrypted store: the whole SQLite file (and its WAL) encrypted by SQLCipher.
//!
//! A key is either 32 raw bytes (what an app keeps in the Android Keystore or iOS Keychain:
//! no KDF, opening is instant) or a passphrase (SQLCipher derives the key with
//! PBKDF2-HMAC-SHA512, 256,000 iterations: deliberately slow). phrkit never writes a key to
//! disk. Opening without a key, or with a wrong one, is a clear error, not "file is not a
//! database". `rekey` changes the key in place, atomically; [`encrypt_store`] and
//! [`decrypt_store`] copy a store into a new file with or without encryption, by explicit
//! call only. Plain stores stay available for tests and desktop use.

use super::Store;
use crate::error::{Error, Result};
use crate::secret::Secret;
use rusqlite::Connection;
use std::path::Path;

/// The key of an encrypted store. `Debug` never shows it; a raw key is overwritten with zeros
/// when dropped (a passphrase is a [`Secret`], which does the same).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreKey {
    /// 32 random bytes, used as the AES-256 key directly.
    Raw([u8; 32]),
    /// A passphrase, stretched by SQLCipher's KDF.
    Passphrase(Secret),
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        if let StoreKey::Raw(key) = self {
            zeroize::Zeroize::zeroize(key);
        }
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKey::Raw(_) => "StoreKey::Raw(<redacted>)",
            StoreKey::Passphrase(_) => "StoreKey::Passphrase(<redacted>)",
        })
    }
}

impl StoreKey {
    /// Parses key material as given in a key file or environment variable: 64 hex digits are
    /// a raw key, anything else (non-empty) a passphrase.
    pub fn parse(text: &str) -> Result<StoreKey> {
        let t = text.trim_end_matches(['\r', '\n']);
        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut key = [0u8; 32];
            for (i, chunk) in t.as_bytes().chunks(2).enumerate() {
                let pair = std::str::from_utf8(chunk)
                    .map_err(|_| Error::InvalidInput("bad key".into()))?;
                key[i] = u8::from_str_radix(pair, 16)
                    .map_err(|_| Error::InvalidInput("bad key".into()))?;
            }
            return Ok(StoreKey::Raw(key));
        }
        if t.is_empty() {
            return Err(Error::InvalidInput("the key is empty".into()));
        }
        Ok(StoreKey::Passphrase(Secret::new(t)))
    }

    /// The text SQLCipher's `PRAGMA key` / `ATTACH … KEY` takes.
    fn sql_value(&self) -> String {
        match self {
            StoreKey::Raw(bytes) => format!("x'{}'", crate::fhir::hash::to_hex(bytes)),
            StoreKey::Passphrase(p) => p.expose().to_string(),
        }
    }
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase)
}

/// Maps "file is not a database" to the error a caller can act on.
pub(crate) fn classify_open_error(e: impl Into<Error>, keyed: bool) -> Error {
    match e.into() {
        Error::Storage(s) if is_not_a_database(s.sqlite()) && keyed => Error::WrongKey,
        Error::Storage(s) if is_not_a_database(s.sqlite()) => Error::KeyRequired,
        other => other,
    }
}

/// The page HMAC. SQLCipher 4 defaults to HMAC-SHA512; SHA-256 has hardware support on ARMv8
/// phones and current x86 (SHA-NI) where SHA-512 mostly does not, and made reading an
/// encrypted record over twice as fast here, with a 256-bit tag that is ample for page
/// integrity. Everything else (AES-256-CBC, PBKDF2-HMAC-SHA512 with 256,000 iterations for
/// passphrases, 4 KiB pages) stays at SQLCipher 4's defaults, so a stock `sqlcipher` opens a
/// phrkit store after `PRAGMA key = …; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;`.
const HMAC_ALGORITHM: &str = "HMAC_SHA256";

/// Applies `key` (and phrkit's cipher settings) to a fresh connection and proves it works.
pub(crate) fn unlock(conn: &Connection, key: &StoreKey) -> Result<()> {
    conn.pragma_update(None, "key", key.sql_value())?;
    conn.pragma_update(None, "cipher_hmac_algorithm", HMAC_ALGORITHM)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| classify_open_error(e, true))?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) an encrypted store. A wrong key is [`Error::WrongKey`].
    /// Blocks (a passphrase key is deliberately slow to derive); call off the main thread.
    pub fn open_encrypted(path: impl AsRef<Path>, key: &StoreKey) -> Result<Store> {
        Store::open_with(path.as_ref(), Some(key), super::StoreOptions::default())
    }

    /// [`Store::open_encrypted`] with explicit [`super::StoreOptions`].
    pub fn open_encrypted_with_options(
        path: impl AsRef<Path>,
        key: &StoreKey,
        options: super::StoreOptions,
    ) -> Result<Store> {
        Store::open_with(path.as_ref(), Some(key), options)
    }

    /// Changes the key of this (encrypted) store in place; atomic.
    /// Needs `&mut`: no snapshot may be open, and the idle readers are closed first, since
    /// SQLCipher rekeys a file only its own connection has open.
    pub fn rekey(&mut self, new_key: &StoreKey) -> Result<()> {
        self.connections.close_readers();
        let writer = self.connections.writer();
        writer.pragma_update(None, "journal_mode", "DELETE")?;
        let result = writer.pragma_update(None, "rekey", new_key.sql_value());
        writer.pragma_update(None, "journal_mode", "WAL")?;
        drop(writer);
        result?;
        self.connections.set_key(new_key);
        Ok(())
    }
}

/// Copies the plain store at `plain` into a new encrypted store at `encrypted`.
pub fn encrypt_store(plain: &Path, encrypted: &Path, key: &StoreKey) -> Result<()> {
    copy(plain, None, encrypted, Some(key))
}

/// Copies the encrypted store at `encrypted` into a new plain store at `plain`.
pub fn decrypt_store(encrypted: &Path, key: &StoreKey, plain: &Path) -> Result<()> {
    copy(encrypted, Some(key), plain, None)
}

fn copy(
    from: &Path,
    from_key: Option<&StoreKey>,
    to: &Path,
    to_key: Option<&StoreKey>,
) -> Result<()> {
    if to.exists() {
        return Err(Error::InvalidInput(
            "the destination store already exists; choose a new file".into(),
        ));
    }
    let source = Store::open_with(from, from_key, super::StoreOptions::default())?;
    let version = source.schema_version()?;
    drop(source);
    // The encrypted side is the main connection, keyed by `unlock` with phrkit's cipher
    // settings; the plain side is attached with an empty key. (An attached encrypted file
    // would get SQLCipher's process-wide defaults instead.)
    let (main, main_key, attached) = match (from_key, to_key) {
        (None, Some(key)) => (to, key, from),
        (Some(key), None) => (from, key, to),
        _ => {
            return Err(Error::InvalidInput(
                "internal: a store copy encrypts or decrypts, one side keyed".into(),
            ));
        }
    };
    let conn = Connection::open(main)?;
    unlock(&conn, main_key)?;
    let attached_text = attached
        .to_str()
        .ok_or_else(|| Error::InvalidInput("the store path is not UTF-8".into()))?;
    conn.execute("ATTACH DATABASE ?1 AS plain KEY ''", [attached_text])?;
    let (into, out_of) = if to_key.is_some() {
        ("main", "plain")
    } else {
        ("plain", "main")
    };
    let copied = conn
        .query_row(
            &format!("SELECT sqlcipher_export('{into}', '{out_of}')"),
            [],
            |_| Ok(()),
        )
        .and_then(|_| conn.pragma_update(Some(into), "user_version", version));
    conn.execute_batch("DETACH DATABASE plain")?;
    copied?;
    crate::private_files::restrict_store(to)?;
    Ok(())
}
