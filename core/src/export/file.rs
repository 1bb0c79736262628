//! Writing an export to a path without ever leaving half a file behind.
//!
//! A regular file is written beside its target under a temporary `.partial` name, synced,
//! and renamed over the target only once complete; a failed or cancelled export leaves the
//! target as it was. A device, pipe or socket (`/dev/null`, `/dev/stdout`, a FIFO) is
//! written in place: renaming over it would replace the device with a regular file.

use std::fs::File;
use std::io;
use std::path::Path;

/// The file an export to a path writes into. Dropped without [`ExportFile::finish`], the
/// partial file is removed.
pub struct ExportFile {
    inner: Inner,
}

enum Inner {
    InPlace(File),
    Partial(tempfile::NamedTempFile),
}

impl ExportFile {
    /// Prepares an export to `target`; without a target yet (its name comes from the export),
    /// the partial file is made in the current folder.
    pub fn create(target: Option<&Path>) -> io::Result<ExportFile> {
        if let Some(device) = target.filter(|p| writes_in_place(p)) {
            let file = std::fs::OpenOptions::new().write(true).open(device)?;
            return Ok(ExportFile {
                inner: Inner::InPlace(file),
            });
        }
        let dir = target
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let partial = tempfile::Builder::new()
            .prefix(".phrkit-export")
            .suffix(".partial")
            .tempfile_in(dir)?;
        Ok(ExportFile {
            inner: Inner::Partial(partial),
        })
    }

    /// The file to write the export into.
    pub fn file(&mut self) -> &mut File {
        match &mut self.inner {
            Inner::InPlace(file) => file,
            Inner::Partial(partial) => partial.as_file_mut(),
        }
    }

    /// Completes the export: the partial file is synced and renamed onto `target` (a device
    /// was written in place: nothing left to do).
    pub fn finish(self, target: &Path) -> io::Result<()> {
        match self.inner {
            Inner::InPlace(_) => Ok(()),
            Inner::Partial(partial) => {
                partial.as_file().sync_all()?;
                partial.persist(target).map(drop).map_err(|e| e.error)
            }
        }
    }
}

/// True when `path` is an existing device, pipe or socket.
fn writes_in_place(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}
