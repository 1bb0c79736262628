//! Files that hold health data or secrets are for their owner's eyes only: stores (with their
//! `-wal`/`-shm` companions), data folders, tokens, QR codes of links.
//!
//! On Unix, files get mode 0600 and folders 0700, also when they already existed with a
//! looser mode (creating with a mode does nothing to an existing file). Elsewhere these are
//! no-ops: Android and iOS apps write inside their sandbox, and Windows ACLs are inherited.

use std::io::Write;
use std::path::Path;

/// Makes the file at `path` readable and writable by its owner only (nothing when absent).
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    set_mode(path, 0o600)
}

/// Makes the folder at `path` usable by its owner only (nothing when absent).
pub fn restrict_dir(path: &Path) -> std::io::Result<()> {
    set_mode(path, 0o700)
}

/// A store file and the companions SQLite keeps beside it, restricted. A store that is not
/// this user's to change (another owner, a read-only volume) is left as it is: opening it
/// must still work, and its mode is its owner's decision.
pub fn restrict_store(path: &Path) -> std::io::Result<()> {
    let mut paths = vec![path.as_os_str().to_owned()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        paths.push(companion);
    }
    for p in paths {
        match restrict_file(Path::new(&p)) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) => {}
            other => other?,
        }
    }
    Ok(())
}

/// True when a group or other users may read the file at `path` (false when absent, or on
/// systems without Unix modes).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Writes `bytes` to `path` (created or truncated), readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    restrict_file(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o777 != mode => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn existing_loose_files_and_folders_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(readable_by_others(&file));
        write_private(&file, b"secret").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert!(!readable_by_others(&file));
        let sub = dir.path().join("data");
        std::fs::create_dir(&sub).unwrap();
        restrict_dir(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        restrict_file(&dir.path().join("absent")).unwrap();
    }
}
