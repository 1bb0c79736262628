//! The import pipeline end to end on small inputs: one test per behaviour of issue 2.

mod common;

use common::*;
use phrkit::import::{ImportSource, Severity};
use phrkit::progress::{NoProgress, Progress};
use phrkit::store::Search;
use phrkit::{ConflictPolicy, Error, ImportMode, ImportOptions, OnInvalid, Strategy};
use serde_json::{Value, json};

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": "Doe", "given": ["Jo"]}], "birthDate": "1980-01-01"})
}

fn obs(id: &str, subject: &str, value: i64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "Pulse"},
        "subject": {"reference": subject}, "effectiveDateTime": "2020-03-04T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min"}})
}

#[test]
fn imports_ndjson_and_maintains_meta() {
    let (_d, mut s) = store();
    let r = import_default(
        &mut s,
        &ndjson(&[patient("p1"), obs("o1", "Patient/p1", 60)]),
    );
    assert_eq!(r.totals().created, 2, "{}", r.summary());
    assert!(r.committed);
    let o = get(&s, "Observation", "o1");
    assert_eq!(o["meta"]["versionId"], "1");
    assert!(o["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));
    assert_eq!(s.count(Some("Observation")).unwrap(), 1);
}

#[test]
fn reimporting_the_same_file_is_a_no_op_that_says_so() {
    let (_d, mut s) = store();
    let text = ndjson(&[patient("p1"), obs("o1", "Patient/p1", 60)]);
    let first = import_default(&mut s, &text);
    let before = s.stats().unwrap();
    let again = import_default(&mut s, &text);
    assert_eq!(again.totals().unchanged, 2);
    assert!(again.is_no_op() && !again.committed);
    assert_eq!(again.previously_imported_in_run, first.run_id);
    assert!(
        again.summary().contains("already imported"),
        "{}",
        again.summary()
    );
    assert_eq!(
        s.stats().unwrap(),
        before,
        "nothing written, not even a run"
    );
}

#[test]
fn bad_lines_are_reported_with_line_numbers_and_good_lines_kept() {
    let (_d, mut s) = store();
    let text = format!(
        "{}\n{{\"resourceType\":\"Observation\",\n\n{}\n{}",
        patient("p1"),
        json!({"resourceType": "Patient", "id": "p2", "gender": "robot"}),
        obs("o1", "Patient/p1", 60)
    );
    let r = import_default(&mut s, &text);
    assert_eq!(r.totals().created, 2);
    assert_eq!(r.totals().rejected, 1);
    assert_eq!(r.unreadable_lines, 1);
    let lines: Vec<u64> = r
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .filter_map(|i| i.line)
        .collect();
    assert_eq!(lines, vec![2, 4]);
    assert!(
        r.issues
            .iter()
            .any(|i| i.location.as_deref() == Some("Patient.gender"))
    );
}

#[test]
fn string_id_members_are_dropped_with_a_warning() {
    let (_d, mut s) = store();
    let mut p = patient("p1");
    p["_id"] = json!("64f0c0ffee");
    let r = import_default(&mut s, &ndjson(&[p]));
    assert_eq!(r.totals().created, 1);
    assert!(
        r.issues
            .iter()
            .any(|i| i.severity == Severity::Warning && i.message.contains("`_id`"))
    );
    assert!(get(&s, "Patient", "p1").get("_id").is_none());
}

#[test]
fn a_resource_without_id_gets_a_stable_one() {
    let (_d, mut s) = store();
    let mut o = obs("x", "Patient/p1", 61);
    o.as_object_mut().unwrap().remove("id");
    let text = ndjson(&[patient("p1"), o]);
    import_default(&mut s, &text);
    let again = import(&mut s, "other-name.phr", &text, &ImportOptions::default());
    assert_eq!(
        again.totals().unchanged,
        2,
        "the derived id is the same on re-import"
    );
    assert_eq!(s.count(Some("Observation")).unwrap(), 1);
}

#[test]
fn urn_uuid_references_resolve_forward_and_backward() {
    let (_d, mut s) = store();
    let text = ndjson(&[
        obs("o1", "urn:uuid:p1", 60),
        patient("p1"),
        obs("o2", "urn:uuid:p1", 61),
    ]);
    let r = import_default(&mut s, &text);
    assert_eq!(r.unresolved_references, 0, "{:?}", r.issues);
    assert_eq!(
        get(&s, "Observation", "o1")["subject"]["reference"],
        "Patient/p1"
    );
    assert_eq!(
        get(&s, "Observation", "o2")["subject"]["reference"],
        "Patient/p1"
    );
    let found = s
        .search(&Search {
            patient: Some("p1".into()),
            ..Default::default()
        })
        .unwrap();
    let types: Vec<&str> = found.iter().map(|r| r.resource_type.as_str()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "Observation").count(),
        2,
        "both observations are in p1's compartment"
    );
    assert!(
        types.contains(&"Patient") && types.contains(&"Provenance"),
        "{types:?}"
    );
}

#[test]
fn unresolved_references_are_kept_and_reported() {
    let (_d, mut s) = store();
    let r = import_default(&mut s, &ndjson(&[obs("o1", "urn:uuid:nobody", 60)]));
    assert_eq!(r.totals().created, 1);
    assert_eq!(r.unresolved_references, 1);
    assert!(
        r.issues
            .iter()
            .any(|i| i.code == "not-found" && i.line == Some(1))
    );
    assert_eq!(
        get(&s, "Observation", "o1")["subject"]["reference"],
        "urn:uuid:nobody"
    );
}

#[test]
fn bundles_of_every_shape_are_read() {
    let entries = json!([
        {"fullUrl": "urn:uuid:aaaa", "resource": patient("p1"), "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:bbbb", "resource": obs("o1", "urn:uuid:aaaa", 60), "request": {"method": "POST", "url": "Observation"}}
    ]);
    for ty in [
        "transaction",
        "batch",
        "collection",
        "searchset",
        "document",
    ] {
        let (_d, mut s) = store();
        let bundle = json!({"resourceType": "Bundle", "type": ty, "entry": entries});
        let pretty = serde_json::to_string_pretty(&bundle).unwrap();
        let r = import_default(&mut s, &pretty);
        assert_eq!(r.totals().created, 2, "{ty}: {:?}", r.issues);
        assert_eq!(
            get(&s, "Observation", "o1")["subject"]["reference"],
            "Patient/p1"
        );
    }
    let (_d, mut s) = store();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let double = serde_json::to_string(&bundle.to_string()).unwrap();
    let r = import_default(&mut s, &double);
    assert_eq!(r.totals().created, 2, "a JSON string holding a Bundle");
    let (_d, mut s) = store();
    let r = import_default(
        &mut s,
        &serde_json::to_string_pretty(&patient("solo")).unwrap(),
    );
    assert_eq!(r.totals().created, 1, "a single pretty-printed resource");
}

#[test]
fn conditional_references_resolve_within_the_import_and_against_the_store() {
    let org = json!({"resourceType": "Organization", "id": "org1", "identifier": [{"system": "https://x.org", "value": "42"}], "name": "Clinic"});
    let enc = |id: &str| {
        json!({"resourceType": "Encounter", "id": id, "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "serviceProvider": {"reference": "Organization?identifier=https%3A%2F%2Fx.org%7C42"}})
    };
    let (_d, mut s) = store();
    let r = import_default(&mut s, &ndjson(&[patient("p1"), enc("e1"), org]));
    assert_eq!(r.unresolved_references, 0, "forward conditional reference");
    assert_eq!(
        get(&s, "Encounter", "e1")["serviceProvider"]["reference"],
        "Organization/org1"
    );
    let r = import_default(&mut s, &ndjson(&[enc("e2")]));
    assert_eq!(r.unresolved_references, 0, "against the store");
    assert_eq!(
        get(&s, "Encounter", "e2")["serviceProvider"]["reference"],
        "Organization/org1"
    );
}

#[test]
fn inline_operation_outcomes_are_reported_not_stored() {
    let (_d, mut s) = store();
    let oo = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing", "diagnostics": "Error at line 847: invalid reference"}]});
    let r = import_default(&mut s, &ndjson(&[patient("p1"), oo]));
    assert_eq!(r.sender_errors, 1);
    assert!(
        r.issues
            .iter()
            .any(|i| i.line == Some(2) && i.message.contains("Error at line 847"))
    );
    assert_eq!(s.count(Some("OperationOutcome")).unwrap(), 0);
}

#[test]
fn exact_duplicates_are_kept_once_and_a_differing_later_line_is_a_later_version() {
    let (_d, mut s) = store();
    let text = ndjson(&[
        patient("p1"),
        obs("o1", "Patient/p1", 60),
        obs("o1", "Patient/p1", 60),
        obs("o1", "Patient/p1", 99),
    ]);
    let r = import_default(&mut s, &text);
    let c = r.by_type["Observation"];
    assert_eq!(
        (c.created, c.unchanged, c.updated, c.rejected),
        (1, 1, 1, 0)
    );
    let later = r
        .notes
        .iter()
        .find(|n| n.kind == phrkit::import::NoteKind::LaterVersion)
        .expect("a later-version note");
    assert_eq!(later.first.line, Some(4));
    assert!(
        later.first.message.contains("line 4 differs from line 2"),
        "{later:?}"
    );
    assert_eq!(get(&s, "Observation", "o1")["valueQuantity"]["value"], 99);
    assert_eq!(s.history("Observation", "o1").unwrap().len(), 2);
}

#[test]
fn the_same_business_identifier_means_the_same_resource() {
    let (_d, mut s) = store();
    let mut a = patient("a");
    a["identifier"] = json!([{"system": "urn:mrn", "value": "123"}]);
    import_default(&mut s, &ndjson(&[a]));
    let mut b = patient("b");
    b["identifier"] = json!([{"system": "urn:mrn", "value": "123"}]);
    b["gender"] = json!("female");
    let r = import(
        &mut s,
        "b.phr",
        &ndjson(&[b, obs("o1", "Patient/b", 60)]),
        &ImportOptions {
            conflict: ConflictPolicy::Replace,
            ..Default::default()
        },
    );
    assert_eq!(r.by_type["Patient"].updated, 1, "{:?}", r.issues);
    assert!(s.get("Patient", "b").unwrap().is_none());
    assert_eq!(get(&s, "Patient", "a")["gender"], "female");
    assert_eq!(
        get(&s, "Observation", "o1")["subject"]["reference"],
        "Patient/a"
    );
}

fn with_updated(mut v: Value, instant: &str) -> Value {
    v["meta"] = json!({"lastUpdated": instant});
    v
}

fn conflict_run(
    policy: ConflictPolicy,
    incoming_time: &str,
) -> (
    tempfile::TempDir,
    phrkit::Store,
    phrkit::Result<phrkit::ImportReport>,
) {
    let (d, mut s) = store();
    import_default(
        &mut s,
        &ndjson(&[
            patient("p1"),
            with_updated(obs("o1", "Patient/p1", 60), "2021-01-01T00:00:00Z"),
        ]),
    );
    let incoming = ndjson(&[with_updated(obs("o1", "Patient/p1", 70), incoming_time)]);
    let r = try_import(
        &mut s,
        "second.phr",
        &incoming,
        &ImportOptions {
            conflict: policy,
            ..Default::default()
        },
    );
    (d, s, r)
}

#[test]
fn conflict_newer_wins() {
    let (_d, s, r) = conflict_run(ConflictPolicy::NewerWins, "2022-01-01T00:00:00Z");
    let r = r.unwrap();
    assert_eq!((r.totals().updated, r.totals().conflicts), (1, 1));
    let o = get(&s, "Observation", "o1");
    assert_eq!(
        (
            o["valueQuantity"]["value"].as_i64(),
            o["meta"]["versionId"].as_str()
        ),
        (Some(70), Some("2"))
    );
    let (_d, s, r) = conflict_run(ConflictPolicy::NewerWins, "2020-01-01T00:00:00Z");
    let r = r.unwrap();
    assert_eq!((r.totals().updated, r.totals().conflicts), (0, 1));
    let issue = r.issues.iter().find(|i| i.code == "conflict").unwrap();
    assert!(
        issue.message.contains("stored version 1") && issue.message.contains("line 1"),
        "{}",
        issue.message
    );
    assert_eq!(get(&s, "Observation", "o1")["valueQuantity"]["value"], 60);
}

#[test]
fn conflict_keep_existing() {
    let (_d, s, r) = conflict_run(ConflictPolicy::KeepExisting, "2030-01-01T00:00:00Z");
    assert_eq!(r.unwrap().totals().conflicts, 1);
    assert_eq!(get(&s, "Observation", "o1")["valueQuantity"]["value"], 60);
}

#[test]
fn conflict_replace() {
    let (_d, s, r) = conflict_run(ConflictPolicy::Replace, "2000-01-01T00:00:00Z");
    assert_eq!(r.unwrap().totals().updated, 1);
    assert_eq!(get(&s, "Observation", "o1")["valueQuantity"]["value"], 70);
    assert_eq!(s.history("Observation", "o1").unwrap().len(), 2);
}

#[test]
fn conflict_fail_aborts_everything() {
    let (_d, mut s) = store();
    import_default(
        &mut s,
        &ndjson(&[patient("p1"), obs("o1", "Patient/p1", 60)]),
    );
    let before = s.stats().unwrap();
    let incoming = ndjson(&[obs("o2", "Patient/p1", 1), obs("o1", "Patient/p1", 70)]);
    let r = try_import(
        &mut s,
        "x.phr",
        &incoming,
        &ImportOptions {
            conflict: ConflictPolicy::Fail,
            ..Default::default()
        },
    );
    match r {
        Err(Error::ImportAborted(msg)) => assert!(
            msg.contains("Observation/o1") && msg.contains("stored version 1"),
            "{msg}"
        ),
        other => panic!("expected ImportAborted, got {other:?}"),
    }
    assert_eq!(s.stats().unwrap(), before);
    assert!(s.get("Observation", "o2").unwrap().is_none());
}

#[test]
fn append_gives_colliding_resources_new_ids_and_follows_references() {
    let (_d, mut s) = store();
    import_default(
        &mut s,
        &ndjson(&[patient("p1"), obs("o1", "Patient/p1", 60)]),
    );
    let mut p = patient("p1");
    p["gender"] = json!("other");
    let r = import(
        &mut s,
        "x.phr",
        &ndjson(&[p, obs("o9", "Patient/p1", 5)]),
        &ImportOptions {
            strategy: Strategy::Append,
            ..Default::default()
        },
    );
    assert_eq!(r.by_type["Patient"].created, 1);
    assert_eq!(s.count(Some("Patient")).unwrap(), 2);
    let reference = get(&s, "Observation", "o9")["subject"]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        reference, "Patient/p1",
        "the new observation follows the appended patient"
    );
    assert_eq!(get(&s, &reference[..7], &reference[8..])["gender"], "other");
}

#[test]
fn validate_mode_reports_what_a_commit_would_do_and_writes_nothing() {
    let (_d, mut s) = store();
    let r = import(
        &mut s,
        "x.phr",
        &ndjson(&[
            patient("p1"),
            obs("o1", "Patient/p1", 60),
            json!({"resourceType": "Nope"}),
        ]),
        &ImportOptions {
            mode: ImportMode::Validate,
            ..Default::default()
        },
    );
    assert!(r.validate_only && !r.committed);
    assert_eq!((r.totals().created, r.totals().rejected), (2, 1));
    assert!(r.summary().starts_with("validate only"));
    assert_eq!(s.stats().unwrap(), Default::default());
}

#[test]
fn quarantine_keeps_invalid_resources_apart() {
    let (_d, mut s) = store();
    let bad = json!({"resourceType": "Patient", "id": "p2", "gender": "robot"});
    let r = import(
        &mut s,
        "x.phr",
        &ndjson(&[patient("p1"), bad]),
        &ImportOptions {
            on_invalid: OnInvalid::Quarantine,
            ..Default::default()
        },
    );
    assert_eq!(r.totals().quarantined, 1);
    assert!(s.get("Patient", "p2").unwrap().is_none());
    let q = s.quarantined().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].resource_type.as_deref(), Some("Patient"));
    assert_eq!(q[0].id.as_deref(), Some("p2"));
    assert!(q[0].reason.contains("Patient.gender"));
}

