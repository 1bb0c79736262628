//! The sharing flow end to end: create, upload, manifest with embedded and location files,
//! single-use and expiring tickets, `U`-flag direct GETs, and the access log.

mod common;

use std::time::Duration;

use common::{fake_jwe, host, host_with, wait_until};
use serde_json::json;
use ureq::http::Method;

#[test]
fn create_upload_and_manifest_with_embedded_and_location_files() {
    let host = host();
    let link = host.create(json!({ "label": "Checkup", "flag": "L" }));
    assert_eq!(link.id.len(), 43);
    assert_eq!(link.token.len(), 43);
    assert_eq!(link.url, format!("{}/api/shl/{}", host.base(), link.id));

    let small = fake_jwe(500, 1);
    let big = fake_jwe(20_000, 2);
    let reply = host.upload(&link, "application/fhir+json", &small);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let small_hash = reply.json()["added"].as_str().unwrap().to_owned();
    assert_eq!(small_hash.len(), 43);
    let reply = host.upload(&link, "application/smart-health-card", &big);
    assert_eq!(reply.status, 200, "{}", reply.body);

    let reply = host.manifest(&link, "Dr. Who");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let files = reply.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 2);
    let small_entry = files
        .iter()
        .find(|f| f["contentType"] == "application/fhir+json")
        .unwrap();
    assert_eq!(small_entry["embedded"], small.as_str());
    assert!(small_entry.get("location").is_none(), "never both");
    assert!(small_entry["lastUpdated"].as_str().unwrap().ends_with('Z'));
    let big_entry = files
        .iter()
        .find(|f| f["contentType"] == "application/smart-health-card")
        .unwrap();
    assert!(big_entry.get("embedded").is_none(), "never both");
    let location = big_entry["location"].as_str().unwrap();
    assert!(location.starts_with(&format!("{}/file/", link.url)));

    let file = host.get(location);
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), Some("application/jose"));
    assert_eq!(file.body, big);

    // embeddedLengthMax below the small file's length turns it into a location too.
    let reply = host.post_json(
        &link.url,
        &json!({ "recipient": "Dr. Who", "embeddedLengthMax": 100 }),
    );
    let files = reply.json()["files"].as_array().unwrap().clone();
    assert!(files.iter().all(|f| f.get("embedded").is_none()));
    assert!(files.iter().all(|f| f["location"].is_string()));
}

#[test]
fn location_ticket_is_single_use() {
    let host = host();
    let link = host.create(json!({}));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 3));
    let reply = host.post_json(
        &link.url,
        &json!({ "recipient": "A", "embeddedLengthMax": 0 }),
    );
    let location = reply.json()["files"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(host.get(&location).status, 200);
    let again = host.get(&location);
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(again.json()["error"].is_string());

    let no_ticket = location.split('?').next().unwrap();
    assert_eq!(host.get(no_ticket).status, 401);
}

#[test]
fn location_ticket_expires() {
    let host = host_with(|c| c.ticket_ttl = Duration::from_millis(200));
    let link = host.create(json!({}));
    host.upload(&link, "application/fhir+json", &fake_jwe(300, 4));
    let reply = host.post_json(
        &link.url,
        &json!({ "recipient": "A", "embeddedLengthMax": 0 }),
    );
    let location = reply.json()["files"][0]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    // Past the TTL the ticket no longer works (a fresh ticket is not yet used, so only expiry
    // can make the first GET fail).
    std::thread::sleep(Duration::from_millis(250));
    let status = host.get(&location).status;
    assert!(status == 401 || status == 404, "got {status}");

    // Polling for expiry: each probe spends one ticket (they are single-use), so mint a stock
    // first, then probe one per round until the TTL has passed. Tickets work, then stop working.
    let stock: Vec<String> = (0..60)
        .map(|_| {
            host.post_json(
                &link.url,
                &json!({ "recipient": "A", "embeddedLengthMax": 0 }),
            )
            .json()["files"][0]["location"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut stock = stock.into_iter();
    let mut seen = Vec::new();
    wait_until(Duration::from_secs(10), || {
        let location = stock
            .next()
            .expect("ran out of tickets before they expired");
        let status = host.get(&location).status;
        seen.push(status);
        status == 401 || status == 404
    });
    let first_failure = seen.iter().position(|&s| s != 200).unwrap();
    assert!(seen[..first_failure].iter().all(|&s| s == 200), "{seen:?}");
}

#[test]
fn u_flag_link_serves_its_file_by_get() {
    let host = host();
    let link = host.create(json!({ "flag": "LU" }));
    let first = fake_jwe(400, 5);
    let second = fake_jwe(400, 6);
    host.upload(&link, "application/fhir+json", &first);
    host.upload(&link, "application/fhir+json", &second);

    let reply = host.get(&format!("{}?recipient=Oracle+Org", link.url));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/jose"));
    assert_eq!(reply.body, second, "a U link serves its newest file");
    // Without a recipient, too (some clients omit it).
    assert_eq!(host.get(&link.url).body, second);

    let accesses = host.manage(Method::GET, &format!("{}/accesses", link.url), &link, None);
    let names: Vec<_> = accesses
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["recipient"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["Oracle Org", "(recipient not given)"],
        "every access is logged, named or not"
    );
    let long = "x".repeat(201);
    assert_eq!(
        host.get(&format!("{}?recipient={long}", link.url)).status,
        400
    );
    assert_eq!(host.manifest(&link, &long).status, 400);
}

#[test]
fn get_on_a_manifest_link_is_not_found() {
    let host = host();
    let link = host.create(json!({ "flag": "L" }));
    host.upload(&link, "application/fhir+json", &fake_jwe(400, 7));
    assert_eq!(host.get(&format!("{}?recipient=x", link.url)).status, 404);
}

#[test]
fn accesses_list_recipients_in_order_with_times() {
    let host = host();
    let link = host.create(json!({}));
    host.upload(&link, "application/fhir+json", &fake_jwe(400, 8));
    for recipient in ["Pharmacy", "ER Nurse", "Pharmacy"] {
        assert_eq!(host.manifest(&link, recipient).status, 200);
    }
    let reply = host.manage(Method::GET, &format!("{}/accesses", link.url), &link, None);
    assert_eq!(reply.status, 200);
    let list = reply.json();
    let list = list.as_array().unwrap();
    let names: Vec<_> = list
        .iter()
        .map(|a| a["recipient"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Pharmacy", "ER Nurse", "Pharmacy"]);
    for access in list {
        let time = access["time"].as_str().unwrap();
        assert!(time.len() >= 20 && time.ends_with('Z'), "{time}");
    }
}
