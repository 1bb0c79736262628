//! Link states: expiry, revocation and reactivation, management authentication, and the
//! polling limit.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{fake_jwe, host, host_with};
use serde_json::json;
use ureq::http::Method;

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn expired_link_is_not_found() {
    let host = host();
    let expired = host.create(json!({ "exp": now_s() - 10 }));
    host.upload(&expired, "application/fhir+json", &fake_jwe(300, 1));
    assert_eq!(host.manifest(&expired, "A").status, 404);

    let current = host.create(json!({ "exp": now_s() + 3600 }));
    host.upload(&current, "application/fhir+json", &fake_jwe(300, 1));
    assert_eq!(host.manifest(&current, "A").status, 200);

    // The owner can extend it.
    let put = host.manage(
        Method::PUT,
        &expired.url,
        &expired,
        Some(&json!({ "exp": now_s() + 60 })),
    );
    assert_eq!(put.status, 200);
    assert_eq!(host.manifest(&expired, "A").status, 200);
}

#[test]
fn revoked_link_is_not_found_and_put_reactivates_it() {
    let host = host();
    let link = host.create(json!({}));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 2));
    let location_reply = host.post_json(
        &link.url,
        &json!({ "recipient": "A", "embeddedLengthMax": 0 }),
    );
    let location = location_reply.json()["files"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = host.manage(Method::DELETE, &link.url, &link, None);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["active"], false);
    assert_eq!(host.manifest(&link, "A").status, 404);
    assert_eq!(
        host.get(&location).status,
        404,
        "outstanding tickets die with the link"
    );

    let put = host.manage(
        Method::PUT,
        &link.url,
        &link,
        Some(&json!({ "label": "again" })),
    );
    assert_eq!(put.status, 200);
    assert_eq!(put.json()["active"], true);
    assert_eq!(host.manifest(&link, "A").status, 200);
}

#[test]
fn management_needs_the_right_token() {
    let host = host();
    let link = host.create(json!({}));
    let other = host.create(json!({}));
    let file_url = format!("{}/file", link.url);
    let accesses_url = format!("{}/accesses", link.url);
    let jwe = fake_jwe(300, 3);

    let cases: [(Method, &str, Option<&str>); 4] = [
        (Method::POST, &file_url, Some(&jwe)),
        (Method::PUT, &link.url, Some("{}")),
        (Method::DELETE, &link.url, None),
        (Method::GET, &accesses_url, None),
    ];
    for (method, url, body) in cases {
        for auth in [
            None,
            Some(format!("Bearer {}", other.token)),
            Some(link.token.clone()),
        ] {
            let mut headers = vec![("content-type", "application/fhir+json")];
            if let Some(auth) = &auth {
                headers.push(("authorization", auth.as_str()));
            }
            let reply = host.send(method.clone(), url, &headers, body);
            assert_eq!(reply.status, 401, "{method} {auth:?}");
            assert!(reply.json()["error"].is_string());
        }
    }
    assert_eq!(host.manifest(&link, "A").status, 200, "nothing was revoked");

    let unknown = format!("{}/api/shl/{}", host.base(), "A".repeat(43));
    let auth = format!("Bearer {}", link.token);
    let reply = host.send(Method::DELETE, &unknown, &[("authorization", &auth)], None);
    assert_eq!(reply.status, 404);
}

#[test]
fn rapid_polling_gets_429_with_retry_after() {
    let host = host_with(|c| c.poll_interval = Duration::from_secs(30));
    let link = host.create(json!({ "flag": "L" }));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 4));
    assert_eq!(host.manifest(&link, "Poller").status, 200);
    let reply = host.manifest(&link, "Poller");
    assert_eq!(reply.status, 429);
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(host.manifest(&link, "Someone else").status, 200);
}

#[test]
fn polling_limit_admits_requests_after_the_interval() {
    // Long enough that two back-to-back requests fall inside it even on a loaded machine.
    let host = host_with(|c| c.poll_interval = Duration::from_millis(1500));
    let link = host.create(json!({ "flag": "L" }));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 5));
    assert_eq!(host.manifest(&link, "Poller").status, 200);
    let reply = host.manifest(&link, "Poller");
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("2"));
    std::thread::sleep(Duration::from_millis(1550));
    assert_eq!(host.manifest(&link, "Poller").status, 200);
}
