//! How a stored version comes out of SQLite: the columns of a [`StoredResource`], the
//! search filters as SQL, and the current-version query — shared by reads (snapshots,
//! pages) and writes (a write transaction returning what it stored), below both.

use super::{Search, StoredResource};
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};

/// `SELECT <the StoredResource columns> … WHERE <current, not deleted, and search's filters>`
/// without an order, and its arguments.
pub(super) fn filtered(search: &Search) -> (String, Vec<rusqlite::types::Value>) {
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
    (sql, args)
}

/// The current, non-deleted version of `ty/id` on `conn` (a snapshot's or a write's).
pub(super) fn current_of(conn: &Connection, ty: &str, id: &str) -> Result<Option<StoredResource>> {
    let r = conn
        .prepare_cached(
            "SELECT type, id, version, last_updated, deleted, json, sensitive FROM resource_version
             WHERE id = ?1 AND type = ?2 AND current = 1",
        )?
        .query_row(params![id, ty], row_to_stored)
        .optional()?;
    Ok(r.filter(|r| !r.deleted))
}

/// A `SELECT type, id, version, last_updated, deleted, json, sensitive` row.
pub(super) fn row_to_stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredResource> {
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
