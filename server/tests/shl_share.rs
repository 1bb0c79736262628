//! The share flow end to end through a real host on loopback: phrkit's core shares (build,
//! encrypt, upload, link) and opens (manifest, passcode, files, decrypt, import).

mod common;

use common::host;
use phrkit::ImportOptions;
use phrkit::net::reach::Reach;
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::shl::ShlError;
use phrkit::shl::content::ShareProfile;
use phrkit::shl::link::ShlPayload;
use phrkit::shl::share::{ShareOptions, accesses, open_link, revoke};
use phrkit::{Error, Store};
use serde_json::Value;

fn record() -> (tempfile::TempDir, Store) {
    common::generated_store(600, 5)
}

fn bundle(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn emergency_summary_with_passcode_reaches_the_pharmacy() {
    let h = host();
    let (_d, phone) = record();
    let mut opts = h.share_options(ShareProfile::Emergency);
    opts.passcode = Some(Secret::new("4321"));
    opts.exp = Some(phrkit::fhir::date::now_ms() / 1000 + 3600);
    let link = phone.share(&opts).unwrap();
    let payload = ShlPayload::decode(link.uri.expose()).unwrap();
    assert_eq!(payload.flag.as_deref(), Some("P"));
    assert_eq!(payload.label.as_deref(), Some("Emergency patient summary"));
    assert!(
        !format!("{link:?}").contains(&payload.key),
        "Debug never shows the link or key"
    );

    match open_link(link.uri.expose(), "City Pharmacy", None, Reach::Local) {
        Err(Error::Shl(ShlError::PasscodeRequired { .. })) => {}
        other => panic!("{other:?}"),
    }
    match open_link(
        link.uri.expose(),
        "City Pharmacy",
        Some(&Secret::new("0000")),
        Reach::Local,
    ) {
        Err(Error::Shl(ShlError::PasscodeWrong {
            remaining_attempts: Some(4),
        })) => {}
        other => panic!("{other:?}"),
    }
    let received = open_link(
        link.uri.expose(),
        "City Pharmacy",
        Some(&Secret::new("4321")),
        Reach::Local,
    )
    .unwrap();
    assert_eq!(received.files.len(), 1);
    let ips = bundle(&received.files[0].bytes);
    assert_eq!(ips["type"], "document");
    let composition = &ips["entry"][0]["resource"];
    assert_eq!(composition["type"]["coding"][0]["code"], "60591-5");
    let codes: Vec<&str> = composition["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "48765-2", "10160-0", "11450-4", "11369-6", "30954-2", "47519-4"
        ]
    );
    assert_eq!(
        phrkit::fhir::validate::schema().validate(&ips),
        vec![],
        "the IPS Bundle is valid FHIR"
    );

    let dir = tempfile::tempdir().unwrap();
    let pharmacy = Store::open(dir.path().join("pharmacy.db")).unwrap();
    let report = pharmacy
        .import_received(&received, &ImportOptions::default(), &NoProgress)
        .unwrap();
    assert!(report.totals().created > 10, "{}", report.summary());
    assert_eq!(report.totals().rejected, 0);
    assert!(
        report.sources[0].name.contains(&h.server.base_url)
            && report.sources[0].name.contains("Emergency patient summary")
    );
    assert!(!report.sources[0].name.contains(&payload.key));

    let seen = phone.sync_accesses(&link).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].recipient, "City Pharmacy");
    phone.sync_accesses(&link).unwrap();
    phone.revoke_link(&link).unwrap();
    let log = phone.access_log(None).unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["share-revoked", "link-accessed", "share-created"],
        "one entry each; syncing twice adds nothing"
    );
    assert_eq!(log[1].who, "City Pharmacy");
    assert!(
        log.iter()
            .all(|e| !e.description.contains(&payload.key) && !e.description.contains(&link.id)),
        "no key or link id in the log"
    );
    assert!(
        accesses(&link).is_ok() && revoke(&link).is_ok(),
        "the unlogged calls still work"
    );
    assert!(matches!(
        open_link(
            link.uri.expose(),
            "City Pharmacy",
            Some(&Secret::new("4321")),
            Reach::Local
        ),
        Err(Error::Shl(ShlError::LinkGone))
    ));
}

#[test]
fn each_profile_shares_what_its_reader_needs() {
    let h = host();
    let (_d, phone) = record();
    for (profile, wanted) in [
        (
            ShareProfile::Pharmacy,
            vec!["Patient", "AllergyIntolerance"],
        ),
        (ShareProfile::Travel, vec!["Patient", "Immunization"]),
        (
            ShareProfile::Referral,
            vec!["Patient", "Condition", "Observation"],
        ),
        (
            ShareProfile::Full,
            vec!["Composition", "Patient", "Encounter", "DocumentReference"],
        ),
        (
            ShareProfile::Custom {
                types: vec!["Immunization".into()],
                start: Some("2010".into()),
                end: None,
            },
            vec!["Composition", "Patient", "Immunization"],
        ),
    ] {
        let link = phone.share(&h.share_options(profile.clone())).unwrap();
        let got = open_link(link.uri.expose(), "Travel clinic", None, Reach::Local).unwrap();
        let b = bundle(&got.files[0].bytes);
        let types: Vec<&str> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        for w in &wanted {
            assert!(types.contains(w), "{profile:?}: {w} missing from {types:?}");
        }
        if profile == ShareProfile::Travel {
            assert!(
                types.iter().all(|t| [
                    "Patient",
                    "Immunization",
                    "AllergyIntolerance",
                    "Practitioner",
                    "Organization",
                    "Location"
                ]
                .contains(t)),
                "{types:?}"
            );
        }
    }
}

