//! Round trip: export → import into an empty store → export again gives the same resources
//! (type + id + content hash), for every Synthea fixture and for the generator's output.
//! The second export adds only the second store's own import Provenance.

mod common;

use common::*;
use phrkit::fhir::hash::content_hash;
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use phrkit::{ExportRequest, ImportOptions, Store};
use serde_json::Value;
use std::collections::BTreeSet;

type Key = (String, String, [u8; 32]);

fn export_set(store: &Store, patient: &str, format: &str) -> (Vec<u8>, BTreeSet<Key>) {
    let req = ExportRequest::from_params([("patient", patient), ("outputFormat", format)]).unwrap();
    let mut out = Vec::new();
    store.export(&req, &mut out, &NoProgress).unwrap();
    let resources: Vec<Value> = if format == "bundle" {
        let b: Value = serde_json::from_slice(&out).unwrap();
        b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .collect()
    } else {
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    };
    let set = resources
        .iter()
        // phrkit's cover and contents pages describe one export (ids from its time).
        .filter(|r| {
            !r["meta"]["tag"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["system"] == phrkit::export::PHRKIT_TAG_SYSTEM)
            })
        })
        .map(|r| {
            (
                r["resourceType"].as_str().unwrap().to_string(),
                r["id"].as_str().unwrap().to_string(),
                content_hash(r),
            )
        })
        .collect();
    (out, set)
}

fn round_trip(a: &Store, patient: &str, format: &str) {
    let (bytes, first) = export_set(a, patient, format);
    let (_d, b) = store();
    let report = b
        .import(
            vec![ImportSource::from_bytes("export", bytes)],
            &ImportOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(
        report.totals().rejected,
        0,
        "{patient}: {:?}",
        report.issues.first()
    );
    let (_, second) = export_set(&b, patient, format);
    let added: Vec<&Key> = second.difference(&first).collect();
    let lost: Vec<&Key> = first.difference(&second).collect();
    assert!(lost.is_empty(), "{patient} ({format}): lost {lost:?}");
    assert!(
        !added.is_empty()
            && added
                .iter()
                .all(|k| k.0 == "Provenance" && report.provenance_ids.contains(&k.1)),
        "{patient} ({format}): only B's import Provenance is new: {added:?}"
    );
}

#[test]
fn every_synthea_patient_round_trips() {
    let Some(dir) = fixtures("synthea") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| {
        !p.file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with("1633536936158.json")
    });
    let (_d, a) = store();
    let sources = files
        .iter()
        .map(|f| ImportSource::from_path(f).unwrap())
        .collect();
    let r = a
        .import(sources, &ImportOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(
        r.totals().rejected,
        0,
        "{:?}",
        r.issues
            .iter()
            .filter(|i| i.severity == phrkit::import::Severity::Error)
            .collect::<Vec<_>>()
    );
    let patients = a.patient_ids().unwrap();
    assert_eq!(patients.len(), 11, "ten sample patients and Bob965");
    for p in &patients {
        round_trip(&a, p, "ndjson");
    }
    round_trip(&a, &patients[0], "bundle");
}

#[test]
fn generated_records_round_trip() {
    let (_d, a) = store();
    let mut buf = Vec::new();
    phrkit::generate::generate(
        &phrkit::generate::GenerateOptions {
            patients: 2,
            resources_per_patient: 300,
            seed: 3,
            ..Default::default()
        },
        &mut buf,
    )
    .unwrap();
    a.import(
        vec![ImportSource::from_bytes("gen.phr", buf)],
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    for p in a.patient_ids().unwrap() {
        round_trip(&a, &p, "phr");
        round_trip(&a, &p, "bundle");
    }
}
