//! The stateless half of the import pipeline, run in parallel on worker threads.
//!
//! Each input line (or Bundle entry) is parsed, normalised where no store state is needed
//! (invalid `_x` members dropped, a missing id derived from content, `urn:uuid:` references
//! resolved against the enclosing Bundle's `fullUrl`s), validated, and — when no reference is
//! left to resolve — fully derived: content hash, compartment, clinical dates, references,
//! identifiers and the JSON text to store. The writer thread then only looks things up and
//! inserts. Anything that needs the store (ids seen earlier in the import, conditional
//! references, identity by business identifier) is left to [`super::apply`].

use super::report::Severity;
use crate::export::{EXPORT_COVER_TAG, PHRKIT_TAG_SYSTEM};
use crate::fhir::attachment::{self, Document};
use crate::fhir::date::{format_instant, parse_fhir_date};
use crate::fhir::hash::{ContentHash, content_hash, to_hex};
use crate::fhir::reference::{
    RefKind, classify, for_each_reference, literal_targets, rewrite_references,
};
use crate::fhir::validate::{ValidationIssue, schema};
use crate::fhir::{business_identifiers, clinical, compartment, date::DateRange};
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One prepared input item, in input order.
pub(crate) struct Prepared {
    pub line: u64,
    pub location: Option<String>,
    pub kind: Kind,
}

pub(crate) enum Kind {
    /// A valid resource, ready for identification and writing.
    Resource(Box<Candidate>),
    /// A resource that failed validation (rejected or quarantined by policy).
    Invalid {
        value: Value,
        ty: Option<String>,
        id: Option<String>,
        issues: Vec<ValidationIssue>,
        notes: Vec<String>,
    },
    /// Not a JSON object, or too long to read.
    Unreadable(String),
    /// An inline OperationOutcome: the sender's own errors.
    SenderOutcome(Vec<(Severity, String)>),
    /// Deliberately not imported (e.g. phrkit's export cover page).
    Skipped(String),
    /// The input itself is broken (a corrupted archive entry): the run must fail.
    Fatal(String),
}

pub(crate) struct Candidate {
    pub ty: String,
    pub id: String,
    /// The parsed resource; `Null` once `derived` is set (its JSON is `derived.json`).
    pub value: Value,
    /// Normalisation warnings (dropped members, generated ids).
    pub notes: Vec<String>,
    /// Derived data; `None` while references remain to be resolved by the writer.
    pub derived: Option<Derived>,
    /// Attachment bytes moved out of the resource, stored with it.
    pub documents: Vec<Document>,
}

/// Resolves a relative attachment `url` inside the archive the input came in.
pub(crate) type SharedResolver =
    std::sync::Arc<dyn Fn(&str) -> Result<Option<Vec<u8>>, String> + Send + Sync>;

/// What preparing needs besides the input: the run's timestamp, and a document resolver
/// when the input came out of a `.sphr` archive.
pub(crate) struct Ctx {
    pub now: String,
    pub resolver: Option<SharedResolver>,
}

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

/// Maps `fullUrl`s of a Bundle's entries to relative `Type/id` references.
pub(crate) type FullUrls = HashMap<String, String>;

/// Prepares one NDJSON line (which may hold a whole Bundle).
pub(crate) fn prepare_line(line: u64, bytes: &[u8], ctx: &Ctx, out: &mut Vec<Prepared>) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => prepare_value(v, line, None, ctx, out),
        Err(e) => out.push(Prepared {
            line,
            location: None,
            kind: Kind::Unreadable(format!("not valid JSON ({})", strip_position(&e))),
        }),
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.find(" at line ") {
        Some(i) => format!("{} at column {}", &msg[..i], e.column()),
        None => msg,
    }
}

/// Prepares a parsed value: a Bundle is expanded into its entries, an OperationOutcome
/// becomes sender issues, anything else is a resource.
pub(crate) fn prepare_value(
    value: Value,
    line: u64,
    location: Option<String>,
    ctx: &Ctx,
    out: &mut Vec<Prepared>,
) {
    match crate::fhir::resource_type(&value) {
        Some("Bundle") => {
            let prefix = location.unwrap_or_else(|| "Bundle".into());
            let parts: Vec<Vec<Prepared>> = bundle_entries(value)
                .into_par_iter()
                .map(|(i, entry, urls)| {
                    let loc = format!("{prefix}.entry[{i}]");
                    let mut out = Vec::with_capacity(1);
                    match entry {
                        Some(r) if crate::fhir::resource_type(&r) == Some("Bundle") => {
                            prepare_value(r, line, Some(format!("{loc}.resource")), ctx, &mut out)
                        }
                        Some(r) => out.push(prepare_resource(r, line, Some(loc), Some(&urls), ctx)),
                        None => out.push(Prepared {
                            line,
                            location: Some(loc),
                            kind: Kind::Skipped("Bundle entry without a resource".into()),
                        }),
                    }
                    out
                })
                .collect();
            out.extend(parts.into_iter().flatten());
        }
        Some("OperationOutcome") => out.push(Prepared {
            line,
            location,
            kind: Kind::SenderOutcome(sender_issues(&value)),
        }),
        _ if !value.is_object() => out.push(Prepared {
            line,
            location,
            kind: Kind::Unreadable("not a JSON object".into()),
        }),
        _ => out.push(prepare_resource(value, line, location, None, ctx)),
    }
}

