//! Small read-only records about a store.

use std::collections::HashMap;

/// Counts that describe a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct Stats {
    /// Current (not deleted) resources by type.
    pub by_type: HashMap<String, u64>,
    /// All current resources.
    pub resources: u64,
    /// Every stored version, including history and delete markers.
    pub versions: u64,
    /// Import runs recorded.
    pub runs: u64,
    /// Resources kept in quarantine.
    pub quarantined: u64,
    /// Documents (attachment files) stored, each once.
    pub documents: u64,
}

impl From<phrkit::store::Stats> for Stats {
    fn from(s: phrkit::store::Stats) -> Self {
        Stats {
            by_type: s.by_type.into_iter().collect(),
            resources: s.resources,
            versions: s.versions,
            runs: s.runs,
            quarantined: s.quarantined,
            documents: s.documents,
        }
    }
}

/// One page of a search, and the token of the next.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SearchPage {
    /// The resources, newest clinical date first (undated last).
    pub records: Vec<StoredRecord>,
    /// Pass it to `searchPage` for the next page; null on the last one.
    pub next_page_token: Option<String>,
}

/// One stored version of a resource, with its envelope.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoredRecord {
    /// Its `resourceType`.
    pub resource_type: String,
    /// Its logical id.
    pub id: String,
    /// Its version (`meta.versionId`), from 1. Pass it to `update` and `deleteVersion`.
    pub version: i64,
    /// When this store wrote it, epoch milliseconds (`meta.lastUpdated`).
    pub last_updated_ms: i64,
    /// The FHIR JSON as stored.
    pub json: String,
}

impl From<phrkit::StoredResource> for StoredRecord {
    fn from(r: phrkit::StoredResource) -> Self {
        StoredRecord {
            resource_type: r.resource_type,
            id: r.id,
            version: r.version,
            last_updated_ms: r.last_updated,
            json: r.json,
        }
    }
}
