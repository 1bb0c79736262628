//! Real files others made (`../shared/fixtures`): every PHR IG example imports without a
//! panic, keeping good lines and explaining bad ones; every Synthea bundle imports cleanly.

mod common;

use common::*;
use phrkit::import::{ImportSource, NoteKind, Severity};
use phrkit::progress::NoProgress;
use phrkit::{ImportOptions, ImportReport, Store};
use std::path::{Path, PathBuf};

fn import_files(store: &mut Store, files: &[PathBuf]) -> ImportReport {
    let sources = files
        .iter()
        .map(|f| ImportSource::from_path(f).unwrap())
        .collect();
    store
        .import(sources, &ImportOptions::default(), &NoProgress)
        .unwrap()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

#[test]
fn every_phr_ig_example_imports_keeping_good_lines_and_reporting_bad_ones() {
    let Some(dir) = fixtures("phr-ig") else {
        return;
    };
    let phr = files(&dir, "phr");
    assert!(phr.len() >= 12);
    for f in phr {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let (_d, mut s) = store();
        let r = import_files(&mut s, std::slice::from_ref(&f));
        let t = r.totals();
        assert!(t.created > 0, "{name}: {}", r.summary());
        for i in r.issues.iter().filter(|i| i.severity == Severity::Error) {
            assert!(
                i.line.is_some(),
                "{name}: an error without a line number: {i:?}"
            );
        }
        let stored = s.count(None).unwrap();
        assert!(!r.provenance_ids.is_empty());
        assert_eq!(
            stored,
            t.created + r.provenance_ids.len() as u64,
            "{name}: what was counted is what is stored (+ the run's Provenance)"
        );
        if name.starts_with("AdamAnyperson") {
            assert_eq!(r.unreadable_lines, 365, "{name}: the 365 broken JSON lines");
        }
        if name.starts_with("Mr.Cyril535") {
            let dupes = r
                .notes
                .iter()
                .find(|n| n.kind == NoteKind::RepeatedLine)
                .map_or(0, |n| n.count);
            assert!(dupes >= 39, "{name}: {dupes} duplicate lines counted");
        }
        if name.starts_with("Gerald181") {
            assert!(
                r.issues.iter().any(|i| i.message.contains("`_id`")),
                "string _id dropped with a warning"
            );
            assert!(
                r.unresolved_references > 0,
                "Synthea-derived files carry dangling urn:uuid references"
            );
        }
        let again = import_files(&mut s, &[f]);
        assert!(
            again.is_no_op(),
            "{name}: re-import changed something: {}",
            again.summary()
        );
        assert_eq!(s.count(None).unwrap(), stored);
    }
}

#[test]
fn every_synthea_bundle_imports_with_no_rejection_and_no_unresolved_reference() {
    let Some(dir) = fixtures("synthea") else {
        return;
    };
    let all = files(&dir, "json");
    let (batches, patients): (Vec<PathBuf>, Vec<PathBuf>) = all.into_iter().partition(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.starts_with("hospital") || n.starts_with("practitioner")
    });
    let (_d, mut s) = store();
    let r = import_files(&mut s, &batches);
    assert_eq!(
        r.totals().rejected,
        0,
        "{:?}",
        &r.issues[..r.issues.len().min(5)]
    );
    for f in &patients {
        let r = import_files(&mut s, std::slice::from_ref(f));
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(
            r.totals().rejected,
            0,
            "{name}: {:?}",
            &r.issues[..r.issues.len().min(5)]
        );
        assert_eq!(
            r.unresolved_references,
            0,
            "{name}: {:?}",
            r.issues.iter().find(|i| i.code == "not-found")
        );
        assert!(r.totals().created > 50);
    }
    assert_eq!(s.patient_ids().unwrap().len(), patients.len());
    let before = s.stats().unwrap();
    let mut everything = batches.clone();
    everything.extend(patients);
    let again = import_files(&mut s, &everything);
    assert!(
        again.is_no_op(),
        "re-import changed something: {}",
        again.summary()
    );
    assert_eq!(s.stats().unwrap(), before);
}

#[test]
fn bob965_resolves_through_the_batch_bundles_in_the_same_run() {
    let Some(dir) = fixtures("synthea") else {
        return;
    };
    let all = files(&dir, "json");
    let bob = all
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("Bob965")
        })
        .unwrap()
        .clone();
    let mut run: Vec<PathBuf> = vec![bob];
    run.extend(
        all.iter()
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("hospital") || n.starts_with("practitioner")
            })
            .cloned(),
    );
    let (_d, mut s) = store();
    let r = import_files(&mut s, &run);
    assert_eq!(r.totals().rejected, 0);
    assert_eq!(
        r.unresolved_references,
        0,
        "{:?}",
        r.issues.iter().find(|i| i.code == "not-found")
    );
    let encounter = s
        .search(&phrkit::store::Search {
            types: vec!["Encounter".into()],
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    let e: serde_json::Value = serde_json::from_str(&encounter[0].json).unwrap();
    assert!(
        e["serviceProvider"]["reference"]
            .as_str()
            .unwrap()
            .starts_with("Organization/")
    );
}
