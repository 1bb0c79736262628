//! The FHIR operations' status codes and headers, table-driven; the bearer token; one import
//! at a time; asynchronous imports; validate mode.

mod fhir_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use fhir_common::{Fhir, TOKEN, fhir_host, record};
use phrkit_server::TestHook;
use ureq::http::Method;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<Vec<u8>>,
    status: u16,
    content_type: &'static str,
    file_ext: Option<&'static str>,
}

fn case(name: &'static str, path: &str, status: u16, content_type: &'static str) -> Case {
    Case {
        name,
        method: Method::GET,
        path: path.to_owned(),
        headers: Vec::new(),
        body: None,
        status,
        content_type,
        file_ext: None,
    }
}

impl Case {
    fn with(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
    fn file(mut self, ext: &'static str) -> Self {
        self.file_ext = Some(ext);
        self
    }
    fn post(mut self, body: &[u8]) -> Self {
        self.method = Method::POST;
        self.body = Some(body.to_vec());
        self
    }
}

const FHIR_JSON: &str = "application/fhir+json";
const NDJSON: &str = "application/x-ndjson";

#[test]
fn statuses_and_headers_for_every_format_and_error() {
    let host = fhir_host(300, |c| c.max_import_bytes = 10_000);
    let p = host.patient.clone();
    let params = br#"{"resourceType":"Parameters","parameter":[{"name":"outputFormat","valueCode":"phr"},{"name":"start","valueDate":"2000"}]}"#;
    let sphr_params = br#"{"resourceType":"Parameters","parameter":[{"name":"outputFormat","valueCode":"sphr"},{"name":"passphrase","valueString":"correct horse battery"}]}"#;
    let cases = vec![
        case("default is a Bundle", "/Bundle/$phr-export", 200, FHIR_JSON).file("json"),
        case(
            "bundle",
            "/Bundle/$phr-export?outputFormat=bundle",
            200,
            FHIR_JSON,
        )
        .file("json"),
        case(
            "ndjson",
            "/Bundle/$phr-export?outputFormat=ndjson",
            200,
            NDJSON,
        )
        .file("ndjson"),
        case("phr", "/Bundle/$phr-export?outputFormat=phr", 200, NDJSON).file("phr"),
        case(
            "phr as fhir+ndjson",
            "/Bundle/$phr-export?outputFormat=phr",
            200,
            "application/fhir+ndjson",
        )
        .with("accept", "application/fhir+ndjson")
        .file("phr"),
        case("Accept picks ndjson", "/Bundle/$phr-export", 200, NDJSON)
            .with("accept", "application/x-ndjson")
            .file("ndjson"),
        case(
            "sphr with passphrase",
            "/Bundle/$phr-export?outputFormat=sphr",
            200,
            "application/zip",
        )
        .with("x-phr-passphrase", "correct horse battery")
        .file("sphr"),
        case(
            "sphr generated",
            "/Bundle/$phr-export?outputFormat=sphr",
            200,
            "application/zip",
        )
        .with("x-phr-generate-passphrase", "true")
        .file("sphr"),
        case(
            "sphr plain zip",
            "/Bundle/$phr-export?outputFormat=sphr&encryption=none",
            200,
            "application/zip",
        )
        .file("sphr"),
        case(
            "instance level",
            &format!("/Patient/{p}/$phr-export?outputFormat=ndjson&_type=Observation"),
            200,
            NDJSON,
        )
        .file("ndjson"),
        case("POST Parameters", "/Bundle/$phr-export", 200, NDJSON)
            .with("content-type", FHIR_JSON)
            .post(params)
            .file("phr"),
        case(
            "POST Parameters sphr",
            "/Bundle/$phr-export",
            200,
            "application/zip",
        )
        .with("content-type", FHIR_JSON)
        .post(sphr_params)
        .file("sphr"),
        case(
            "sphr without passphrase",
            "/Bundle/$phr-export?outputFormat=sphr",
            400,
            FHIR_JSON,
        ),
        case(
            "passphrase in the URL",
            "/Bundle/$phr-export?outputFormat=sphr&passphrase=hunter2",
            400,
            FHIR_JSON,
        ),
        case(
            "bad outputFormat",
            "/Bundle/$phr-export?outputFormat=xml",
            400,
            FHIR_JSON,
        ),
        case(
            "bad date",
            "/Bundle/$phr-export?start=2020-13",
            400,
            FHIR_JSON,
        ),
        case(
            "unknown parameter",
            "/Bundle/$phr-export?colour=red",
            400,
            FHIR_JSON,
        ),
        case(
            "unknown patient",
            "/Bundle/$phr-export?patient=Patient/nobody",
            404,
            FHIR_JSON,
        ),
        case(
            "unknown instance",
            "/Patient/nobody/$phr-export",
            404,
            FHIR_JSON,
        ),
        case("not acceptable", "/Bundle/$phr-export", 406, FHIR_JSON)
            .with("accept", "application/xml"),
        case("Parameters as text", "/Bundle/$phr-export", 415, FHIR_JSON)
            .with("content-type", "text/plain")
            .post(b"outputFormat=phr"),
        case("import text/plain", "/Bundle/$import", 415, FHIR_JSON)
            .with("content-type", "text/plain")
            .post(b"{}"),
        case("import without type", "/Bundle/$import", 415, FHIR_JSON).post(b"{}"),
        case(
            "import bad strategy",
            "/Bundle/$import?strategy=overwrite",
            400,
            FHIR_JSON,
        )
        .with("content-type", NDJSON)
        .post(b""),
        case(
            "import unknown parameter",
            "/Bundle/$import?colour=red",
            400,
            FHIR_JSON,
        )
        .with("content-type", NDJSON)
        .post(b""),
        case("import too large", "/Bundle/$import", 413, FHIR_JSON)
            .with("content-type", NDJSON)
            .post(&vec![b' '; 20_000]),
        case("import not FHIR", "/Bundle/$import", 422, FHIR_JSON)
            .with("content-type", NDJSON)
            .post(b"hello, world\n"),
        case("import bad zip", "/Bundle/$import", 422, FHIR_JSON)
            .with("content-type", "application/zip")
            .post(b"PK\x03\x04not really a zip"),
        case("import ok", "/Bundle/$import", 200, FHIR_JSON)
            .with("content-type", "application/fhir+ndjson")
            .post(br#"{"resourceType":"Patient","id":"second","gender":"female"}"#),
        case("unknown job", "/import-jobs/nope", 404, FHIR_JSON),
        case("metadata", "/metadata", 200, FHIR_JSON),
    ];
    for c in cases {
        let reply = host.send(c.method.clone(), &c.path, &c.headers, c.body.clone());
        assert_eq!(reply.status, c.status, "{}: {}", c.name, reply.text());
        let ct = reply.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with(c.content_type),
            "{}: content-type {ct}",
            c.name
        );
        if c.status >= 400 {
            let oo = reply.json();
            assert_eq!(oo["resourceType"], "OperationOutcome", "{}", c.name);
            assert!(
                !reply.text().contains("hunter2"),
                "{}: echoes the passphrase",
                c.name
            );
        }
        if let Some(ext) = c.file_ext {
            assert_eq!(reply.header("x-phr-version"), Some("1.0"), "{}", c.name);
            let cd = reply.header("content-disposition").unwrap_or_default();
            assert!(
                cd.starts_with("attachment; filename=\"") && cd.ends_with(&format!(".{ext}\"")),
                "{}: {cd}",
                c.name
            );
            let generated = c.name == "sphr generated";
            assert_eq!(
                reply.header("x-phr-passphrase").is_some(),
                generated,
                "{}: passphrase header only when generated",
                c.name
            );
            if generated {
                // The generated passphrase opens the archive.
                let dir = tempfile::tempdir().unwrap();
                let store = phrkit::Store::open(dir.path().join("x.db")).unwrap();
                let source = phrkit::import::ImportSource::from_bytes("x.sphr", reply.body.clone())
                    .with_passphrase(Some(phrkit::secret::Secret::new(
                        reply.header("x-phr-passphrase").unwrap(),
                    )));
                let report = store
                    .import(
                        vec![source],
                        &phrkit::ImportOptions::default(),
                        &phrkit::progress::NoProgress,
                    )
                    .unwrap();
                assert!(report.totals().created > 100);
            }
        }
    }
    // Two patients now: `patient` is required.
    let reply = host.get("/Bundle/$phr-export", &[]);
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("patient"));
    // The CapabilityStatement advertises both operations.
    let cs = host.get("/metadata", &[("authorization", "")]).json();
    let ops = cs["rest"][0]["operation"].to_string();
    assert!(ops.contains("phr-export") && ops.contains("phr-import"));
}

