//! `$phr-export` end to end: order, formats, filters, parameter errors, two-patient isolation.

mod common;

use common::*;
use phrkit::fhir::reference::{RefKind, classify, for_each_reference};
use phrkit::fhir::validate::schema;
use phrkit::progress::NoProgress;
use phrkit::{Error, ExportRequest, OutputFormat, Store};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn export(store: &Store, params: &[(&str, &str)]) -> (String, phrkit::ExportSummary) {
    let req = ExportRequest::from_params(params.iter().copied()).expect("parameters");
    let mut out = Vec::new();
    let summary = store.export(&req, &mut out, &NoProgress).expect("export");
    (String::from_utf8(out).expect("UTF-8"), summary)
}

fn lines(text: &str) -> Vec<Value> {
    assert!(text.ends_with('\n') && !text.starts_with('\u{feff}'));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

fn ids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect()
}

fn record() -> Vec<Value> {
    vec![
        json!({"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Who"}]}),
        json!({"resourceType": "Organization", "id": "org", "name": "Clinic"}),
        json!({"resourceType": "Organization", "id": "unused", "name": "Elsewhere"}),
        json!({"resourceType": "Location", "id": "loc", "managingOrganization": {"reference": "Organization/org"}}),
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Tanaka", "given": ["Yuki"]}]}),
        json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": "Patient/p1"}, "period": {"start": "2015-03-01T10:00:00Z", "end": "2015-03-01T11:00:00Z"},
            "location": [{"location": {"reference": "Location/loc"}}]}),
        json!({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "Pulse"},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-01-01T00:00:00Z", "performer": [{"reference": "Practitioner/dr"}]}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "Pulse"},
            "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"}, "effectiveDateTime": "2015-03-01T10:30:00Z"}),
        json!({"resourceType": "Goal", "id": "g1", "lifecycleStatus": "active", "description": {"text": "Walk"}, "subject": {"reference": "Patient/p1"}}),
    ]
}

#[test]
fn ndjson_is_patient_centric_and_valid() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&record()));
    let (text, summary) = export(&s, &[("outputFormat", "ndjson")]);
    let rs = lines(&text);
    let order = ids(&rs);
    assert_eq!(rs[0]["resourceType"], "Composition");
    assert_eq!(rs[0]["type"]["coding"][0]["code"], "11503-0");
    assert_eq!(rs[0]["subject"]["reference"], "Patient/p1");
    assert_eq!(order[1], "Patient/p1");
    assert_eq!(
        &order[2..order.len() - 1],
        [
            "Practitioner/dr",
            "Observation/o2",
            "Observation/o1",
            "Organization/org",
            "Location/loc",
            "Encounter/e1",
            "Goal/g1"
        ],
        "newest first, undated last, each shared resource just before its first referrer"
    );
    assert_eq!(
        rs[rs.len() - 1]["resourceType"],
        "Provenance",
        "history last"
    );
    assert!(
        !order.contains(&"Organization/unused".to_string()),
        "only referenced shared resources"
    );
    for r in &rs {
        assert_eq!(schema().validate(r), vec![], "{}", r["resourceType"]);
        common::oracle::assert_schema_valid(r, "an exported resource");
    }
    assert!(
        rs[0].get("section").is_none(),
        "the NDJSON cover lists nothing: the lines are the record"
    );
    assert_eq!(summary.resources as usize, rs.len());
    assert_eq!(summary.bytes as usize, text.len());
    assert_eq!(
        summary.file_name,
        format!(
            "Yuki-Tanaka-{}.ndjson",
            &rs[0]["date"].as_str().unwrap()[..10]
        )
    );
}

#[test]
fn phr_is_the_same_content_as_ndjson() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&record()));
    let (a, _) = export(&s, &[("outputFormat", "ndjson")]);
    let (b, summary) = export(&s, &[("outputFormat", "phr")]);
    let record = |t: &str| {
        let mut v = ids(&lines(t)[1..]);
        v.retain(|id| !id.starts_with("AuditEvent/"));
        v
    };
    assert_eq!(
        record(&a),
        record(&b),
        "the same record (the second also lists the first export in its log)"
    );
    assert!(summary.file_name.ends_with(".phr"));
    assert_eq!(summary.media_type, "application/x-ndjson");
}

