//! The CapabilityStatement and the two OperationDefinitions the server advertises.
//!
//! The IG ships none of these as resources: its `$phr-export` and `$import` definitions exist
//! only as FSH, and no layer has a CapabilityStatement. They are built here, in code, rather
//! than kept as JSON files, for two reasons. They must say exactly what phrkit does (its
//! output formats and media types, its import policies, including the `conflict` and
//! `on_invalid` extensions), so they live beside the code they describe. And the `$phr-export`
//! documentation carries the per-type clinical date table that `start`/`end` filter on; the
//! caller passes phrkit's own table, so the published text cannot drift from the filter.
//! Trade-off: a deployment cannot edit them without a rebuild; only what varies per deployment
//! (version, base URL, date, table) is an input.

use serde_json::{Value, json};

/// Canonical URL of the `$phr-export` OperationDefinition (the IG's, by SUSHI convention).
pub const PHR_EXPORT_CANONICAL: &str = "http://hl7.org/fhir/uv/phr/OperationDefinition/phr-export";
/// Canonical URL of the `$import` OperationDefinition (the IG's, by SUSHI convention).
pub const PHR_IMPORT_CANONICAL: &str = "http://hl7.org/fhir/uv/phr/OperationDefinition/phr-import";

const PHR_BUNDLE_PROFILE: &str = "http://hl7.org/fhir/uv/phr/StructureDefinition/PhrBundle";
const PHR_IG: &str = "http://hl7.org/fhir/uv/phr/ImplementationGuide/hl7.fhir.uv.phr";

/// Inputs that vary per deployment.
#[derive(Debug, Clone, Copy)]
pub struct CapabilityOptions<'a> {
    /// phrkit's version, published as `software.version`.
    pub software_version: &'a str,
    /// The server's FHIR base URL. `Some` makes the statement describe this instance
    /// (`kind = instance`, `implementation.url`); `None` describes the software (`capability`).
    pub base_url: Option<&'a str>,
    /// The statement's `date`, a FHIR dateTime such as `2026-11-26`.
    pub date: &'a str,
    /// The clinical date table, `(resourceType, elements in priority order)`; pass
    /// `fhir::clinical::documented_table()`.
    pub clinical_dates: &'a [(&'static str, &'static [&'static str])],
}

/// The meaning of `$phr-export`'s parameters, shared by both resources.
const EXPORT_SEMANTICS: &str = "\
`start` and `end` filter on each resource's **clinical date** (when it happened to the \
patient, not when it was recorded). Partial dates are inclusive by precision: `start=2010` \
means from 2010-01-01T00:00:00Z; `end=2020-06` means through 2020-06-30T23:59:59.999Z. Dates \
without a time are UTC days. A resource matches when its clinical period overlaps the range \
(a period with no end is open-ended); either bound may be omitted. Resources without a \
clinical date (Patient, Practitioner, Organization, Medication …) are always included when \
selected by patient, and so are Provenance resources (the record of where data came from), \
whatever their dates. Sensitive resources (security labels or sensitive codes: mental health, \
substance use, sexual health, HIV, restricted) are left out unless the request includes their \
category (`includeSensitive`, a phrkit extension) or an active Consent permits it.\n\n\
`_since` filters on `meta.lastUpdated`, an instant: when this store last changed the resource.\n\n\
`_type` is a strict comma-separated list of resource types (an unknown type is an error); the \
Patient and the cover Composition are always present.\n\n\
`patient` (e.g. `Patient/123`) is required when the store holds more than one patient; at \
instance level (`GET [base]/Patient/{id}/$phr-export`) the patient is the instance.";

/// Output formats and their media types.
const FORMATS: &str = "\
`$phr-export?outputFormat=` selects the output and its media type:\n\n\
| outputFormat | Content-Type | Content |\n|---|---|---|\n\
| `bundle` (default) | `application/fhir+json` | a document Bundle, profile \
http://hl7.org/fhir/uv/phr/StructureDefinition/PhrBundle |\n\
| `ndjson` | `application/x-ndjson` (`application/fhir+ndjson` when the client's Accept asks) \
| one resource per line |\n\
| `phr` | `application/x-ndjson` | the same NDJSON, with a `.phr` file name in \
Content-Disposition |\n\
| `sphr` | `application/zip` | an encrypted zip (AES-256, WinZip AE-2) holding the `.phr` \
and supporting documents; the passphrase is supplied by the client or generated |\n\n\
`$import` accepts the same payloads as its request body.";

