//! Passcodes: a lifetime attempt counter that stays exact under parallel guesses, and no
//! passcode in clear anywhere in the data folder.

mod common;

use std::sync::Arc;

use common::{Host, fake_jwe, host};
use serde_json::json;
use ureq::http::Method;

#[test]
fn parallel_wrong_guesses_never_exceed_the_allowance() {
    let host = Arc::new(host());
    let link = Arc::new(host.create(json!({ "passcode": "correct horse", "maxAttempts": 5 })));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 1));

    let threads: Vec<_> = (0..20)
        .map(|i| {
            let (host, link) = (Arc::clone(&host), Arc::clone(&link));
            std::thread::spawn(move || {
                host.post_json(
                    &link.url,
                    &json!({ "recipient": format!("guesser {i}"), "passcode": format!("wrong {i}") }),
                )
            })
        })
        .collect();
    let replies: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let mut remaining: Vec<i64> = replies
        .iter()
        .filter(|r| r.status == 401)
        .map(|r| r.json()["remainingAttempts"].as_i64().unwrap())
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, [0, 1, 2, 3, 4]);
    assert_eq!(replies.iter().filter(|r| r.status == 404).count(), 15);

    let right = host.post_json(
        &link.url,
        &json!({ "recipient": "owner", "passcode": "correct horse" }),
    );
    assert_eq!(right.status, 404, "the link is disabled for good");
}

#[test]
fn right_passcode_works_and_missing_passcode_spends_nothing() {
    let host = host();
    let link = host.create(json!({ "passcode": "1234", "flag": "LP" }));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 2));

    let missing = host.manifest(&link, "A");
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["remainingAttempts"], 5);

    let wrong = host.post_json(&link.url, &json!({ "recipient": "A", "passcode": "0000" }));
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["remainingAttempts"], 4);

    let right = host.post_json(&link.url, &json!({ "recipient": "A", "passcode": "1234" }));
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.json()["files"].as_array().unwrap().len(), 1);
}

#[test]
fn put_refills_attempts_of_a_disabled_link_and_can_change_the_passcode() {
    let host = host();
    let link = host.create(json!({ "passcode": "1234", "maxAttempts": 1 }));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 3));
    let wrong = host.post_json(&link.url, &json!({ "recipient": "A", "passcode": "0" }));
    assert_eq!(wrong.json()["remainingAttempts"], 0);
    let ok = json!({ "recipient": "A", "passcode": "1234" });
    assert_eq!(host.post_json(&link.url, &ok).status, 404);

    let put = host.manage(
        Method::PUT,
        &link.url,
        &link,
        Some(&json!({ "passcode": "5678" })),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let new = json!({ "recipient": "A", "passcode": "5678" });
    assert_eq!(host.post_json(&link.url, &new).status, 200);
    let old = host.post_json(&link.url, &ok);
    assert_eq!(old.status, 401, "the old passcode no longer works");
    assert_eq!(old.json()["remainingAttempts"], 0);
}

#[test]
fn data_folder_never_holds_the_passcode_in_clear() {
    let host = host();
    let passcodes = ["Zebra-Passcode-91", "Second-Secret-77"];
    let link = host.create(json!({ "passcode": passcodes[0] }));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 4));
    host.manage(
        Method::PUT,
        &link.url,
        &link,
        Some(&json!({ "passcode": passcodes[1] })),
    );
    let reply = host.post_json(
        &link.url,
        &json!({ "recipient": "A", "passcode": passcodes[1] }),
    );
    assert_eq!(reply.status, 200);

    let needles: Vec<&str> = passcodes
        .iter()
        .copied()
        .chain([link.id.as_str(), link.token.as_str()])
        .collect();
    assert_clear_of(&host, &needles);
}

/// No file under the data folder (database, WAL, blobs) contains any needle.
fn assert_clear_of(host: &Host, needles: &[&str]) {
    let mut stack = vec![host.dir.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += 1;
        for needle in needles {
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "{} holds a secret in clear", path.display());
        }
    }
    assert!(scanned >= 2, "expected the database and a blob");
}
