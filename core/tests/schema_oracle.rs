//! phrkit's validator against an independent one: on real resources (the fixtures), generated
//! ones, and thousands of mutations of both, phrkit accepts exactly what HL7's R4 JSON schema
//! (run by the `jsonschema` crate) accepts — except calendar-impossible dates, which the
//! schema's text forbids but its patterns let through, and malformed reference strings.

mod common;

use common::fixtures;
use common::oracle::schema_errors;
use phrkit::fhir::validate::schema;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// phrkit's own additions to the schema's rules.
fn is_extra_rule(message: &str) -> bool {
    message.starts_with("not a valid calendar date") || message.starts_with("malformed reference")
}

/// Checks one resource; returns whether the schema accepted it.
fn agree(resource: &Value, what: &str) -> bool {
    let ours = schema().validate(resource);
    let theirs = schema_errors(resource);
    if theirs.is_empty() {
        assert!(
            ours.iter().all(|i| is_extra_rule(&i.message)),
            "{what}: the schema accepts, phrkit says {ours:?}\n{resource}"
        );
    } else {
        assert!(
            !ours.is_empty(),
            "{what}: the schema says {theirs:?}, phrkit accepts\n{resource}"
        );
    }
    theirs.is_empty()
}

/// Every path to a value inside `v` (object members and array items), as JSON pointers.
fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

/// One random change at a random place: a different JSON type, a broken string, an unknown
/// member, a removed member, an array where one value belongs or the reverse.
fn mutate(resource: &Value, rng: &mut ChaCha8Rng) -> Value {
    let mut v = resource.clone();
    let mut all = Vec::new();
    paths(&v, String::new(), &mut all);
    if all.is_empty() {
        return v;
    }
    let path = all[rng.random_range(0..all.len())].clone();
    let (parent, last) = path.rsplit_once('/').unwrap_or(("", &path));
    let replacements = [
        json!("x"),
        json!(""),
        json!(" padded "),
        json!("two  spaces"),
        json!(1),
        json!(1.5),
        json!(true),
        json!(null),
        json!({}),
        json!([]),
        json!({"zzz": 1}),
        json!("2021-02-29"),
        json!("2020-13-01"),
        json!("2020-01-01T10:00:00Z"),
        json!("urn:uuid:00000000-0000-4000-8000-000000000000"),
    ];
    match rng.random_range(0..5) {
        0 => {
            if let Some(Value::Object(m)) = v.pointer_mut(parent) {
                m.remove(last);
            }
        }
        1 => {
            if let Some(Value::Object(m)) = v.pointer_mut(parent) {
                m.insert("notAnElement".into(), json!(1));
            }
        }
        2 => {
            if let Some(x) = v.pointer_mut(&path) {
                let old = x.take();
                *x = match old {
                    Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
                    other => json!([other]),
                };
            }
        }
        _ => {
            if let Some(x) = v.pointer_mut(&path) {
                *x = replacements[rng.random_range(0..replacements.len())].clone();
            }
        }
    }
    v
}

fn fixture_resources() -> Vec<Value> {
    let mut out = Vec::new();
    for sub in ["phr-ig", "synthea"] {
        let Some(dir) = fixtures(sub) else { continue };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "phr" || e == "json"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let docs: Vec<Value> = match serde_json::from_str::<Value>(&text) {
                Ok(v) => vec![v],
                Err(_) => text
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect(),
            };
            for d in docs {
                match d["entry"].as_array() {
                    Some(entries) if d["resourceType"] == "Bundle" => {
                        out.extend(entries.iter().filter_map(|e| e.get("resource").cloned()))
                    }
                    _ if d.is_object() => out.push(d),
                    _ => {}
                }
            }
        }
    }
    out
}

fn generated_resources() -> Vec<Value> {
    let mut bytes = Vec::new();
    let opts = phrkit::generate::GenerateOptions {
        patients: 2,
        resources_per_patient: 400,
        seed: 5,
        ..Default::default()
    };
    phrkit::generate::generate(&opts, &mut bytes).unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn verdicts_equal_the_official_schema_on_real_generated_and_mutated_resources() {
    let mut corpus = fixture_resources();
    let real = corpus.len();
    corpus.extend(generated_resources());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut accepted, mut rejected) = (0, 0);
    for (n, r) in corpus.iter().enumerate() {
        let what = if n < real { "fixture" } else { "generated" };
        agree(r, what);
        // Every resource of a type seen rarely, and one in eight of the rest, mutated 4 times.
        if n % 8 == 0 || n < 200 {
            for _ in 0..4 {
                let m = mutate(r, &mut rng);
                if agree(&m, &format!("mutated {what}")) {
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
        }
    }
    assert!(corpus.len() > 800, "{} resources", corpus.len());
    // Both verdicts occur often, so the comparison covers both directions.
    assert!(
        accepted > 200 && rejected > 200,
        "{accepted} accepted, {rejected} rejected"
    );
}

#[test]
fn nested_resources_follow_the_schema_resource_list() {
    let cases = [
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": "Patient/1"}]}),
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": "x"}}]}),
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Nope"}}]}),
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "gender": "x"}}]}),
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]}),
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "contained": [[]]}),
        json!({"resourceType": "Observation", "status": "final", "code": "not an object"}),
        json!({"resourceType": "Patient", "_birthDate": "x", "_gender": {"extension": []}}),
        json!({"resourceType": "Patient", "name": [{"_given": [null, {"id": "a"}]}]}),
        json!({"resourceType": "Patient", "text": {"status": "generated", "div": 42}}),
    ];
    for c in cases {
        agree(&c, "hand-made");
    }
}
