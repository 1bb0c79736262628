//! The store's SQLite schema and its forward migrations.
//!
//! The version lives in `PRAGMA user_version`; [`migrate`] applies `upgrade_from(v)` for each
//! version between the file's and [`VERSION`] inside one transaction, so a store is never left
//! half-migrated. A file from a newer phrkit is refused rather than guessed at.
//!
//! Every version of every resource is one row of `resource_version` (history is not a second
//! copy: the current version is the row with `current = 1`). New resources — most of an
//! import — therefore cost one row insert. The columns beside `json` are extracted once at
//! write time for the queries export and search need, so they never parse stored JSON.

use crate::error::{Error, Result};
use rusqlite::{Connection, Transaction};

/// Newest schema version this build writes.
pub const VERSION: i64 = 5;

/// Brings the database to [`VERSION`], creating it when empty.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found,
            known: VERSION,
        });
    }
    if found == VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for v in found..VERSION {
        upgrade_from(&tx, v)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

fn upgrade_from(tx: &Transaction, version: i64) -> Result<()> {
    match version {
        0 => tx.execute_batch(V1)?,
        1 => tx.execute_batch(V2)?,
        2 => upgrade_to_v3(tx)?,
        3 => tx.execute_batch(V4)?,
        4 => tx.execute_batch(V5)?,
        other => {
            return Err(Error::InvalidInput(format!(
                "no migration from schema version {other}"
            )));
        }
    }
    Ok(())
}

/// Version 1: resources with history, business identifiers, import runs, quarantine.
const V1: &str = "
CREATE TABLE import_run (
    id            INTEGER PRIMARY KEY,
    started       TEXT NOT NULL,
    finished      TEXT,
    strategy      TEXT NOT NULL,
    sources       TEXT NOT NULL DEFAULT '[]',  -- JSON [{name, sha256, bytes}]
    provenance_ids TEXT,                         -- space-separated, one per patient
    summary       TEXT                         -- JSON counts
);

CREATE TABLE resource_version (
    row            INTEGER PRIMARY KEY,
    type           TEXT NOT NULL,
    id             TEXT NOT NULL,
    version        INTEGER NOT NULL,
    current        INTEGER NOT NULL,   -- 1 on the newest version of (type, id)
    deleted        INTEGER NOT NULL DEFAULT 0,
    patient        TEXT,               -- id of the Patient whose compartment holds it
    date_start     INTEGER,            -- clinical date range, epoch ms, half-open
    date_end       INTEGER,
    last_updated   INTEGER NOT NULL,   -- meta.lastUpdated written by this store, epoch ms
    source_updated INTEGER,            -- meta.lastUpdated as the source sent it, epoch ms
    hash           BLOB NOT NULL,      -- SHA-256 of canonical content
    refs           TEXT NOT NULL DEFAULT '',  -- space-separated Type/id of shared resources it references
    run            INTEGER REFERENCES import_run(id),
    json           TEXT NOT NULL
);
-- get by type+id, history, and urn:uuid resolution by id alone
CREATE UNIQUE INDEX resource_version_by_id ON resource_version(id, type, version);
-- export and search: one patient's current record in clinical-date order; covering the
-- columns export's planning passes read (type, id, lastUpdated, run, refs), so those passes
-- never touch the resource JSON
CREATE INDEX resource_current_by_patient
    ON resource_version(patient, date_start, type, id, last_updated, run, refs)
    WHERE current = 1 AND deleted = 0;

CREATE TABLE identifier (
    type   TEXT NOT NULL,
    system TEXT NOT NULL,
    value  TEXT NOT NULL,
    id     TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,  -- 1 once two resources carry it: not an identity
    PRIMARY KEY (type, system, value)
) WITHOUT ROWID;

CREATE TABLE quarantine (
    row    INTEGER PRIMARY KEY,
    run    INTEGER NOT NULL REFERENCES import_run(id),
    line   INTEGER,
    type   TEXT,
    id     TEXT,
    reason TEXT NOT NULL,
    json   TEXT NOT NULL
);
";

/// Version 2: attachment bytes kept once, content-addressed, apart from resource versions.
const V2: &str = "
CREATE TABLE document (
    sha256       TEXT PRIMARY KEY,   -- lower-case hex SHA-256 of data
    content_type TEXT,
    size         INTEGER NOT NULL,
    data         BLOB NOT NULL
);
";

/// Version 3: each version's sensitive-data categories (a bit mask, see
/// [`crate::sensitivity`]), computed for the rows already stored, and the export index
/// extended to cover it.
fn upgrade_to_v3(tx: &Transaction) -> Result<()> {
    tx.execute_batch(
        "ALTER TABLE resource_version ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;",
    )?;
    {
        let mut select = tx.prepare("SELECT row, json FROM resource_version WHERE json <> ''")?;
        let mut update = tx.prepare("UPDATE resource_version SET sensitive = ?1 WHERE row = ?2")?;
        let mut rows = select.query([])?;
        while let Some(r) = rows.next()? {
            let json: String = r.get(1)?;
            let mask = serde_json::from_str(&json)
                .map(|v| crate::sensitivity::classify(&v))
                .unwrap_or(0);
            if mask != 0 {
                update.execute(rusqlite::params![mask, r.get::<_, i64>(0)?])?;
            }
        }
    }
    tx.execute_batch(
        "DROP INDEX resource_current_by_patient;
         CREATE INDEX resource_current_by_patient
             ON resource_version(patient, date_start, type, id, last_updated, run, refs, sensitive)
             WHERE current = 1 AND deleted = 0;",
    )?;
    Ok(())
}

/// Version 4: a small partial index of the current Patients, for the lookup every export
/// without a `patient` makes first (a full-table scan before: tens of milliseconds at 200,000
/// resources). A Patient is the one resource whose compartment is itself (`patient = id`).
///
/// Partial indexes here never test `type` (or any column) against a constant: SQLite then
/// re-prepares every statement that binds that column (`type = ?`), on each new value — a
/// `type = 'Patient'` index made imports 45 % slower. The schema test enforces this.
const V4: &str = "
CREATE INDEX resource_current_patient ON resource_version(id)
    WHERE patient = id AND current = 1 AND deleted = 0;
";

/// Version 5: where an import parks resources whose references name something further on
/// in the input (a forward `urn:uuid:`), in the store's own (possibly encrypted) file rather
/// than in memory or a temporary file. Rows live only inside an import's transaction: the
/// import empties its own before it commits, and a rollback takes them with it.
const V5: &str = "
CREATE TABLE import_pending (
    seq      INTEGER PRIMARY KEY,
    run      INTEGER NOT NULL,
    source   INTEGER NOT NULL,   -- index of the run's input
    line     INTEGER NOT NULL,
    location TEXT,
    type     TEXT NOT NULL,
    id       TEXT NOT NULL,
    json     TEXT NOT NULL,
    ours     INTEGER NOT NULL,   -- 1: json carries phrkit's meta; the source's is below
    source_updated INTEGER,
    source_version TEXT
);
";

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_sql(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    fn tables(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type IN ('table','index') ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn upgrade_from_0_creates_the_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.db")).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
        let t = tables(&conn);
        for name in [
            "import_run",
            "resource_version",
            "identifier",
            "quarantine",
            "document",
            "resource_version_by_id",
            "resource_current_by_patient",
            "resource_current_patient",
            "import_pending",
        ] {
            assert!(t.contains(&name.to_string()), "{name} missing from {t:?}");
        }
        // Running again is a no-op.
        migrate(&mut conn).unwrap();
        assert_eq!(tables(&conn), t);
    }

    #[test]
    fn upgrade_from_4_adds_the_pending_table() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Connection::open(dir.path().join("v4.db")).unwrap();
        migrate(&mut old).unwrap();
        old.execute_batch("DROP TABLE import_pending; PRAGMA user_version = 4;")
            .unwrap();
        migrate(&mut old).unwrap();
        let mut fresh = Connection::open(dir.path().join("fresh.db")).unwrap();
        migrate(&mut fresh).unwrap();
        assert_eq!(schema_sql(&old), schema_sql(&fresh));
    }

    #[test]
    fn upgrade_from_3_indexes_the_patients_for_their_query() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Connection::open(dir.path().join("v3.db")).unwrap();
        migrate(&mut old).unwrap();
        old.execute_batch(
            "DROP INDEX resource_current_patient; DROP TABLE import_pending; PRAGMA user_version = 3;",
        )
            .unwrap();
        migrate(&mut old).unwrap();
        let plan: String = old
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", crate::store::PATIENT_IDS_SQL),
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("resource_current_patient"), "{plan}");
        let mut fresh = Connection::open(dir.path().join("fresh.db")).unwrap();
        migrate(&mut fresh).unwrap();
        assert_eq!(schema_sql(&old), schema_sql(&fresh));
    }

    /// A partial index comparing a column with a constant makes SQLite re-prepare, on every
    /// new value, each statement that binds that column — the import's per-resource lookups.
    #[test]
    fn no_partial_index_compares_a_column_with_a_constant_other_than_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.db")).unwrap();
        migrate(&mut conn).unwrap();
        for sql in schema_sql(&conn) {
            let Some((_, condition)) = sql.split_once(" WHERE ") else {
                continue;
            };
            for term in condition.split(" AND ") {
                let term = term.trim();
                let flag = matches!(term, "current = 1" | "deleted = 0");
                let columns = term
                    .split(" = ")
                    .all(|side| side.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
                assert!(flag || columns, "partial index term `{term}` in {sql}");
            }
        }
    }

    #[test]
    fn upgrade_from_2_classifies_stored_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Connection::open(dir.path().join("v2.db")).unwrap();
        old.execute_batch(V1).unwrap();
        old.execute_batch(V2).unwrap();
        old.pragma_update(None, "user_version", 2).unwrap();
        let hiv = r#"{"resourceType":"Condition","id":"c1","meta":{"security":[{"code":"HIV"}]}}"#;
        old.execute(
            "INSERT INTO resource_version (type, id, version, current, last_updated, hash, json)
             VALUES ('Condition', 'c1', 1, 1, 0, x'00', ?1)",
            [hiv],
        )
        .unwrap();
        migrate(&mut old).unwrap();
        let mask: i64 = old
            .query_row("SELECT sensitive FROM resource_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mask, crate::sensitivity::Category::Hiv.bit());
        let mut fresh = Connection::open(dir.path().join("fresh.db")).unwrap();
        migrate(&mut fresh).unwrap();
        assert_eq!(
            schema_sql(&old),
            schema_sql(&fresh),
            "a migrated store equals a new one"
        );
    }

    #[test]
    fn upgrade_from_1_adds_documents_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = Connection::open(dir.path().join("v1.db")).unwrap();
        old.execute_batch(V1).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        old.execute(
            "INSERT INTO resource_version (type, id, version, current, last_updated, hash, json)
             VALUES ('Patient', 'p1', 1, 1, 0, x'00', '{}')",
            [],
        )
        .unwrap();
        migrate(&mut old).unwrap();
        let n: i64 = old
            .query_row("SELECT count(*) FROM resource_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "data survives the migration");
        let mut fresh = Connection::open(dir.path().join("fresh.db")).unwrap();
        migrate(&mut fresh).unwrap();
        assert_eq!(
            schema_sql(&old),
            schema_sql(&fresh),
            "a migrated store equals a new one"
        );
    }

    #[test]
    fn a_newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(Error::SchemaTooNew {
                found: 99,
                known: VERSION
            })
        ));
    }
}
