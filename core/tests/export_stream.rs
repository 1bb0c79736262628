//! Exports that stream: a cover page that does not grow with the record, the summary first,
//! no line of our own that grows with the record, and Bundles that stay valid documents
//! through their contents pages.

mod common;

use common::*;
use phrkit::progress::NoProgress;
use phrkit::{ExportRequest, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn generated(resources: usize) -> (tempfile::TempDir, Store) {
    generated_store(1, resources, 3)
}

fn export(store: &Store, format: &str) -> Vec<u8> {
    let mut req = ExportRequest::from_params([("outputFormat", format)]).unwrap();
    req.timestamp = Some(1_800_000_000_000);
    let mut out = Vec::new();
    store.export(&req, &mut out, &NoProgress).unwrap();
    out
}

fn is_ours(v: &Value) -> bool {
    v["meta"]["tag"].as_array().is_some_and(|t| {
        t.iter()
            .any(|t| t["system"] == "https://phrkit.dev/CodeSystem/tag")
    })
}

#[test]
fn the_cover_does_not_grow_with_the_record_and_no_line_of_ours_does() {
    let (_a, small) = generated(40);
    let (_b, large) = generated(12_000);
    let first_line = |s: &Store| {
        let out = export(s, "ndjson");
        let end = out.iter().position(|&b| b == b'\n').unwrap();
        out[..end].to_vec()
    };
    let (tiny, big) = (first_line(&small), first_line(&large));
    assert!(
        big.len() <= 64 << 10,
        "cover of 12,000 resources: {} bytes",
        big.len()
    );
    assert_eq!(
        tiny.len(),
        big.len(),
        "the cover's size does not depend on the record's"
    );
    let text = String::from_utf8(export(&large, "ndjson")).unwrap();
    let mut provenance = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if is_ours(&v) || v["resourceType"] == "Provenance" {
            provenance += usize::from(v["resourceType"] == "Provenance");
            assert!(
                line.len() <= 64 << 10,
                "{} line of {} bytes",
                v["resourceType"],
                line.len()
            );
        }
    }
    assert!(
        provenance > 1,
        "the import's Provenance is split, every part bounded"
    );
}

#[test]
fn the_summary_comes_right_after_the_patient_and_sensitive_data_stays_out_counted() {
    let (_d, mut s) = store();
    let records = vec![
        json!({"resourceType": "Patient", "id": "p1", "generalPractitioner": [{"reference": "Practitioner/gp"}]}),
        json!({"resourceType": "Practitioner", "id": "gp", "name": [{"family": "Gp"}]}),
        json!({"resourceType": "Observation", "id": "new", "status": "final", "code": {"text": "Pulse"},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-01T00:00:00Z"}),
        json!({"resourceType": "Observation", "id": "old", "status": "final", "code": {"text": "Pulse"},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2001-01-01T00:00:00Z"}),
        json!({"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"},
            "code": {"text": "Penicillin"}, "recordedDate": "1999-05-01"}),
        json!({"resourceType": "MedicationStatement", "id": "m1", "status": "active",
            "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "Metformin"},
            "effectiveDateTime": "2020-02-02"}),
        json!({"resourceType": "Condition", "id": "hiv", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "86406008"}]},
            "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}]}}),
    ];
    import_default(&mut s, &ndjson(&records));
    let mut req = ExportRequest::from_params([("outputFormat", "ndjson")]).unwrap();
    req.timestamp = Some(1_800_000_000_000);
    // Previewed first: the export adds an AuditEvent to the record.
    let preview = s.preview_export(&req).unwrap();
    let mut out = Vec::new();
    let summary = s.export(&req, &mut out, &NoProgress).unwrap();
    let order: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            format!(
                "{}/{}",
                v["resourceType"].as_str().unwrap(),
                v["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        &order[1..6],
        [
            "Practitioner/gp",
            "Patient/p1",
            "MedicationStatement/m1",
            "AllergyIntolerance/a1",
            "Observation/new"
        ],
        "the Patient's own targets first, then the summary newest first, then the rest"
    );
    assert_eq!(order[6], "Observation/old");
    assert!(order.last().unwrap().starts_with("Provenance/"));
    assert!(
        !order.iter().any(|o| o == "Condition/hiv"),
        "sensitive: left out"
    );
    assert_eq!(
        summary.excluded.get("hiv"),
        Some(&1),
        "{:?}",
        summary.excluded
    );
    assert_eq!(summary.resources as usize, order.len());
    assert_eq!(
        preview.excluded, summary.excluded,
        "the preview counts the same"
    );
    assert_eq!(
        preview.resources + 1,
        summary.resources,
        "the preview does not count the cover"
    );
}

#[test]
fn a_bundle_of_many_pages_is_a_valid_document_and_imports_without_its_pages() {
    let (_d, s) = generated(3_000);
    let bundle: Value = serde_json::from_slice(&export(&s, "bundle")).unwrap();
    assert_eq!(phrkit::fhir::validate::schema().validate(&bundle), vec![]);
    let entries = bundle["entry"].as_array().unwrap();
    let pages: Vec<&Value> = entries
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "List" && is_ours(r))
        .collect();
    assert!(
        pages.len() >= 3,
        "{} pages for {} entries",
        pages.len(),
        entries.len()
    );
    // Every entry is reachable from the Composition, through the chain of pages.
    let unreached = unreachable_from_cover(entries);
    assert!(
        unreached.is_empty(),
        "{} unreached, e.g. {:?}",
        unreached.len(),
        unreached.first()
    );
    let key = |r: &Value| {
        format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap(),
            r["id"].as_str().unwrap()
        )
    };
    // Each page is written after the entries it lists.
    let position: BTreeMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (key(&e["resource"]), i))
        .collect();
    for page in &pages {
        let at = position[&key(page)];
        for item in page["entry"].as_array().unwrap() {
            let target = item["item"]["reference"].as_str().unwrap();
            if !target.starts_with("List/") {
                assert!(
                    position[target] < at,
                    "{target} listed before it is written"
                );
            }
        }
    }
    // A round trip skips the cover and the pages and stores the record as it was.
    let (_d2, mut copy) = store();
    let r = import_default(&mut copy, &bundle.to_string());
    assert_eq!(
        copy.count(Some("List")).unwrap(),
        s.count(Some("List")).unwrap()
    );
    assert_eq!(
        copy.count(Some("Composition")).unwrap(),
        s.count(Some("Composition")).unwrap()
    );
    assert!(r.totals().rejected == 0, "{}", r.summary());
}
