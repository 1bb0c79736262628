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