#[test]
fn bundle_is_a_valid_document_with_resolvable_full_urls() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&record()));
    let (text, summary) = export(&s, &[]);
    assert_eq!(summary.format, OutputFormat::Bundle);
    let bundle: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(bundle["type"], "document");
    assert!(bundle["identifier"]["value"].is_string() && bundle["timestamp"].is_string());
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries[0]["resource"]["resourceType"], "Composition");
    assert_eq!(
        schema().validate(&bundle),
        vec![],
        "the whole Bundle validates"
    );
    common::oracle::assert_schema_valid(&bundle, "the exported Bundle");
    let full_urls: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    for e in entries {
        let r = &e["resource"];
        assert_eq!(
            e["fullUrl"].as_str().unwrap(),
            format!(
                "{}/{}/{}",
                phrkit::export::DEFAULT_BASE_URL,
                r["resourceType"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        );
        for_each_reference(r, &mut |reference| {
            if let RefKind::Literal {
                ty,
                id,
                absolute: false,
            } = classify(reference)
            {
                let url = format!("{}/{ty}/{id}", phrkit::export::DEFAULT_BASE_URL);
                assert!(
                    full_urls.contains(url.as_str()),
                    "{reference} does not resolve in the Bundle"
                );
            }
        });
    }
    assert_eq!(
        unreachable_from_cover(entries),
        Vec::<String>::new(),
        "a document holds only what its Composition references, directly or indirectly"
    );
}

#[test]
fn two_patients_need_a_patient_and_never_leak() {
    let (_d, mut s) = store();
    let mut other = record();
    let mut second: Vec<Value> = serde_json::from_str(
        &serde_json::to_string(&record())
            .unwrap()
            .replace("p1", "p2")
            .replace("\"o1\"", "\"q1\"")
            .replace("\"o2\"", "\"q2\"")
            .replace("\"e1\"", "\"f1\"")
            .replace("\"g1\"", "\"h1\"")
            .replace("Encounter/e1", "Encounter/f1"),
    )
    .unwrap();
    second.retain(|r| {
        r["resourceType"] != "Practitioner"
            && r["resourceType"] != "Organization"
            && r["resourceType"] != "Location"
    });
    other.extend(second);
    import_default(&mut s, &ndjson(&other));
    let req = ExportRequest::from_params([]).unwrap();
    match s.export(&req, &mut Vec::new(), &NoProgress) {
        Err(Error::InvalidParameter { name, reason }) => assert!(
            name == "patient" && reason.contains("2 patients"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    for (me, them) in [("p1", "p2"), ("p2", "p1")] {
        let (text, _) = export(
            &s,
            &[
                ("patient", &format!("Patient/{me}")),
                ("outputFormat", "ndjson"),
            ],
        );
        assert!(
            !text.contains(&format!("Patient/{them}")),
            "{me}'s export mentions {them}"
        );
        for r in lines(&text).iter().skip(1) {
            assert_ne!(
                phrkit::fhir::compartment::patient_of(r).as_deref(),
                Some(them)
            );
        }
        let n = lines(&text).len();
        assert_eq!(
            n,
            1 + 1 + 1 + 3 + 4,
            "{me}: cover, patient, provenance, 3 shared, 4 clinical"
        );
    }
}

#[test]
fn unknown_or_missing_patient_is_a_clear_error() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&record()));
    let req = ExportRequest::from_params([("patient", "Patient/nobody")]).unwrap();
    assert!(
        matches!(s.export(&req, &mut Vec::new(), &NoProgress), Err(Error::NotFound(m)) if m.contains("patient"))
    );
    let (_d, empty) = store();
    assert!(matches!(
        empty.export(&ExportRequest::default(), &mut Vec::new(), &NoProgress),
        Err(Error::NotFound(_))
    ));
}

fn dated() -> Vec<Value> {
    let obs = |id: &str, when: Value| {
        let mut o = json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}});
        o.as_object_mut()
            .unwrap()
            .extend(when.as_object().unwrap().clone());
        o
    };
    vec![
        json!({"resourceType": "Patient", "id": "p1"}),
        json!({"resourceType": "Practitioner", "id": "dr"}),
        obs(
            "tz-in",
            json!({"effectiveDateTime": "2009-12-31T23:30:00-02:00", "performer": [{"reference": "Practitioner/dr"}]}),
        ),
        obs(
            "tz-out",
            json!({"effectiveDateTime": "2010-01-01T00:30:00+01:00"}),
        ),
        obs(
            "straddle-start",
            json!({"effectivePeriod": {"start": "2009-06-01", "end": "2010-02-01"}}),
        ),
        obs("open", json!({"effectivePeriod": {"start": "2005-01-01"}})),
        obs(
            "before",
            json!({"effectivePeriod": {"start": "2001", "end": "2009-12-31"}}),
        ),
        obs(
            "last-second",
            json!({"effectiveDateTime": "2020-06-30T23:59:59Z"}),
        ),
        obs(
            "after",
            json!({"effectiveDateTime": "2020-07-01T00:00:00Z"}),
        ),
        obs("month", json!({"effectiveDateTime": "2020-06"})),
        obs("year", json!({"effectiveDateTime": "2020"})),
        obs("undated", json!({})),
    ]
}

