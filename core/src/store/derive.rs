//! What the store extracts from a resource before it writes it: the content hash, the
//! patient, the clinical period, the shared resources it points to, business identifiers,
//! sensitivity, and the JSON text with `meta.versionId` / `meta.lastUpdated` set. Every
//! write path — an import, the access log, an app's own writes — derives its row here, so
//! the stored columns always agree with the JSON.

use crate::fhir::date::{DateRange, format_instant, parse_fhir_date};
use crate::fhir::hash::{ContentHash, content_hash};
use crate::fhir::reference::literal_targets;
use crate::fhir::{business_identifiers, clinical, compartment};
use serde_json::{Map, Value};

/// The stored columns of one resource version, and its JSON text.
pub(crate) struct Derived {
    pub hash: ContentHash,
    pub patient: Option<String>,
    pub period: Option<DateRange>,
    pub refs: String,
    /// Every literal `Type/id` the resource references (the writer checks them against the
    /// run's id remapping without reparsing the resource).
    pub targets: Vec<String>,
    pub identifiers: Vec<(String, String)>,
    pub source_updated: Option<i64>,
    /// `meta.versionId` as the source sent it.
    pub source_version: Option<String>,
    /// Sensitive-data categories (bit mask, see [`crate::sensitivity`]).
    pub sensitive: i64,
    /// The JSON to store, with `meta.versionId` "1" and the run's `meta.lastUpdated`.
    pub json: String,
}

/// Computes the stored columns and the JSON text of a fully resolved resource, setting
/// `meta.versionId` and `meta.lastUpdated`.
pub(crate) fn derive(value: &mut Value, ty: &str, id: &str, version: i64, now: &str) -> Derived {
    let targets = literal_targets(value);
    let mut d = derive_with_targets(value, ty, id, now, targets);
    if version != 1 {
        set_meta(value, version, now);
        d.json = json_text(value);
    }
    d
}

/// [`derive`] for version 1, with the references' targets already collected.
pub(crate) fn derive_with_targets(
    value: &mut Value,
    ty: &str,
    id: &str,
    now: &str,
    targets: Vec<String>,
) -> Derived {
    let version = 1;
    let source_updated = value
        .pointer("/meta/lastUpdated")
        .and_then(Value::as_str)
        .and_then(|s| parse_fhir_date(s).ok())
        .map(|r| r.start);
    let source_version = value
        .pointer("/meta/versionId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let hash = content_hash(value);
    // Only references to shared resources: the compartment's own are never followed by an
    // export, and leaving them out keeps the covering index small.
    let own = format!("{ty}/{id}");
    let refs = targets
        .iter()
        .filter(|t| {
            **t != own
                && t.split_once('/')
                    .is_some_and(|(t, _)| compartment::is_shared_type(t))
        })
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let derived_patient = compartment::patient_of(value);
    let period = clinical::clinical_period(value);
    let identifiers = business_identifiers(value);
    let sensitive = crate::sensitivity::classify(value);
    set_meta(value, version, now);
    Derived {
        hash,
        patient: derived_patient,
        period,
        refs,
        targets,
        identifiers,
        source_updated,
        source_version,
        sensitive,
        json: json_text(value),
    }
}

/// Sets `meta.versionId` and `meta.lastUpdated`, adding `meta` after `id` when absent.
pub(crate) fn set_meta(value: &mut Value, version: i64, now: &str) {
    let Value::Object(map) = value else { return };
    if !map.get("meta").is_some_and(Value::is_object) {
        let pos = map
            .keys()
            .position(|k| k == "id")
            .map_or(map.len(), |i| i + 1);
        map.shift_insert(pos, "meta".into(), Value::Object(Map::new()));
    }
    if let Some(Value::Object(meta)) = map.get_mut("meta") {
        meta.insert("versionId".into(), Value::String(version.to_string()));
        meta.insert("lastUpdated".into(), Value::String(now.to_string()));
    }
}

/// The compact JSON text of a value. `serde_json::to_string` writes straight into a byte
/// buffer, about twice as fast as `Value`'s `Display` (which goes through `fmt::Write`).
pub(crate) fn json_text(value: &Value) -> String {
    // Serialising a `Value` cannot fail (its keys are strings); the fallback is unreachable.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// The run's `meta.lastUpdated` text for an epoch-ms instant.
pub(crate) fn instant_text(ms: i64) -> String {
    format_instant(ms)
}
