//! Privacy by default: the encrypted store, the access log, sensitive data left out unless
//! chosen, and previews.

mod common;

use common::*;
use phrkit::fhir::hash::content_hash;
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::sensitivity::Category;
use phrkit::store::crypto::{StoreKey, decrypt_store, encrypt_store};
use phrkit::{Error, ExportRequest, ImportOptions, Store};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn generated() -> Vec<u8> {
    let mut buf = Vec::new();
    phrkit::generate::generate(
        &phrkit::generate::GenerateOptions {
            patients: 1,
            resources_per_patient: 1500,
            seed: 21,
            ..Default::default()
        },
        &mut buf,
    )
    .unwrap();
    buf
}

fn fill(store: &mut Store) {
    store
        .import(
            vec![ImportSource::from_bytes("gen.phr", generated())],
            &ImportOptions::default(),
            &NoProgress,
        )
        .unwrap();
}

/// Every current resource as (type, id, content hash).
fn contents(store: &Store) -> BTreeSet<(String, String, [u8; 32])> {
    store
        .search(&Default::default())
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.resource_type,
                r.id,
                content_hash(&serde_json::from_str(&r.json).unwrap()),
            )
        })
        .collect()
}

fn file_contains(path: &Path, needle: &str) -> bool {
    let mut hay = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", path.display())) {
        hay.extend(wal);
    }
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const KEY: StoreKey = StoreKey::Raw([7u8; 32]);

#[test]
fn the_encrypted_store_hides_the_record_and_needs_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (plain_path, enc_path) = (dir.path().join("plain.db"), dir.path().join("enc.db"));
    let mut plain = Store::open(&plain_path).unwrap();
    fill(&mut plain);
    let mut enc = Store::open_encrypted(&enc_path, &KEY).unwrap();
    fill(&mut enc);
    let patient = get(&enc, "Patient", &enc.patient_ids().unwrap()[0]);
    let family = patient["name"][0]["family"].as_str().unwrap().to_string();
    let stored = enc.count(None).unwrap();
    drop((plain, enc));
    assert!(
        file_contains(&plain_path, &family),
        "the check can see text in a plain store"
    );
    assert!(
        !file_contains(&enc_path, &family),
        "no resource text in the encrypted file or its WAL"
    );
    assert!(!file_contains(&enc_path, "resourceType"));

    let wrong = StoreKey::Raw([8u8; 32]);
    assert!(matches!(
        Store::open_encrypted(&enc_path, &wrong),
        Err(Error::WrongKey)
    ));
    assert!(matches!(Store::open(&enc_path), Err(Error::KeyRequired)));
    assert!(matches!(
        Store::open_encrypted(&plain_path, &KEY),
        Err(Error::WrongKey)
    ));
    let reopened = Store::open_encrypted(&enc_path, &KEY).unwrap();
    assert_eq!(reopened.count(None).unwrap(), stored);
    assert_eq!(format!("{KEY:?}"), "StoreKey::Raw(<redacted>)");
}

#[test]
fn passphrase_keys_rekeying_and_migration_keep_every_resource() {
    let dir = tempfile::tempdir().unwrap();
    let plain_path = dir.path().join("plain.db");
    let mut plain = Store::open(&plain_path).unwrap();
    fill(&mut plain);
    let before = contents(&plain);
    drop(plain);

    let enc_path = dir.path().join("enc.db");
    encrypt_store(&plain_path, &enc_path, &KEY).unwrap();
    let mut enc = Store::open_encrypted(&enc_path, &KEY).unwrap();
    assert_eq!(contents(&enc), before, "plain → encrypted keeps everything");

    let phrase = StoreKey::Passphrase(Secret::new("correct horse battery staple"));
    enc.rekey(&phrase).unwrap();
    drop(enc);
    assert!(
        matches!(Store::open_encrypted(&enc_path, &KEY), Err(Error::WrongKey)),
        "the old key no longer opens it"
    );
    let enc = Store::open_encrypted(&enc_path, &phrase).unwrap();
    assert_eq!(contents(&enc), before, "rekeying keeps everything");
    drop(enc);

    let back = dir.path().join("back.db");
    decrypt_store(&enc_path, &phrase, &back).unwrap();
    assert_eq!(
        contents(&Store::open(&back).unwrap()),
        before,
        "encrypted → plain keeps everything"
    );
    assert!(
        matches!(
            encrypt_store(&plain_path, &back, &KEY),
            Err(Error::InvalidInput(_))
        ),
        "never overwrites"
    );
}

