//! Validation of resources against the official FHIR R4 JSON schema, plus the rules a JSON
//! schema cannot express.
//!
//! The schema is loaded once into a compact rule table ([`super::schema`]) and each resource
//! is walked once against its own type's definition: every member must be a known element
//! (`additionalProperties: false`), required elements present, codes in their value set,
//! primitives of the right JSON type and pattern. Resources held inside another
//! (`contained`, Bundle entries, Parameters) are checked against their own type, with paths
//! such as `MedicationRequest.contained[0].status`. The verdicts equal the official schema's
//! (the tests compare them with an independent JSON Schema validator), with one deliberate
//! addition the schema's text asks for but its regular expressions cannot say: dates must
//! exist in the calendar (`2021-02-29` is refused, as export parameters refuse it).
//!
//! Messages name the element path and the rule broken, never the offending value: the value
//! may be health data.

use super::reference::{RefKind, classify, for_each_reference};
use super::schema::{Def, Json, ObjectDef, Prop, Rule, Scalar, Schema};
use serde_json::{Map, Value};
use std::sync::LazyLock;

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

/// The R4 schema as a rule table, loaded once per process.
pub struct SchemaValidator {
    schema: Option<Schema>,
}

static GLOBAL: LazyLock<SchemaValidator> = LazyLock::new(|| SchemaValidator {
    // The schema is compiled into the binary and checked by tests; a load failure is a build
    // defect, and then every resource is reported invalid rather than the process panicking.
    schema: Schema::load().ok(),
});

/// The process-wide validator (the schema is read on first use, ~1 MB).
pub fn schema() -> &'static SchemaValidator {
    &GLOBAL
}

impl SchemaValidator {
    /// True when `name` is an R4 resource type.
    pub fn is_resource_type(&self, name: &str) -> bool {
        self.schema
            .as_ref()
            .is_some_and(|s| s.resources.contains_key(name))
    }

    /// Every R4 resource type name, sorted.
    pub fn resource_types(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .schema
            .iter()
            .flat_map(|s| s.resources.keys().map(|k| &**k))
            .collect();
        v.sort_unstable();
        v
    }

    /// Validates one resource: the schema of its type (and of every resource it holds), then
    /// the extra rules (reference format). Returns the issues found, empty when valid.
    pub fn validate(&self, resource: &Value) -> Vec<ValidationIssue> {
        let mut issues = self.validate_schema(resource);
        let mut malformed = false;
        for_each_reference(resource, &mut |r| {
            malformed |= classify(r) == RefKind::Invalid
        });
        if malformed {
            issues.push(malformed_reference(resource));
        }
        issues
    }

    /// The schema part of [`Self::validate`] alone, for callers that check references in a
    /// walk of their own (the import).
    pub fn validate_schema(&self, resource: &Value) -> Vec<ValidationIssue> {
        let mut w = Walker {
            schema: self.schema.as_ref(),
            path: Vec::new(),
            issues: Vec::new(),
        };
        w.resource(resource);
        w.issues
    }
}

/// The issue for a resource holding a reference that is no reference at all.
pub fn malformed_reference(resource: &Value) -> ValidationIssue {
    ValidationIssue {
        location: resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        message: "malformed reference (expected Type/id, an absolute URL, urn:uuid:, urn:oid:, #contained or Type?search)".into(),
    }
}

