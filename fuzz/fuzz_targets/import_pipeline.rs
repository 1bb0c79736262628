//! The whole import (`Store::import`) on arbitrary bytes, into a fresh SQLite store.
//!
//! Each input gets its own copy of a small template store (a Patient `p1` and an
//! Observation `o1`, so `merge` meets stored versions) on tmpfs. The first byte picks the
//! options, so every strategy, conflict policy, mode and limit is reached:
//! bit 0 `append`, bits 1–2 the conflict policy, bit 3 `validate`, bit 4 `quarantine`,
//! bit 5 a 256-byte line limit, bit 6 the same bytes twice in one run, bit 7 a passphrase
//! (for `.sphr` input). The rest is the file.
//!
//! Checks: no panic, whatever the bytes (an `Err` is fine); the run is all or nothing: when
//! it fails, is only validated, changes nothing or reads nothing, the store is exactly as it
//! was (same resources, versions, runs, quarantine, documents); when it commits, it recorded
//! one run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::sphr::Limits;
use phrkit::{ConflictPolicy, ImportMode, ImportOptions, OnInvalid, Store, StoreOptions, Strategy};
use std::path::PathBuf;
use std::sync::OnceLock;

/// What the template store holds.
const TEMPLATE: &str = concat!(
    r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jo"]}],"birthDate":"1980-01-01","meta":{"lastUpdated":"2020-01-01T00:00:00Z"}}"#,
    "\n",
    r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Pulse"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-03-04T10:00:00Z","valueQuantity":{"value":60,"unit":"/min"}}"#,
    "\n"
);

/// The folder holding the template store and each input's copy (kept for the whole run).
fn workdir() -> &'static (tempfile::TempDir, PathBuf) {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .unwrap_or_else(|e| panic!("no temporary folder: {e}"));
        let template = dir.path().join("template.db");
        let mut store = open(&template);
        let report = store
            .import(
                vec![ImportSource::from_bytes("template.phr", TEMPLATE.into())],
                &ImportOptions::default(),
                &NoProgress,
            )
            .unwrap_or_else(|e| panic!("template import failed: {e}"));
        assert_eq!(report.totals().created, 2, "{}", report.summary());
        drop(store);
        (dir, template)
    })
}

fn open(path: &std::path::Path) -> Store {
    let options = StoreOptions {
        cache_mib: 2,
        threads: 1,
    };
    Store::open_with_options(path, options).unwrap_or_else(|e| panic!("cannot open store: {e}"))
}

fn options(flags: u8) -> ImportOptions {
    ImportOptions {
        strategy: if flags & 1 != 0 {
            Strategy::Append
        } else {
            Strategy::Merge
        },
        conflict: match (flags >> 1) & 3 {
            0 => ConflictPolicy::NewerWins,
            1 => ConflictPolicy::KeepExisting,
            2 => ConflictPolicy::Replace,
            _ => ConflictPolicy::Fail,
        },
        mode: if flags & 8 != 0 {
            ImportMode::Validate
        } else {
            ImportMode::Commit
        },
        on_invalid: if flags & 16 != 0 {
            OnInvalid::Quarantine
        } else {
            OnInvalid::Reject
        },
        max_line_bytes: if flags & 32 != 0 { 256 } else { 1 << 20 },
        max_issues: 20,
        archive_limits: Limits {
            max_entries: 64,
            max_entry_bytes: 1 << 20,
            max_total_bytes: 4 << 20,
        },
    }
}

/// Everything an import may change, compared before and after.
fn snapshot(store: &Store) -> impl PartialEq + std::fmt::Debug + use<> {
    let stats = store.stats().unwrap_or_else(|e| panic!("stats: {e}"));
    let runs = store.runs().unwrap_or_else(|e| panic!("runs: {e}"));
    let quarantined = store
        .quarantined()
        .unwrap_or_else(|e| panic!("quarantine: {e}"));
    let p1 = store
        .history("Patient", "p1")
        .unwrap_or_else(|e| panic!("history: {e}"));
    let o1 = store
        .history("Observation", "o1")
        .unwrap_or_else(|e| panic!("history: {e}"));
    (stats, runs, quarantined, p1, o1)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let (dir, template) = workdir();
    let path = dir.path().join("input.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    for suffix in ["", "-wal"] {
        let from = PathBuf::from(format!("{}{suffix}", template.display()));
        if from.exists() {
            let to = format!("{}{suffix}", path.display());
            std::fs::copy(&from, to).unwrap_or_else(|e| panic!("copy template: {e}"));
        }
    }
    let mut store = open(&path);
    let before = snapshot(&store);
    let runs_before = store.runs().map(|r| r.len()).unwrap_or_default();

    let opts = options(flags);
    let passphrase = (flags & 128 != 0).then(|| Secret::new("fuzzing passphrase 7KQM-2XPA"));
    let source = |name: &str| {
        ImportSource::from_bytes(name, file.to_vec()).with_passphrase(passphrase.clone())
    };
    let mut sources = vec![source("input.phr")];
    if flags & 64 != 0 {
        sources.push(source("again.phr"));
    }
    let result = store.import(sources, &opts, &NoProgress);

    let unchanged = match &result {
        Err(_) => true,
        Ok(report) => {
            let _ = (report.summary(), report.to_operation_outcome());
            assert!(
                !(report.committed && (report.validate_only || report.is_no_op())),
                "committed a run that should have rolled back: {}",
                report.summary()
            );
            assert!(!report.nothing_read() || !report.committed);
            !report.committed
        }
    };
    let runs_after = store.runs().map(|r| r.len()).unwrap_or_default();
    if unchanged {
        assert_eq!(
            snapshot(&store),
            before,
            "a run that wrote nothing changed the store"
        );
    } else {
        assert_eq!(
            runs_after,
            runs_before + 1,
            "a committed run is recorded once"
        );
    }
});
