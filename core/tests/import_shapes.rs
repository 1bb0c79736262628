//! The shapes real files come in (issue 11): transaction Bundles with `urn:uuid:` references,
//! forward references, repeated resources, huge and hostile inputs, and reports that never
//! hide an error.

mod common;

use common::*;
use phrkit::generate::{GenerateOptions, References, Shape, generate};
use phrkit::import::{ImportSource, NoteKind, Severity};
use phrkit::progress::{Phase, Progress};
use phrkit::store::Search;
use phrkit::{ConflictPolicy, Error, ImportMode, ImportOptions, ImportReport, Store, Strategy};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn patient(id: &str) -> Value {
    json!({"resourceType": "Patient", "id": id, "name": [{"family": "Doe"}]})
}

fn obs(id: &str, subject: &str, value: i64) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "Pulse"},
        "subject": {"reference": subject}, "effectiveDateTime": "2020-03-04T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min"}})
}

fn uuid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Every current resource but the run's own Provenance: `Type/id` → (version, JSON without
/// `meta.lastUpdated`, patient compartment).
fn contents(store: &Store, runs: &[&ImportReport]) -> BTreeMap<String, (i64, Value)> {
    let own: Vec<&String> = runs.iter().flat_map(|r| &r.provenance_ids).collect();
    store
        .search(&Search::default())
        .unwrap()
        .into_iter()
        .filter(|r| !(r.resource_type == "Provenance" && own.contains(&&r.id)))
        .map(|r| {
            let mut v: Value = serde_json::from_str(&r.json).unwrap();
            v["meta"].as_object_mut().unwrap().remove("lastUpdated");
            (format!("{}/{}", r.resource_type, r.id), (r.version, v))
        })
        .collect()
}

