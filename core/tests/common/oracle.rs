//! An independent check of FHIR validity: HL7's R4 JSON schema compiled by the `jsonschema`
//! crate (a general JSON Schema engine, used only by tests). phrkit validates with its own
//! rule table over the same schema; the tests compare the two verdicts and check what
//! phrkit writes against this one.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    let mut root: Value = serde_json::from_str(include_str!("../../schema/fhir.schema.json"))
        .expect("the schema parses");
    add_r4_version(&mut root);
    root
});

static VALIDATORS: LazyLock<Mutex<HashMap<String, &'static jsonschema::Validator>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The schema's errors for `resource` (checked against its own type's definition, nested
/// resources through the schema's `ResourceList`), empty when the schema accepts it.
pub fn schema_errors(resource: &Value) -> Vec<String> {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return vec!["no resourceType".into()];
    };
    if SCHEMA["definitions"].get(ty).is_none() {
        return vec![format!("unknown type {ty}")];
    }
    let validator = {
        let mut cache = VALIDATORS.lock().unwrap();
        *cache.entry(ty.to_string()).or_insert_with(|| {
            let schema = json!({
                "$schema": "http://json-schema.org/draft-06/schema#",
                "$ref": format!("#/definitions/{ty}"),
                "definitions": SCHEMA["definitions"],
            });
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .should_validate_formats(false)
                .build(&schema)
                .expect("the schema compiles");
            Box::leak(Box::new(v))
        })
    };
    validator
        .iter_errors(resource)
        .map(|e| format!("{} at {}", e.kind().keyword(), e.instance_path()))
        .collect()
}

/// Asserts that the official schema accepts `resource`.
pub fn assert_schema_valid(resource: &Value, what: &str) {
    let errors = schema_errors(resource);
    assert!(errors.is_empty(), "{what}: the R4 schema says {errors:?}");
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
