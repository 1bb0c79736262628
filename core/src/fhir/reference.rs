//! References between resources: finding, classifying and rewriting them.
//!
//! A FHIR `Reference` is any JSON object with a string `reference` member. Walking the whole
//! resource finds them wherever the datatype appears (including inside `contained` resources
//! and extensions) without a per-type path table, at the cost of one tree walk per resource.

use serde_json::Value;

/// What a reference string points at.
#[derive(Debug, PartialEq, Eq)]
pub enum RefKind<'a> {
    /// `Type/id` or `Type/id/_history/v`, or an absolute URL ending that way.
    Literal {
        /// Resource type.
        ty: &'a str,
        /// Logical id.
        id: &'a str,
        /// True when the reference is an absolute URL.
        absolute: bool,
    },
    /// `urn:uuid:…`: a Bundle-local name, resolved through `fullUrl`s or ids.
    UrnUuid(&'a str),
    /// `urn:oid:…`: a Bundle-local name without a resolvable id.
    UrnOid,
    /// `#id`: a contained resource.
    Contained,
    /// `Type?query`: a conditional reference, resolved by search on import.
    Conditional {
        /// Resource type searched.
        ty: &'a str,
        /// The query string after `?`.
        query: &'a str,
    },
    /// An absolute URL that does not end in `Type/id`.
    OtherUrl,
    /// Anything else: not a usable reference.
    Invalid,
}

fn is_type_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Classifies a reference string.
pub fn classify(reference: &str) -> RefKind<'_> {
    if let Some(rest) = reference.strip_prefix("urn:uuid:") {
        return RefKind::UrnUuid(rest);
    }
    if reference.starts_with("urn:oid:") {
        return RefKind::UrnOid;
    }
    if reference.starts_with('#') {
        return RefKind::Contained;
    }
    let absolute = reference.starts_with("http://") || reference.starts_with("https://");
    if !absolute && let Some((ty, query)) = reference.split_once('?') {
        if is_type_name(ty) {
            return RefKind::Conditional { ty, query };
        }
        return RefKind::Invalid;
    }
    let path = reference.split(['?', '#']).next().unwrap_or_default();
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.len() >= 4 && parts[parts.len() - 2] == "_history" {
        parts.truncate(parts.len() - 2);
    }
    let n = parts.len();
    if n >= 2 && is_type_name(parts[n - 2]) && super::is_valid_id(parts[n - 1]) {
        if absolute || n == 2 {
            return RefKind::Literal {
                ty: parts[n - 2],
                id: parts[n - 1],
                absolute,
            };
        }
        return RefKind::Invalid;
    }
    if absolute {
        RefKind::OtherUrl
    } else {
        RefKind::Invalid
    }
}

/// Calls `f` with every reference string in `value`.
pub fn for_each_reference<'a>(value: &'a Value, f: &mut impl FnMut(&'a str)) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("reference") {
                f(r);
            }
            for v in map.values() {
                for_each_reference(v, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| for_each_reference(v, f)),
        _ => {}
    }
}

/// Replaces every reference string for which `f` returns a new value; returns how many changed.
pub fn rewrite_references(value: &mut Value, f: &mut impl FnMut(&str) -> Option<String>) -> usize {
    let mut changed = 0;
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("reference")
                && let Some(new) = f(r)
            {
                *r = new;
                changed += 1;
            }
            for v in map.values_mut() {
                changed += rewrite_references(v, f);
            }
        }
        Value::Array(items) => {
            for v in items {
                changed += rewrite_references(v, f);
            }
        }
        _ => {}
    }
    changed
}

/// The distinct relative targets (`Type/id`) a resource references, other than contained
/// ones, in first-seen order.
pub fn literal_targets(resource: &Value) -> Vec<String> {
    let mut targets = Targets::default();
    for_each_reference(resource, &mut |r| targets.add(classify(r)));
    targets.list
}