fn export_ndjson(store: &Store, params: &[(&str, &str)]) -> (Vec<Value>, phrkit::ExportSummary) {
    let req = ExportRequest::from_params([params, &[("outputFormat", "ndjson")]].concat()).unwrap();
    let mut out = Vec::new();
    let summary = store.export(&req, &mut out, &NoProgress).unwrap();
    (
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect(),
        summary,
    )
}

fn is_sensitive(r: &Value) -> bool {
    phrkit::sensitivity::classify(r) != 0
}

#[test]
fn sensitive_resources_stay_home_unless_chosen_and_the_result_says_so() {
    let (_d, mut s) = store();
    fill(&mut s);
    let (default, summary) = export_ndjson(&s, &[]);
    assert!(
        !default.iter().any(is_sensitive),
        "nothing sensitive by default"
    );
    let left_out: u64 = summary.excluded.values().sum();
    assert!(
        left_out > 0,
        "the generator marks some Conditions sensitive"
    );
    assert!(
        summary.excluded.contains_key("restricted"),
        "{:?}",
        summary.excluded
    );

    let (all, summary) = export_ndjson(&s, &[("includeSensitive", "all")]);
    assert!(summary.excluded.is_empty());
    let sensitive = all.iter().filter(|r| is_sensitive(r)).count();
    assert!(sensitive > 0);
    let records = |v: &[Value]| {
        v.iter()
            .filter(|r| r["resourceType"] != "AuditEvent")
            .count()
    };
    assert_eq!(
        records(&all),
        records(&default) + sensitive,
        "opting in adds exactly the left-out resources"
    );

    let (hiv_only, _) = export_ndjson(&s, &[("includeSensitive", "hiv,restricted")]);
    for r in hiv_only.iter().filter(|r| is_sensitive(r)) {
        let cats = phrkit::sensitivity::categories(phrkit::sensitivity::classify(r));
        assert!(
            cats.iter()
                .all(|c| [Category::Hiv, Category::Restricted].contains(c)),
            "{cats:?}"
        );
    }
}

#[test]
fn an_active_consent_sets_the_defaults() {
    let (_d, mut s) = store();
    fill(&mut s);
    let patient = s.patient_ids().unwrap()[0].clone();
    let consent = format!(
        r#"{{"resourceType":"Consent","id":"c1","status":"active","scope":{{"text":"patient privacy"}},"category":[{{"text":"privacy"}}],"patient":{{"reference":"Patient/{patient}"}},"provision":{{"type":"permit","securityLabel":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}},{{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}}]}}}}"#
    );
    let psy = format!(
        r#"{{"resourceType":"Condition","id":"psy1","subject":{{"reference":"Patient/{patient}"}},"code":{{"coding":[{{"system":"http://snomed.info/sct","code":"35489007","display":"Depressive disorder"}}]}},"onsetDateTime":"2015-01-01"}}"#
    );
    let (before, summary) = export_ndjson(&s, &[]);
    assert!(summary.excluded.contains_key("restricted"));
    assert!(!before.iter().any(|r| r["id"] == "psy1"));
    let r = import(
        &mut s,
        "consent.json",
        &format!("{consent}\n{psy}"),
        &ImportOptions::default(),
    );
    assert_eq!(r.totals().created, 2, "{:?}", r.issues);
    let (out, summary) = export_ndjson(&s, &[]);
    assert!(
        !summary.excluded.contains_key("mental-health")
            && !summary.excluded.contains_key("restricted"),
        "{:?}",
        summary.excluded
    );
    assert!(
        out.iter().any(|r| r["id"] == "psy1"),
        "the consented mental-health condition is exported"
    );
}