fn generated(references: References) -> String {
    let mut out = Vec::new();
    let opts = GenerateOptions {
        patients: 3,
        resources_per_patient: 300,
        seed: 4,
        shape: Shape::TransactionBundles(references),
    };
    generate(&opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_transaction_bundle_file_stores_what_the_same_data_with_literal_references_stores() {
    let urn_text = generated(References::Urn);
    let (_a, mut urn) = store();
    let r1 = import_default(&mut urn, &urn_text);
    assert_eq!(r1.unresolved_references, 0, "{}", r1.summary());
    assert_eq!(r1.totals().rejected, 0, "{:?}", r1.issues);
    let (_b, mut literal) = store();
    let r2 = import_default(&mut literal, &generated(References::Literal));
    let a = contents(&urn, &[&r1]);
    assert!(a.len() > 900);
    assert_eq!(a, contents(&literal, &[&r2]));
    // Each patient's compartment is the same too (the references led to the right patient).
    for p in urn
        .search(&Search {
            types: vec!["Patient".into()],
            ..Default::default()
        })
        .unwrap()
    {
        let of = |s: &Store| {
            let q = Search {
                patient: Some(p.id.clone()),
                ..Default::default()
            };
            s.search(&q).unwrap().len()
        };
        assert!(of(&urn) > 250);
        assert_eq!(of(&urn), of(&literal));
    }
    // The shared pool came with every Bundle, each copy different: later versions.
    let later = r1
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::LaterVersion)
        .unwrap();
    assert!(later.count > 40, "{later:?}");
    // The same Bundles as one pretty-printed document, read entry by entry.
    let entries: Vec<Value> = urn_text
        .lines()
        .flat_map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["entry"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let doc = serde_json::to_string_pretty(
        &json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
    )
    .unwrap();
    let (_c, mut pretty) = store();
    let r3 = import_default(&mut pretty, &doc);
    assert_eq!(contents(&pretty, &[&r3]), a);
    assert!(
        r3.issues
            .iter()
            .all(|i| i.line.unwrap_or(0) > 1 || i.severity > Severity::Warning)
    );
    // A second import of the same file changes nothing and reports no conflict.
    let again = import_default(&mut urn, &urn_text);
    assert!(again.is_no_op(), "{}", again.summary());
    assert_eq!(again.totals().conflicts, 0, "{:?}", again.issues);
}

/// Two lines of one file with the same type and id and other content.
fn repeat(first_updated: Option<&str>, later_updated: Option<&str>) -> String {
    let mut a = obs("o1", "Patient/p1", 60);
    let mut b = obs("o1", "Patient/p1", 99);
    if let Some(t) = first_updated {
        a["meta"] = json!({"lastUpdated": t});
    }
    if let Some(t) = later_updated {
        b["meta"] = json!({"lastUpdated": t});
    }
    ndjson(&[patient("p1"), a, b])
}

#[test]
fn a_later_line_with_the_same_id_is_decided_by_the_conflict_policy_in_file_order() {
    let (early, late) = (Some("2020-01-01T00:00:00Z"), Some("2021-01-01T00:00:00Z"));
    // (policy, first line's meta.lastUpdated, later line's, value kept, updated, conflicts)
    let cases = [
        (ConflictPolicy::NewerWins, None, None, 99, 1, 0),
        (ConflictPolicy::NewerWins, early, late, 99, 1, 0),
        (ConflictPolicy::NewerWins, late, early, 60, 0, 1),
        (ConflictPolicy::NewerWins, late, late, 60, 0, 1),
        (ConflictPolicy::NewerWins, early, None, 99, 1, 0),
        (ConflictPolicy::KeepExisting, None, None, 60, 0, 1),
        (ConflictPolicy::KeepExisting, early, late, 60, 0, 1),
        (ConflictPolicy::Replace, None, None, 99, 1, 0),
        (ConflictPolicy::Replace, late, early, 99, 1, 0),
    ];
    for (policy, a, b, kept, updated, conflicts) in cases {
        let (_d, mut s) = store();
        let opts = ImportOptions {
            conflict: policy,
            ..Default::default()
        };
        let r = import(&mut s, "r.phr", &repeat(a, b), &opts);
        let what = format!("{policy:?} {a:?} {b:?}");
        let c = r.by_type["Observation"];
        assert_eq!(
            (c.created, c.updated, c.conflicts, c.rejected),
            (1, updated, conflicts, 0),
            "{what}"
        );
        assert_eq!(
            get(&s, "Observation", "o1")["valueQuantity"]["value"],
            kept,
            "{what}"
        );
        assert_eq!(
            s.history("Observation", "o1").unwrap().len(),
            1 + updated as usize,
            "{what}"
        );
        let told = if updated == 1 {
            let n = r
                .notes
                .iter()
                .find(|n| n.kind == NoteKind::LaterVersion)
                .unwrap();
            n.first.message.clone()
        } else {
            let i = r.issues.iter().find(|i| i.code == "conflict").unwrap();
            assert_eq!(i.severity, Severity::Warning);
            i.message.clone()
        };
        assert!(
            told.contains("line 3 differs from line 2"),
            "{what}: {told}"
        );
    }
    // fail: the whole run stops, nothing written.
    let (_d, mut s) = store();
    let opts = ImportOptions {
        conflict: ConflictPolicy::Fail,
        ..Default::default()
    };
    let e = try_import(&mut s, "r.phr", &repeat(None, None), &opts).unwrap_err();
    assert!(
        matches!(e, Error::ImportAborted(ref m) if m.contains("line 3 differs from line 2")),
        "{e}"
    );
    assert_eq!(s.count(None).unwrap(), 0);
    // append: both kept, the later under a new id.
    let (_d, mut s) = store();
    let opts = ImportOptions {
        strategy: Strategy::Append,
        ..Default::default()
    };
    let r = import(&mut s, "r.phr", &repeat(None, None), &opts);
    assert_eq!(r.by_type["Observation"].created, 2);
    let values: Vec<i64> = s
        .search(&Search {
            types: vec!["Observation".into()],
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|o| {
            serde_json::from_str::<Value>(&o.json).unwrap()["valueQuantity"]["value"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(values.len(), 2);
    assert!(values.contains(&60) && values.contains(&99));
    let appended = r
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Appended)
        .unwrap();
    assert!(
        appended.first.message.contains("line 2 of this input"),
        "{appended:?}"
    );
}

#[test]
fn thousands_of_information_lines_never_hide_an_error() {
    let mut lines = vec![patient("p1")];
    lines.extend((0..1500).map(|_| obs("o1", "Patient/p1", 60)));
    lines.push(json!({"resourceType": "Patient", "id": "p2", "gender": "robot"}));
    let (_d, mut s) = store();
    let r = import_default(&mut s, &ndjson(&lines));
    let repeated = r
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::RepeatedLine)
        .unwrap();
    assert_eq!(repeated.count, 1499);
    let error = r
        .issues
        .iter()
        .find(|i| i.severity == Severity::Error)
        .expect("the error");
    assert_eq!(error.line, Some(1502));
    assert!(
        r.to_operation_outcome()
            .to_string()
            .contains("Line 1502 (Patient.gender)")
    );
    // Warnings do not crowd errors out either: 1,200 warnings, then three errors.
    let mut lines: Vec<Value> = (0..1200)
        .map(|i| json!({"resourceType": "Patient", "id": format!("w{i}"), "_id": "mongo"}))
        .collect();
    lines.extend(
        (0..3).map(|i| json!({"resourceType": "Patient", "id": format!("e{i}"), "gender": "x"})),
    );
    let r = import_default(&mut s, &ndjson(&lines));
    assert_eq!(r.issues.len(), 1000);
    assert_eq!(r.error_count(), 3);
    assert_eq!(
        r.issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count(),
        3
    );
    assert_eq!((r.issues_omitted, r.errors_omitted), (203, 0));
}

#[test]
fn forward_references_across_batches_are_resolved_and_leave_nothing_parked() {
    let p = uuid(1);
    let mut lines: Vec<Value> = (0..700)
        .map(|i| obs(&uuid(100 + i), &format!("urn:uuid:{p}"), i as i64))
        .collect();
    lines.push(patient(&p));
    let text = ndjson(&lines);
    let (dir, mut s) = store();
    let checked = import(
        &mut s,
        "f.phr",
        &text,
        &ImportOptions {
            mode: ImportMode::Validate,
            ..Default::default()
        },
    );
    assert_eq!(checked.totals().created, 701);
    assert_eq!(s.count(None).unwrap(), 0, "validate writes nothing");
    let r = import_default(&mut s, &text);
    assert_eq!(
        (r.totals().created, r.unresolved_references),
        (701, 0),
        "{}",
        r.summary()
    );
    let mine = s
        .search(&Search {
            patient: Some(p.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        mine.iter()
            .filter(|r| r.resource_type == "Observation")
            .count(),
        700
    );
    assert_eq!(
        get(&s, "Observation", &uuid(100))["subject"]["reference"],
        format!("Patient/{p}")
    );
    let conn = rusqlite::Connection::open(dir.path().join("test.db")).unwrap();
    let parked: i64 = conn
        .query_row("SELECT count(*) FROM import_pending", [], |r| r.get(0))
        .unwrap();
    assert_eq!(parked, 0);
}

#[test]
fn cancelling_while_parked_resources_are_finished_changes_nothing() {
    let p = uuid(1);
    let mut lines: Vec<Value> = (0..600)
        .map(|i| obs(&uuid(100 + i), &format!("urn:uuid:{p}"), 1))
        .collect();
    lines.push(patient(&p));
    let (_d, s) = store();
    // The first Resolving report comes before the parked resources, the next during them.
    let resolving = std::sync::atomic::AtomicUsize::new(0);
    let cancel = |p: &Progress| {
        p.phase != Phase::Resolving
            || resolving.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0
    };
    let e = s
        .import(
            vec![ImportSource::from_bytes(
                "f.phr",
                ndjson(&lines).into_bytes(),
            )],
            &ImportOptions::default(),
            &cancel,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e}");
    assert_eq!(s.count(None).unwrap(), 0);
}

#[test]
fn an_entry_without_id_is_reachable_through_its_full_url() {
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
         "resource": {"resourceType": "Patient", "name": [{"family": "Roe"}]}},
        {"fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
         "resource": obs("o1", "urn:uuid:11111111-1111-4111-8111-111111111111", 5)}]});
    let (_d, mut s) = store();
    let r = import_default(&mut s, &bundle.to_string());
    assert_eq!(
        (r.totals().created, r.unresolved_references),
        (2, 0),
        "{:?}",
        r.issues
    );
    let pid = s
        .search(&Search {
            types: vec!["Patient".into()],
            ..Default::default()
        })
        .unwrap()[0]
        .id
        .clone();
    assert_eq!(
        get(&s, "Observation", "o1")["subject"]["reference"],
        format!("Patient/{pid}")
    );
    let mine = s
        .search(&Search {
            patient: Some(pid),
            ..Default::default()
        })
        .unwrap();
    assert!(
        mine.iter().any(|r| r.id == "o1"),
        "the observation is in the patient's compartment"
    );
}

#[test]
fn a_full_url_used_twice_is_reported_and_means_its_first_resource() {
    let u = "urn:uuid:11111111-1111-4111-8111-111111111111";
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": u, "resource": patient("a")},
        {"fullUrl": u, "resource": patient("b")},
        {"resource": obs("o1", u, 5)}]});
    let (_d, mut s) = store();
    let r = import_default(&mut s, &bundle.to_string());
    let w = r
        .issues
        .iter()
        .find(|i| i.message.contains("fullUrl already named"))
        .expect("reported");
    assert_eq!(w.location.as_deref(), Some("Bundle.entry[1]"));
    assert_eq!(
        get(&s, "Observation", "o1")["subject"]["reference"],
        "Patient/a"
    );
}

