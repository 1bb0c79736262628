//! Streaming for real: the order of events between server and client, a fault mid-export, a
//! connection cut (server side and client side) and the resumed pull, push, and curl.

mod fhir_common;

use std::io::{BufRead, BufReader, Read};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use fhir_common::{TOKEN, fhir_host, fhir_host_on, record};
use phrkit::remote::{RemoteError, pull, push};
use phrkit::{ExportRequest, ImportOptions, Store};
use phrkit_server::{ExportFault, TestHook};

type Events = Arc<Mutex<Vec<String>>>;

fn log(events: &Events, e: &str) {
    events.lock().unwrap().push(e.to_owned());
}

#[test]
fn the_client_parses_the_first_resource_before_the_server_writes_the_last() {
    let events: Events = Arc::default();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let server_events = events.clone();
    let host = fhir_host(3000, move |c| {
        c.export_hook = Some(TestHook(Arc::new(move || {
            log(&server_events, "server: first chunk sent");
            // The export waits here until the client has parsed a resource. A buffered
            // (non-streaming) body would never reach the client, and this would time out.
            match go_rx.lock().unwrap().recv_timeout(Duration::from_secs(30)) {
                Ok(()) => log(&server_events, "server: resumed, writes the rest"),
                Err(_) => log(&server_events, "server: timed out waiting for the client"),
            }
        })));
    });
    let response = host
        .agent
        .get(format!(
            "{}/Bundle/$phr-export?outputFormat=ndjson",
            host.base()
        ))
        .header("authorization", format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("transfer-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("chunked")
    );
    let mut lines = BufReader::new(response.into_body().into_reader()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert!(first["resourceType"].is_string());
    log(&events, "client: parsed the first resource");
    go_tx.send(()).unwrap();
    let mut count = 1;
    let mut last = String::new();
    for line in lines {
        last = line.unwrap();
        count += 1;
    }
    log(&events, "client: end of body");
    assert!(count > 3000, "{count} lines");
    let last: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_ne!(last["resourceType"], "OperationOutcome");
    // The hook runs once the first chunk is handed to the connection, so whether the server
    // or the client logs first is a race; what must hold is that the client parsed a resource
    // while the server was held there, and the rest came only after it was let go.
    let events = events.lock().unwrap().clone();
    let at = |e: &str| events.iter().position(|x| x == e);
    let (sent, parsed) = (
        at("server: first chunk sent"),
        at("client: parsed the first resource"),
    );
    let resumed = at("server: resumed, writes the rest");
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(
        sent.is_some() && parsed.is_some() && resumed.is_some(),
        "{events:?}"
    );
    assert!(sent < resumed && parsed < resumed, "{events:?}");
    assert_eq!(events[3], "client: end of body");
}

#[test]
fn a_fault_mid_export_gives_an_inline_outcome_line_and_a_clean_end() {
    let host = fhir_host(500, |c| {
        c.export_fault = Some(ExportFault {
            after_lines: 120,
            cut_connection: false,
        })
    });
    let reply = host.get("/Bundle/$phr-export?outputFormat=phr", &[]);
    assert_eq!(reply.status, 200);
    let text = reply.text();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 121);
    for line in &lines[..120] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_ne!(v["resourceType"], "OperationOutcome");
    }
    let oo: serde_json::Value = serde_json::from_str(lines[120]).unwrap();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["severity"], "error");
    assert_eq!(oo["issue"][0]["code"], "processing");
    let diagnostics = oo["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.starts_with("Error at line 121: "),
        "{diagnostics}"
    );

    // A pull of it keeps the 120 lines and reports the inline error without storing it.
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("c.db")).unwrap();
    let report = pull(
        &mut store,
        host.base(),
        TOKEN,
        &[],
        &ImportOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert!(report.cut.is_none());
    assert_eq!(report.received.resources, 121);
    assert_eq!(report.import.sender_errors, 1);
    assert_eq!(store.count(Some("OperationOutcome")).unwrap(), 0);
}

