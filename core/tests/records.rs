//! An app's own writes on a real store file: create, update with the version read, upsert,
//! delete, purge (the bytes leave the file) and wipe — each validated, none half-done.

mod common;

use common::{generated_store, store};
use phrkit::records::APP_SOURCE;
use phrkit::{Error, Store};
use serde_json::{Value, json};
use std::path::Path;

const ALLERGY: &str = r#"{"resourceType":"AllergyIntolerance","patient":{"reference":"Patient/p1"},"code":{"text":"Peanuts"},"note":[{"text":"Zqxjkvbn reaction, self-reported"}]}"#;

fn patient() -> String {
    json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}]}).to_string()
}

fn parsed(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

/// Whether the store file or its WAL holds `needle` anywhere.
fn file_holds(path: &Path, needle: &str) -> bool {
    let mut hay = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", path.display())) {
        hay.extend(wal);
    }
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn mismatch(r: phrkit::Result<impl std::fmt::Debug>) -> (i64, i64) {
    match r {
        Err(Error::VersionMismatch {
            expected, found, ..
        }) => (expected, found),
        other => panic!("expected a version mismatch, got {other:?}"),
    }
}

#[test]
fn create_gives_an_id_marks_the_source_and_is_found_by_search() {
    let (_d, s) = store();
    s.create(&patient()).unwrap();
    let made = s.create(ALLERGY).unwrap();
    assert_eq!(made.resource_type, "AllergyIntolerance");
    assert_eq!(made.version, 1);
    assert!(uuid::Uuid::parse_str(&made.id).is_ok(), "{}", made.id);
    let stored = parsed(&made.json);
    assert_eq!(stored["meta"]["source"], APP_SOURCE);
    assert_eq!(stored["meta"]["versionId"], "1");
    let found = s
        .search(&phrkit::Search {
            patient: Some("p1".into()),
            types: vec!["AllergyIntolerance".into()],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, made.id);
    // The same id again is taken.
    assert_eq!(mismatch(s.create(&patient())), (0, 1));
}

#[test]
fn update_needs_the_version_read_and_upsert_skips_what_is_unchanged() {
    let (_d, s) = store();
    let first = s.create(&patient()).unwrap();
    let renamed =
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Roe"}]}).to_string();
    let second = s.update(&renamed, first.version).unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(parsed(&second.json)["name"][0]["family"], "Roe");
    // A second device still holding version 1 loses, and changes nothing.
    let other =
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Poe"}]}).to_string();
    assert_eq!(mismatch(s.update(&other, 1)), (1, 2));
    assert_eq!(s.history("Patient", "p1").unwrap().len(), 2);
    // Upsert: equal content writes nothing; new content is the next version.
    assert_eq!(s.upsert(&renamed).unwrap().version, 2);
    assert_eq!(s.upsert(&other).unwrap().version, 3);
    assert_eq!(mismatch(s.update(&renamed, 7)), (7, 3));
    // Updating what is not there is a mismatch too (found 0).
    let absent = json!({"resourceType": "Patient", "id": "nobody"}).to_string();
    assert_eq!(mismatch(s.update(&absent, 1)), (1, 0));
}

#[test]
fn invalid_resources_are_refused_with_where_and_change_nothing() {
    let (_d, s) = store();
    let before = s.stats().unwrap();
    for (bad, says) in [
        ("not json", "not JSON"),
        ("[1]", "JSON object"),
        (r#"{"resourceType":"Blood"}"#, "resourceType"),
        (r#"{"resourceType":"Patient","id":"a b"}"#, "Patient.id"),
        (
            r#"{"resourceType":"Patient","id":"p","gender":"sometimes"}"#,
            "Patient.gender",
        ),
        (
            r#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"subject":{"reference":"not a reference"}}"#,
            "malformed reference",
        ),
    ] {
        match s.upsert(bad) {
            Err(Error::InvalidInput(why)) => assert!(why.contains(says), "{bad}: {why}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(s.stats().unwrap(), before);
}

#[test]
fn delete_needs_the_version_and_keeps_history() {
    let (_d, s) = store();
    s.create(&patient()).unwrap();
    assert_eq!(mismatch(s.delete_version("Patient", "p1", 2)), (2, 1));
    s.delete_version("Patient", "p1", 1).unwrap();
    assert!(s.get("Patient", "p1").unwrap().is_none());
    assert_eq!(s.history("Patient", "p1").unwrap().len(), 2);
    assert_eq!(mismatch(s.delete_version("Patient", "p1", 1)), (1, 0));
    // Created again after a delete: the next version number, not 1.
    assert_eq!(s.create(&patient()).unwrap().version, 3);
}

#[test]
fn purge_removes_every_version_and_its_bytes_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("purge.db");
    let s = Store::open(&path).unwrap();
    s.create(&patient()).unwrap();
    let made = s.create(ALLERGY).unwrap();
    let edited = ALLERGY.replace("Peanuts", "Peanuts and Zqxjkvbn");
    let mut v: Value = parsed(&edited);
    v["id"] = json!(made.id);
    s.update(&v.to_string(), 1).unwrap();
    assert!(file_holds(&path, "Zqxjkvbn"), "the check sees stored text");

    assert!(s.purge("AllergyIntolerance", &made.id).unwrap());
    assert!(
        s.history("AllergyIntolerance", &made.id)
            .unwrap()
            .is_empty()
    );
    assert!(
        !file_holds(&path, "Zqxjkvbn"),
        "no byte of any version left"
    );
    assert!(s.get("Patient", "p1").unwrap().is_some(), "the rest stays");
    assert!(!s.purge("AllergyIntolerance", &made.id).unwrap());
}

#[test]
fn wipe_empties_the_store_and_the_file() {
    let (dir, s) = generated_store(1, 80, 9);
    let path = dir.path().join("test.db");
    s.create(ALLERGY).unwrap();
    assert!(file_holds(&path, "Zqxjkvbn"));
    s.wipe().unwrap();
    let stats = s.stats().unwrap();
    assert_eq!(
        (stats.resources, stats.versions, stats.runs, stats.documents),
        (0, 0, 0, 0)
    );
    assert!(!file_holds(&path, "Zqxjkvbn"));
    // Still a working store.
    s.create(&patient()).unwrap();
    assert_eq!(s.count(None).unwrap(), 1);
}
