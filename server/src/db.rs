//! SQLite access: a tiny connection pool and the queries the routes need.
//!
//! SQLite calls block, so every use goes through [`Db::call`], which runs the closure on tokio's
//! blocking pool with a connection taken from a small idle list (opened on demand, returned after
//! use). WAL mode lets readers run beside the single writer; `busy_timeout` makes concurrent
//! writers wait instead of failing. The one write that must be atomic under parallel requests,
//! spending a passcode attempt, is a single `UPDATE … WHERE remaining_attempts > 0 RETURNING`
//! inside a `BEGIN IMMEDIATE` transaction, so each remaining value is handed out exactly once
//! even across processes sharing the file.
//!
//! Links are looked up by the SHA-256 of their id; the id itself is never stored.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::blobs::BlobStore;
use crate::config::Quotas;
use crate::error::ServerError;
use crate::quota::{self, OverQuota};
use crate::schema;
use crate::secrets::sha256;

/// Most idle connections kept open.
const MAX_IDLE: usize = 8;

/// Handle to the host database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Db {
    /// Open (creating and migrating if needed) the database at `path`. Blocks.
    pub fn open(path: &Path) -> Result<Db, ServerError> {
        let mut conn = open_connection(path)?;
        schema::migrate(&mut conn)?;
        Ok(Db {
            inner: Arc::new(DbInner {
                path: path.to_path_buf(),
                idle: Mutex::new(vec![conn]),
            }),
        })
    }

    /// Run `f` with a connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ServerError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner.idle.lock().ok().and_then(|mut idle| idle.pop());
            let mut conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&inner.path)?,
            };
            let result = f(&mut conn);
            if let Ok(mut idle) = inner.idle.lock()
                && idle.len() < MAX_IDLE
            {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|_| ServerError::Task)?
    }
}

fn open_connection(path: &Path) -> Result<Connection, ServerError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 text of a time in ms since the epoch (UTC).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A stored link.
#[derive(Debug, Clone)]
pub struct Link {
    /// Row key; used for in-memory maps instead of the id.
    pub pk: i64,
    /// SHA-256 of the management token.
    pub token_hash: Vec<u8>,
    /// Argon2id PHC string, when the link has a passcode.
    pub passcode_hash: Option<String>,
    /// Flag string (`""`, `L`, `P`, `LP`, `U`, `LU`).
    pub flag: String,
    /// Expiry in epoch seconds.
    pub exp: Option<i64>,
    /// Passcode failures left.
    pub remaining_attempts: i64,
    /// Revoked by its owner.
    pub revoked: bool,
    /// The account that created it (`None` for links from before accounts existed).
    pub account: Option<String>,
}

impl Link {
    /// Whether recipients may use the link now: not revoked, not expired, not disabled by
    /// passcode failures.
    pub fn is_live(&self, now_ms: i64) -> bool {
        let expired = self
            .exp
            .is_some_and(|exp| exp.saturating_mul(1000) < now_ms);
        let disabled = self.passcode_hash.is_some() && self.remaining_attempts <= 0;
        !self.revoked && !expired && !disabled
    }

    /// Whether the link is a `U` (direct file) link.
    pub fn is_direct(&self) -> bool {
        self.flag.contains('U')
    }
}

/// A new link to insert.
pub struct NewLink {
    /// The link id (only its hash is stored).
    pub id: String,
    /// The management token (only its hash is stored).
    pub token: String,
    /// Argon2id PHC string of the passcode.
    pub passcode_hash: Option<String>,
    /// Flag string.
    pub flag: String,
    /// Label.
    pub label: Option<String>,
    /// Expiry, epoch seconds.
    pub exp: Option<i64>,
    /// Lifetime passcode failures allowed.
    pub max_attempts: i64,
    /// The account creating it.
    pub account: String,
}

/// A file of a link.
#[derive(Debug, Clone)]
pub struct FileRow {
    /// Content address (SHA-256 base64url of the JWE).
    pub hash: String,
    /// SHL content type.
    pub content_type: String,
    /// JWE length.
    pub length: i64,
    /// Upload time, ms since the epoch.
    pub updated_ms: i64,
}

const LINK_COLUMNS: &str =
    "pk, token_hash, passcode_hash, flag, exp, remaining_attempts, revoked, account";

fn link_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Link> {
    Ok(Link {
        pk: row.get(0)?,
        token_hash: row.get(1)?,
        passcode_hash: row.get(2)?,
        flag: row.get(3)?,
        exp: row.get(4)?,
        remaining_attempts: row.get(5)?,
        revoked: row.get::<_, i64>(6)? != 0,
        account: row.get(7)?,
    })
}

/// The link with this id, if any (whatever its state).
pub fn find_link(conn: &Connection, id: &str) -> Result<Option<Link>, ServerError> {
    let sql = format!("SELECT {LINK_COLUMNS} FROM link WHERE id_hash = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![sha256(id).as_slice()], link_from_row)
        .optional()?)
}

/// The link with this row key, if any.
pub fn link_by_pk(conn: &Connection, pk: i64) -> Result<Option<Link>, ServerError> {
    let sql = format!("SELECT {LINK_COLUMNS} FROM link WHERE pk = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![pk], link_from_row)
        .optional()?)
}

