//! The record store: one SQLite file holding every version of every resource.
//!
//! Opened in WAL mode with `synchronous = NORMAL`: readers never block the writer, and a
//! crash cannot corrupt the file or half-apply a transaction (a power cut may lose the last
//! committed transaction, which an import can simply repeat). Imports write in one
//! transaction (see [`crate::import`]). The [`Store`] is `Send` but not `Sync`: use one per
//! thread, or share it behind a mutex; all calls block, so apps call them off the main thread.

pub mod crypto;
pub mod schema;
pub(crate) mod write;

use crate::error::{Error, Result};
use crate::fhir::date::DateRange;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The store's patients, through the `resource_current_patient` partial index (schema v4):
/// the query's WHERE must contain the index's for SQLite to use it.
pub(crate) const PATIENT_IDS_SQL: &str = "SELECT id FROM resource_version
     WHERE patient = id AND current = 1 AND deleted = 0 AND type = 'Patient' ORDER BY id";

/// A handle on one store file.
pub struct Store {
    pub(crate) conn: Connection,
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
        let path = path.to_path_buf();
        let mut conn = Connection::open(&path)?;
        if let Some(key) = key {
            crypto::unlock(&conn, key)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Owner-only before SQLite creates the -wal/-shm files, which copy the store's mode.
        crate::private_files::restrict_store(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| crypto::classify_open_error(e, key.is_some()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(
            None,
            "cache_size",
            -(i64::from(options.cache_mib.max(1)) * 1024),
        )?;
        schema::migrate(&mut conn).map_err(|e| match e {
            Error::Storage(e) => crypto::classify_open_error(e, key.is_some()),
            other => other,
        })?;
        Ok(Store {
            conn,
            path,
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
        self.conn.execute("VACUUM INTO ?1", [target])?;
        crate::private_files::restrict_store(path)?;
        Ok(())
    }

    /// True when the store file is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current version of `type/id`, or `None` if absent or deleted.
    pub fn get(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        let r = self
            .conn
            .prepare_cached(
                "SELECT type, id, version, last_updated, deleted, json, sensitive FROM resource_version
                 WHERE id = ?1 AND type = ?2 AND current = 1",
            )?
            .query_row(params![id, resource_type], row_to_stored)
            .optional()?;
        Ok(r.filter(|r| !r.deleted))
    }

    /// Every version of `type/id`, newest first (including delete markers).
    pub fn history(&self, resource_type: &str, id: &str) -> Result<Vec<StoredResource>> {
        let mut st = self.conn.prepare_cached(
            "SELECT type, id, version, last_updated, deleted, json, sensitive FROM resource_version
             WHERE id = ?1 AND type = ?2 ORDER BY version DESC",
        )?;
        let rows = st.query_map(params![id, resource_type], row_to_stored)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Current resources matching `search`, ordered by clinical date then type and id.
    pub fn search(&self, search: &Search) -> Result<Vec<StoredResource>> {
        let mut out = Vec::new();
        self.for_each_match(search, |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams current resources matching `search` to `f` without collecting them.
    pub fn for_each_match(
        &self,
        search: &Search,
        mut f: impl FnMut(StoredResource) -> Result<()>,
    ) -> Result<()> {
        let mut sql = String::from(
            "SELECT type, id, version, last_updated, deleted, json, sensitive FROM resource_version
             WHERE current = 1 AND deleted = 0",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(p) = &search.patient {
            sql.push_str(" AND patient = ?");
            args.push(p.clone().into());
        }
        if !search.types.is_empty() {
            sql.push_str(" AND type IN (");
            sql.push_str(&vec!["?"; search.types.len()].join(","));
            sql.push(')');
            args.extend(search.types.iter().map(|t| t.clone().into()));
        }
        if let Some(range) = search.dates {
            sql.push_str(" AND (date_start IS NULL OR (date_start < ? AND date_end > ?))");
            args.push(range.end.into());
            args.push(range.start.into());
        }
        sql.push_str(" ORDER BY date_start, type, id");
        if let Some(limit) = search.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            f(row_to_stored(row)?)?;
        }
        Ok(())
    }

    /// Number of current resources, of one type or of all.
    pub fn count(&self, resource_type: Option<&str>) -> Result<u64> {
        let n: i64 = match resource_type {
            Some(t) => self.conn.query_row(
                "SELECT count(*) FROM resource_version WHERE type = ?1 AND current = 1 AND deleted = 0",
                [t],
                |r| r.get(0),
            )?,
            None => self.conn.query_row(
                "SELECT count(*) FROM resource_version WHERE current = 1 AND deleted = 0",
                [],
                |r| r.get(0),
            )?,
        };
        Ok(n as u64)
    }

    /// Deletes `type/id` softly: a new version marks it deleted; history keeps the old ones.
    /// Returns false when there was nothing to delete.
    pub fn delete(&mut self, resource_type: &str, id: &str) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let deleted = write::delete(&tx, resource_type, id, crate::fhir::date::now_ms())?;
        tx.commit()?;
        Ok(deleted)
    }

    /// Ids of the Patients in the store, sorted.
    pub fn patient_ids(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(PATIENT_IDS_SQL)?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The current Consent resources of `patient` (what may be shared, see
    /// [`crate::sensitivity`]), as stored JSON.
    pub(crate) fn consents(&self, patient: &str) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT json FROM resource_version
             WHERE patient = ?1 AND current = 1 AND deleted = 0 AND type = 'Consent'",
        )?;
        let rows = st.query_map([patient], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Counts by type and of versions, runs and quarantined resources.
    pub fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        let mut st = self.conn.prepare(
            "SELECT type, count(*) FROM resource_version WHERE current = 1 AND deleted = 0 GROUP BY type",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let n: i64 = r.get(1)?;
            stats.by_type.insert(r.get(0)?, n as u64);
            stats.resources += n as u64;
        }
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
            Ok(n as u64)
        };
        stats.versions = count("SELECT count(*) FROM resource_version")?;
        stats.runs = count("SELECT count(*) FROM import_run")?;
        stats.quarantined = count("SELECT count(*) FROM quarantine")?;
        stats.documents = count("SELECT count(*) FROM document")?;
        Ok(stats)
    }

    /// The recorded import runs, oldest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>> {
        let mut st = self
            .conn
            .prepare("SELECT id, started, sources, provenance_ids FROM import_run ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(RunInfo {
                id: r.get(0)?,
                started: r.get(1)?,
                sources: r.get(2)?,
                provenance_ids: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Quarantined resources as `(type, id, reason, json)`.
    pub fn quarantined(&self) -> Result<Vec<(String, String, String, String)>> {
        let mut st = self.conn.prepare(
            "SELECT coalesce(type,''), coalesce(id,''), reason, json FROM quarantine ORDER BY row",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A stored document (attachment bytes) by the lower-case hex SHA-256 that a
    /// stored-document extension names: `(content type, bytes)`.
    pub fn document(&self, sha256: &str) -> Result<Option<(Option<String>, Vec<u8>)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT content_type, data FROM document WHERE sha256 = ?1")?
            .query_row([sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Looks a resource up by type+id and reports it as an error when absent.
    pub fn require(&self, resource_type: &str, id: &str) -> Result<StoredResource> {
        self.get(resource_type, id)?
            .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id}")))
    }
}

fn row_to_stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredResource> {
    Ok(StoredResource {
        resource_type: r.get(0)?,
        id: r.get(1)?,
        version: r.get(2)?,
        last_updated: r.get(3)?,
        deleted: r.get::<_, i64>(4)? != 0,
        json: r.get(5)?,
        sensitive: r.get(6)?,
    })
}
