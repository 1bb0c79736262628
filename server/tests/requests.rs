//! Request validation and the headers every answer carries.

mod common;

use common::{fake_jwe, host, host_with};
use serde_json::json;
use ureq::http::Method;

#[test]
fn manifest_without_recipient_is_400() {
    let host = host();
    let link = host.create(json!({}));
    for body in [
        json!({}),
        json!({ "recipient": "" }),
        json!({ "passcode": "x" }),
    ] {
        let reply = host.post_json(&link.url, &body);
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.json()["error"].is_string());
    }
    let reply = host.send(
        Method::POST,
        &link.url,
        &[("content-type", "application/json")],
        Some("not json"),
    );
    assert_eq!(reply.status, 400);
}

#[test]
fn unknown_link_is_404() {
    let host = host();
    let url = format!("{}/api/shl/{}", host.base(), "x".repeat(43));
    assert_eq!(
        host.post_json(&url, &json!({ "recipient": "A" })).status,
        404
    );
    assert_eq!(
        host.get(&format!("{url}/file/{}?ticket=t", "y".repeat(43)))
            .status,
        404
    );
}

#[test]
fn uploads_must_be_jwe_of_an_shl_content_type() {
    let host = host();
    let link = host.create(json!({}));
    let jwe = fake_jwe(300, 1);
    for bad in [
        "{\"resourceType\":\"Bundle\"}",
        "eyJhbGciOiJFUzI1NiJ9.cGF5bG9hZA.c2ln",
        "",
        "a.b.c.d.e==",
    ] {
        let reply = host.upload(&link, "application/fhir+json", bad);
        assert_eq!(reply.status, 400, "{bad:?}");
    }
    for content_type in ["application/json", "text/plain", "application/jose"] {
        assert_eq!(
            host.upload(&link, content_type, &jwe).status,
            415,
            "{content_type}"
        );
    }
    let reply = host.upload(&link, "application/fhir+json; charset=utf-8", &jwe);
    assert_eq!(reply.status, 200);
    let manifest = host.manifest(&link, "A").json();
    assert_eq!(manifest["files"][0]["contentType"], "application/fhir+json");
}

#[test]
fn upload_over_the_limit_is_413() {
    let host = host_with(|c| c.max_upload = 1000);
    let link = host.create(json!({}));
    assert_eq!(
        host.upload(&link, "application/fhir+json", &fake_jwe(900, 1))
            .status,
        200
    );
    let reply = host.upload(&link, "application/fhir+json", &fake_jwe(5000, 1));
    assert_eq!(reply.status, 413);
}

#[test]
fn create_rejects_bad_options() {
    let host = host();
    for body in [
        json!({ "flag": "P" }),
        json!({ "flag": "U", "passcode": "1" }),
        json!({ "flag": "LPU", "passcode": "1" }),
        json!({ "flag": "L", "passcode": "1" }),
        json!({ "label": "x".repeat(81) }),
        json!({ "maxAttempts": 0 }),
        json!({ "passcode": "" }),
    ] {
        assert_eq!(host.create_reply(&body).status, 400, "{body}");
    }
}

#[test]
fn public_routes_send_cors_and_no_store_and_management_routes_no_cors() {
    let host = host();
    let link = host.create(json!({}));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 2));
    let u_link = host.create(json!({ "flag": "U" }));
    host.upload(&u_link, "application/fhir+json", &fake_jwe(300, 3));
    let location = host
        .post_json(
            &link.url,
            &json!({ "recipient": "A", "embeddedLengthMax": 0 }),
        )
        .json()["files"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();

    let replies = [
        ("manifest", host.manifest(&link, "B")),
        ("file", host.get(&location)),
        ("U get", host.get(&u_link.url)),
        ("404", host.manifest(&host.create(json!({ "exp": 1 })), "A")),
        (
            "preflight",
            host.send(
                Method::OPTIONS,
                &link.url,
                &[
                    ("origin", "https://viewer.example.org"),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                None,
            ),
        ),
        (
            "file preflight",
            host.send(
                Method::OPTIONS,
                &location,
                &[("origin", "https://viewer.example.org")],
                None,
            ),
        ),
    ];
    for (name, reply) in &replies {
        assert!(reply.status < 500, "{name}: {}", reply.status);
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{name}"
        );
    }
    for (_, preflight) in &replies[4..6] {
        assert_eq!(preflight.status, 204);
        let methods = preflight.header("access-control-allow-methods").unwrap();
        for method in ["GET", "POST", "OPTIONS"] {
            assert!(methods.contains(method), "{methods}");
        }
        let headers = preflight.header("access-control-allow-headers").unwrap();
        assert!(headers.to_ascii_lowercase().contains("content-type"));
    }
    // Management answers say nothing to CORS: a page on another origin cannot read them, and
    // its preflight for a management call gets no permission.
    let management = [
        host.manage(Method::GET, &format!("{}/accesses", link.url), &link, None),
        host.create_reply(&json!({})),
        host.send(
            Method::OPTIONS,
            &format!("{}/accesses", link.url),
            &[
                ("origin", "https://viewer.example.org"),
                ("access-control-request-method", "GET"),
            ],
            None,
        ),
    ];
    for reply in &management {
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("access-control-allow-origin"), None);
    }
}