#[test]
fn without_the_token_every_operation_answers_401_and_nothing_more() {
    let host = fhir_host(50, |_| {});
    let p = host.patient.clone();
    let ops: Vec<(Method, String)> = vec![
        (Method::GET, "/Bundle/$phr-export".into()),
        (Method::GET, "/Bundle/$phr-export?outputFormat=phr".into()),
        (
            Method::GET,
            "/Bundle/$phr-export?patient=Patient/nobody".into(),
        ),
        (Method::POST, "/Bundle/$phr-export".into()),
        (Method::GET, format!("/Patient/{p}/$phr-export")),
        (Method::GET, "/Patient/nobody/$phr-export".into()),
        (Method::POST, "/Bundle/$import".into()),
        (Method::GET, "/import-jobs/whatever".into()),
    ];
    let wrong = format!("Bearer {}x", TOKEN);
    let auths = [
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        wrong.as_str(),
        "Bearer ",
    ];
    let mut bodies = std::collections::BTreeSet::new();
    for (method, path) in &ops {
        for auth in auths {
            let headers: Vec<(&str, &str)> =
                vec![("authorization", auth), ("content-type", NDJSON)];
            let body = (*method == Method::POST)
                .then(|| b"{\"resourceType\":\"Patient\",\"id\":\"x\"}".to_vec());
            let reply = host.send(method.clone(), path, &headers, body);
            assert_eq!(reply.status, 401, "{method} {path} with {auth:?}");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
            bodies.insert(reply.text());
        }
    }
    assert_eq!(bodies.len(), 1, "every 401 is the same: {bodies:?}");
    let body = bodies.into_iter().next().unwrap();
    assert!(!body.contains(&p) && !body.contains("nobody"), "{body}");
    assert_eq!(
        host.store().count(Some("Patient")).unwrap(),
        1,
        "nothing was imported"
    );
    // /metadata is public by design.
    assert_eq!(host.get("/metadata", &[("authorization", "")]).status, 200);
}