/// Splits a Bundle into `(index, resource, fullUrl map)`; the map is shared by all entries.
fn bundle_entries(mut bundle: Value) -> Vec<(usize, Option<Value>, std::sync::Arc<FullUrls>)> {
    let entries = match bundle.get_mut("entry").map(Value::take) {
        Some(Value::Array(e)) => e,
        _ => Vec::new(),
    };
    let mut urls = FullUrls::new();
    for e in &entries {
        let (Some(full), Some(res)) = (e.get("fullUrl").and_then(Value::as_str), e.get("resource"))
        else {
            continue;
        };
        if let (Some(ty), Some(id)) = (
            crate::fhir::resource_type(res),
            crate::fhir::resource_id(res),
        ) {
            urls.insert(full.to_string(), format!("{ty}/{id}"));
        }
    }
    let urls = std::sync::Arc::new(urls);
    entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| (i, e.get_mut("resource").map(Value::take), urls.clone()))
        .collect()
}

fn sender_issues(oo: &Value) -> Vec<(Severity, String)> {
    let Some(Value::Array(issues)) = oo.get("issue") else {
        return vec![(Severity::Error, "OperationOutcome without issues".into())];
    };
    issues
        .iter()
        .map(|i| {
            let sev =
                Severity::from_code(i.get("severity").and_then(Value::as_str).unwrap_or("error"));
            let text = i
                .get("diagnostics")
                .and_then(Value::as_str)
                .or_else(|| i.pointer("/details/text").and_then(Value::as_str))
                .unwrap_or("(no diagnostics)");
            (sev, text.to_string())
        })
        .collect()
}

/// Normalises, validates and (when possible) derives one resource.
pub(crate) fn prepare_resource(
    mut value: Value,
    line: u64,
    location: Option<String>,
    full_urls: Option<&FullUrls>,
    ctx: &Ctx,
) -> Prepared {
    let mut notes = Vec::new();
    if let Value::Object(map) = &mut value {
        drop_invalid_primitive_extensions(map, &mut notes);
    }
    if is_export_cover(&value) {
        return Prepared {
            line,
            location,
            kind: Kind::Skipped(
                "phrkit export cover page (describes the export, not the record)".into(),
            ),
        };
    }
    if crate::fhir::resource_id(&value).is_none()
        && value.get("resourceType").is_some_and(Value::is_string)
        && let Value::Object(map) = &mut value
    {
        map.remove("id");
        let id = to_hex(&content_hash(&Value::Object(map.clone()))[..16]);
        notes.push(format!(
            "no id: assigned {id}, derived from the content so re-imports match"
        ));
        map.shift_insert(1, "id".into(), Value::String(id));
    }
    if let Some(urls) = full_urls {
        rewrite_references(&mut value, &mut |r| urls.get(r).cloned());
    }
    let issues = schema().validate(&value);
    let ty = crate::fhir::resource_type(&value).map(str::to_string);
    let id = crate::fhir::resource_id(&value).map(str::to_string);
    let (Some(ty), Some(id), true) = (ty.clone(), id.clone(), issues.is_empty()) else {
        return Prepared {
            line,
            location,
            kind: Kind::Invalid {
                value,
                ty,
                id,
                issues,
                notes,
            },
        };
    };
    let documents = match attachment::extract_documents(
        &mut value,
        ctx.resolver.as_deref().map(|r| r as _),
        &mut notes,
    ) {
        Ok(d) => d,
        Err(e) => {
            return Prepared {
                line,
                location,
                kind: Kind::Fatal(e),
            };
        }
    };
    let derived = (!needs_resolution(&value)).then(|| derive(&mut value, &ty, &id, 1, &ctx.now));
    if derived.is_some() {
        // Freed here, on a worker; the writer reparses the JSON in the rare case it needs it.
        value = Value::Null;
    }
    Prepared {
        line,
        location,
        kind: Kind::Resource(Box::new(Candidate {
            ty,
            id,
            value,
            notes,
            derived,
            documents,
        })),
    }
}

/// True when a reference still needs the store to resolve (`urn:uuid:`, `Type?query`).
pub(crate) fn needs_resolution(value: &Value) -> bool {
    let mut found = false;
    for_each_reference(value, &mut |r| {
        found |= matches!(
            classify(r),
            RefKind::UrnUuid(_) | RefKind::Conditional { .. }
        );
    });
    found
}

/// Removes top-level `_x` members that are not objects or arrays (e.g. the string `_id`
/// Mongo-backed exporters leave behind): FHIR requires primitive extensions to be objects.
fn drop_invalid_primitive_extensions(map: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let bad: Vec<String> = map
        .iter()
        .filter(|(k, v)| k.starts_with('_') && !v.is_object() && !v.is_array())
        .map(|(k, _)| k.clone())
        .collect();
    for k in bad {
        map.shift_remove(&k);
        notes.push(format!(
            "dropped invalid `{k}` member (a primitive extension must be an object)"
        ));
    }
}

fn is_export_cover(value: &Value) -> bool {
    crate::fhir::resource_type(value) == Some("Composition")
        && value
            .pointer("/meta/tag")
            .and_then(Value::as_array)
            .is_some_and(|tags| {
                tags.iter().any(|t| {
                    t.get("system").and_then(Value::as_str) == Some(PHRKIT_TAG_SYSTEM)
                        && t.get("code").and_then(Value::as_str) == Some(EXPORT_COVER_TAG)
                })
            })
}

/// Computes the stored columns and the JSON text of a fully resolved resource, setting
/// `meta.versionId` and `meta.lastUpdated`.
pub(crate) fn derive(value: &mut Value, ty: &str, id: &str, version: i64, now: &str) -> Derived {
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
    let targets = literal_targets(value);
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
