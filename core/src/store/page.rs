//! Paged search: a page of current resources, newest clinical date first, and a token for
//! the next one — what a timeline scrolls through.
//!
//! Pages are keyset pages: the token names the last resource shown (its clinical date, type
//! and id — the order's key) and the next page starts after it. So every resource stored
//! when the first page was read appears on exactly one page, however many resources are
//! added, changed or deleted between pages (a new one appears only if it sorts after the
//! reader's position; an updated one keeps its place unless its clinical date changed). No
//! read transaction is held between pages. Resources without a clinical date come last.
//! The token carries a fingerprint of the search, so a token used with other filters is
//! refused instead of silently skipping records.

use super::rows::{filtered, row_to_stored};
use super::{Search, Snapshot, StoredResource};
use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::types::Value as SqlValue;
use serde_json::{Value, json};

/// Resources per page when the search sets no `limit`.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Most resources one page holds.
pub const MAX_PAGE_SIZE: usize = 1000;

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The resources, newest clinical date first.
    pub records: Vec<StoredResource>,
    /// Pass it to get the next page; `None` on the last one.
    pub next_page_token: Option<String>,
}

/// Where a page ends: the order's key of its last resource.
struct Cursor {
    date: Option<i64>,
    ty: String,
    id: String,
}

impl Snapshot<'_> {
    /// The page of `search` (its `limit` is the page size: default [`DEFAULT_PAGE_SIZE`], at
    /// most [`MAX_PAGE_SIZE`]) after `page_token`, or the first page.
    pub fn search_page(&self, search: &Search, page_token: Option<&str>) -> Result<Page> {
        let size = search
            .limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let (sql, mut args) = filtered(search);
        // The order's date too, for the next page's token.
        let mut sql = sql.replacen(
            " FROM resource_version",
            ", date_start FROM resource_version",
            1,
        );
        if let Some(token) = page_token {
            let c = decode(token, &fingerprint(search))?;
            // After (date, type, id) in DESC order, with undated resources last.
            match c.date {
                Some(d) => {
                    sql.push_str(
                        " AND (date_start IS NULL OR date_start < ? OR (date_start = ? AND \
                         (type < ? OR (type = ? AND id < ?))))",
                    );
                    args.extend([d.into(), d.into()]);
                }
                None => {
                    sql.push_str(" AND date_start IS NULL AND (type < ? OR (type = ? AND id < ?))")
                }
            }
            args.extend([
                SqlValue::from(c.ty.clone()),
                c.ty.clone().into(),
                c.id.clone().into(),
            ]);
        }
        sql.push_str(&format!(
            " ORDER BY date_start IS NULL, date_start DESC, type DESC, id DESC LIMIT {}",
            size + 1
        ));
        let mut st = self.conn().prepare(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args))?;
        let mut records = Vec::with_capacity(size);
        let mut last_date = None;
        let mut more = false;
        while let Some(row) = rows.next()? {
            if records.len() == size {
                more = true;
                break;
            }
            last_date = row.get::<_, Option<i64>>(7)?;
            records.push(row_to_stored(row)?);
        }
        let next_page_token = match (more, records.last()) {
            (true, Some(last)) => Some(encode(
                &Cursor {
                    date: last_date,
                    ty: last.resource_type.clone(),
                    id: last.id.clone(),
                },
                &fingerprint(search),
            )),
            _ => None,
        };
        Ok(Page {
            records,
            next_page_token,
        })
    }
}

/// What identifies a search for its tokens: its filters, not its page size.
fn fingerprint(search: &Search) -> String {
    let text = format!(
        "{:?}|{:?}|{:?}",
        search.patient,
        search.types,
        search.dates.map(|d| (d.start, d.end))
    );
    use sha2::Digest;
    crate::fhir::hash::to_hex(&sha2::Sha256::digest(text.as_bytes())[..8])
}

fn encode(c: &Cursor, fingerprint: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!([fingerprint, c.date, c.ty, c.id]).to_string())
}

fn decode(token: &str, fingerprint: &str) -> Result<Cursor> {
    let bad = || Error::param("pageToken", "not a page token of this search");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if v[0].as_str() != Some(fingerprint) {
        return Err(Error::param(
            "pageToken",
            "belongs to a search with other filters: start again from the first page",
        ));
    }
    Ok(Cursor {
        date: v[1].as_i64(),
        ty: v[2].as_str().ok_or_else(bad)?.to_string(),
        id: v[3].as_str().ok_or_else(bad)?.to_string(),
    })
}
