//! The record store: one SQLite file holding every version of every resource.
//!
//! Opened in WAL mode with `synchronous = NORMAL`: a crash cannot corrupt the file or
//! half-apply a transaction (a power cut may lose the last committed transaction, which an
//! import can simply repeat). Imports write in one transaction (see [`crate::import`]).
//!
//! A [`Store`] is `Send + Sync`: share one (in an `Arc`) between threads. Writes take turns on
//! one writer connection; reads run on reader connections inside a [`Snapshot`] and never
//! wait for a write, nor a write for them (see `connections.rs`). Every call blocks, so apps
//! call them off the main thread.

mod connections;
pub mod crypto;
pub(crate) mod derive;
mod page;
mod read;
mod rows;
pub(crate) mod schema;
pub(crate) mod selection;
pub(crate) mod write;

pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page};
pub use read::Snapshot;

use crate::error::{Error, Result};
use crate::fhir::date::DateRange;
use connections::{Connections, Writer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The store's patients, through the `resource_current_patient` partial index (schema v4):
/// the query's WHERE must contain the index's for SQLite to use it.
pub(crate) const PATIENT_IDS_SQL: &str = "SELECT id FROM resource_version
     WHERE patient = id AND current = 1 AND deleted = 0 AND type = 'Patient' ORDER BY id";

/// A handle on one store file.
pub struct Store {
    connections: Connections,
    path: PathBuf,
    encrypted: bool,
    options: StoreOptions,
}

/// How a store uses the device's memory and cores. The defaults fit a phone: an import of any
/// size stays within 64 MB (see the README's benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// SQLite's page cache, MiB. Imports insert into indexes at random places and exports walk
    /// a record in clinical order, so pages that fall out of the cache are read (and, in an
    /// encrypted store, decrypted) again; past 8 MiB the gain is small. Default 8.
    pub cache_mib: u32,
    /// Worker threads that parse and validate during an import (the store itself writes on
    /// the calling thread). Each costs a few MB at peak. Default: the device's cores, at
    /// most 4.
    pub threads: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_mib: 8,
            threads: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(4),
        }
    }
}

/// A stored resource version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    /// Resource type.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// Version number (`meta.versionId`), starting at 1.
    pub version: i64,
    /// When this version was written, epoch milliseconds (`meta.lastUpdated`).
    pub last_updated: i64,
    /// True for the marker version a delete writes.
    pub deleted: bool,
    /// The resource's JSON as stored (empty for a delete marker).
    pub json: String,
    /// Its sensitive-data categories (bit mask, see [`crate::sensitivity`]).
    pub sensitive: i64,
}

/// A search over current, non-deleted resources.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Only this patient's compartment (the Patient's id, not `Patient/…`).
    pub patient: Option<String>,
    /// Only these resource types (empty = all).
    pub types: Vec<String>,
    /// Only resources whose clinical date overlaps this range; resources without a clinical
    /// date are kept.
    pub dates: Option<DateRange>,
    /// At most this many results (None = all).
    pub limit: Option<usize>,
}

/// Counts that describe a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Current resources by type.
    pub by_type: BTreeMap<String, u64>,
    /// All current resources.
    pub resources: u64,
    /// Every stored version, including history and delete markers.
    pub versions: u64,
    /// Import runs recorded.
    pub runs: u64,
    /// Resources kept in quarantine.
    pub quarantined: u64,
    /// Documents (attachment bytes) stored, each once.
    pub documents: u64,
}

/// A resource an import kept aside (`--on-invalid quarantine`) instead of storing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Its `resourceType`, when it had one.
    pub resource_type: Option<String>,
    /// Its `id`, when it had one.
    pub id: Option<String>,
    /// Why it was kept aside.
    pub reason: String,
    /// The resource as it arrived.
    pub json: String,
}

