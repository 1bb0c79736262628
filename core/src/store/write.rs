//! Row-level writes and the lookups the import pipeline makes while writing.
//!
//! All statements are cached prepared statements and run inside the caller's transaction;
//! nothing here commits. Kept apart from the read API in [`super`] so the write path is easy
//! to audit for atomicity.

use crate::error::Result;
use crate::fhir::date::DateRange;
use rusqlite::{Connection, OptionalExtension, params};

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
    pub patient: Option<&'a str>,
    pub period: Option<DateRange>,
    pub last_updated: i64,
    pub source_updated: Option<i64>,
    pub hash: &'a [u8],
    pub refs: &'a str,
    pub run: Option<i64>,
    pub json: &'a str,
    pub sensitive: i64,
}

pub(crate) fn current(conn: &Connection, ty: &str, id: &str) -> Result<Option<Current>> {
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

/// Writes a new version and retires `previous` (the row it supersedes), if any; returns the
/// new version's row.
pub(crate) fn insert_version(
    conn: &Connection,
    previous: Option<i64>,
    v: &NewVersion<'_>,
) -> Result<i64> {
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
        v.patient,
        v.period.map(|p| p.start),
        v.period.map(|p| p.end),
        v.last_updated,
        v.source_updated,
        v.hash,
        v.refs,
        v.run,
        v.json,
        v.sensitive
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn add_identifiers(
    conn: &Connection,
    ty: &str,
    id: &str,
    identifiers: &[(String, String)],
) -> Result<()> {
    let mut st = conn.prepare_cached(
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
    conn: &Connection,
    ty: &str,
    system: &str,
    value: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM identifier WHERE type = ?1 AND system = ?2 AND value = ?3 AND shared = 0")?
        .query_row(params![ty, system, value], |r| r.get(0))
        .optional()?)
}

/// Stores attachment bytes once, keyed by their SHA-256.
pub(crate) fn insert_document(
    conn: &Connection,
    doc: &crate::fhir::attachment::Document,
) -> Result<()> {
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
pub(crate) fn patient_of_row(conn: &Connection, ty: &str, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT patient FROM resource_version WHERE id = ?1 AND type = ?2 AND current = 1 AND deleted = 0",
        )?
        .query_row(params![id, ty], |r| r.get(0))
        .optional()?
        .flatten())
}

/// The type of a current resource with this id, for resolving `urn:uuid:<id>`.
pub(crate) fn type_of_id(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT type FROM resource_version WHERE id = ?1 AND current = 1 AND deleted = 0 LIMIT 1",
        )?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

pub(crate) fn delete(conn: &Connection, ty: &str, id: &str, now_ms: i64) -> Result<bool> {
    let Some(cur) = current(conn, ty, id)? else {
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
    conn: &Connection,
    run: i64,
    line: Option<u64>,
    ty: Option<&str>,
    id: Option<&str>,
    reason: &str,
    json: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO quarantine (run, line, type, id, reason, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![run, line.map(|l| l as i64), ty, id, reason, json])?;
    Ok(())
}
