//! The queries an export makes, typed: a patient's compartment filtered and read in passes,
//! the shared resources it references, and the clinical span a preview shows.
//!
//! Every compartment query is answered by the covering index `resource_current_by_patient`
//! (schema v3) except the JSON itself, and each pass reads in index order (newest first), so
//! none sorts. What to select is the export's business ([`crate::export`]); how to ask
//! SQLite for it is here.

use super::Snapshot;
use crate::error::Result;
use crate::fhir::date::DateRange;
use rusqlite::types::Value as SqlValue;
use rusqlite::{CachedStatement, OptionalExtension};

/// Which rows of a patient's compartment an export reads (the Patient itself aside).
#[derive(Debug, Clone)]
pub(crate) struct Compartment {
    /// The Patient's id.
    pub patient: String,
    /// Only these types (empty: all).
    pub types: Vec<String>,
    /// Only rows whose clinical period overlaps this range, or that have none (Provenance
    /// always: it dates the record's history, not a clinical event).
    pub dates: Option<DateRange>,
    /// Only rows written at or after this instant (epoch ms).
    pub since: Option<i64>,
}

/// Which part of the compartment one pass reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pass<'a> {
    /// Rows of these types and Provenance; Provenance without its JSON.
    These(&'a [&'a str]),
    /// Rows of every other type than these and Provenance.
    Others(&'a [&'a str]),
}

/// One compartment row, borrowed from SQLite's buffers for the call.
pub(crate) struct Row<'r> {
    pub ty: &'r str,
    pub id: &'r str,
    /// The shared resources it references, `Type/id` separated by spaces.
    pub refs: &'r str,
    /// Its sensitive categories (bit mask).
    pub sensitive: i64,
    /// Its JSON (empty when the pass does not read it).
    pub json: &'r [u8],
}

impl Compartment {
    /// The condition (after `WHERE`) and its arguments.
    fn condition(&self) -> (String, Vec<SqlValue>) {
        let mut sql = String::from(
            "current = 1 AND deleted = 0 AND patient = ? AND NOT (type = 'Patient' AND id = ?)",
        );
        let mut args: Vec<SqlValue> =
            vec![self.patient.clone().into(), self.patient.clone().into()];
        if !self.types.is_empty() {
            sql.push_str(&format!(
                " AND type IN ({})",
                placeholders(self.types.len())
            ));
            args.extend(self.types.iter().map(|t| SqlValue::from(t.clone())));
        }
        if let Some(range) = self.dates {
            sql.push_str(
                " AND (type = 'Provenance' OR date_start IS NULL OR (date_start < ? AND date_end > ?))",
            );
            args.push(range.end.into());
            args.push(range.start.into());
        }
        if let Some(since) = self.since {
            sql.push_str(" AND last_updated >= ?");
            args.push(since.into());
        }
        (sql, args)
    }
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// Looks up current shared resources (outside every compartment) by type and id.
pub(crate) struct SharedLookup<'s>(CachedStatement<'s>);

impl SharedLookup<'_> {
    /// The shared resource `ty/id`'s `refs` and JSON, if it is stored.
    pub(crate) fn find(&mut self, ty: &str, id: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .0
            .query_row([id, ty], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }
}

impl Snapshot<'_> {
    /// Calls `f` with each row of `pass` over `compartment`, newest clinical date first.
    pub(crate) fn compartment_rows(
        &self,
        compartment: &Compartment,
        pass: Pass<'_>,
        mut f: impl FnMut(Row<'_>) -> Result<()>,
    ) -> Result<()> {
        let (condition, mut args) = compartment.condition();
        let (json, tail) = match pass {
            Pass::These(types) => (
                "CASE WHEN type = 'Provenance' THEN '' ELSE json END",
                format!("AND type IN ({}, 'Provenance')", placeholders(types.len())),
            ),
            Pass::Others(types) => (
                "json",
                format!(
                    "AND type NOT IN ({}, 'Provenance')",
                    placeholders(types.len())
                ),
            ),
        };
        let (Pass::These(types) | Pass::Others(types)) = pass;
        args.extend(types.iter().map(|t| SqlValue::from(t.to_string())));
        let mut st = self.conn().prepare(&format!(
            "SELECT type, id, refs, sensitive, {json} FROM resource_version
             WHERE {condition} {tail} ORDER BY date_start DESC, type DESC, id DESC"
        ))?;
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let text =
                |i| -> Result<&str> { Ok(r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?) };
            f(Row {
                ty: text(0)?,
                id: text(1)?,
                refs: text(2)?,
                sensitive: r.get(3)?,
                json: r.get_ref(4)?.as_bytes().map_err(rusqlite::Error::from)?,
            })?;
        }
        Ok(())
    }

    /// Calls `f` with the type, `refs` and sensitivity of every row of `compartment`, in no
    /// particular order and without reading JSON (index-only): what a preview counts.
    pub(crate) fn compartment_index(
        &self,
        compartment: &Compartment,
        mut f: impl FnMut(&str, &str, i64) -> Result<()>,
    ) -> Result<()> {
        let (condition, args) = compartment.condition();
        let mut st = self.conn().prepare(&format!(
            "SELECT type, refs, sensitive FROM resource_version WHERE {condition}"
        ))?;
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            let text =
                |i| -> Result<&str> { Ok(r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?) };
            f(text(0)?, text(1)?, r.get(2)?)?;
        }
        Ok(())
    }

    /// The earliest and latest clinical instants of `compartment`'s rows that carry none of
    /// the `left_out` sensitive categories (epoch ms; the end is inclusive).
    pub(crate) fn compartment_span(
        &self,
        compartment: &Compartment,
        left_out: i64,
    ) -> Result<(Option<i64>, Option<i64>)> {
        let (condition, mut args) = compartment.condition();
        args.push(left_out.into());
        Ok(self.conn().query_row(
            &format!(
                "SELECT min(date_start), max(CASE WHEN date_end = {} THEN date_start ELSE date_end - 1 END)
                 FROM resource_version WHERE {condition} AND (sensitive & ?) = 0
                 AND date_start IS NOT NULL",
                i64::MAX
            ),
            rusqlite::params_from_iter(args),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// A lookup of shared resources by type and id, prepared once for many calls.
    pub(crate) fn shared_lookup(&self) -> Result<SharedLookup<'_>> {
        Ok(SharedLookup(self.conn().prepare_cached(
            "SELECT refs, json FROM resource_version
             WHERE id = ?1 AND type = ?2 AND current = 1 AND deleted = 0 AND patient IS NULL",
        )?))
    }

    /// The current `refs` and JSON of `ty/id`, which must be stored.
    pub(crate) fn current_refs_json(&self, ty: &str, id: &str) -> Result<(String, String)> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT refs, json FROM resource_version
                 WHERE id = ?1 AND type = ?2 AND current = 1 AND deleted = 0",
            )?
            .query_row([id, ty], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }
}
