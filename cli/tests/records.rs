//! The record commands end to end through the `phrkit` binary on a real store file: import,
//! then `get`, `search`, `history`, `delete` and `quarantine`, with their exit codes.

use std::path::Path;
use std::process::{Command, Output};

const PATIENT: &str =
    r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Doe"}],"birthDate":"1980-02-03"}"#;

fn observation(id: &str, date: &str, kg: u32) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final","code":{{"text":"Weight"}},"subject":{{"reference":"Patient/p1"}},"effectiveDateTime":"{date}","valueQuantity":{{"value":{kg},"unit":"kg"}}}}"#
    )
}

/// Runs `phrkit <args> --db <db>`.
fn phrkit(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phrkit"))
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run phrkit")
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn import(db: &Path, dir: &Path, name: &str, lines: &[String], extra: &[&str]) {
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file = file.to_str().unwrap();
    let mut args = vec!["import", file, "--on-invalid", "quarantine"];
    args.extend_from_slice(extra);
    let out = phrkit(db, &args);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn get_search_history_delete_and_quarantine_work_on_a_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    // The last line names a day that does not exist: kept aside, not stored.
    let bad = observation("bad", "2021-02-30", 1);
    let first = [
        PATIENT.to_string(),
        observation("o1", "2021-05-06", 70),
        observation("o2", "2015-01-01", 65),
        bad,
    ];
    import(&db, dir.path(), "first.ndjson", &first, &[]);

    let got = phrkit(&db, &["get", "Observation/o1"]);
    assert!(got.status.success(), "{}", stderr(&got));
    let got: serde_json::Value = serde_json::from_str(&stdout_lines(&got)[0]).unwrap();
    assert_eq!(got["id"], "o1");
    assert_eq!(got["valueQuantity"]["value"], 70);

    let recent = phrkit(&db, &["search", "--type", "Observation", "--start", "2020"]);
    assert!(recent.status.success(), "{}", stderr(&recent));
    let lines = stdout_lines(&recent);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(r#""id":"o1""#));
    let everything = phrkit(&db, &["search", "--patient", "Patient/p1"]);
    let mut types: Vec<String> = stdout_lines(&everything)
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["resourceType"].to_string())
        .collect();
    types.sort();
    // The import's Provenance belongs to the patient's record too.
    assert_eq!(
        types,
        [
            "\"Observation\"",
            "\"Observation\"",
            "\"Patient\"",
            "\"Provenance\""
        ]
    );
    assert!(
        stderr(&everything).contains("4 resource(s)"),
        "{}",
        stderr(&everything)
    );

    import(
        &db,
        dir.path(),
        "later.ndjson",
        &[observation("o1", "2021-05-06", 71)],
        &["--conflict", "replace"],
    );
    let history = phrkit(&db, &["history", "Observation/o1"]);
    let versions = stdout_lines(&history);
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert!(versions[0].contains("71") && versions[1].contains("70"));
    assert!(stderr(&history).contains("version 2 of Observation/o1"));

    let deleted = phrkit(&db, &["delete", "Observation/o1"]);
    assert!(deleted.status.success(), "{}", stderr(&deleted));
    assert!(!phrkit(&db, &["get", "Observation/o1"]).status.success());
    let history = phrkit(&db, &["history", "Observation/o1"]);
    assert_eq!(stdout_lines(&history)[0], "{}");
    assert!(stderr(&history).contains("deleted 3 of Observation/o1"));
    assert!(!phrkit(&db, &["delete", "Observation/o1"]).status.success());

    let kept = phrkit(&db, &["quarantine"]);
    assert!(kept.status.success(), "{}", stderr(&kept));
    assert_eq!(stdout_lines(&kept).len(), 1);
    assert!(stdout_lines(&kept)[0].contains("2021-02-30"));
    assert!(
        stderr(&kept).contains("Observation/bad"),
        "{}",
        stderr(&kept)
    );

    let wrong = phrkit(&db, &["get", "o1"]);
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("Type/id"), "{}", stderr(&wrong));
    let bad_date = phrkit(&db, &["search", "--start", "yesterday"]);
    assert!(!bad_date.status.success());
    assert!(
        stderr(&bad_date).contains("--start"),
        "{}",
        stderr(&bad_date)
    );
}

#[test]
fn purge_and_wipe_erase_from_the_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let marked = observation("o9", "2021-05-06", 70).replace("Weight", "Weight Zqxjkvbn");
    import(
        &db,
        dir.path(),
        "first.ndjson",
        &[PATIENT.to_string(), marked],
        &[],
    );
    let holds = |needle: &str| {
        let mut hay = std::fs::read(&db).unwrap();
        if let Ok(wal) = std::fs::read(format!("{}-wal", db.display())) {
            hay.extend(wal);
        }
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    };
    assert!(holds("Zqxjkvbn"), "the check sees stored text");

    let purged = phrkit(&db, &["purge", "Observation/o9"]);
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert!(!holds("Zqxjkvbn"), "no byte of it left in the file");
    assert_eq!(
        phrkit(&db, &["purge", "Observation/o9"]).status.code(),
        Some(1)
    );
    assert!(phrkit(&db, &["get", "Patient/p1"]).status.success());

    let refused = phrkit(&db, &["wipe"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--yes-erase-everything"),
        "{}",
        stderr(&refused)
    );
    assert!(
        phrkit(&db, &["get", "Patient/p1"]).status.success(),
        "nothing erased"
    );
    let wiped = phrkit(&db, &["wipe", "--yes-erase-everything"]);
    assert!(wiped.status.success(), "{}", stderr(&wiped));
    assert_eq!(phrkit(&db, &["get", "Patient/p1"]).status.code(), Some(1));
    assert!(!holds("Doe"), "the patient's name is gone too");
}

#[test]
fn search_pages_newest_first_with_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let lines = [
        PATIENT.to_string(),
        observation("o1", "2019-01-01", 70),
        observation("o2", "2020-01-01", 71),
        observation("o3", "2021-01-01", 72),
    ];
    import(&db, dir.path(), "first.ndjson", &lines, &[]);
    let first = phrkit(
        &db,
        &["search", "--type", "Observation", "--page-size", "2"],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let ids: Vec<String> = stdout_lines(&first)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["o3", "o2"], "newest first");
    let said = stderr(&first);
    let token = said
        .lines()
        .find_map(|l| l.strip_prefix("next page: --page-token "))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    let second = phrkit(
        &db,
        &[
            "search",
            "--type",
            "Observation",
            "--page-size",
            "2",
            "--page-token",
            &token,
        ],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout_lines(&second).len(), 1);
    assert!(stdout_lines(&second)[0].contains("\"o1\""));
    assert!(stderr(&second).contains("last page"));
    let other = phrkit(
        &db,
        &["search", "--type", "Condition", "--page-token", &token],
    );
    assert!(!other.status.success());
    assert!(stderr(&other).contains("pageToken"), "{}", stderr(&other));
}
