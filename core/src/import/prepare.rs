//! The stateless half of the import pipeline, run on the import's worker threads, one batch
//! of input items at a time, in three steps:
//!
//! 1. **parse** (parallel): each item's text becomes a tree within limits; invalid `_x`
//!    members are dropped, phrkit's own export cover pages skipped, a missing id derived from
//!    the content, so every resource knows its `Type/id`;
//! 2. **name** (in input order, on the reader thread): each resource's `fullUrl` — and its id,
//!    when that is a UUID, which is what `urn:uuid:` means in NDJSON — goes into the run's
//!    [`NameTable`];
//! 3. **finish** (parallel): `urn:uuid:` and `fullUrl` references are rewritten to `Type/id`
//!    from the table (backward, within the batch, and forward within the batch alike), the
//!    resource is validated, its attachments moved out, and — when no reference is left to
//!    resolve — fully derived: content hash, compartment, clinical dates, references,
//!    identifiers and the JSON text to store.
//!
//! The writer thread then only looks things up and inserts. What needs the store
//! (conditional references, names defined further on in the input, identity by business
//! identifier) is left to [`super::apply`].

use super::names::{Inserted, NameTable};
use super::report::Severity;
use crate::fhir::attachment::{self, Document};
use crate::fhir::hash::{content_hash, to_hex};
use crate::fhir::reference::{RefKind, classify, rewrite_references, scan_references};
use crate::fhir::validate::{ValidationIssue, schema};
use crate::ndjson::document::{Body, Item};
use crate::ndjson::parse::{MAX_VALUES, parse};
use crate::store::derive::{Derived, derive_with_targets};
use serde_json::{Map, Value};

/// One input item as read: a line, or a resource found in a document.
pub(crate) struct Raw {
    pub line: u64,
    pub location: Option<String>,
    pub full_url: Option<String>,
    pub body: RawBody,
}

/// What an input item holds.
pub(crate) enum RawBody {
    /// JSON text.
    Json(Vec<u8>),
    /// A Bundle entry without a resource.
    Missing,
    /// Too long to read: its length and the limit.
    TooLong(usize, usize),
    /// The input is broken here (the message says how).
    Broken(String),
}

impl Raw {
    /// A resource the document scanner found.
    pub fn from_item(item: Item, max: usize) -> Raw {
        Raw {
            line: item.line,
            location: item.location,
            full_url: item.full_url,
            body: match item.body {
                Body::Json(b) => RawBody::Json(b),
                Body::Missing => RawBody::Missing,
                Body::TooLong(n) => RawBody::TooLong(n, max),
            },
        }
    }

    /// Bytes it holds (for batching).
    pub fn len(&self) -> usize {
        match &self.body {
            RawBody::Json(b) => b.len(),
            _ => 16,
        }
    }
}

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
    /// A Bundle entry without a resource.
    EmptyEntry,
    /// phrkit's own export cover page (describes the export, not the record).
    Cover,
    /// The input itself is broken (a corrupted archive entry): the run must fail.
    Fatal(String),
}