#[test]
fn hostile_shapes_are_bounded_and_explained() {
    let (_d, mut s) = store();
    // A Bundle of a million empty entries: streamed, counted, nothing stored.
    let mut text = String::from(r#"{"resourceType":"Bundle","type":"collection","entry":["#);
    text.push_str(&vec!["{}"; 1_000_000].join(","));
    text.push_str("]}");
    let r = import_default(&mut s, &text);
    let empty = r
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::EntryWithoutResource)
        .unwrap();
    assert_eq!(empty.count, 1_000_000);
    assert!(r.nothing_read());
    // One resource holding a 200,000-item array: refused with its line; the rest imported.
    let array = format!(
        "{}\n{{\"resourceType\":\"Basic\",\"id\":\"b\",\"code\":{{\"text\":\"x\"}},\"extension\":[{}]}}\n",
        patient("p1"),
        vec!["0"; 200_000].join(",")
    );
    let r = import_default(&mut s, &array);
    assert_eq!(r.totals().created, 1);
    let e = r.issues.iter().find(|i| i.line == Some(2)).unwrap();
    assert!(e.message.contains("more than 100000 JSON values"), "{e:?}");
    // A minified Bundle longer than the line limit is still read, entry by entry.
    let entries: Vec<Value> = (0..40)
        .map(|i| json!({"resource": patient(&format!("q{i}"))}))
        .collect();
    let line =
        json!({"resourceType": "Bundle", "type": "collection", "entry": entries}).to_string();
    let opts = ImportOptions {
        max_line_bytes: 1000,
        ..Default::default()
    };
    assert!(line.len() > 1000);
    let r = import(&mut s, "big.phr", &format!("{line}\n{line}\n"), &opts);
    assert_eq!(r.totals().created, 40, "{:?}", r.issues);
    assert_eq!(
        r.notes
            .iter()
            .find(|n| n.kind == NoteKind::RepeatedLine)
            .unwrap()
            .count,
        40
    );
}

