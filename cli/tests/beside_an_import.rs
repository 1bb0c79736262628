//! The `phrkit` binary reads a store while another process imports into it: `search` and
//! `export --preview` answer at once, and `export` writes the whole file, then waits (saying
//! so) to record itself in the access log until the other process lets go of the writer.
//! The test process is the importer; its import's first progress report — sent once the
//! import's transaction holds the store's writer — is where it runs the binary.

use phrkit::import::ImportSource;
use phrkit::progress::{Progress, ProgressListener};
use phrkit::{ImportOptions, Store};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::Mutex;

const PATIENT: &str = r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Doe"}]}"#;
const WEIGHT: &str = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Weight"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2021-05-06","valueQuantity":{"value":70,"unit":"kg"}}"#;
const LATER: &str = r#"{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Weight"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2022-05-06","valueQuantity":{"value":71,"unit":"kg"}}"#;

/// `phrkit <args> --db <db>`.
fn phrkit(db: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phrkit"));
    c.args(args).arg("--db").arg(db);
    c
}

fn run(db: &Path, args: &[&str]) -> Output {
    let out = phrkit(db, args).output().expect("run phrkit");
    assert!(
        out.status.success(),
        "phrkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn import(store: &Store, name: &str, lines: &[&str], progress: &dyn ProgressListener) {
    let text = lines.join("\n").into_bytes();
    store
        .import(
            vec![ImportSource::from_bytes(name, text)],
            &ImportOptions::default(),
            progress,
        )
        .expect("import");
}

/// Starts `phrkit export` and returns once it has written its file and says it waits for
/// the writer (its stderr line), with the process still running; the rest of its stderr
/// stays readable.
fn export_until_it_waits(db: &Path, out: &Path) -> (Child, std::io::Lines<BufReader<ChildStderr>>) {
    let out = out.to_str().unwrap();
    let mut child = phrkit(db, &["export", "--format", "ndjson", "--output", out])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start phrkit export");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut said = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.expect("stderr is text");
        let waiting = line.contains("waiting for another phrkit process");
        said.push(line);
        if waiting {
            return (child, lines);
        }
    }
    let status = child.wait();
    panic!("phrkit export ended ({status:?}) without waiting for the writer: {said:?}");
}

#[test]
fn search_preview_and_export_run_while_another_process_imports() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let out = dir.path().join("record.ndjson");
    let store = Store::open(&db).unwrap();
    import(
        &store,
        "first.ndjson",
        &[PATIENT, WEIGHT],
        &phrkit::progress::NoProgress,
    );

    let searched = Mutex::new(None);
    let previewed = Mutex::new(None);
    let exporting = Mutex::new(None);
    let hook = |_: &Progress| {
        let mut exporting = exporting.lock().unwrap();
        if exporting.is_none() {
            *searched.lock().unwrap() = Some(run(&db, &["search", "--type", "Observation"]));
            *previewed.lock().unwrap() = Some(run(&db, &["export", "--preview"]));
            *exporting = Some(export_until_it_waits(&db, &out));
        }
        true
    };
    import(&store, "later.ndjson", &[LATER], &hook);

    let searched = searched.into_inner().unwrap().expect("the hook ran");
    let found = String::from_utf8(searched.stdout).unwrap();
    assert_eq!(found.lines().count(), 1, "only what was committed: {found}");
    assert!(found.contains("\"o1\""), "{found}");
    let previewed = previewed.into_inner().unwrap().expect("the hook ran");
    let preview = String::from_utf8_lossy(&previewed.stdout).into_owned()
        + &String::from_utf8_lossy(&previewed.stderr);
    assert!(preview.contains("Observation"), "{preview}");
    // The export's file was complete while the import still held the writer.
    let written = std::fs::read_to_string(&out).expect("the export wrote its file");
    assert!(
        written.contains("\"o1\"") && !written.contains("\"o2\""),
        "{written}"
    );

    let (mut child, rest) = exporting.into_inner().unwrap().expect("the hook ran");
    let rest: Vec<String> = rest.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the export recorded itself once the import let go: {rest:?}"
    );
    let log = store.access_log(None).unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].action, "export");
}
