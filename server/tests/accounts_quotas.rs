//! Who may create links, and how much they may store: an account token is required, and
//! quotas per link and per account refuse what would pass them with nothing stored — also when
//! uploads race for the last bytes.

mod common;

use std::path::Path;

use common::{ACCOUNT_TOKEN, Host, fake_jwe, host_with};
use phrkit_server::{Account, ApiToken, Quotas};
use serde_json::json;
use ureq::http::Method;

/// A second account on the test host.
const OTHER_TOKEN: &str = "other-account-token-of-at-least-32-characters";

fn with_quotas(quotas: Quotas) -> Host {
    host_with(|config| {
        config.quotas = quotas;
        config
            .accounts
            .push(Account::new("other", ApiToken::new(OTHER_TOKEN).unwrap()).unwrap());
    })
}

/// Uploads a fake JWE of `len` bytes (`seed` varies its content) and returns the status.
fn put(host: &Host, link: &common::Link, len: usize, seed: u8) -> u16 {
    host.upload(link, "application/fhir+json", &fake_jwe(len, seed))
        .status
}

/// How many files the link's manifest lists.
fn listed(host: &Host, link: &common::Link) -> usize {
    host.manifest(link, "A").json()["files"]
        .as_array()
        .map_or(0, Vec::len)
}

/// Blob files on disk (what the host stored, whoever it belongs to).
fn blobs(host: &Host) -> usize {
    let dir = host.dir.path().join("data").join(phrkit_server::BLOB_DIR);
    std::fs::read_dir(Path::new(&dir)).unwrap().count()
}

#[test]
fn creating_a_link_needs_an_account_token() {
    let host = with_quotas(Quotas::default());
    let url = format!("{}/api/shl", host.base());
    let without = host.post_json(&url, &json!({}));
    assert_eq!(without.status, 401, "{}", without.body);
    assert!(
        without.json()["error"]
            .as_str()
            .unwrap()
            .contains("account token")
    );
    for wrong in [
        "Bearer not-the-token-of-any-account-at-all-000000",
        &format!("Bearer {}", &ACCOUNT_TOKEN[..ACCOUNT_TOKEN.len() - 1]),
        &format!("Basic {ACCOUNT_TOKEN}"),
    ] {
        let reply = host.send(
            Method::POST,
            &url,
            &[
                ("content-type", "application/json"),
                ("authorization", wrong),
            ],
            Some("{}"),
        );
        assert_eq!(reply.status, 401, "{wrong}: {}", reply.body);
    }
    // A host with no accounts at all creates nothing.
    let closed = host_with(|config| config.accounts.clear());
    assert_eq!(closed.create_reply(&json!({})).status, 401);
    // Both accounts may; a link's management token still manages only that link.
    assert_eq!(host.create_reply_as(ACCOUNT_TOKEN, &json!({})).status, 201);
    assert_eq!(host.create_reply_as(OTHER_TOKEN, &json!({})).status, 201);
}

#[test]
fn an_upload_past_a_link_quota_is_refused_and_nothing_is_stored() {
    let host = with_quotas(Quotas {
        files_per_link: 3,
        bytes_per_link: 10_000,
        ..Quotas::default()
    });
    let link = host.create(json!({}));
    assert_eq!(put(&host, &link, 6_000, 1), 200);
    // The same file again adds nothing, so it fits.
    assert_eq!(put(&host, &link, 6_000, 1), 200);
    let over = host.upload(&link, "application/fhir+json", &fake_jwe(6_000, 2));
    assert_eq!(over.status, 403, "{}", over.body);
    assert!(over.json()["error"].as_str().unwrap().contains("quota"));
    assert_eq!(blobs(&host), 1, "the refused file was not written");
    assert_eq!(listed(&host, &link), 1);

    let small = host.create(json!({}));
    for seed in 1..=3 {
        assert_eq!(put(&host, &small, 300, seed), 200);
    }
    assert_eq!(put(&host, &small, 300, 9), 403);
    assert_eq!(listed(&host, &small), 3);

    // A direct-file (U) link holds one file: a new one replaces it, counts alone, and the
    // replaced one leaves the disk.
    let stored = blobs(&host);
    let direct = host.create(json!({ "flag": "U" }));
    for seed in 1..=3 {
        assert_eq!(put(&host, &direct, 6_000, seed), 200, "file {seed}");
    }
    let served = host.get(&format!("{}?recipient=A", direct.url));
    assert_eq!(
        served.body,
        fake_jwe(6_000, 3),
        "the newest file is the one served"
    );
    assert_eq!(blobs(&host), stored + 1, "replaced files are deleted");
}

#[test]
fn an_account_quota_covers_all_its_links_and_no_other_account() {
    let host = with_quotas(Quotas {
        bytes_per_account: 15_000,
        live_links_per_account: 3,
        ..Quotas::default()
    });
    let first = host.create(json!({}));
    let second = host.create(json!({}));
    assert_eq!(put(&host, &first, 7_000, 1), 200);
    assert_eq!(put(&host, &second, 7_000, 2), 200);
    let over = host.upload(&second, "application/fhir+json", &fake_jwe(2_000, 3));
    assert_eq!(over.status, 403, "{}", over.body);
    assert!(over.json()["error"].as_str().unwrap().contains("account"));

    // The other account has its own budget.
    let theirs = host.create_as(OTHER_TOKEN, json!({}));
    assert_eq!(put(&host, &theirs, 9_000, 4), 200);

    // Live links: the third is the last; revoking one frees a place, and revoked links'
    // files still count (they are kept so the link can be reactivated).
    assert_eq!(host.create_reply(&json!({})).status, 201);
    let refused = host.create_reply(&json!({}));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        host.manage(Method::DELETE, &first.url, &first, None).status,
        200
    );
    assert_eq!(host.create_reply(&json!({})).status, 201);
    assert_eq!(put(&host, &second, 2_000, 3), 403);
}

#[test]
fn uploads_racing_for_the_last_bytes_of_an_account_pass_it_not_once() {
    let host = with_quotas(Quotas {
        bytes_per_account: 20_000,
        ..Quotas::default()
    });
    let links: Vec<common::Link> = (0..8).map(|_| host.create(json!({}))).collect();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = links
            .iter()
            .enumerate()
            .map(|(n, link)| {
                let host = &host;
                scope.spawn(move || put(host, link, 6_000, u8::try_from(n).unwrap()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stored = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(
        stored, 3,
        "20,000 bytes hold three 6,000-byte files: {statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 403).count(), 5);
    assert_eq!(blobs(&host), 3);
}