/// A reader that fails after `ok` bytes, like a dropped connection or a bad disk.
struct FailingReader {
    data: Vec<u8>,
    pos: usize,
    ok: usize,
}

impl std::io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.ok {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut",
            ));
        }
        let n = buf.len().min(self.ok - self.pos).min(1000);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn an_import_interrupted_midway_leaves_the_store_as_it_was() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&[patient("p0")]));
    let before = s.stats().unwrap();
    let many: Vec<Value> = (0..3000)
        .map(|i| obs(&format!("o{i}"), "Patient/p0", i))
        .collect();
    let data = ndjson(&many).into_bytes();
    let ok = data.len() * 2 / 3;
    let src = ImportSource::from_reader("cut.phr", FailingReader { data, pos: 0, ok }, None);
    let r = s.import(vec![src], &ImportOptions::default(), &NoProgress);
    assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
    assert_eq!(s.stats().unwrap(), before);
}

#[test]
fn cancelling_through_progress_rolls_back() {
    let (_d, s) = store();
    let many: Vec<Value> = (0..3000)
        .map(|i| obs(&format!("o{i}"), "Patient/p0", i))
        .collect();
    let src = ImportSource::from_bytes("x.phr", ndjson(&many).into_bytes());
    let mut seen = std::sync::atomic::AtomicU64::new(0);
    let cancel = |p: &Progress| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        p.resources < 1000
    };
    let r = s.import(vec![src], &ImportOptions::default(), &cancel);
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert!(
        *seen.get_mut() >= 2,
        "progress was reported before cancelling"
    );
    assert_eq!(s.stats().unwrap(), Default::default());
}

