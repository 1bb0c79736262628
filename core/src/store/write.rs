//! Row-level writes and the lookups a writer makes while writing, on a [`WriteTx`].
//!
//! A `WriteTx` is one transaction on the store's writer connection: the only way the rest
//! of the crate writes. All statements are cached prepared statements; nothing commits but
//! [`WriteTx::commit`], and dropping a `WriteTx` rolls it back. Kept apart from the read API
//! ([`super::Snapshot`]) so the write path is easy to audit for atomicity.

use super::derive::Derived;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

/// The current version of a resource, as the importer needs it.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub row: i64,
    pub version: i64,
    pub hash: Vec<u8>,
    pub last_updated: i64,
    pub source_updated: Option<i64>,
    pub deleted: bool,
    pub run: Option<i64>,
    pub patient: Option<String>,
}

/// A version about to be written.
pub(crate) struct NewVersion<'a> {
    pub ty: &'a str,
    pub id: &'a str,
    pub version: i64,
    /// When this store wrote it (epoch ms).
    pub last_updated: i64,
    /// The import run that wrote it; `None` for what the library itself writes.
    pub run: Option<i64>,
    /// The JSON to store (with this version's `meta`).
    pub json: &'a str,
    /// Its stored columns (see [`super::derive`]).
    pub derived: &'a Derived,
}

/// A resource an import parks until the names it references are known.
pub(crate) struct Pending {
    pub seq: i64,
    pub source: usize,
    pub line: u64,
    pub location: Option<String>,
    pub ty: String,
    pub id: String,
    pub json: String,
    /// The source's `meta.lastUpdated` and `meta.versionId`, when `json` carries ours.
    pub source_meta: Option<(Option<i64>, Option<String>)>,
}

/// One write transaction on the writer connection (see the module doc).
pub(crate) struct WriteTx<'c>(Transaction<'c>);

impl<'c> WriteTx<'c> {
    /// Begins a transaction that takes the file's write lock at once (IMMEDIATE), so waiting
    /// for another process's writer goes through the busy timeout.
    pub(crate) fn begin(conn: &'c Connection) -> Result<WriteTx<'c>> {
        Ok(WriteTx(Transaction::new_unchecked(
            conn,
            TransactionBehavior::Immediate,
        )?))
    }

    /// Commits everything written.
    pub(crate) fn commit(self) -> Result<()> {
        self.0.commit()?;
        Ok(())
    }

    pub(crate) fn current(&self, ty: &str, id: &str) -> Result<Option<Current>> {
        let conn: &Connection = &self.0;
        Ok(conn
            .prepare_cached(
                "SELECT row, version, hash, last_updated, source_updated, deleted, run, patient
                 FROM resource_version WHERE id = ?1 AND type = ?2 AND current = 1",
            )?
            .query_row(params![id, ty], |r| {
                Ok(Current {
                    row: r.get(0)?,
                    version: r.get(1)?,
                    hash: r.get(2)?,
                    last_updated: r.get(3)?,
                    source_updated: r.get(4)?,
                    deleted: r.get::<_, i64>(5)? != 0,
                    run: r.get(6)?,
                    patient: r.get(7)?,
                })
            })
            .optional()?)
    }

    /// The number of a stored version of `type/id` whose content hash is `hash`, if any.
    pub(crate) fn version_with_hash(&self, ty: &str, id: &str, hash: &[u8]) -> Result<Option<i64>> {
        let conn: &Connection = &self.0;
        Ok(conn
            .prepare_cached(
                "SELECT version FROM resource_version WHERE id = ?1 AND type = ?2 AND hash = ?3
                 ORDER BY version DESC LIMIT 1",
            )?
            .query_row(params![id, ty, hash], |r| r.get(0))
            .optional()?)
    }

    /// Writes a new version and retires `previous` (the row it supersedes), if any; returns the
    /// new version's row.
    /// Writes a new version, with its business identifiers, and retires `previous` (the row
    /// it supersedes), if any; returns the new version's row. The one version-write path:
    /// imports and the library's own resources (the access log) both write through it.
    pub(crate) fn insert_version(&self, previous: Option<i64>, v: &NewVersion<'_>) -> Result<i64> {
        let conn: &Connection = &self.0;
        let d = v.derived;
        if let Some(row) = previous {
            conn.prepare_cached("UPDATE resource_version SET current = 0 WHERE row = ?1")?
                .execute([row])?;
        }
        conn.prepare_cached(
            "INSERT INTO resource_version (type, id, version, current, deleted, patient, date_start,
                 date_end, last_updated, source_updated, hash, refs, run, json, sensitive)
             VALUES (?1, ?2, ?3, 1, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            v.ty,
            v.id,
            v.version,
            d.patient,
            d.period.map(|p| p.start),
            d.period.map(|p| p.end),
            v.last_updated,
            d.source_updated,
            &d.hash[..],
            d.refs,
            v.run,
            v.json,
            d.sensitive
        ])?;
        let row = conn.last_insert_rowid();
        self.add_identifiers(v.ty, v.id, &d.identifiers)?;
        Ok(row)
    }