#[test]
fn one_set_of_rules_for_dates_keys_and_line_endings() {
    let (_d, mut s) = store();
    // Calendar-impossible dates are errors with their path, as export parameters are.
    let r = import_default(
        &mut s,
        &json!({"resourceType": "Patient", "id": "p", "birthDate": "2021-02-29"}).to_string(),
    );
    let e = &r.issues[0];
    assert_eq!(
        (e.severity, e.location.as_deref()),
        (Severity::Error, Some("Patient.birthDate"))
    );
    assert!(phrkit::ExportRequest::from_params([("start", "2021-02-29")]).is_err());
    // Duplicate JSON members are refused, not silently resolved.
    let r = import_default(
        &mut s,
        r#"{"resourceType":"Patient","id":"d","gender":"male","gender":"female"}"#,
    );
    assert!(
        r.issues[0].message.contains("`gender` appears twice"),
        "{:?}",
        r.issues
    );
    assert_eq!(s.count(Some("Patient")).unwrap(), 0);
    // CR-only line endings are line breaks.
    let text = ndjson(&[
        patient("c1"),
        patient("c2"),
        json!({"resourceType": "Patient", "id": "c3", "gender": "x"}),
    ])
    .replace('\n', "\r");
    let r = import_default(&mut s, &text);
    assert_eq!(r.totals().created, 2);
    assert_eq!(r.issues[0].line, Some(3));
    // A lone `[`: nothing could be read, and the report says so.
    let r = import_default(&mut s, "[");
    assert!(r.nothing_read());
    assert_eq!(r.unreadable_lines, 1);
    assert!(r.issues[0].message.contains("line 1"), "{:?}", r.issues);
}