#[test]
fn a_direct_file_link_and_an_included_sphr() {
    let h = host();
    let (_d, phone) = record();
    let mut direct = h.share_options(ShareProfile::Pharmacy);
    direct.direct_file = true;
    let link = phone.share(&direct).unwrap();
    assert_eq!(
        ShlPayload::decode(link.uri.expose())
            .unwrap()
            .flag
            .as_deref(),
        Some("U")
    );
    assert_eq!(
        open_link(link.uri.expose(), "Pharmacy", None, Reach::Local)
            .unwrap()
            .files
            .len(),
        1
    );
    direct.passcode = Some(Secret::new("1"));
    assert!(
        matches!(phone.share(&direct), Err(Error::InvalidParameter { .. })),
        "U with P is refused"
    );

    let mut with_sphr = h.share_options(ShareProfile::Emergency);
    with_sphr.include_sphr = true;
    let link = phone.share(&with_sphr).unwrap();
    let received = open_link(link.uri.expose(), "ER", None, Reach::Local).unwrap();
    assert_eq!(received.files.len(), 2);
    assert_eq!(bundle(&received.files[1].bytes)["resourceType"], "Binary");
    let dir = tempfile::tempdir().unwrap();
    let er = Store::open(dir.path().join("er.db")).unwrap();
    let report = er
        .import_received(&received, &ImportOptions::default(), &NoProgress)
        .unwrap();
    assert_eq!(report.totals().rejected, 0);
    assert_eq!(
        er.stats().unwrap().documents,
        phone.stats().unwrap().documents,
        "the .sphr brought the documents"
    );
    assert!(
        er.count(Some("Encounter")).unwrap() > 0,
        "the whole record came with the .sphr"
    );
}

#[test]
fn a_viewer_must_be_https() {
    let (_d, phone) = record();
    let mut opts = ShareOptions::new("http://127.0.0.1:9", ShareProfile::Travel);
    opts.viewer = Some("javascript:alert(1)".into());
    match phone.share(&opts) {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "viewer"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expired_and_insecure_links_fail_before_any_request() {
    let expired = ShlPayload {
        url: "https://shl.example.org/api/shl/abc".into(),
        key: phrkit::shl::link::generate_key(),
        flag: None,
        label: None,
        exp: Some(1),
        v: None,
    };
    assert!(matches!(
        open_link(&expired.encode(), "me", None, Reach::Local),
        Err(Error::Shl(ShlError::LinkExpired))
    ));
    let mut plain = expired;
    plain.url = "http://shl.example.org/api/shl/abc".into();
    plain.exp = None;
    assert!(matches!(
        open_link(&plain.encode(), "me", None, Reach::Local),
        Err(Error::Shl(ShlError::Insecure))
    ));
}

#[test]
fn a_cancelled_share_revokes_its_link_and_logs_nothing() {
    use phrkit::progress::{Phase, Progress};
    use std::sync::Mutex;
    let h = host();
    let (_d, phone) = record();
    let mut opts = h.share_options(ShareProfile::Full);
    opts.include_sphr = true;
    let links = || -> (i64, i64) {
        let db = rusqlite::Connection::open(h.dir.path().join("data/shl.sqlite")).unwrap();
        db.query_row(
            "SELECT count(*), coalesce(sum(revoked), 0) FROM link",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };

    // A share that runs to the end reports every file, then logs itself.
    let seen = Mutex::new(Vec::new());
    let record_steps = |p: &Progress| {
        assert_eq!(p.phase, Phase::Sharing);
        seen.lock().unwrap().push((p.resources, p.total_resources));
        true
    };
    phone.share_with_progress(&opts, &record_steps).unwrap();
    assert_eq!(
        seen.into_inner().unwrap(),
        vec![(0, Some(2)), (1, Some(2)), (2, Some(2))],
        "created, then each of the bundle and the .sphr"
    );
    assert_eq!(links(), (1, 0));
    let logged = phone.access_log(None).unwrap().len();

    // Cancelled once the link exists and one file is up: the host revokes it.
    let cancel_after_one = |p: &Progress| p.resources < 1;
    match phone.share_with_progress(&opts, &cancel_after_one) {
        Err(Error::Cancelled) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(links(), (2, 1), "the cancelled share's link is revoked");
    assert_eq!(
        phone.access_log(None).unwrap().len(),
        logged,
        "a cancelled share is not in the access log"
    );
}