/// Opens an import by hand on a raw socket: headers and the first chunk of a chunked body,
/// flushed, so the server's handler runs (and takes the import lock) while the body stays open.
/// No HTTP client buffering sits between the test and the server.
fn open_held_import(host: &Fhir) -> TcpStream {
    let authority = host
        .base()
        .strip_prefix("http://")
        .expect("the test host is plain http on loopback");
    let mut socket = TcpStream::connect(authority).unwrap();
    let line = b"{\"resourceType\":\"Patient\",\"id\":\"held\"}\n";
    let head = format!(
        "POST /Bundle/$import HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: {NDJSON}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        line.len()
    );
    socket.write_all(head.as_bytes()).unwrap();
    socket.write_all(line).unwrap();
    socket.write_all(b"\r\n").unwrap();
    socket.flush().unwrap();
    socket
}

#[test]
fn a_second_import_waits_its_turn_with_429() {
    let (locked_tx, locked_rx) = mpsc::channel();
    let host = fhir_host(20, move |c| {
        c.import_hook = Some(TestHook(Arc::new(move || {
            let _ = locked_tx.send(());
        })));
    });
    let mut held = open_held_import(&host);
    // The held import has the lock once the hook fires; its body is still open.
    locked_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the held import takes the lock");
    let empty_import = || {
        host.send(
            Method::POST,
            "/Bundle/$import",
            &[("content-type", NDJSON)],
            Some(Vec::new()),
        )
    };
    let busy = empty_import();
    assert_eq!(busy.status, 429, "{}", busy.text());
    assert_eq!(busy.header("retry-after"), Some("5"));
    assert_eq!(busy.json()["issue"][0]["code"], "throttled");
    // End the chunked body; the held import completes and commits.
    held.write_all(b"0\r\n\r\n").unwrap();
    let mut response = String::new();
    held.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(host.store().get("Patient", "held").unwrap().is_some());
    // The lock is free again: the next import runs.
    let after = empty_import();
    assert_eq!(after.status, 200, "{}", after.text());
}

