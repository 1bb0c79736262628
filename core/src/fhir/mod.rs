//! FHIR R4 knowledge the engine needs, kept apart from storage and I/O.
//!
//! Resources travel as `serde_json::Value`; these modules read them without a typed model
//! (a full R4 model would be thousands of lines to compile for the few elements we query):
//! clinical dates ([`clinical`], [`date`]), the patient compartment ([`compartment`]),
//! references ([`reference`]), the content hash ([`hash`]) and schema validation
//! ([`validate`], over the rule table of `schema`).

pub mod attachment;
pub mod clinical;
pub mod compartment;
pub mod date;
pub mod hash;
pub mod reference;
pub(crate) mod schema;
pub(crate) mod tags;
pub mod validate;

use serde_json::Value;

/// The `resourceType` of a resource, if it has one.
pub fn resource_type(resource: &Value) -> Option<&str> {
    resource.get("resourceType").and_then(Value::as_str)
}

/// The `id` of a resource, if it has a string one.
pub fn resource_id(resource: &Value) -> Option<&str> {
    resource.get("id").and_then(Value::as_str)
}

/// True when `id` matches the FHIR id pattern `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The business identifiers (`identifier` with both `system` and `value`) of a resource.
pub fn business_identifiers(resource: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |v: &Value| {
        if let (Some(s), Some(val)) = (
            v.get("system").and_then(Value::as_str),
            v.get("value").and_then(Value::as_str),
        ) && !s.is_empty()
            && !val.is_empty()
        {
            out.push((s.to_string(), val.to_string()));
        }
    };
    match resource.get("identifier") {
        Some(Value::Array(items)) => items.iter().for_each(&mut push),
        Some(v @ Value::Object(_)) => push(v),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_follow_the_fhir_pattern() {
        assert!(is_valid_id("abc-1.2"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id(&"a".repeat(65)));
    }

    #[test]
    fn identifiers_need_system_and_value() {
        let r = json!({"identifier": [{"system": "s", "value": "1"}, {"value": "2"}]});
        assert_eq!(business_identifiers(&r), vec![("s".into(), "1".into())]);
        let single = json!({"identifier": {"system": "s", "value": "x"}});
        assert_eq!(business_identifiers(&single).len(), 1);
    }
}