#[test]
fn overlong_lines_are_skipped_with_a_clear_issue() {
    let (_d, mut s) = store();
    let mut big = patient("big");
    big["name"][0]["text"] = json!("x".repeat(5000));
    let r = import(
        &mut s,
        "x.phr",
        &ndjson(&[patient("p1"), big]),
        &ImportOptions {
            max_line_bytes: 1000,
            ..Default::default()
        },
    );
    assert_eq!(r.totals().created, 1);
    assert!(
        r.issues
            .iter()
            .any(|i| i.line == Some(2) && i.message.contains("longer than the 1000-byte maximum"))
    );
}

#[test]
fn a_large_run_splits_its_provenance_so_no_resource_grows_with_the_import() {
    let (_d, mut s) = store();
    let mut lines = vec![patient("p1")];
    lines.extend((0..2100).map(|i| obs(&format!("o{i}"), "Patient/p1", i)));
    let r = import_default(&mut s, &ndjson(&lines));
    assert_eq!(r.totals().created, 2101);
    let sizes: Vec<usize> = r
        .provenance_ids
        .iter()
        .map(|id| {
            get(&s, "Provenance", id)["target"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(
        sizes,
        [500, 500, 500, 500, 101],
        "500 targets at most per Provenance"
    );
    let mut targets: Vec<String> = r
        .provenance_ids
        .iter()
        .flat_map(|id| {
            get(&s, "Provenance", id)["target"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["reference"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(targets[0], "Patient/p1/_history/1", "in write order");
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 2101, "every version listed once");
}

#[test]
fn each_run_records_one_provenance_linked_to_its_versions() {
    let (_d, mut s) = store();
    let r = import_default(
        &mut s,
        &ndjson(&[patient("p1"), obs("o1", "Patient/p1", 60)]),
    );
    assert_eq!(r.provenance_ids.len(), 1, "one patient, one Provenance");
    let prov_id = r.provenance_ids[0].clone();
    let p = get(&s, "Provenance", &prov_id);
    let targets: Vec<&str> = p["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        vec!["Patient/p1/_history/1", "Observation/o1/_history/1"]
    );
    let sha = &r.sources[0].sha256;
    assert!(
        p["entity"][0]["what"]["identifier"]["value"]
            .as_str()
            .unwrap()
            .ends_with(sha.as_str())
    );
    assert_eq!(
        s.runs().unwrap()[0].provenance_ids.as_deref(),
        Some(prov_id.as_str())
    );
    assert_eq!(phrkit::fhir::validate::schema().validate(&p), vec![]);
}

#[test]
fn history_delete_and_search() {
    let (_d, mut s) = store();
    let early = json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
        "code": {"text": "Asthma"}, "onsetDateTime": "2005-06"});
    import_default(
        &mut s,
        &ndjson(&[
            patient("p1"),
            obs("o1", "Patient/p1", 60),
            early,
            patient("p2"),
            obs("o2", "Patient/p2", 1),
        ]),
    );
    let in_2020 = phrkit::fhir::date::parse_fhir_date("2020").unwrap();
    let hits = s
        .search(&Search {
            patient: Some("p1".into()),
            types: vec!["Observation".into(), "Condition".into()],
            dates: Some(in_2020),
            limit: None,
        })
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        vec!["o1"]
    );
    assert!(s.delete("Observation", "o1").unwrap());
    assert!(s.get("Observation", "o1").unwrap().is_none());
    let h = s.history("Observation", "o1").unwrap();
    assert_eq!((h.len(), h[0].deleted, h[0].version), (2, true, 2));
    assert_eq!(s.count(Some("Observation")).unwrap(), 1);
    assert!(
        !s.delete("Observation", "o1").unwrap(),
        "deleting twice is a no-op"
    );
}

#[test]
fn whole_input_errors_are_clear_and_write_nothing() {
    let (_d, mut s) = store();
    let r = try_import(&mut s, "x", "<html>", &ImportOptions::default());
    assert!(
        matches!(&r, Err(Error::InvalidInput(m)) if m.contains("not FHIR JSON")),
        "{r:?}"
    );
    let r = try_import(&mut s, "x", "PK\u{3}\u{4}rest", &ImportOptions::default());
    assert!(
        matches!(&r, Err(Error::Archive(m)) if m.contains("truncated")),
        "{r:?}"
    );
    let r = import_default(&mut s, "  \n ");
    assert!(r.is_no_op());
    assert_eq!(s.stats().unwrap(), Default::default());
}

#[test]
fn crlf_and_bom_files_import() {
    let (_d, mut s) = store();
    let text = format!(
        "\u{feff}{}\r\n{}\r\n",
        patient("p1"),
        obs("o1", "Patient/p1", 1)
    );
    assert_eq!(import_default(&mut s, &text).totals().created, 2);
}