#[test]
fn an_unresolved_reference_list_stays_short() {
    let targets: Vec<Value> = (0..5000)
        .map(|i| json!({"reference": format!("urn:uuid:{}", uuid(900_000 + i))}))
        .collect();
    let prov = json!({"resourceType": "Provenance", "id": "pv", "target": targets,
        "recorded": "2020-01-01T00:00:00Z", "agent": [{"who": {"display": "x"}}]});
    let (_d, mut s) = store();
    let r = import_default(&mut s, &prov.to_string());
    assert_eq!(r.unresolved_references, 5000);
    let w = r.issues.iter().find(|i| i.code == "not-found").unwrap();
    assert!(
        w.message.ends_with("and 4997 more"),
        "{}",
        &w.message[..100]
    );
    assert!(w.message.len() < 300);
}

#[test]
fn a_broken_pretty_document_keeps_what_came_before_and_names_the_line() {
    let text = "{\n\"resourceType\": \"Bundle\",\n\"entry\": [\n{\"resource\": {\"resourceType\": \"Patient\", \"id\": \"ok\"}},\n{\"resource\": {\"resourceType\": \"Patient\", \"id\": \"cut\n";
    let (_d, mut s) = store();
    let r = import_default(&mut s, text);
    assert_eq!(r.totals().created, 1);
    let e = r
        .issues
        .iter()
        .find(|i| i.severity == Severity::Error)
        .unwrap();
    assert_eq!(e.line, Some(5), "{e:?}");
}

#[test]
fn a_double_encoded_bundle_imports() {
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient("z")}]});
    let text = serde_json::to_string(&bundle.to_string()).unwrap();
    let (_d, mut s) = store();
    let r = import_default(&mut s, &text);
    assert_eq!(r.totals().created, 1, "{:?}", r.issues);
}

#[test]
fn long_inputs_keep_bounded_bookkeeping_and_resolve_everything() {
    // More versions than wait for their Provenance at once (65,536), and more names than the
    // run keeps (two generations of 57,344): some Provenance is written mid-run, and the
    // patient's name is long forgotten when the last resources reference it.
    let n = 120_000;
    let p = uuid(1);
    let mut text = String::with_capacity(n * 150);
    text.push_str(&patient(&p).to_string());
    for i in 0..n {
        text.push('\n');
        text.push_str(
            &json!({"resourceType": "Basic", "id": uuid(10 + i as u64), "code": {"text": "x"},
            "subject": {"reference": format!("urn:uuid:{p}")}})
            .to_string(),
        );
    }
    let (_d, mut s) = store();
    let r = import_default(&mut s, &text);
    assert_eq!(
        (r.totals().created, r.unresolved_references),
        (n as u64 + 1, 0)
    );
    let last = get(&s, "Basic", &uuid(10 + n as u64 - 1));
    assert_eq!(last["subject"]["reference"], format!("Patient/{p}"));
    assert_eq!(r.provenance_ids.len(), (n + 1).div_ceil(500));
    let sha = &r.sources[0].sha256;
    let mut listed = std::collections::HashSet::new();
    for id in &r.provenance_ids {
        let prov = get(&s, "Provenance", id);
        let source = prov["entity"][0]["what"]["identifier"]["value"]
            .as_str()
            .unwrap();
        assert!(source.ends_with(sha.as_str()), "{id}: {source}");
        for t in prov["target"].as_array().unwrap() {
            assert!(
                listed.insert(t["reference"].as_str().unwrap().to_string()),
                "listed twice"
            );
        }
    }
    assert_eq!(listed.len(), n + 1);
}
