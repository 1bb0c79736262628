//! Reads never wait for a write: a search, a get, a preview and an export run while an import
//! holds the store's writer — on the same `Store` from another thread, and from a second
//! `Store` on the same file (as another process would) — and see the store as it was before
//! the import. The import's first progress report is the hook: it fires once the import's
//! transaction holds the writer, and the import does not go on until the reads are done.

mod common;

use common::generated_store;
use phrkit::import::ImportSource;
use phrkit::progress::{NoProgress, Progress};
use phrkit::store::Search;
use phrkit::{ExportRequest, OutputFormat};
use phrkit::{ImportOptions, Store};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the reads saw, or the error one of them gave.
#[derive(Debug)]
struct Seen {
    count: u64,
    searched: usize,
    patient: bool,
    previewed: u64,
    exported_lines: usize,
}

fn read_everything(store: &Store, patient: &str) -> phrkit::Result<Seen> {
    let req = ExportRequest {
        patient: Some(patient.to_string()),
        format: OutputFormat::Ndjson,
        ..Default::default()
    };
    let mut out = Vec::new();
    store.export(&req, &mut out, &NoProgress)?;
    Ok(Seen {
        count: store.count(None)?,
        searched: store
            .search(&Search {
                patient: Some(patient.to_string()),
                ..Default::default()
            })?
            .len(),
        patient: store.get("Patient", patient)?.is_some(),
        previewed: store.preview_export(&req)?.resources,
        exported_lines: out.iter().filter(|&&b| b == b'\n').count(),
    })
}

/// A second generated record (other seed, so other ids) to import while reading.
fn more_records() -> Vec<u8> {
    let mut buf = Vec::new();
    phrkit::generate::generate(
        &phrkit::generate::GenerateOptions {
            patients: 2,
            resources_per_patient: 300,
            seed: 77,
            ..Default::default()
        },
        &mut buf,
    )
    .unwrap();
    buf
}

/// Imports more records into `writer_store`; on the import's first progress report, runs
/// `reads` on another thread and waits for it (bounded, so a read that waits for the writer
/// fails the test instead of hanging it).
fn reads_during_import(
    writer_store: &Store,
    reads: impl FnOnce() -> phrkit::Result<Seen> + Send + 'static,
) -> Seen {
    let reads = Mutex::new(Some(reads));
    let seen: Mutex<Option<phrkit::Result<Seen>>> = Mutex::new(None);
    let hook = |_: &Progress| {
        if let Some(reads) = reads.lock().unwrap().take() {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(reads());
            });
            let answer = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the reads finish while the import holds the writer");
            *seen.lock().unwrap() = Some(answer);
        }
        true
    };
    writer_store
        .import(
            vec![ImportSource::from_bytes("more.phr", more_records())],
            &ImportOptions::default(),
            &hook,
        )
        .expect("the import goes on after the reads");
    seen.into_inner()
        .unwrap()
        .expect("the hook ran")
        .expect("every read succeeded during the import")
}

#[test]
fn reads_on_another_thread_run_beside_an_import_and_see_the_committed_store() {
    let (_dir, store) = generated_store(1, 200, 3);
    let store = Arc::new(store);
    let patient = store.patient_ids().unwrap().remove(0);
    let before = store.count(None).unwrap();
    let log_before = store.access_log(None).unwrap().len();

    let reader = store.clone();
    let p = patient.clone();
    let seen = reads_during_import(&store, move || read_everything(&reader, &p));

    assert_eq!(seen.count, before, "the import's rows are not visible yet");
    assert!(seen.patient);
    assert!(seen.searched > 100, "{seen:?}");
    // The export adds the shared resources the record points to, and its cover page.
    assert!(seen.previewed >= seen.searched as u64, "{seen:?}");
    assert_eq!(seen.exported_lines as u64, seen.previewed + 1, "{seen:?}");
    assert!(store.count(None).unwrap() > before, "the import committed");
    // The export's access-log entry waited for the writer and was written when it was free.
    let log = store.access_log(None).unwrap();
    assert_eq!(log.len(), log_before + 1, "{log:?}");
    assert_eq!(log[0].action, "export");
}

#[test]
fn a_second_store_on_the_same_file_reads_beside_an_import() {
    let (dir, store) = generated_store(1, 200, 4);
    let patient = store.patient_ids().unwrap().remove(0);
    let before = store.count(None).unwrap();
    // As another process would: its own connections, its own writer.
    let other = Arc::new(Store::open(dir.path().join("test.db")).unwrap());
    let log_before = other.access_log(None).unwrap().len();

    let (o, p) = (other.clone(), patient.clone());
    let seen = reads_during_import(&store, move || {
        let seen = read_everything(&o, &p)?;
        let waiting = o.flush_access_log(Duration::ZERO)?;
        assert_eq!(
            waiting, 1,
            "the export's entry waits: the file's writer is taken"
        );
        Ok(seen)
    });
    assert_eq!(seen.count, before, "the import's rows are not visible yet");
    assert!(seen.exported_lines > seen.searched, "{seen:?}");
    assert!(other.count(None).unwrap() > before, "the import committed");
    assert_eq!(other.flush_access_log(Duration::from_secs(5)).unwrap(), 0);
    let log = other.access_log(None).unwrap();
    assert_eq!(log.len(), log_before + 1, "{log:?}");
    assert_eq!(log[0].action, "export");
}

#[test]
fn a_store_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Store>();
}
