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
