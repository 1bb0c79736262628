//! Helpers shared by the integration tests: real store files in temp dirs, fixtures.
#![allow(dead_code)]

pub mod oracle;

use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use phrkit::{ImportOptions, ImportReport, Store};
use serde_json::Value;
use std::path::PathBuf;

/// A fresh store in its own temporary folder (kept alive by the returned guard).
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("test.db")).expect("open store");
    (dir, store)
}

/// Imports `text` as one source named `name`.
pub fn import(store: &mut Store, name: &str, text: &str, opts: &ImportOptions) -> ImportReport {
    try_import(store, name, text, opts).expect("import")
}

/// Imports `text`, returning the error if the run failed.
pub fn try_import(
    store: &mut Store,
    name: &str,
    text: &str,
    opts: &ImportOptions,
) -> phrkit::Result<ImportReport> {
    store.import(
        vec![ImportSource::from_bytes(name, text.as_bytes().to_vec())],
        opts,
        &NoProgress,
    )
}

/// Imports with default options.
pub fn import_default(store: &mut Store, text: &str) -> ImportReport {
    import(store, "test.phr", text, &ImportOptions::default())
}

/// The stored JSON of `type/id`, parsed.
pub fn get(store: &Store, ty: &str, id: &str) -> Value {
    let r = store
        .get(ty, id)
        .expect("get")
        .unwrap_or_else(|| panic!("{ty}/{id} not stored"));
    serde_json::from_str(&r.json).expect("stored JSON parses")
}

/// `../shared/fixtures/<sub>` beside the project root, or `None` (with a notice) when absent.
pub fn fixtures(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} not found; skipping fixture test", dir.display());
        None
    }
}

/// Lines of NDJSON from JSON values.
pub fn ndjson(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh store holding a generated record (`patients` × `per_patient`, `seed`).
pub fn generated_store(
    patients: usize,
    per_patient: usize,
    seed: u64,
) -> (tempfile::TempDir, Store) {
    let (d, s) = store();
    let mut buf = Vec::new();
    phrkit::generate::generate(
        &phrkit::generate::GenerateOptions {
            patients,
            resources_per_patient: per_patient,
            seed,
            ..Default::default()
        },
        &mut buf,
    )
    .expect("generate");
    s.import(
        vec![ImportSource::from_bytes("gen.phr", buf)],
        &ImportOptions::default(),
        &NoProgress,
    )
    .expect("import the generated record");
    (d, s)
}

/// The entries of a document Bundle that no chain of references from its Composition (the
/// first entry) reaches, Provenance aside (documents may carry it unreferenced).
pub fn unreachable_from_cover(entries: &[Value]) -> Vec<String> {
    use phrkit::fhir::reference::{RefKind, classify, for_each_reference};
    let key = |r: &Value| {
        format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap_or_default(),
            r["id"].as_str().unwrap_or_default()
        )
    };
    let by_key: std::collections::BTreeMap<String, &Value> = entries
        .iter()
        .map(|e| (key(&e["resource"]), &e["resource"]))
        .collect();
    let mut reached = std::collections::BTreeSet::new();
    let mut queue = vec![key(&entries[0]["resource"])];
    while let Some(k) = queue.pop() {
        if !reached.insert(k.clone()) {
            continue;
        }
        let Some(r) = by_key.get(&k) else { continue };
        for_each_reference(r, &mut |reference| {
            if let RefKind::Literal {
                ty,
                id,
                absolute: false,
            } = classify(reference)
            {
                queue.push(format!("{ty}/{id}"));
            }
        });
    }
    by_key
        .keys()
        .filter(|k| !reached.contains(*k) && !k.starts_with("Provenance/"))
        .cloned()
        .collect()
}