#[test]
fn a_cut_connection_keeps_the_complete_lines_and_a_resumed_pull_completes_without_duplicates() {
    let host = fhir_host(1500, |c| {
        c.export_fault = Some(ExportFault {
            after_lines: 700,
            cut_connection: true,
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("client.db")).unwrap();
    let seen = Mutex::new(0u64);
    let progress = |p: &phrkit::remote::PullProgress| *seen.lock().unwrap() = p.resources;
    let first = pull(
        &mut store,
        host.base(),
        TOKEN,
        &[],
        &ImportOptions::default(),
        &progress,
    )
    .unwrap();
    let cut = first.cut.clone().expect("the cut is reported");
    // The server shipped 700 lines before aborting; an abort may lose what was still in its
    // buffers, so the client has at most those, and keeps exactly the complete ones it got.
    let kept = cut.lines_kept;
    assert!(kept > 1 && kept <= 700, "{cut:?}");
    assert_eq!(first.received.resources, kept);
    assert_eq!(
        *seen.lock().unwrap(),
        kept,
        "the last progress call reports the cut"
    );
    assert!(first.import.committed);
    let totals = first.import.totals();
    assert_eq!(
        totals.created + totals.rejected + totals.unchanged,
        kept - 1,
        "every line but the cover page: {}",
        first.import.summary()
    );
    let after_cut = store.count(None).unwrap();

    // Resume: the same data folder served without the fault; pull again.
    let patient = host.patient.clone();
    let fhir_common::Fhir {
        server, dir: data, ..
    } = host;
    server.shutdown();
    let host = fhir_host_on(data, patient, |_| {});
    // Exactly the complete lines: the first `kept` lines of the full export are stored.
    let full = host
        .get("/Bundle/$phr-export?outputFormat=ndjson", &[])
        .text();
    let ids: Vec<(String, String)> = full
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["resourceType"].as_str().unwrap().to_owned(),
                v["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let cover = &ids[0];
    for (ty, id) in &ids[1..kept as usize] {
        assert!(
            store.get(ty, id).unwrap().is_some(),
            "line {ty}/{id} received before the cut is stored"
        );
    }
    let (ty, id) = &ids[kept as usize];
    if ty != "AuditEvent" && !ids[..kept as usize].contains(&(ty.clone(), id.clone())) {
        assert!(
            store.get(ty, id).unwrap().is_none(),
            "the partial line {ty}/{id} is not stored"
        );
    }
    assert!(
        store.get(&cover.0, &cover.1).unwrap().is_none(),
        "the cover page is not stored"
    );
    let second = pull(
        &mut store,
        host.base(),
        TOKEN,
        &[],
        &ImportOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert!(second.cut.is_none());
    let t = second.import.totals();
    assert_eq!(
        t.unchanged, totals.created,
        "what arrived before the cut is not duplicated"
    );
    assert!(t.created > 0 && t.updated == 0);
    assert!(store.count(None).unwrap() > after_cut);
    // Everything the server exports by default arrived: all but the sensitive resources
    // (left out unless the patient opts in).
    let server_store = host.store();
    for ty in ["Patient", "Observation", "Encounter", "Condition"] {
        let search = phrkit::store::Search {
            types: vec![ty.into()],
            ..Default::default()
        };
        let exported = server_store.search(&search).unwrap();
        let exported = exported.iter().filter(|r| r.sensitive == 0).count();
        assert_eq!(store.count(Some(ty)).unwrap(), exported as u64, "{ty}");
    }
    // A third pull changes nothing.
    let third = pull(
        &mut store,
        host.base(),
        TOKEN,
        &[],
        &ImportOptions::default(),
        &|_| {},
    )
    .unwrap();
    // A third pull changes nothing but the server's own audit trail of the exports.
    let changed: Vec<&String> = third
        .import
        .by_type
        .iter()
        .filter(|(ty, c)| (c.created > 0 || c.updated > 0) && ty.as_str() != "AuditEvent")
        .map(|(ty, _)| ty)
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
}

/// A TCP proxy on 127.0.0.1 to `target` that passes a response's first `limit` bytes and
/// then cuts both connections: the network failing mid-transfer. Returns its base URL.
fn cutting_proxy(base: &str, limit: usize) -> String {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener, TcpStream};
    let rest = base.trim_start_matches("http://");
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let target = authority.to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/{path}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let target = target.clone();
            std::thread::spawn(move || {
                let Ok(mut upstream) = TcpStream::connect(&target) else {
                    return;
                };
                let (Ok(mut c_in), Ok(mut u_out)) = (client.try_clone(), upstream.try_clone())
                else {
                    return;
                };
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut u_out);
                });
                let mut sent = 0;
                let mut buf = vec![0u8; 16 << 10];
                while sent < limit {
                    let Ok(n) = upstream.read(&mut buf) else {
                        break;
                    };
                    if n == 0 {
                        break;
                    }
                    let n = n.min(limit - sent);
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    sent += n;
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
            });
        }
    });
    url
}