pub(crate) struct Candidate {
    pub ty: String,
    pub id: String,
    /// The parsed resource; `Null` once `derived` is set (its JSON is `derived.json`).
    pub value: Value,
    /// Normalisation warnings (dropped members, generated ids, reused names).
    pub notes: Vec<String>,
    /// Derived data; `None` while references remain to be resolved by the writer.
    pub derived: Option<Derived>,
    /// Attachment bytes moved out of the resource, stored with it.
    pub documents: Vec<Document>,
    /// The source's `meta.lastUpdated` (epoch ms) and `meta.versionId`, kept when `value`
    /// was rebuilt from stored JSON that carries phrkit's meta instead.
    pub source_meta: Option<(Option<i64>, Option<String>)>,
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

/// A parsed item after step 1: done already, or a resource waiting for step 3.
pub(crate) enum Parsed {
    Done(Prepared),
    Resource(Box<Parsing>),
}

/// A parsed resource between steps 1 and 3.
pub(crate) struct Parsing {
    line: u64,
    location: Option<String>,
    full_url: Option<String>,
    value: Value,
    notes: Vec<String>,
}

/// Step 1 for one item: parse it (a Bundle parsed whole is expanded into its entries).
pub(crate) fn parse_item(raw: Raw, out: &mut Vec<Parsed>) {
    let done = |kind| {
        Parsed::Done(Prepared {
            line: raw.line,
            location: raw.location.clone(),
            kind,
        })
    };
    match &raw.body {
        RawBody::Missing => out.push(done(Kind::EmptyEntry)),
        RawBody::TooLong(n, max) => out.push(done(Kind::Unreadable(format!(
            "{} is {n} bytes, longer than the {max}-byte maximum; skipped",
            if raw.location.is_some() {
                "the resource"
            } else {
                "the line"
            }
        )))),
        RawBody::Broken(msg) => out.push(done(Kind::Unreadable(msg.clone()))),
        RawBody::Json(bytes) => match parse(bytes, MAX_VALUES) {
            Ok(v) => expand(v, raw.line, raw.location, raw.full_url, out),
            Err(e) => out.push(done(Kind::Unreadable(e.to_string()))),
        },
    }
}

/// A parsed value: a Bundle is expanded into its entries, an OperationOutcome becomes sender
/// issues, anything else is a resource.
fn expand(
    value: Value,
    line: u64,
    location: Option<String>,
    full_url: Option<String>,
    out: &mut Vec<Parsed>,
) {
    let done = |location, kind| {
        Parsed::Done(Prepared {
            line,
            location,
            kind,
        })
    };
    match crate::fhir::resource_type(&value) {
        Some("Bundle") => {
            let prefix = location.unwrap_or_else(|| "Bundle".into());
            for (i, mut entry) in entries(value).into_iter().enumerate() {
                let loc = format!("{prefix}.entry[{i}]");
                let full_url = entry
                    .get("fullUrl")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match entry.get_mut("resource").map(Value::take) {
                    Some(r) if crate::fhir::resource_type(&r) == Some("Bundle") => {
                        expand(r, line, Some(format!("{loc}.resource")), None, out)
                    }
                    Some(r) => out.push(resource(r, line, Some(loc), full_url)),
                    None => out.push(done(Some(loc), Kind::EmptyEntry)),
                }
            }
        }
        Some("OperationOutcome") => {
            out.push(done(location, Kind::SenderOutcome(sender_issues(&value))))
        }
        _ if !value.is_object() => {
            out.push(done(location, Kind::Unreadable("not a JSON object".into())))
        }
        _ => out.push(resource(value, line, location, full_url)),
    }
}

fn entries(mut bundle: Value) -> Vec<Value> {
    match bundle.get_mut("entry").map(Value::take) {
        Some(Value::Array(e)) => e,
        _ => Vec::new(),
    }
}

/// Normalises a resource as far as no names are needed: drops invalid `_x` members, skips
/// phrkit's export cover page, derives a missing id.
fn resource(
    mut value: Value,
    line: u64,
    location: Option<String>,
    full_url: Option<String>,
) -> Parsed {
    let mut notes = Vec::new();
    if let Value::Object(map) = &mut value {
        drop_invalid_primitive_extensions(map, &mut notes);
    }
    if crate::fhir::tags::is_export_page(&value) {
        return Parsed::Done(Prepared {
            line,
            location,
            kind: Kind::Cover,
        });
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
    Parsed::Resource(Box::new(Parsing {
        line,
        location,
        full_url,
        value,
        notes,
    }))
}

/// Step 2: records what the resource's `fullUrl` and UUID id name. Only valid ids of R4
/// types are recorded (names of invalid resources would point nowhere).
pub(crate) fn name(p: &mut Parsing, names: &mut NameTable) {
    let (Some(ty), Some(id)) = (
        crate::fhir::resource_type(&p.value),
        crate::fhir::resource_id(&p.value),
    ) else {
        return;
    };
    if !crate::fhir::is_valid_id(id) || !schema().is_resource_type(ty) {
        return;
    }
    if let Some(full_url) = &p.full_url
        && names.insert(full_url, ty, id) == Inserted::Other
    {
        p.notes.push(
            "this entry's fullUrl already named another resource earlier in the import; \
             references to it point to that one"
                .into(),
        );
    }
    if id.len() == 36 {
        names.insert(id, ty, id);
    }
}

/// Step 3: resolves names, validates and (when possible) derives one resource.
pub(crate) fn finish(p: Parsing, names: &NameTable, ctx: &Ctx) -> Prepared {
    let Parsing {
        line,
        location,
        mut value,
        mut notes,
        ..
    } = p;
    let refs = scan_references(&mut value, &mut |r| resolve_name(r, names));
    let mut issues = schema().validate_schema(&value);
    if refs.malformed {
        issues.push(crate::fhir::validate::malformed_reference(&value));
    }
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
    let derived = (!refs.unresolved)
        .then(|| derive_with_targets(&mut value, &ty, &id, &ctx.now, refs.targets));
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
            source_meta: None,
        })),
    }
}

/// Rewrites `urn:uuid:` references, and absolute ones that are some entry's `fullUrl`, to the
/// `Type/id` the run's names give them; returns how many changed.
pub(crate) fn resolve_names(value: &mut Value, names: &NameTable) -> usize {
    rewrite_references(value, &mut |r| resolve_name(r, names))
}

/// What a reference means by the run's names: `urn:uuid:` and `fullUrl` names only.
fn resolve_name(reference: &str, names: &NameTable) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    match classify(reference) {
        RefKind::UrnUuid(_) | RefKind::OtherUrl | RefKind::Literal { absolute: true, .. } => {
            names.reference(reference)
        }
        _ => None,
    }
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