#[test]
fn every_export_leaves_exactly_one_audit_event_and_the_log_travels() {
    let (_d, mut s) = store();
    fill(&mut s);
    let patient = s.patient_ids().unwrap()[0].clone();
    for (n, format) in ["bundle", "ndjson", "phr", "sphr"].into_iter().enumerate() {
        let mut req = ExportRequest::from_params([("outputFormat", format)]).unwrap();
        req.encrypt = false;
        s.export(&req, &mut Vec::new(), &NoProgress).unwrap();
        let log = s.access_log(Some(&patient)).unwrap();
        assert_eq!(log.len(), n + 1, "one entry per export");
        let newest = &log[0];
        assert_eq!(
            newest.action,
            if format == "sphr" {
                "sphr-export"
            } else {
                "export"
            }
        );
        assert!(
            newest.description.contains(&format!("as {format}"))
                && newest.description.contains("left out as sensitive"),
            "{}",
            newest.description
        );
        let event = get(&s, "AuditEvent", &newest.id);
        assert_eq!(
            event["entity"][0]["what"]["reference"],
            format!("Patient/{patient}")
        );
        assert_eq!(phrkit::fhir::validate::schema().validate(&event), vec![]);
    }
    let before = s.preview_export(&ExportRequest::default()).unwrap();
    assert_eq!(
        s.access_log(None).unwrap().len(),
        4,
        "a preview is not an access"
    );
    assert!(
        before.by_type["AuditEvent"] == 4
            && before.resources > 1000
            && before.earliest < before.latest
    );

    let mut req = ExportRequest::from_params([("outputFormat", "sphr")]).unwrap();
    req.passphrase = Some(Secret::new("pale violet tractor ledger"));
    let mut zip = Vec::new();
    s.export(&req, &mut zip, &NoProgress).unwrap();
    let (_d2, b) = store();
    b.import(
        vec![
            ImportSource::from_bytes("x.sphr", zip)
                .with_passphrase(Some(Secret::new("pale violet tractor ledger"))),
        ],
        &ImportOptions::default(),
        &NoProgress,
    )
    .unwrap();
    let kept: BTreeSet<String> = b
        .access_log(None)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let original: BTreeSet<String> = s
        .access_log(None)
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(original.len(), 5);
    assert_eq!(
        kept.len(),
        4,
        "the four earlier entries travelled in the .sphr (the fifth records that export)"
    );
    assert!(kept.is_subset(&original));
}

#[test]
fn stock_sqlcipher_opens_an_encrypted_store_with_the_documented_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc.db");
    drop(Store::open_encrypted(&path, &KEY).unwrap());
    let raw = format!("x'{}'", "07".repeat(32));
    let count = |hmac: Option<&str>| {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "key", &raw).unwrap();
        if let Some(h) = hmac {
            conn.pragma_update(None, "cipher_hmac_algorithm", h)
                .unwrap();
        }
        conn.query_row("SELECT count(*) FROM resource_version", [], |r| {
            r.get::<_, i64>(0)
        })
    };
    assert_eq!(count(Some("HMAC_SHA256")).unwrap(), 0);
    assert!(
        count(None).is_err(),
        "SQLCipher 4's default HMAC-SHA512 does not verify the pages"
    );
}

#[cfg(unix)]
#[test]
fn store_files_are_readable_by_their_owner_only_even_when_they_existed() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loose.db");
    {
        let mut s = Store::open(&path).unwrap();
        import_default(
            &mut s,
            &ndjson(&[serde_json::json!({"resourceType": "Patient", "id": "p"})]),
        );
    }
    // Someone (a copy, an old version) left the store and its WAL world-readable.
    for f in [path.clone(), dir.path().join("loose.db-wal")] {
        if f.exists() {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let mut s = Store::open(&path).unwrap();
    import_default(
        &mut s,
        &ndjson(&[serde_json::json!({"resourceType": "Patient", "id": "q"})]),
    );
    assert_eq!(mode(&path), 0o600);
    for suffix in ["-wal", "-shm"] {
        let companion = dir.path().join(format!("loose.db{suffix}"));
        assert!(
            companion.exists(),
            "{suffix} exists while the store is open"
        );
        assert_eq!(mode(&companion), 0o600, "{suffix}");
    }
    let copy = dir.path().join("copy.db");
    s.backup_to(&copy).unwrap();
    assert_eq!(mode(&copy), 0o600, "a backup is as private as the store");
}