/// One step of the path from the resource to the value being checked.
#[derive(Clone, Copy)]
enum Step<'v> {
    /// The resource's type name, at the top or where a nested resource starts.
    Type(&'v str),
    Key(&'v str),
    Index(usize),
}

struct Walker<'s, 'v> {
    schema: Option<&'s Schema>,
    path: Vec<Step<'v>>,
    issues: Vec<ValidationIssue>,
}

impl<'s, 'v> Walker<'s, 'v> {
    fn full(&self) -> bool {
        self.issues.len() >= MAX_ERRORS
    }

    fn report(&mut self, message: impl Into<String>) {
        if self.full() {
            return;
        }
        let mut location = String::new();
        for step in &self.path {
            match step {
                Step::Type(t) if location.is_empty() => location.push_str(t),
                Step::Type(_) => {}
                Step::Key(k) => {
                    location.push('.');
                    location.push_str(k);
                }
                Step::Index(i) => {
                    location.push('[');
                    location.push_str(&i.to_string());
                    location.push(']');
                }
            }
        }
        self.issues.push(ValidationIssue {
            location,
            message: message.into(),
        });
    }

    /// A resource at the current path: its type decides the definition.
    fn resource(&mut self, value: &'v Value) {
        let Some(schema) = self.schema else {
            return self.report("the FHIR schema could not be loaded (a build defect)");
        };
        let Value::Object(map) = value else {
            return self.report("a resource must be a JSON object");
        };
        let Some(ty) = map.get("resourceType").and_then(Value::as_str) else {
            return self.report("missing resourceType");
        };
        let Some(Def::Object(def)) = schema.resources.get(ty).map(|i| &schema.defs[*i as usize])
        else {
            self.path.push(Step::Type(ty));
            self.report("unknown resource type (not in FHIR R4)");
            self.path.pop();
            return;
        };
        self.path.push(Step::Type(ty));
        self.object(schema, def, map);
        self.path.pop();
    }

    fn object(&mut self, schema: &'s Schema, def: &'s ObjectDef, map: &'v Map<String, Value>) {
        let mut unknown: Vec<&str> = Vec::new();
        for (key, value) in map {
            match def.prop(key) {
                Some(prop) => {
                    self.path.push(Step::Key(key));
                    self.prop(schema, prop, value);
                    self.path.pop();
                }
                None if def.closed => unknown.push(key),
                None => {}
            }
            if self.full() {
                return;
            }
        }
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(|k| format!("`{k}`")).collect();
            self.report(format!("unknown element(s) {}", list.join(", ")));
        }
        for name in def.required.iter() {
            if !map.contains_key(&**name) {
                self.report(format!("missing required element `{name}`"));
            }
        }
    }

    fn prop(&mut self, schema: &'s Schema, prop: &'s Prop, value: &'v Value) {
        if !prop.array {
            return self.rule(schema, &prop.rule, value);
        }
        let Value::Array(items) = value else {
            return self.report("wrong JSON type (expected array)");
        };
        for (i, item) in items.iter().enumerate() {
            self.path.push(Step::Index(i));
            self.rule(schema, &prop.rule, item);
            self.path.pop();
            if self.full() {
                return;
            }
        }
    }

    fn rule(&mut self, schema: &'s Schema, rule: &'s Rule, value: &'v Value) {
        match rule {
            Rule::Scalar(s) => self.scalar(schema, *s, value),
            Rule::Enum(codes) => {
                if !value
                    .as_str()
                    .is_some_and(|v| codes.iter().any(|c| &**c == v))
                {
                    self.report("value is not one of the allowed codes");
                }
            }
            Rule::Const(fixed) => {
                if value.as_str() != Some(&**fixed) {
                    self.report("value differs from the fixed value");
                }
            }
            Rule::Def(i) => match &schema.defs[*i as usize] {
                // As in the schema, whose complex types carry no `type: object`, a
                // non-object value is not checked against the type's elements.
                Def::Object(def) => {
                    if let Value::Object(map) = value {
                        self.object(schema, def, map);
                    }
                }
                Def::Scalar(s) => self.scalar(schema, *s, value),
                Def::ResourceList => self.resource(value),
                Def::Any => {}
            },
        }
    }

    fn scalar(&mut self, schema: &'s Schema, s: Scalar, value: &'v Value) {
        let ok_type = match s.json {
            Json::String => value.is_string(),
            Json::Number => value.is_number(),
            Json::Boolean => value.is_boolean(),
            Json::Any => true,
        };
        if !ok_type {
            return self.report(format!(
                "wrong JSON type (expected {})",
                match s.json {
                    Json::String => "string",
                    Json::Number => "number",
                    _ => "boolean",
                }
            ));
        }
        let (Some(p), Some(text)) = (s.pattern, value.as_str()) else {
            return;
        };
        if !schema.patterns[p as usize].is_match(text) {
            return self.report("value does not match the FHIR datatype's format");
        }
        if s.calendar && !super::date::has_valid_calendar_day(text) {
            self.report("not a valid calendar date (Dates SHALL be valid dates)");
        }
    }
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
    fn each_rule_names_its_path() {
        let cases = [
            (
                json!({"resourceType": "Patient", "gender": "robot"}),
                "Patient.gender",
                "value is not one of the allowed codes",
            ),
            (
                json!({"resourceType": "Patient", "active": "yes"}),
                "Patient.active",
                "wrong JSON type (expected boolean)",
            ),
            (
                json!({"resourceType": "Patient", "name": {"family": "x"}}),
                "Patient.name",
                "wrong JSON type (expected array)",
            ),
            (
                json!({"resourceType": "Patient", "name": [{"given": ["a", ""]}]}),
                "Patient.name[0].given[1]",
                "value does not match the FHIR datatype's format",
            ),
            (
                json!({"resourceType": "Patient", "x": 1, "y": 2}),
                "Patient",
                "unknown element(s) `x`, `y`",
            ),
            (
                json!({"resourceType": "Observation", "status": "final"}),
                "Observation",
                "missing required element `code`",
            ),
        ];
        for (resource, location, message) in cases {
            let issues = schema().validate(&resource);
            assert_eq!(
                issues,
                vec![ValidationIssue {
                    location: location.into(),
                    message: message.into()
                }],
                "{resource}"
            );
        }
    }

    #[test]
    fn dates_must_exist_in_the_calendar() {
        for (date, ok) in [
            ("2020-02-29", true),
            ("2021-02-29", false),
            ("2020-02-30", false),
            ("2020-04-31", false),
            ("2020-02", true),
            ("2020", true),
        ] {
            let p = json!({"resourceType": "Patient", "birthDate": date});
            assert_eq!(schema().validate(&p).is_empty(), ok, "{date}");
            let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                "effectiveDateTime": format!("{date}T10:00:00Z")});
            if date.len() == 10 {
                let issues = schema().validate(&o);
                assert_eq!(issues.is_empty(), ok, "{date}: {issues:?}");
                if !ok {
                    assert_eq!(issues[0].location, "Observation.effectiveDateTime");
                }
            }
        }
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
            ValidationIssue {
                location: "MedicationRequest.contained[0]".into(),
                message: "unknown resource type (not in FHIR R4)".into()
            }
        );
        bad["contained"][0] = json!("Medication/m");
        assert_eq!(
            schema().validate(&bad)[0].message,
            "a resource must be a JSON object"
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
    fn at_most_three_schema_errors_per_resource() {
        let r = json!({"resourceType": "Patient", "a": 1, "gender": 1, "active": 1,
            "birthDate": 1, "name": 1});
        assert_eq!(schema().validate(&r).len(), MAX_ERRORS);
    }

    #[test]
    fn fhir_version_4_0_1_is_accepted() {
        let cs = json!({"resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01",
            "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]});
        assert_eq!(schema().validate(&cs), vec![]);
    }
}