    fn add_identifiers(&self, ty: &str, id: &str, identifiers: &[(String, String)]) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "INSERT INTO identifier (type, system, value, id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (type, system, value) DO UPDATE SET shared = 1 WHERE id <> excluded.id",
        )?;
        for (system, value) in identifiers {
            st.execute(params![ty, system, value, id])?;
        }
        Ok(())
    }

    /// The one resource of `ty` carrying this identifier (none when two or more share it).
    pub(crate) fn find_by_identifier(
        &self,
        ty: &str,
        system: &str,
        value: &str,
    ) -> Result<Option<String>> {
        let conn: &Connection = &self.0;
        Ok(conn
            .prepare_cached("SELECT id FROM identifier WHERE type = ?1 AND system = ?2 AND value = ?3 AND shared = 0")?
            .query_row(params![ty, system, value], |r| r.get(0))
            .optional()?)
    }

    /// Stores attachment bytes once, keyed by their SHA-256.
    pub(crate) fn insert_document(&self, doc: &crate::fhir::attachment::Document) -> Result<()> {
        let conn: &Connection = &self.0;
        conn.prepare_cached(
            "INSERT OR IGNORE INTO document (sha256, content_type, size, data) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            doc.sha256,
            doc.content_type,
            doc.bytes.len() as i64,
            doc.bytes
        ])?;
        Ok(())
    }

    /// The patient compartment of the current version of `type/id`, if any.
    pub(crate) fn patient_of_row(&self, ty: &str, id: &str) -> Result<Option<String>> {
        let conn: &Connection = &self.0;
        Ok(conn
            .prepare_cached(
                "SELECT patient FROM resource_version WHERE id = ?1 AND type = ?2 AND current = 1 AND deleted = 0",
            )?
            .query_row(params![id, ty], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// The type of a current resource with this id, for resolving `urn:uuid:<id>`.
    pub(crate) fn type_of_id(&self, id: &str) -> Result<Option<String>> {
        let conn: &Connection = &self.0;
        Ok(conn
            .prepare_cached(
                "SELECT type FROM resource_version WHERE id = ?1 AND current = 1 AND deleted = 0 LIMIT 1",
            )?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn delete(&self, ty: &str, id: &str, now_ms: i64) -> Result<bool> {
        let conn: &Connection = &self.0;
        let Some(cur) = self.current(ty, id)? else {
            return Ok(false);
        };
        if cur.deleted {
            return Ok(false);
        }
        conn.prepare_cached("UPDATE resource_version SET current = 0 WHERE row = ?1")?
            .execute([cur.row])?;
        conn.prepare_cached(
            "INSERT INTO resource_version (type, id, version, current, deleted, last_updated, hash, json)
             VALUES (?1, ?2, ?3, 1, 1, ?4, x'', '')",
        )?
        .execute(params![ty, id, cur.version + 1, now_ms])?;
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn quarantine(
        &self,
        run: i64,
        line: Option<u64>,
        ty: Option<&str>,
        id: Option<&str>,
        reason: &str,
        json: &str,
    ) -> Result<()> {
        let conn: &Connection = &self.0;
        conn.prepare_cached(
            "INSERT INTO quarantine (run, line, type, id, reason, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![run, line.map(|l| l as i64), ty, id, reason, json])?;
        Ok(())
    }

    /// Parks a resource of run `run` (see schema v5).
    pub(crate) fn park(&self, run: i64, p: &Pending) -> Result<()> {
        let conn: &Connection = &self.0;
        conn.prepare_cached(
            "INSERT INTO import_pending (run, source, line, location, type, id, json,
                 source_updated, source_version, ours) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            run,
            p.source as i64,
            p.line as i64,
            p.location,
            p.ty,
            p.id,
            p.json,
            p.source_meta.as_ref().and_then(|m| m.0),
            p.source_meta.as_ref().and_then(|m| m.1.clone()),
            p.source_meta.is_some(),
        ])?;
        Ok(())
    }

    /// Up to `limit` parked resources of run `run` after `after`, in the order they were parked.
    pub(crate) fn parked_after(&self, run: i64, after: i64, limit: usize) -> Result<Vec<Pending>> {
        let conn: &Connection = &self.0;
        let mut st = conn.prepare_cached(
            "SELECT seq, source, line, location, type, id, json, source_updated, source_version, ours
             FROM import_pending WHERE run = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = st.query_map(params![run, after, limit as i64], |r| {
            Ok(Pending {
                seq: r.get(0)?,
                source: r.get::<_, i64>(1)? as usize,
                line: r.get::<_, i64>(2)? as u64,
                location: r.get(3)?,
                ty: r.get(4)?,
                id: r.get(5)?,
                json: r.get(6)?,
                source_meta: if r.get::<_, bool>(9)? {
                    Some((r.get(7)?, r.get(8)?))
                } else {
                    None
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes run `run`'s parked resources.
    pub(crate) fn clear_parked(&self, run: i64) -> Result<()> {
        let conn: &Connection = &self.0;
        conn.prepare_cached("DELETE FROM import_pending WHERE run = ?1")?
            .execute([run])?;
        Ok(())
    }

    /// Whether the store holds any resource version, and any business identifier (an import of
    /// a first file into a new store skips the lookups that could only find its own rows).
    pub(crate) fn holds_anything(&self) -> Result<(bool, bool)> {
        let conn: &Connection = &self.0;
        Ok(conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM resource_version), EXISTS (SELECT 1 FROM identifier)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// The stored JSON of row `row`.
    pub(crate) fn json_of_row(&self, row: i64) -> Result<String> {
        let conn: &Connection = &self.0;
        Ok(conn
            .prepare_cached("SELECT json FROM resource_version WHERE row = ?1")?
            .query_row([row], |r| r.get(0))?)
    }

    /// Replaces the JSON and content hash of row `row` (a resource this run wrote itself and
    /// completes later, such as a Provenance written before its input's hash was known).
    pub(crate) fn replace_json(&self, row: i64, json: &str, hash: &[u8]) -> Result<()> {
        let conn: &Connection = &self.0;
        conn.prepare_cached("UPDATE resource_version SET json = ?1, hash = ?2 WHERE row = ?3")?
            .execute(params![json, hash, row])?;
        Ok(())
    }

    /// Records a new import run; returns its number.
    pub(crate) fn begin_run(&self, started: &str, strategy: &str) -> Result<i64> {
        self.0.execute(
            "INSERT INTO import_run (started, strategy) VALUES (?1, ?2)",
            params![started, strategy],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    /// The current, non-deleted version of `ty/id` as this transaction sees it.
    pub(crate) fn stored(&self, ty: &str, id: &str) -> Result<Option<super::StoredResource>> {
        super::rows::current_of(&self.0, ty, id)
    }

    /// Removes every version of `ty/id`, its business identifiers and any quarantined copy;
    /// returns how many versions were removed. See [`super::Store::purge`].
    pub(crate) fn purge(&self, ty: &str, id: &str) -> Result<usize> {
        let removed = self.0.execute(
            "DELETE FROM resource_version WHERE id = ?1 AND type = ?2",
            params![id, ty],
        )?;
        self.0.execute(
            "DELETE FROM identifier WHERE id = ?1 AND type = ?2",
            params![id, ty],
        )?;
        self.0.execute(
            "DELETE FROM quarantine WHERE id = ?1 AND type = ?2",
            params![id, ty],
        )?;
        Ok(removed)
    }

    /// Removes every row of every table: the store as it was when created.
    pub(crate) fn wipe(&self) -> Result<()> {
        self.0.execute_batch(
            "DELETE FROM resource_version; DELETE FROM identifier; DELETE FROM document;
             DELETE FROM quarantine; DELETE FROM import_pending; DELETE FROM import_run;",
        )?;
        Ok(())
    }

    /// Completes run `run`'s record.
    pub(crate) fn finish_run(&self, run: i64, finished: &RunRecord<'_>) -> Result<()> {
        self.0.execute(
            "UPDATE import_run SET finished = ?1, sources = ?2, provenance_ids = ?3, summary = ?4 WHERE id = ?5",
            params![
                finished.finished,
                finished.sources,
                finished.provenance_ids,
                finished.summary,
                run
            ],
        )?;
        Ok(())
    }

    /// An earlier run than `run` whose sources include the one with this SHA-256, if any.
    pub(crate) fn earlier_run_with(&self, run: i64, sha256: &str) -> Result<Option<i64>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id FROM import_run WHERE id <> ?1 AND instr(sources, ?2) > 0 ORDER BY id LIMIT 1",
            )?
            .query_row(params![run, sha256], |r| r.get(0))
            .optional()?)
    }

    /// `(type, id, version)` of row `row`.
    pub(crate) fn version_of_row(&self, row: i64) -> Result<(String, String, i64)> {
        Ok(self
            .0
            .prepare_cached("SELECT type, id, version FROM resource_version WHERE row = ?1")?
            .query_row([row], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
    }
}

/// What a finished import run records about itself.
pub(crate) struct RunRecord<'a> {
    /// When it finished (RFC 3339).
    pub finished: &'a str,
    /// Its sources' names, SHA-256 and sizes, as JSON.
    pub sources: &'a str,
    /// Its Provenance ids, space-separated.
    pub provenance_ids: &'a str,
    /// Its report's one-line summary.
    pub summary: &'a str,
}
