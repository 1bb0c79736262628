//! Checking [`Quotas`] against what an account and a link already hold.
//!
//! Each check runs inside the `BEGIN IMMEDIATE` transaction that records the new link or file
//! (see `db::insert_link`, `db::add_file`), so two requests racing for the last place cannot
//! both pass. Sums use the `link(account)` index and the `link_file` primary key; the account
//! total covers all of its links, revoked and expired ones included, because their files are
//! kept. Links created before accounts existed belong to no account and count only per link.

use rusqlite::{Connection, params};

use crate::config::Quotas;
use crate::error::ServerError;

/// A quota a write would pass; the reason is safe to show to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverQuota(pub &'static str);

/// Whether `account` may create one more live link at `now_s` (epoch seconds).
pub fn check_new_link(
    conn: &Connection,
    quotas: &Quotas,
    account: &str,
    now_s: i64,
) -> Result<Result<(), OverQuota>, ServerError> {
    let live: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM link
             WHERE account = ?1 AND revoked = 0 AND (exp IS NULL OR exp > ?2)",
        )?
        .query_row(params![account, now_s], |row| row.get(0))?;
    Ok(if count(live) >= quotas.live_links_per_account {
        Err(OverQuota(
            "this account has as many live links as it may; revoke one first",
        ))
    } else {
        Ok(())
    })
}

/// What a link will hold once a file is added.
pub struct NewFile<'a> {
    /// The link's row key.
    pub link: i64,
    /// The link's account, if it has one.
    pub account: Option<&'a str>,
    /// The file's content address (a re-upload of it adds nothing).
    pub hash: &'a str,
    /// Its length in bytes.
    pub length: i64,
    /// The link keeps only this file (a `U` link).
    pub replaces_others: bool,
}

/// Whether adding `file` keeps its link and account within `quotas`.
pub fn check_new_file(
    conn: &Connection,
    quotas: &Quotas,
    file: &NewFile<'_>,
) -> Result<Result<(), OverQuota>, ServerError> {
    let (others, other_bytes): (i64, i64) = if file.replaces_others {
        (0, 0)
    } else {
        conn.prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(length), 0) FROM link_file
             WHERE link = ?1 AND hash <> ?2",
        )?
        .query_row(params![file.link, file.hash], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
    };
    let link_bytes = count(other_bytes).saturating_add(count(file.length));
    if count(others) >= quotas.files_per_link {
        return Ok(Err(OverQuota("this link carries as many files as it may")));
    }
    if link_bytes > quotas.bytes_per_link {
        return Ok(Err(OverQuota(
            "this file would take the link past its storage quota",
        )));
    }
    let Some(account) = file.account else {
        return Ok(Ok(()));
    };
    let elsewhere: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(f.length), 0) FROM link l JOIN link_file f ON f.link = l.pk
             WHERE l.account = ?1 AND l.pk <> ?2",
        )?
        .query_row(params![account, file.link], |row| row.get(0))?;
    Ok(
        if count(elsewhere).saturating_add(link_bytes) > quotas.bytes_per_account {
            Err(OverQuota(
                "this file would take the account past its storage quota",
            ))
        } else {
            Ok(())
        },
    )
}

/// A SQLite count or sum as `u64` (they are never negative).
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