/// How `$import` takes its input.
const IMPORT_BODY: &str = "\
The request body is the payload itself, not a Parameters resource: `application/x-ndjson` or \
`application/fhir+ndjson` (a `.phr`, one resource per line), `application/fhir+json` (a \
Bundle), or `application/zip` (a `.sphr`). The in-parameters travel in the query string. \
`conflict` and `on_invalid` are phrkit extensions. Resources are validated, deduplicated and \
recorded with Provenance; `mode=validate` runs everything but the commit.";

/// The `$phr-export` operation's entry in the CapabilityStatement: endpoints, parameter
/// semantics and the clinical date table.
fn export_documentation(clinical_dates: &[(&str, &[&str])]) -> String {
    let mut doc = format!(
        "Exports one patient's record: `GET [base]/Bundle/$phr-export` or \
         `GET [base]/Patient/{{id}}/$phr-export`.\n\n{EXPORT_SEMANTICS}"
    );
    doc.push_str(
        "\n\nClinical date elements by resource type, in priority order (the first present \
         wins). An element written `a..b` is a start..end pair; `a|b` are alternatives (the \
         first present is used). Types not listed have no clinical date.\n\n\
         | Resource type | Elements |\n|---|---|\n",
    );
    for (ty, elements) in clinical_dates {
        let cells: Vec<String> = elements
            .iter()
            .map(|e| format!("`{}`", e.replace('|', "\\|")))
            .collect();
        doc.push_str(&format!("| {ty} | {} |\n", cells.join(", ")));
    }
    doc
}

/// The CapabilityStatement of this build as of today: the one every front serves (`base_url`
/// `Some` for a server instance, `None` for the software).
pub fn statement(base_url: Option<&str>) -> Value {
    let table = crate::fhir::clinical::documented_table();
    let today = crate::fhir::date::format_instant(crate::fhir::date::now_ms());
    capability_statement(&CapabilityOptions {
        software_version: env!("CARGO_PKG_VERSION"),
        base_url,
        date: today.get(..10).unwrap_or(&today),
        clinical_dates: &table,
    })
}