#[test]
fn exports_and_previews_answer_whole_while_an_import_holds_the_writer() {
    let (locked_tx, locked_rx) = mpsc::channel();
    let host = fhir_host(300, move |c| {
        c.import_hook = Some(TestHook(Arc::new(move || {
            let _ = locked_tx.send(());
        })));
    });
    let export_lines = || {
        let reply = host.get("/Bundle/$phr-export?outputFormat=ndjson", &[]);
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.text().lines().count()
    };
    let before = export_lines();
    assert!(before > 300, "{before}");
    let log_before = host.store().access_log(None).unwrap().len();
    let mut held = open_held_import(&host);
    // The hook fires with the import's first progress report: its transaction holds the
    // store's writer, and its body is still open.
    locked_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the held import holds the writer");
    // The whole record as before the import, with the first export's AuditEvent.
    assert_eq!(export_lines(), before + 1);
    let patients = host.get("/Bundle/$phr-export?outputFormat=ndjson&_type=Patient", &[]);
    assert_eq!(patients.status, 200, "{}", patients.text());
    assert_eq!(patients.text().lines().count(), 2, "{}", patients.text());
    // Nothing of the held import is visible yet.
    assert!(host.store().get("Patient", "held").unwrap().is_none());

    held.write_all(b"0\r\n\r\n").unwrap();
    let mut response = String::new();
    held.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(host.store().get("Patient", "held").unwrap().is_some());
    // The exports' access-log entries waited for the writer and were written when the
    // import let go of it.
    let log = host.store().access_log(None).unwrap();
    assert_eq!(log.len(), log_before + 2, "{log:?}");
}

#[test]
fn respond_async_gives_202_then_polling_gives_the_report() {
    let host = fhir_host(0, |_| {});
    let data = record(400, 3);
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    let reply = host.send(
        Method::POST,
        "/Bundle/$import",
        &[("content-type", NDJSON), ("prefer", "respond-async")],
        Some(data),
    );
    assert_eq!(reply.status, 202, "{}", reply.text());
    let location = reply
        .header("content-location")
        .expect("a status URL")
        .to_owned();
    let path = location
        .strip_prefix(host.base())
        .expect("on this server")
        .to_owned();
    assert!(path.starts_with("/import-jobs/"));
    let report = loop {
        let poll = host.get(&path, &[]);
        match poll.status {
            202 => {
                assert!(
                    poll.header("x-progress")
                        .is_some_and(|p| p.starts_with("importing"))
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            200 => break poll.json(),
            other => panic!("unexpected {other}: {}", poll.text()),
        }
    };
    assert_eq!(report["resourceType"], "OperationOutcome");
    let summary = report["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("{lines} created")),
        "{summary}"
    );
    assert!(host.store().count(None).unwrap() >= lines as u64);
    // Polling again gives the same answer.
    assert_eq!(host.get(&path, &[]).json(), report);
}

#[test]
fn validate_mode_commits_nothing() {
    let host = fhir_host(0, |_| {});
    let reply = host.send(
        Method::POST,
        "/Bundle/$import?mode=validate&strategy=merge",
        &[("content-type", NDJSON)],
        Some(record(200, 4)),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("validate only, nothing written"));
    assert_eq!(host.store().count(None).unwrap(), 0);
}

#[test]
fn an_encrypted_store_is_served_with_its_key_and_refused_without() {
    use phrkit::store::crypto::StoreKey;
    let key = StoreKey::Raw([9u8; 32]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let path = data.join(phrkit_server::STORE_FILE);
    let open = || phrkit::Store::open_encrypted(&path, &key).unwrap();
    let report = open()
        .import(
            vec![phrkit::import::ImportSource::from_bytes(
                "record.phr",
                record(30, 3),
            )],
            &phrkit::ImportOptions::default(),
            &phrkit::progress::NoProgress,
        )
        .unwrap();
    assert!(report.committed);
    let patient = open().patient_ids().unwrap().remove(0);

    let token = phrkit_server::ApiToken::new(TOKEN).unwrap();
    let mut keyless = phrkit_server::HostConfig::new(&data);
    keyless.fhir = Some(phrkit_server::FhirConfig::new(&path, token));
    assert!(
        phrkit_server::start(keyless).is_err(),
        "without its key the host does not start on an encrypted store"
    );

    let host = fhir_common::fhir_host_on(dir, patient, |c| c.key = Some(key.clone()));
    let export = host.get("/Bundle/$phr-export?outputFormat=ndjson", &[]);
    assert_eq!(export.status, 200, "{}", export.text());
    assert!(export.text().lines().count() >= 30);
    let import = host.send(
        Method::POST,
        "/Bundle/$import",
        &[("content-type", NDJSON)],
        Some(b"{\"resourceType\":\"Patient\",\"id\":\"served\"}\n".to_vec()),
    );
    assert_eq!(import.status, 200, "{}", import.text());
    let store = phrkit::Store::open_encrypted(
        host.dir.path().join("data").join(phrkit_server::STORE_FILE),
        &key,
    )
    .unwrap();
    assert!(store.get("Patient", "served").unwrap().is_some());
}