fn selected(s: &Store, params: &[(&str, &str)]) -> Vec<String> {
    let (text, _) = export(s, &[params, &[("outputFormat", "ndjson")]].concat());
    let mut v: Vec<String> = lines(&text)
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn partial_dates_are_inclusive_by_precision_and_respect_timezones() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&dated()));
    assert_eq!(
        selected(&s, &[("start", "2010"), ("end", "2020-06")]),
        [
            "last-second",
            "month",
            "open",
            "straddle-start",
            "tz-in",
            "undated",
            "year"
        ]
    );
    assert_eq!(
        selected(&s, &[("start", "2020-06-30")]),
        ["after", "last-second", "month", "open", "undated", "year"]
    );
    assert_eq!(
        selected(&s, &[("end", "2009")]),
        ["before", "open", "straddle-start", "tz-out", "undated"]
    );
    assert_eq!(
        selected(
            &s,
            &[
                ("start", "2020-06-30T23:59:59.500Z"),
                ("end", "2020-07-01T00:00:00Z")
            ]
        ),
        ["after", "last-second", "month", "open", "undated", "year"]
    );
    let (text, _) = export(&s, &[("start", "2030"), ("outputFormat", "ndjson")]);
    let kept = ids(&lines(&text));
    assert!(
        kept.contains(&"Patient/p1".to_string())
            && kept.iter().any(|k| k.starts_with("Provenance/")),
        "undated and provenance stay: {kept:?}"
    );
    assert!(
        !kept.contains(&"Practitioner/dr".to_string()),
        "shared resources only when referenced by the selection"
    );
}

#[test]
fn type_and_since_filters() {
    let (_d, mut s) = store();
    import_default(&mut s, &ndjson(&record()));
    let (text, _) = export(
        &s,
        &[
            ("_type", "Observation,Practitioner"),
            ("outputFormat", "ndjson"),
        ],
    );
    let kinds: BTreeSet<String> = lines(&text)
        .iter()
        .map(|r| r["resourceType"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["Composition", "Observation", "Patient", "Practitioner"]
            .map(String::from)
            .into()
    );
    let later = phrkit::fhir::date::format_instant(phrkit::fhir::date::now_ms() + 60_000);
    let (text, _) = export(&s, &[("_since", &later), ("outputFormat", "ndjson")]);
    assert_eq!(
        ids(&lines(&text)[1..]),
        ["Patient/p1"],
        "nothing changed since; the Patient always comes"
    );
    let mut o = record()[6].clone();
    o["status"] = json!("amended");
    let before_update = phrkit::fhir::date::format_instant(phrkit::fhir::date::now_ms());
    std::thread::sleep(std::time::Duration::from_millis(5));
    import(
        &mut s,
        "update.phr",
        &ndjson(&[o]),
        &phrkit::ImportOptions {
            conflict: phrkit::ConflictPolicy::Replace,
            ..Default::default()
        },
    );
    let (text, _) = export(
        &s,
        &[("_since", &before_update), ("outputFormat", "ndjson")],
    );
    let got = ids(&lines(&text)[1..]);
    assert!(
        got.contains(&"Observation/o2".to_string()) && !got.contains(&"Observation/o1".to_string()),
        "{got:?}"
    );
}

#[test]
fn capability_statement_is_valid_and_advertises_the_operations() {
    let table = phrkit::fhir::clinical::documented_table();
    let cs = phrkit::capability::capability_statement(&phrkit::capability::CapabilityOptions {
        software_version: "0.1.0",
        base_url: None,
        date: "2026-11-26",
        clinical_dates: &table,
    });
    assert_eq!(schema().validate(&cs), vec![]);
    common::oracle::assert_schema_valid(&cs, "the CapabilityStatement");
    assert_eq!(cs["rest"][0]["mode"], "server");
    let ops: Vec<(&str, &str)> = cs["rest"][0]["operation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap(),
                o["definition"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            (
                "phr-export",
                "http://hl7.org/fhir/uv/phr/OperationDefinition/phr-export"
            ),
            (
                "import",
                "http://hl7.org/fhir/uv/phr/OperationDefinition/phr-import"
            )
        ]
    );
    for op in [
        phrkit::capability::phr_export_operation(),
        phrkit::capability::phr_import_operation(),
    ] {
        assert_eq!(schema().validate(&op), vec![]);
        common::oracle::assert_schema_valid(&op, "an OperationDefinition");
    }
    let op = phrkit::capability::phr_export_operation();
    let export_params: Vec<&str> = op["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["outputFormat", "patient", "start", "end", "_since", "_type"] {
        assert!(export_params.contains(&p), "{p}");
    }
}