/// Insert a new, active link, unless its account already has as many live links as
/// `quotas` allow.
pub fn insert_link(
    conn: &mut Connection,
    link: &NewLink,
    quotas: &Quotas,
) -> Result<Result<(), OverQuota>, ServerError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    if let Err(over) = quota::check_new_link(&tx, quotas, &link.account, now / 1000)? {
        return Ok(Err(over));
    }
    tx.prepare_cached(
        "INSERT INTO link (id_hash, token_hash, passcode_hash, flag, label, exp, max_attempts,
                           remaining_attempts, revoked, created_ms, account)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0, ?8, ?9)",
    )?
    .execute(params![
        sha256(&link.id).as_slice(),
        sha256(&link.token).as_slice(),
        link.passcode_hash,
        link.flag,
        link.label,
        link.exp,
        link.max_attempts,
        now,
        link.account,
    ])?;
    tx.commit()?;
    Ok(Ok(()))
}

/// Replace the given fields (absent ones are kept), reactivate the link and refill its attempts.
pub fn update_link(
    conn: &Connection,
    pk: i64,
    passcode_hash: Option<&str>,
    exp: Option<i64>,
    label: Option<&str>,
) -> Result<(), ServerError> {
    conn.prepare_cached(
        "UPDATE link SET passcode_hash = COALESCE(?2, passcode_hash),
                         exp = COALESCE(?3, exp),
                         label = COALESCE(?4, label),
                         remaining_attempts = max_attempts,
                         revoked = 0
         WHERE pk = ?1",
    )?
    .execute(params![pk, passcode_hash, exp, label])?;
    Ok(())
}

/// Mark a link revoked (manifest and file requests then get 404).
pub fn revoke_link(conn: &Connection, pk: i64) -> Result<(), ServerError> {
    conn.prepare_cached("UPDATE link SET revoked = 1 WHERE pk = ?1")?
        .execute(params![pk])?;
    Ok(())
}

/// Spend one passcode attempt atomically. Returns the attempts left after this failure, or
/// `None` when none were left (the link is disabled).
pub fn spend_attempt(conn: &mut Connection, pk: i64) -> Result<Option<i64>, ServerError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let left = tx
        .prepare_cached(
            "UPDATE link SET remaining_attempts = remaining_attempts - 1
             WHERE pk = ?1 AND remaining_attempts > 0
             RETURNING remaining_attempts",
        )?
        .query_row(params![pk], |row| row.get(0))
        .optional()?;
    tx.commit()?;
    Ok(left)
}

/// Record a file of `link` (re-uploading the same JWE refreshes its time) if it stays within
/// `quotas`; `jwe` goes into `blobs` once the quotas passed, before the row is committed, so a
/// refused upload stores nothing and a listed file always has its blob. A `U` link holds one
/// file: its others are dropped, and their blobs deleted when no other link lists them — while
/// this transaction still holds the write lock, so no upload can start listing one meanwhile.
pub fn add_file(
    conn: &mut Connection,
    link: &Link,
    file: &FileRow,
    quotas: &Quotas,
    blobs: &BlobStore,
    jwe: &[u8],
) -> Result<Result<(), OverQuota>, ServerError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let replace_others = link.is_direct();
    let new_file = quota::NewFile {
        link: link.pk,
        account: link.account.as_deref(),
        hash: &file.hash,
        length: file.length,
        replaces_others: replace_others,
    };
    if let Err(over) = quota::check_new_file(&tx, quotas, &new_file)? {
        return Ok(Err(over));
    }
    blobs.put(jwe)?;
    let mut replaced = Vec::new();
    if replace_others {
        let mut dropped = tx.prepare_cached(
            "DELETE FROM link_file WHERE link = ?1 AND hash <> ?2 RETURNING hash",
        )?;
        let rows = dropped.query_map(params![link.pk, file.hash], |row| row.get(0))?;
        replaced = rows.collect::<Result<Vec<String>, _>>()?;
    }
    tx.prepare_cached(
        "INSERT INTO link_file (link, hash, content_type, length, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (link, hash) DO UPDATE SET content_type = excluded.content_type,
                                                updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        link.pk,
        file.hash,
        file.content_type,
        file.length,
        file.updated_ms
    ])?;
    for hash in &replaced {
        let listed: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM link_file WHERE hash = ?1)")?
            .query_row(params![hash], |row| row.get(0))?;
        if !listed {
            blobs.remove(hash)?;
        }
    }
    tx.commit()?;
    Ok(Ok(()))
}

fn file_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        hash: row.get(0)?,
        content_type: row.get(1)?,
        length: row.get(2)?,
        updated_ms: row.get(3)?,
    })
}

/// The files of a link, oldest first.
pub fn files(conn: &Connection, pk: i64) -> Result<Vec<FileRow>, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT hash, content_type, length, updated_ms FROM link_file
         WHERE link = ?1 ORDER BY updated_ms, hash",
    )?;
    let rows = stmt.query_map(params![pk], file_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One file of a link, if it belongs to it.
pub fn file(conn: &Connection, pk: i64, hash: &str) -> Result<Option<FileRow>, ServerError> {
    Ok(conn
        .prepare_cached(
            "SELECT hash, content_type, length, updated_ms FROM link_file
             WHERE link = ?1 AND hash = ?2",
        )?
        .query_row(params![pk, hash], file_from_row)
        .optional()?)
}

/// Record that `recipient` received the link's content now.
pub fn log_access(conn: &Connection, pk: i64, recipient: &str) -> Result<(), ServerError> {
    conn.prepare_cached("INSERT INTO access (link, recipient, time_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![pk, recipient, now_ms()])?;
    Ok(())
}

/// The accesses of a link, oldest first: `(recipient, time in ms since the epoch)`.
pub fn accesses(conn: &Connection, pk: i64) -> Result<Vec<(String, i64)>, ServerError> {
    let mut stmt = conn.prepare_cached(
        "SELECT recipient, time_ms FROM access WHERE link = ?1 ORDER BY time_ms, rowid",
    )?;
    let rows = stmt.query_map(params![pk], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
