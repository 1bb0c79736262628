//! An app's own writes on [`PhrStore`]: one resource at a time, each checked as an import
//! checks it and marked as entered in the app (`meta.source`), with the version the app read
//! guarding against lost updates. See `phrkit::records` for the rules.

use crate::error::PhrError;
use crate::store::PhrStore;
use crate::types::StoredRecord;

#[uniffi::export]
impl PhrStore {
    /// Stores a new resource the app made (a self-reported allergy, a medication the patient
    /// takes), FHIR JSON; without an `id` it gets a new UUID. Blocks (disk); call off the main
    /// thread. Errors: `InvalidInput` (not a valid R4 resource, with where), `Conflict` (the
    /// id is taken).
    pub fn create(&self, json: String) -> Result<StoredRecord, PhrError> {
        self.with(|s| Ok(s.create(&json)?.into()))
    }

    /// Replaces the resource `json` names if its current version is `expectedVersion` (the
    /// `version` the app read). Errors: `Conflict` (someone changed or deleted it meanwhile:
    /// read it again), `InvalidInput`.
    pub fn update(&self, json: String, expected_version: i64) -> Result<StoredRecord, PhrError> {
        self.with(|s| Ok(s.update(&json, expected_version)?.into()))
    }

    /// Creates or replaces the resource `json` names, whatever version is stored; equal
    /// content writes nothing. Errors: `InvalidInput`.
    pub fn upsert(&self, json: String) -> Result<StoredRecord, PhrError> {
        self.with(|s| Ok(s.upsert(&json)?.into()))
    }

    /// Deletes `resourceType/id` if its current version is `expectedVersion`; history is
    /// kept. Errors: `Conflict`.
    pub fn delete_version(
        &self,
        resource_type: String,
        id: String,
        expected_version: i64,
    ) -> Result<(), PhrError> {
        self.with(|s| Ok(s.delete_version(&resource_type, &id, expected_version)?))
    }

    /// Removes `resourceType/id` and every version of it; their bytes leave the store file.
    /// Returns false when nothing was stored under it.
    pub fn purge(&self, resource_type: String, id: String) -> Result<bool, PhrError> {
        self.with(|s| Ok(s.purge(&resource_type, &id)?))
    }

    /// Erases the whole store ("delete my data"): every record, document, import run and
    /// access-log entry, their bytes overwritten. The store stays open, empty.
    pub fn wipe(&self) -> Result<(), PhrError> {
        self.with(|s| Ok(s.wipe()?))
    }
}
