//! The SQLite schema and its versioning.
//!
//! The version lives in `PRAGMA user_version`; [`migrate`] brings any older file up to
//! [`VERSION`] one step at a time (`upgrade_from`), each step in the same transaction as the
//! version bump, and refuses a file from a newer build. Version 1 is the first, so today there is
//! one step: create everything.
//!
//! What is stored: per link, SHA-256 digests of its id and management token (never the values),
//! an Argon2id hash of the passcode, flag, label, expiry, and the attempt counter; per file, the
//! content address of the JWE blob (the blob itself lives in `blobs/`); per access, the recipient
//! and time, which the sharer can list. Tables are `STRICT` so a wrong type fails loudly.

use rusqlite::Connection;

use crate::error::ServerError;

/// Schema version this build writes.
pub const VERSION: i64 = 2;

const V1: &str = "
CREATE TABLE link (
    pk                 INTEGER PRIMARY KEY,
    id_hash            BLOB NOT NULL UNIQUE,  -- SHA-256 of the link id (a capability)
    token_hash         BLOB NOT NULL,         -- SHA-256 of the management token
    passcode_hash      TEXT,                  -- Argon2id PHC string; NULL = no passcode
    flag               TEXT NOT NULL,         -- '', 'L', 'P', 'LP', 'U' or 'LU'
    label              TEXT,
    exp                INTEGER,               -- epoch seconds; NULL = never
    max_attempts       INTEGER NOT NULL,
    remaining_attempts INTEGER NOT NULL,      -- lifetime passcode failures left
    revoked            INTEGER NOT NULL DEFAULT 0,
    created_ms         INTEGER NOT NULL
) STRICT;

CREATE TABLE link_file (
    link         INTEGER NOT NULL REFERENCES link(pk) ON DELETE CASCADE,
    hash         TEXT NOT NULL,               -- SHA-256 base64url of the JWE = blob file name
    content_type TEXT NOT NULL,
    length       INTEGER NOT NULL,            -- JWE length in bytes (= characters)
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (link, hash)
) STRICT;

CREATE TABLE access (
    link      INTEGER NOT NULL REFERENCES link(pk) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    time_ms   INTEGER NOT NULL
) STRICT;

CREATE INDEX access_by_link_time ON access(link, time_ms);
";

const V2: &str = "
ALTER TABLE link ADD COLUMN account TEXT;  -- the account that created it; NULL = before accounts
CREATE INDEX link_by_account ON link(account);
";

/// Bring the database to [`VERSION`]. Idempotent.
pub fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found == VERSION {
            return Ok(());
        }
        if found > VERSION {
            return Err(ServerError::SchemaTooNew {
                found,
                supported: VERSION,
            });
        }
        upgrade_from(&tx, found)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}

/// One step: from `version` to `version + 1`.
fn upgrade_from(conn: &Connection, version: i64) -> Result<(), ServerError> {
    match version {
        0 => conn.execute_batch(V1)?,
        1 => conn.execute_batch(V2)?,
        _ => {
            return Err(ServerError::SchemaTooNew {
                found: version,
                supported: VERSION,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_reaches_current_version_and_migrate_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
    }

    #[test]
    fn version_1_links_are_kept_and_belong_to_no_account() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO link (id_hash, token_hash, flag, max_attempts, remaining_attempts,
                               created_ms) VALUES (x'01', x'02', '', 5, 5, 0)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let account: Option<String> = conn
            .query_row("SELECT account FROM link", [], |r| r.get(0))
            .unwrap();
        assert_eq!(account, None);
    }

    #[test]
    fn newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(ServerError::SchemaTooNew { .. })
        ));
    }
}
