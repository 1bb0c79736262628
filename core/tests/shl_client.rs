//! The SHL client against a host that misbehaves: a fake host on 127.0.0.1 answers each
//! request with a canned response. A bad manifest is an error, never "0 files"; the JWE's
//! authenticated content type wins over the manifest's; redirects are not followed; a link
//! reaches this machine only when local hosts are allowed.

use phrkit::net::reach::Reach;
use phrkit::shl::ShlError;
use phrkit::shl::client::{HttpClient, MAX_FILES};
use phrkit::shl::jwe::{Compress, encrypt};
use phrkit::shl::link::ShlPayload;
use std::io::{Read, Write};
use std::net::TcpListener;

/// A host answering every request with `status`, `headers` and `body`; returns its URL.
fn fake_host(status: &'static str, headers: &'static str, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/shl/x", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes());
        }
    });
    url
}

fn payload(url: String) -> ShlPayload {
    ShlPayload {
        url,
        flag: None,
        key: "rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q".into(),
        label: None,
        exp: None,
        v: None,
    }
}

fn fetch(url: String) -> Result<usize, ShlError> {
    HttpClient::new(Reach::Local)
        .fetch_files(&payload(url), "Test", None, 1 << 20)
        .map(|files| files.len())
}

#[test]
fn a_manifest_that_is_not_json_or_lists_no_files_is_an_error() {
    for body in [
        "<html>maintenance</html>",
        "{\"files\":",
        "{}",
        "{\"files\":[{}]}",
    ] {
        let r = fetch(fake_host(
            "200 OK",
            "content-type: application/json\r\n",
            body.into(),
        ));
        assert!(matches!(r, Err(ShlError::BadManifest(_))), "{body}: {r:?}");
    }
    let many = format!(
        "{{\"files\":[{}]}}",
        vec!["{\"contentType\":\"application/fhir+json\",\"embedded\":\"x\"}"; MAX_FILES + 1]
            .join(",")
    );
    let r = fetch(fake_host("200 OK", "", many));
    assert!(matches!(&r, Err(ShlError::BadManifest(m)) if m.contains("files")));
}

#[test]
fn the_files_own_content_type_wins_and_a_contradicting_manifest_is_refused() {
    let key = payload(String::new()).key_bytes().unwrap();
    let jwe = encrypt(
        b"{\"resourceType\":\"Patient\"}",
        &key,
        "application/fhir+json",
        Compress::Never,
    )
    .unwrap();
    let agree = format!(
        "{{\"files\":[{{\"contentType\":\"application/fhir+json\",\"embedded\":\"{jwe}\"}}]}}"
    );
    assert_eq!(fetch(fake_host("200 OK", "", agree)).unwrap(), 1);
    let lie = format!(
        "{{\"files\":[{{\"contentType\":\"application/smart-health-card\",\"embedded\":\"{jwe}\"}}]}}"
    );
    let r = fetch(fake_host("200 OK", "", lie));
    assert!(
        matches!(&r, Err(ShlError::BadManifest(m)) if m.contains("smart-health-card")),
        "{r:?}"
    );
}

#[test]
fn redirects_are_not_followed() {
    let r = fetch(fake_host(
        "302 Found",
        "location: http://example.org/elsewhere\r\n",
        String::new(),
    ));
    assert!(matches!(r, Err(ShlError::Host { status: 302 })), "{r:?}");
}

#[test]
fn a_link_reaches_this_machine_only_in_the_development_setting() {
    let url = fake_host("200 OK", "", "{\"files\":[]}".into());
    let mut served = payload(url.clone());
    // Plain http, https to the same address, and a name for it (a name resolving to a local
    // address is refused by the resolver: module `reach`'s tests).
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    for target in [
        url.clone(),
        format!("https://127.0.0.1:{port}/api/shl/x"),
        format!("https://localhost:{port}/api/shl/x"),
    ] {
        served.url = target.clone();
        let r = HttpClient::new(Reach::Public).fetch_files(&served, "Outsider", None, 1 << 20);
        assert!(matches!(r, Err(ShlError::LocalAddress)), "{target}: {r:?}");
    }
    served.url = url;
    let r = HttpClient::new(Reach::Local).fetch_files(&served, "Developer", None, 1 << 20);
    assert!(matches!(r, Ok(ref files) if files.is_empty()), "{r:?}");
}
