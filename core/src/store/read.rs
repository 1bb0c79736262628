//! Reading the store: a [`Snapshot`] is one read transaction on a reader connection.
//!
//! Every query inside one snapshot sees the same committed state, however long it takes and
//! whatever a writer commits meanwhile (WAL keeps the old pages for it), so an export's plan,
//! its counts and its rows agree. A snapshot never takes a lock a writer waits for, and a
//! writer never makes it wait. Dropping it ends the transaction; [`Snapshot::finish`] does the
//! same and reports an error. Keep snapshots short-lived: while one is open, SQLite cannot
//! recycle the WAL pages it may still read, and the `-wal` file grows.

use super::connections::{Connections, Reader};
use super::rows::{current_of, filtered, row_to_stored};
use super::{PATIENT_IDS_SQL, Quarantined, RunInfo, Search, Stats, StoredDocument, StoredResource};
use crate::error::{Error, Result};
use rusqlite::{Connection, OptionalExtension, params};

/// A consistent view of the store for several reads (see the module doc).
pub struct Snapshot<'s> {
    conn: Reader<'s>,
}

impl<'s> Snapshot<'s> {
    /// Borrows a reader and opens its read transaction.
    pub(crate) fn begin(connections: &'s Connections) -> Result<Snapshot<'s>> {
        let conn = connections.reader()?;
        conn.execute_batch("BEGIN DEFERRED")?;
        Ok(Snapshot { conn })
    }

    /// Ends the read transaction, reporting an error SQLite gives on the way.
    pub fn finish(self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// The reader connection, for the crate's own typed queries.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The current version of `type/id`, or `None` if absent or deleted.
    pub fn get(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        current_of(&self.conn, resource_type, id)
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
        let (mut sql, args) = filtered(search);
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

    /// The resources imports kept aside, in the order they were kept.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let mut st = self
            .conn
            .prepare("SELECT type, id, reason, json FROM quarantine ORDER BY row")?;
        let rows = st.query_map([], |r| {
            Ok(Quarantined {
                resource_type: r.get(0)?,
                id: r.get(1)?,
                reason: r.get(2)?,
                json: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A stored document (attachment bytes) by the lower-case hex SHA-256 that a
    /// stored-document extension names.
    pub fn document(&self, sha256: &str) -> Result<Option<StoredDocument>> {
        Ok(self
            .conn
            .prepare_cached("SELECT content_type, data FROM document WHERE sha256 = ?1")?
            .query_row([sha256], |r| {
                Ok(StoredDocument {
                    content_type: r.get(0)?,
                    bytes: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Looks a resource up by type+id and reports it as an error when absent.
    pub fn require(&self, resource_type: &str, id: &str) -> Result<StoredResource> {
        self.get(resource_type, id)?
            .ok_or_else(|| Error::NotFound(format!("{resource_type}/{id}")))
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            // Nothing was written; a failed rollback leaves the connection out of the pool.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