/// The CapabilityStatement (FHIR R4) for `opts`: its formats, the two operations and the
/// resources they apply to. Pure; no I/O. Fronts call [`statement`].
pub fn capability_statement(opts: &CapabilityOptions<'_>) -> Value {
    let export = json!({
        "name": "phr-export",
        "definition": PHR_EXPORT_CANONICAL,
        "documentation": export_documentation(opts.clinical_dates),
    });
    let import = json!({
        "name": "import",
        "definition": PHR_IMPORT_CANONICAL,
        "documentation": format!(
            "Imports a PHR: `POST [base]/Bundle/$import`. {IMPORT_BODY} Returns an \
             OperationOutcome with counts per type and one issue per rejected or conflicting \
             line, with its line number."
        ),
    });
    let mut cs = json!({
        "resourceType": "CapabilityStatement",
        "id": "phrkit",
        "name": "PhrkitCapabilityStatement",
        "title": "phrkit personal health record server",
        "status": "active",
        "date": opts.date,
        "description": "A personal health record kept as FHIR R4 resources, with the HL7 PHR \
                        format IG's `$phr-export` and `$import` operations.",
        "kind": if opts.base_url.is_some() { "instance" } else { "capability" },
        "software": { "name": "phrkit", "version": opts.software_version },
        "implementation": {
            "description": "phrkit PHR server",
            "url": opts.base_url.unwrap_or_default(),
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "implementationGuide": [PHR_IG],
        "rest": [{
            "mode": "server",
            "documentation": FORMATS,
            "security": {
                "description": "The FHIR operations require `Authorization: Bearer <token>`.",
            },
            "resource": [
                {
                    "type": "Bundle",
                    "supportedProfile": [PHR_BUNDLE_PROFILE],
                    "operation": [
                        { "name": "phr-export", "definition": PHR_EXPORT_CANONICAL },
                        { "name": "import", "definition": PHR_IMPORT_CANONICAL },
                    ],
                },
                {
                    "type": "Patient",
                    "interaction": [{ "code": "read" }],
                    "operation": [{
                        "name": "phr-export",
                        "definition": PHR_EXPORT_CANONICAL,
                        "documentation": "Instance level: `GET [base]/Patient/{id}/$phr-export` \
                                          exports that patient; same parameters, no `patient`.",
                    }],
                },
            ],
            "operation": [export, import],
        }],
    });
    // cpb-15: a `capability` statement has no implementation.
    if let (None, Some(map)) = (opts.base_url, cs.as_object_mut()) {
        map.shift_remove("implementation");
    }
    cs
}

/// One OperationDefinition parameter (`use` is `in` or `out`).
fn param(name: &str, usage: &str, min: u32, max: &str, ty: &str, doc: &str) -> Value {
    json!({ "name": name, "use": usage, "min": min, "max": max, "documentation": doc, "type": ty })
}

/// The `$phr-export` OperationDefinition (type level on Bundle, instance level on Patient).
pub fn phr_export_operation() -> Value {
    json!({
        "resourceType": "OperationDefinition",
        "id": "phr-export",
        "url": PHR_EXPORT_CANONICAL,
        "name": "PhrExport",
        "title": "Export a personal health record",
        "status": "draft",
        "kind": "operation",
        "experimental": true,
        "description": "Exports a patient's complete record as a FHIR Bundle, NDJSON, a `.phr` \
                        file or an encrypted `.sphr` container.",
        "affectsState": false,
        "code": "phr-export",
        "comment": format!(
            "{EXPORT_SEMANTICS}\n\nOver HTTP phrkit streams the raw content (Bundle, NDJSON or \
             zip) rather than a Binary resource."
        ),
        "resource": ["Bundle", "Patient"],
        "system": false,
        "type": true,
        "instance": true,
        "parameter": [
            param("outputFormat", "in", 0, "1", "code",
                "`bundle` (default) | `ndjson` | `phr` | `sphr`."),
            param("patient", "in", 0, "1", "string",
                "The patient whose record to export, as a reference such as `Patient/123` \
                 (typed string because it travels in the query string). Required when the \
                 store holds more than one patient; not used at instance level."),
            param("start", "in", 0, "1", "date",
                "Earliest clinical date, inclusive by precision: `2010` = from \
                 2010-01-01T00:00:00Z (UTC)."),
            param("end", "in", 0, "1", "date",
                "Latest clinical date, inclusive by precision: `2020-06` = through \
                 2020-06-30T23:59:59.999Z (UTC)."),
            param("_since", "in", 0, "1", "instant",
                "Only resources whose `meta.lastUpdated` (when this store last changed them) \
                 is at or after this instant."),
            param("_type", "in", 0, "*", "string",
                "Comma-separated resource types to include; an unknown type is an error. The \
                 Patient and the cover Composition are always present."),
            param("includeSensitive", "in", 0, "*", "code",
                "phrkit extension. Sensitive categories to include (comma-separated: \
                 `mental-health`, `substance-use`, `sexual-health`, `hiv`, `restricted`, or \
                 `all`). By default resources in these categories are left out, unless an \
                 active Consent of the patient permits them, and the result counts what was \
                 left out."),
            param("encryption", "in", 0, "1", "code",
                "phrkit extension, `sphr` only: `aes256` (default; every zip entry WinZip \
                 AE-2 encrypted) or `none` (a plain zip). The passphrase never travels in the URL: \
                 over HTTP it is the `X-PHR-Passphrase` request header or a `passphrase` part \
                 of a POSTed Parameters body; or the client sends \
                 `X-PHR-Generate-Passphrase: true` and the answer carries the passphrase phrkit \
                 made, once, in its `X-PHR-Passphrase` header."),
            param("return", "out", 1, "1", "Resource",
                "A Bundle for `bundle`; otherwise a Binary wrapping the NDJSON or zip. Over \
                 HTTP phrkit streams the raw content instead."),
        ],
    })
}

/// The `$import` OperationDefinition (type level on Bundle; the body is the payload).
pub fn phr_import_operation() -> Value {
    json!({
        "resourceType": "OperationDefinition",
        "id": "phr-import",
        "url": PHR_IMPORT_CANONICAL,
        "name": "PhrImport",
        "title": "Import a personal health record",
        "status": "draft",
        "kind": "operation",
        "experimental": true,
        "description": "Imports PHR data (NDJSON, a Bundle or a `.sphr`) into this store, with \
                        deduplication, provenance and conflict resolution.",
        "affectsState": true,
        "code": "import",
        "comment": IMPORT_BODY,
        "resource": ["Bundle"],
        "system": false,
        "type": true,
        "instance": false,
        "parameter": [
            param("strategy", "in", 0, "1", "code",
                "`merge` (default): reconcile with stored resources | `append`: store \
                 everything, no reconciliation."),
            param("mode", "in", 0, "1", "code",
                "`commit` (default) | `validate`: dry run, report what a commit would do, \
                 write nothing."),
            param("conflict", "in", 0, "1", "code",
                "phrkit extension. Under `merge`, when an incoming resource differs from the \
                 stored one: `newer-wins` (default) | `keep-existing` | `replace` | `fail` \
                 (abort, write nothing)."),
            param("on_invalid", "in", 0, "1", "code",
                "phrkit extension. Resources failing validation: `reject` (default) | \
                 `quarantine` (kept apart, never exported)."),
            param("return", "out", 1, "1", "OperationOutcome",
                "Counts per resource type, and one issue per rejected or conflicting line \
                 with its line number."),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: &[(&str, &[&str])] = &[
        ("Appointment", &["start..end"]),
        ("Condition", &["onset..abatement|end", "recordedDate"]),
    ];

    fn statement(base_url: Option<&str>) -> Value {
        let (software_version, date, clinical_dates) = ("9.9.9", "2026-11-26", TABLE);
        capability_statement(&CapabilityOptions {
            software_version,
            base_url,
            date,
            clinical_dates,
        })
    }

    /// Each parameter as `name use min..max type`, checking it is documented.
    fn signatures(op: &Value) -> String {
        let list = op["parameter"].as_array().cloned().unwrap_or_default();
        let sig = |p: &Value| {
            format!(
                "{} {} {}..{} {}",
                p["name"], p["use"], p["min"], p["max"], p["type"]
            )
        };
        assert!(list.iter().all(|p| p["documentation"].is_string()));
        list.iter()
            .map(sig)
            .collect::<Vec<_>>()
            .join(", ")
            .replace('"', "")
    }

    #[test]
    fn operations_are_those_of_the_seed() {
        let cs = statement(None);
        let ops = &cs["rest"][0]["operation"];
        assert_eq!(ops.as_array().map(Vec::len), Some(2));
        assert_eq!(ops[0]["name"], "phr-export");
        let def = "http://hl7.org/fhir/uv/phr/OperationDefinition/";
        assert_eq!(ops[0]["definition"], format!("{def}phr-export"));
        assert_eq!(ops[1]["name"], "import");
        assert_eq!(ops[1]["definition"], format!("{def}phr-import"));
        assert!(ops[0]["documentation"].is_string() && ops[1]["documentation"].is_string());
        assert_eq!(cs["rest"][0]["mode"], "server");
        assert_eq!(phr_export_operation()["url"], PHR_EXPORT_CANONICAL);
        assert_eq!(phr_import_operation()["url"], PHR_IMPORT_CANONICAL);
        assert_eq!(phr_import_operation()["code"], "import");
    }

    #[test]
    fn kind_follows_base_url() {
        let inst = statement(Some("https://phr.example/fhir"));
        assert_eq!(inst["kind"], "instance");
        assert_eq!(inst["implementation"]["url"], "https://phr.example/fhir");
        let cap = statement(None);
        assert_eq!(cap["kind"], "capability");
        assert!(cap.get("implementation").is_none());
        assert_eq!(cap["software"]["version"], "9.9.9");
        assert_eq!(cap["fhirVersion"], "4.0.1");
        assert_eq!(cap["date"], "2026-11-26");
    }

    #[test]
    fn parameters_and_cardinalities() {
        let export = "outputFormat in 0..1 code, patient in 0..1 string, start in 0..1 date, \
                      end in 0..1 date, _since in 0..1 instant, _type in 0..* string, \
                      includeSensitive in 0..* code, encryption in 0..1 code, \
                      return out 1..1 Resource";
        assert_eq!(signatures(&phr_export_operation()), export);
        let import = "strategy in 0..1 code, mode in 0..1 code, conflict in 0..1 code, \
                      on_invalid in 0..1 code, return out 1..1 OperationOutcome";
        assert_eq!(signatures(&phr_import_operation()), import);
    }

    #[test]
    fn date_semantics_and_table_are_published() {
        let cs = statement(None);
        let doc = cs["rest"][0]["operation"][0]["documentation"].as_str();
        let doc = doc.unwrap_or_default();
        let needles = "2010-01-01T00:00:00Z;2020-06-30T23:59:59.999Z;UTC days;overlaps;\
                       meta.lastUpdated;more than one patient;| Appointment | `start..end` |;\
                       | Condition | `onset..abatement\\|end`, `recordedDate` |";
        for needle in needles.split(';') {
            assert!(doc.contains(needle), "missing {needle}");
        }
        let comment = phr_export_operation()["comment"].to_string();
        assert!(comment.contains("2020-06-30T23:59:59.999Z"));
        let comment = phr_import_operation()["comment"].to_string();
        assert!(comment.contains("not a Parameters resource"));
    }
}