/// What one walk over a resource's references found (see [`scan_references`]).
#[derive(Debug, Default)]
pub struct ReferenceScan {
    /// Some reference is not a usable reference at all ([`RefKind::Invalid`]).
    pub malformed: bool,
    /// Some reference still needs the store to resolve (`urn:uuid:`, `Type?query`).
    pub unresolved: bool,
    /// The distinct relative `Type/id` targets, in first-seen order.
    pub targets: Vec<String>,
}

/// Rewrites each reference for which `map` returns a new value, and classifies every
/// reference as it ends up — what an import needs to know, in one walk instead of four.
pub fn scan_references(
    value: &mut Value,
    map: &mut impl FnMut(&str) -> Option<String>,
) -> ReferenceScan {
    let mut scan = ReferenceScan::default();
    let mut targets = Targets::default();
    rewrite_references(value, &mut |r| {
        let new = map(r);
        let kind = classify(new.as_deref().unwrap_or(r));
        match kind {
            RefKind::Invalid => scan.malformed = true,
            RefKind::UrnUuid(_) | RefKind::Conditional { .. } => scan.unresolved = true,
            _ => {}
        }
        targets.add(kind);
        new
    });
    scan.targets = targets.list;
    scan
}

/// Distinct `Type/id` targets in first-seen order (a set only once there are many).
#[derive(Default)]
struct Targets {
    list: Vec<String>,
    seen: Option<std::collections::HashSet<String>>,
}

impl Targets {
    fn add(&mut self, kind: RefKind<'_>) {
        let RefKind::Literal {
            ty,
            id,
            absolute: false,
        } = kind
        else {
            return;
        };
        let t = format!("{ty}/{id}");
        let new = match &mut self.seen {
            Some(seen) => seen.insert(t.clone()),
            None => !self.list.contains(&t),
        };
        if new {
            self.list.push(t);
            if self.seen.is_none() && self.list.len() > 32 {
                self.seen = Some(self.list.iter().cloned().collect());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_every_form() {
        assert_eq!(
            classify("Patient/1"),
            RefKind::Literal {
                ty: "Patient",
                id: "1",
                absolute: false
            }
        );
        assert_eq!(
            classify("Observation/a.b/_history/3"),
            RefKind::Literal {
                ty: "Observation",
                id: "a.b",
                absolute: false
            }
        );
        assert_eq!(
            classify("https://x.org/fhir/Patient/9"),
            RefKind::Literal {
                ty: "Patient",
                id: "9",
                absolute: true
            }
        );
        assert_eq!(classify("urn:uuid:abc"), RefKind::UrnUuid("abc"));
        assert_eq!(classify("urn:oid:1.2.3"), RefKind::UrnOid);
        assert_eq!(classify("#med1"), RefKind::Contained);
        assert_eq!(
            classify("Organization?identifier=s|v"),
            RefKind::Conditional {
                ty: "Organization",
                query: "identifier=s|v"
            }
        );
        assert_eq!(classify("https://x.org/other"), RefKind::OtherUrl);
        for bad in ["", "Patient/", "Patient/a b", "patient/1", "a/b/c", "?x=1"] {
            assert_eq!(classify(bad), RefKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn finds_and_rewrites_nested_references() {
        let mut r = json!({
            "subject": {"reference": "urn:uuid:1"},
            "performer": [{"reference": "Practitioner/2"}, {"display": "x"}],
            "contained": [{"resourceType": "Medication", "manufacturer": {"reference": "Organization/3"}}]
        });
        let mut seen = Vec::new();
        for_each_reference(&r, &mut |s| seen.push(s.to_string()));
        assert_eq!(seen.len(), 3);
        let n = rewrite_references(&mut r, &mut |s| {
            (s == "urn:uuid:1").then(|| "Patient/1".to_string())
        });
        assert_eq!(n, 1);
        assert_eq!(r["subject"]["reference"], "Patient/1");
        assert_eq!(
            literal_targets(&r),
            vec!["Patient/1", "Practitioner/2", "Organization/3"]
        );
    }
}