#[test]
fn the_network_failing_after_100_kb_1_mb_or_10_mb_still_leaves_a_growing_part_of_the_record() {
    // About 12 MB of NDJSON: each cut falls inside the record.
    let host = fhir_host(14_000, |_| {});
    let full = host.store().count(None).unwrap();
    let mut kept = Vec::new();
    let mut resumed = None;
    for limit in [100_000, 1_000_000, 10_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("client.db")).unwrap();
        let report = pull(
            &mut store,
            &cutting_proxy(host.base(), limit),
            TOKEN,
            &[],
            &ImportOptions::default(),
            &|_| {},
        )
        .unwrap();
        assert!(report.cut.is_some(), "{limit}: the cut is reported");
        let patients = store.count(Some("Patient")).unwrap();
        assert_eq!(patients, 1, "{limit}: the Patient is among the first lines");
        let stored = store.count(None).unwrap();
        kept.push(stored);
        if limit == 1_000_000 {
            resumed = Some((dir, store, report.import.totals().created));
        }
    }
    assert!(
        kept[0] > 20 && kept[0] < kept[1] && kept[1] < kept[2] && kept[2] < full,
        "resources kept after 100 KB, 1 MB, 10 MB (of {full}): {kept:?}"
    );
    // Pulled again without the cut, the 1 MB store completes without duplicates.
    let (_dir, mut store, created) = resumed.unwrap();
    let second = pull(
        &mut store,
        host.base(),
        TOKEN,
        &[],
        &ImportOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert!(second.cut.is_none());
    let t = second.import.totals();
    assert_eq!(
        t.unchanged, created,
        "nothing received before the cut is stored twice"
    );
    // The same as a pull that was never cut (sensitive data stays out of both).
    let whole_dir = tempfile::tempdir().unwrap();
    let mut whole = Store::open(whole_dir.path().join("whole.db")).unwrap();
    pull(
        &mut whole,
        host.base(),
        TOKEN,
        &[],
        &ImportOptions::default(),
        &|_| {},
    )
    .unwrap();
    for ty in [
        "Patient",
        "Observation",
        "Encounter",
        "Condition",
        "DocumentReference",
    ] {
        assert_eq!(
            store.count(Some(ty)).unwrap(),
            whole.count(Some(ty)).unwrap(),
            "{ty}"
        );
    }
}

#[test]
fn a_client_that_hangs_up_leaves_the_server_serving() {
    let host = fhir_host(3000, |_| {});
    let response = host
        .agent
        .get(format!(
            "{}/Bundle/$phr-export?outputFormat=ndjson",
            host.base()
        ))
        .header("authorization", format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    let mut reader = BufReader::new(response.into_body().into_reader());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    drop(reader); // the client side cut
    for _ in 0..2 {
        let reply = host.get("/Bundle/$phr-export?outputFormat=ndjson", &[]);
        assert_eq!(reply.status, 200);
        assert!(reply.text().lines().count() > 3000);
    }
}

#[test]
fn push_streams_a_local_export_into_a_remote_import() {
    let host = fhir_host(0, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local.db");
    let ids = fhir_common::fill(&path, record(800, 11));
    let store = Store::open(&path).unwrap();
    let req = ExportRequest::from_params([("outputFormat", "phr")]).unwrap();
    let report = push(
        &store,
        host.base(),
        TOKEN,
        &req,
        &[("strategy", "merge")],
        &phrkit::progress::NoProgress,
    )
    .unwrap();
    assert_eq!(report.outcome["resourceType"], "OperationOutcome");
    assert!(report.export.resources > 800);
    let remote = host.store();
    assert_eq!(remote.patient_ids().unwrap(), ids);
    assert_eq!(
        remote.count(Some("Observation")).unwrap(),
        store.count(Some("Observation")).unwrap()
    );
    // A wrong token: the server's 401, nothing imported twice.
    match push(
        &store,
        host.base(),
        "wrong",
        &req,
        &[],
        &phrkit::progress::NoProgress,
    ) {
        Err(RemoteError::Status { status: 401, .. }) => {}
        other => panic!("expected 401, got {other:?}"),
    }
}

#[test]
fn curl_gets_the_capability_statement_and_a_phr_file() {
    let host = fhir_host(200, |_| {});
    let token_file = host.dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let out = host.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/curl.sh");
    let run = std::process::Command::new("bash")
        .arg(script)
        .env("BASE", host.base())
        .env("TOKEN_FILE", &token_file)
        .env("OUT", &out)
        .output()
        .expect("bash runs");
    assert!(
        run.status.success(),
        "curl.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let mut text = String::new();
    std::fs::File::open(out.join("record.phr"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.lines().count() > 200);
}
