//! An app's own writes, one resource at a time: create, update (with the version the app
//! read, as FHIR's `If-Match`), upsert, delete, purge, and wipe.
//!
//! Each resource is checked as an import checks it (R4 schema, reference formats, a valid
//! id) and stored through the same version-write path, so search, export and the change
//! history treat it like an imported one. What the app entered is marked on the version
//! itself: `meta.source` is [`APP_SOURCE`] and the row belongs to no import run. We chose that
//! over a Provenance per write (or per app session): a Provenance per write doubles the rows
//! and the exports of a record that an app edits often, a session Provenance needs a session
//! the core cannot see end, and `meta.source` is R4's own per-version origin, which travels
//! with every export and every other FHIR reader understands.
//!
//! `delete` keeps history (a delete marker, as an import's delete); `purge` removes a
//! resource and all its versions so that their bytes leave the file; `wipe` empties the
//! store ("delete my data"). Attachments with inline `data` stay inline in what the app
//! writes.

use crate::error::{Error, Result};
use crate::fhir::validate::schema;
use crate::store::derive::{derive, instant_text};
use crate::store::write::NewVersion;
use crate::store::{Store, StoredResource};
use serde_json::Value;

/// `meta.source` of every version an app wrote through this module.
pub const APP_SOURCE: &str = "urn:phrkit:entered-in-app";

/// How a write treats the version already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// `type/id` must not exist (or be deleted).
    Absent,
    /// The current version must be this one.
    Version(i64),
    /// Whatever is there.
    Anything,
}

impl Store {
    /// Stores a new resource the app made (a self-reported allergy, a medication the patient
    /// takes). Without an `id` it gets a new UUID; with one, that id must be free. Returns the
    /// stored version (1). Errors: `InvalidInput` (not a valid R4 resource, naming where),
    /// `VersionMismatch` (the id is taken).
    pub fn create(&self, json: &str) -> Result<StoredResource> {
        let mut value = parse(json)?;
        if value.get("id").is_none()
            && let Value::Object(map) = &mut value
        {
            let id = uuid::Uuid::new_v4().to_string();
            map.shift_insert(1.min(map.len()), "id".into(), Value::String(id));
        }
        self.put(value, Expect::Absent)
    }

    /// Replaces `type/id` (both from `json`) if its current version is `expected_version`
    /// (the `meta.versionId` the app read). Errors: `VersionMismatch` (changed, deleted or
    /// absent meanwhile), `InvalidInput`.
    pub fn update(&self, json: &str, expected_version: i64) -> Result<StoredResource> {
        self.put(parse(json)?, Expect::Version(expected_version))
    }

    /// Creates or replaces `type/id`, whatever version is stored; content equal to the
    /// current version's writes nothing and returns it. Errors: `InvalidInput`.
    pub fn upsert(&self, json: &str) -> Result<StoredResource> {
        self.put(parse(json)?, Expect::Anything)
    }

    /// Deletes `type/id` if its current version is `expected_version`: a delete marker is
    /// its next version, history is kept. Errors: `VersionMismatch`.
    pub fn delete_version(&self, ty: &str, id: &str, expected_version: i64) -> Result<()> {
        self.write(|tx| {
            let found = tx
                .current(ty, id)?
                .filter(|c| !c.deleted)
                .map_or(0, |c| c.version);
            if found != expected_version {
                return Err(mismatch(ty, id, expected_version, found));
            }
            tx.delete(ty, id, crate::fhir::date::now_ms())?;
            Ok(())
        })
    }

    /// Removes `type/id` and every one of its versions from the store — and their bytes
    /// from the file (see the module doc). Returns false when nothing was stored under it.
    pub fn purge(&self, ty: &str, id: &str) -> Result<bool> {
        Ok(self.erase(|tx| tx.purge(ty, id))? > 0)
    }

    /// Empties the store: every resource, version, document, quarantined line and import
    /// run, their bytes overwritten in the file. The access log goes too; the store stays
    /// open and usable.
    pub fn wipe(&self) -> Result<()> {
        self.erase(|tx| tx.wipe())
    }

    /// Validates `value` and writes it as the next version of its type/id if `expect` holds.
    fn put(&self, mut value: Value, expect: Expect) -> Result<StoredResource> {
        let (ty, id) = identity(&value)?;
        check(&value, &ty)?;
        if let Some(meta) = value.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("source".into(), Value::String(APP_SOURCE.into()));
        } else if let Value::Object(map) = &mut value {
            let at = map
                .keys()
                .position(|k| k == "id")
                .map_or(map.len(), |i| i + 1);
            map.shift_insert(at, "meta".into(), serde_json::json!({"source": APP_SOURCE}));
        }
        self.write(|tx| {
            let current = tx.current(&ty, &id)?;
            let live = current.as_ref().filter(|c| !c.deleted);
            let found = live.map_or(0, |c| c.version);
            match expect {
                Expect::Absent if found != 0 => return Err(mismatch(&ty, &id, 0, found)),
                Expect::Version(v) if v != found => return Err(mismatch(&ty, &id, v, found)),
                _ => {}
            }
            let now_ms = crate::fhir::date::now_ms();
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            let d = derive(&mut value, &ty, &id, version, &instant_text(now_ms));
            if let Some(c) = live
                && c.hash == d.hash
            {
                return tx_stored(tx, &ty, &id);
            }
            tx.insert_version(
                current.map(|c| c.row),
                &NewVersion {
                    ty: &ty,
                    id: &id,
                    version,
                    last_updated: now_ms,
                    run: None,
                    json: &d.json,
                    derived: &d,
                },
            )?;
            tx_stored(tx, &ty, &id)
        })
    }
}

/// The current version of `ty/id` as the write transaction sees it.
fn tx_stored(tx: &crate::store::write::WriteTx<'_>, ty: &str, id: &str) -> Result<StoredResource> {
    tx.stored(ty, id)?
        .ok_or_else(|| Error::Internal(format!("{ty}/{id} was just written but is not stored")))
}

fn mismatch(ty: &str, id: &str, expected: i64, found: i64) -> Error {
    Error::VersionMismatch {
        resource: format!("{ty}/{id}"),
        expected,
        found,
    }
}

/// The JSON text as one resource object.
fn parse(json: &str) -> Result<Value> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| Error::InvalidInput(format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Error::InvalidInput(
            "not a FHIR resource (a JSON object)".into(),
        ));
    }
    Ok(value)
}

/// `(resourceType, id)`, both valid.
fn identity(value: &Value) -> Result<(String, String)> {
    let ty = crate::fhir::resource_type(value)
        .filter(|t| schema().is_resource_type(t))
        .ok_or_else(|| Error::InvalidInput("no R4 `resourceType`".into()))?;
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| crate::fhir::is_valid_id(id))
        .ok_or_else(|| Error::InvalidInput(format!("{ty}.id: missing or not a FHIR id")))?;
    Ok((ty.to_string(), id.to_string()))
}

/// The import's checks: the R4 schema and reference formats. The first few problems are
/// named, with where they are.
fn check(value: &Value, ty: &str) -> Result<()> {
    let issues = schema().validate(value);
    if issues.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = issues
        .iter()
        .take(3)
        .map(|i| format!("{}: {}", i.location, i.message))
        .collect();
    let more = issues.len().saturating_sub(3);
    Err(Error::InvalidInput(format!(
        "not a valid R4 {ty}: {}{}",
        shown.join("; "),
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        }
    )))
}