/// Attachment bytes the store keeps once, named by their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// The attachment's `contentType`, when it gave one.
    pub content_type: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// One recorded import run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// Run number.
    pub id: i64,
    /// Start time (RFC 3339).
    pub started: String,
    /// The sources' names, SHA-256 and sizes, as JSON.
    pub sources: String,
    /// Ids of the run's Provenance resources (space-separated), if it wrote anything.
    pub provenance_ids: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the plain store at `path` and brings its schema up to date.
    /// An encrypted store gives [`Error::KeyRequired`]: use [`Store::open_encrypted`].
    /// Blocks; call off the main thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path.as_ref(), None, StoreOptions::default())
    }

    /// [`Store::open`] with explicit [`StoreOptions`].
    pub fn open_with_options(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        Store::open_with(path.as_ref(), None, options)
    }

    /// The options the store was opened with.
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    pub(crate) fn open_with(
        path: &Path,
        key: Option<&crypto::StoreKey>,
        options: StoreOptions,
    ) -> Result<Store> {
        Ok(Store {
            connections: Connections::open(path, key, options.cache_mib)?,
            path: path.to_path_buf(),
            encrypted: key.is_some(),
            options,
        })
    }

    /// A consistent copy of this plain store in a new file (`VACUUM INTO`), e.g. before a
    /// risky operation. Encrypted stores are copied with [`crypto::decrypt_store`] /
    /// [`crypto::encrypt_store`] instead, so a key never has to be kept around.
    pub fn backup_to(&self, path: impl AsRef<Path>) -> Result<()> {
        if self.encrypted {
            return Err(Error::Unsupported(
                "backup_to copies plain stores only".into(),
            ));
        }
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::InvalidInput(
                "the backup file already exists; choose a new file".into(),
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| Error::InvalidInput("the backup path is not UTF-8".into()))?;
        self.writer().execute("VACUUM INTO ?1", [target])?;
        crate::private_files::restrict_store(path)?;
        Ok(())
    }

    /// The file's schema version (`PRAGMA user_version`).
    pub(crate) fn schema_version(&self) -> Result<i64> {
        Ok(self
            .snapshot()?
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// True when the store file is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A consistent view for several reads: one read transaction on a reader connection,
    /// never waiting for (nor holding up) a writer. See [`Snapshot`].
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        Snapshot::begin(&self.connections)
    }

    /// The current version of `type/id`, or `None` if absent or deleted.
    pub fn get(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        self.snapshot()?.get(resource_type, id)
    }

    /// Every version of `type/id`, newest first (including delete markers).
    pub fn history(&self, resource_type: &str, id: &str) -> Result<Vec<StoredResource>> {
        self.snapshot()?.history(resource_type, id)
    }

    /// Current resources matching `search`, ordered by clinical date then type and id.
    pub fn search(&self, search: &Search) -> Result<Vec<StoredResource>> {
        self.snapshot()?.search(search)
    }

    /// Streams current resources matching `search` to `f` without collecting them.
    pub fn for_each_match(
        &self,
        search: &Search,
        f: impl FnMut(StoredResource) -> Result<()>,
    ) -> Result<()> {
        self.snapshot()?.for_each_match(search, f)
    }

    /// One page of `search`, newest clinical date first, after `page_token` (`None`: the
    /// first page); see [`Page`] and the paging rules in `store/page.rs`. Errors: a token of
    /// another search or not a token (`InvalidParameter` naming `pageToken`).
    pub fn search_page(&self, search: &Search, page_token: Option<&str>) -> Result<Page> {
        self.snapshot()?.search_page(search, page_token)
    }

    /// Number of current resources, of one type or of all.
    pub fn count(&self, resource_type: Option<&str>) -> Result<u64> {
        self.snapshot()?.count(resource_type)
    }

    /// Deletes `type/id` softly: a new version marks it deleted; history keeps the old ones.
    /// Returns false when there was nothing to delete.
    pub fn delete(&self, resource_type: &str, id: &str) -> Result<bool> {
        let writer = self.writer();
        let tx = write::WriteTx::begin(&writer)?;
        let deleted = tx.delete(resource_type, id, crate::fhir::date::now_ms())?;
        tx.commit()?;
        Ok(deleted)
    }

    /// Ids of the Patients in the store, sorted.
    pub fn patient_ids(&self) -> Result<Vec<String>> {
        self.snapshot()?.patient_ids()
    }

    /// Counts by type and of versions, runs and quarantined resources.
    pub fn stats(&self) -> Result<Stats> {
        self.snapshot()?.stats()
    }

    /// The recorded import runs, oldest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>> {
        self.snapshot()?.runs()
    }

    /// The resources imports kept aside, in the order they were kept.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        self.snapshot()?.quarantined()
    }

    /// A stored document (attachment bytes) by the lower-case hex SHA-256 that a
    /// stored-document extension names.
    pub fn document(&self, sha256: &str) -> Result<Option<StoredDocument>> {
        self.snapshot()?.document(sha256)
    }

    /// Looks a resource up by type+id and reports it as an error when absent.
    pub fn require(&self, resource_type: &str, id: &str) -> Result<StoredResource> {
        self.snapshot()?.require(resource_type, id)
    }

    /// Waits for the writer (and, up to `wait`, for another process's write lock) to record
    /// the access-log entries that reads made while an import held it. Returns how many could
    /// not be written yet; they stay queued and are tried again on the next write and when
    /// the store closes.
    pub fn flush_access_log(&self, wait: std::time::Duration) -> Result<usize> {
        self.connections.flush(wait)
    }

    /// The writer connection, waiting for the current holder.
    pub(crate) fn writer(&self) -> Writer<'_> {
        self.connections.writer()
    }

    /// Runs `f` in one write transaction and commits it; an error rolls everything back.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&write::WriteTx<'_>) -> Result<T>) -> Result<T> {
        let writer = self.writer();
        let tx = write::WriteTx::begin(&writer)?;
        let answer = f(&tx)?;
        tx.commit()?;
        Ok(answer)
    }

    /// [`Store::write`] for deletions whose bytes must leave the file: SQLite overwrites the
    /// freed content with zeros (`secure_delete`), and the WAL, which still holds the old
    /// pages, is checkpointed into the file and truncated afterwards. A reader snapshot open
    /// meanwhile delays the truncation up to the busy timeout; if it is still open then, the
    /// call fails with a storage error after the deletion committed, and repeating it finishes
    /// the job.
    pub(crate) fn erase<T>(&self, f: impl FnOnce(&write::WriteTx<'_>) -> Result<T>) -> Result<T> {
        let writer = self.writer();
        writer.pragma_update(None, "secure_delete", "ON")?;
        let done = (|| {
            let tx = write::WriteTx::begin(&writer)?;
            let answer = f(&tx)?;
            tx.commit()?;
            let (busy, _, _): (i64, i64, i64) =
                writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            if busy != 0 {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ResourceBusy,
                    "the deletion committed, but a reader kept the old pages in the WAL: \
                     repeat it once no export or search is running",
                )));
            }
            Ok(answer)
        })();
        writer.pragma_update(None, "secure_delete", "OFF")?;
        done
    }

    /// Records a write made on the side of a read now, or as soon as the writer is free.
    pub(crate) fn write_soon(&self, write: connections::Deferred) -> Result<()> {
        self.connections.write_soon(write)
    }
}
