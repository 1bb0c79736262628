//! Content-addressed storage of the uploaded JWEs.
//!
//! Each blob is a file in `blobs/` named by the base64url SHA-256 of its bytes, so identical
//! uploads (to one link or several) are stored once and a name can be checked against its
//! content. A blob is written to a uniquely named temporary file in the same folder and then
//! renamed into place, so a reader never sees half a file and a crash leaves at most a stray
//! `.tmp-*` file. Names coming from URLs are checked to be exactly 43 base64url characters
//! before they touch the file system (no path traversal). Blobs are ciphertext the host cannot
//! read; they are never deleted by revocation, so `PUT` can reactivate a link with its files.
//! The one deletion: a direct-file (`U`) link's replaced file, once no link lists it (see
//! `db::add_file`), so replacing it again and again cannot fill the disk past the quotas.
//!
//! All functions block; callers run them on the blocking pool.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::ServerError;
use crate::secrets::{random_token, sha256_b64url};

/// The blob folder.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// Use (creating if needed) the folder `dir`.
    pub fn open(dir: &Path) -> Result<BlobStore, ServerError> {
        fs::create_dir_all(dir)?;
        phrkit::private_files::restrict_dir(dir)?;
        Ok(BlobStore {
            dir: dir.to_path_buf(),
        })
    }

    /// Store `bytes` and return their content address.
    pub fn put(&self, bytes: &[u8]) -> Result<String, ServerError> {
        let hash = sha256_b64url(bytes);
        let path = self.dir.join(&hash);
        if path.is_file() {
            return Ok(hash);
        }
        let tmp = self.dir.join(format!(".tmp-{}", random_token()?));
        let written = (|| -> io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(err) = written {
            let _ = fs::remove_file(&tmp);
            return Err(err.into());
        }
        Ok(hash)
    }

    /// Deletes the blob with this address, if it exists (a malformed name is ignored).
    pub fn remove(&self, hash: &str) -> Result<(), ServerError> {
        if !is_content_address(hash) {
            return Ok(());
        }
        match fs::remove_file(self.dir.join(hash)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err.into()),
            _ => Ok(()),
        }
    }

    /// The blob with this address as text, or `None` if the name is malformed or absent.
    pub fn get(&self, hash: &str) -> Result<Option<String>, ServerError> {
        if !is_content_address(hash) {
            return Ok(None);
        }
        match fs::read(self.dir.join(hash)) {
            Ok(bytes) => Ok(String::from_utf8(bytes).ok()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

/// Whether `name` looks like a content address: 43 base64url characters.
pub fn is_content_address(name: &str) -> bool {
    name.len() == 43
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_dedup_and_traversal_guard() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(&dir.path().join("blobs")).unwrap();
        let a = store.put(b"a.b.c.d.e").unwrap();
        let again = store.put(b"a.b.c.d.e").unwrap();
        assert_eq!(a, again);
        assert_eq!(store.get(&a).unwrap().as_deref(), Some("a.b.c.d.e"));
        assert_eq!(fs::read_dir(dir.path().join("blobs")).unwrap().count(), 1);
        assert_eq!(store.get("../shl.sqlite").unwrap(), None);
        assert_eq!(store.get(&"A".repeat(43)).unwrap(), None);
    }
}
