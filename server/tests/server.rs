//! Starting and stopping the host: data survives a restart, a taken port is an error, and the
//! configured public URL is used in links.

mod common;

use std::time::Duration;

use common::{fake_jwe, host};
use phrkit_server::{HostConfig, ServerError, start};
use serde_json::json;

#[test]
fn links_and_files_survive_a_restart() {
    let host = host();
    let link = host.create(json!({ "passcode": "1234" }));
    let jwe = fake_jwe(300, 1);
    host.upload(&link, "application/fhir+json", &jwe);
    let data_dir = host.dir.path().join("data");
    let common::Host { server, dir, agent } = host;
    server.shutdown();

    let mut config = HostConfig::new(&data_dir);
    config.poll_interval = Duration::ZERO;
    let server = start(config).unwrap();
    let url = format!("{}/api/shl/{}", server.base_url, link.id);
    let mut reply = agent
        .post(&url)
        .header("content-type", "application/json")
        .send(json!({ "recipient": "A", "passcode": "1234" }).to_string())
        .unwrap();
    assert_eq!(reply.status(), 200);
    let manifest: serde_json::Value =
        serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(manifest["files"][0]["embedded"], jwe.as_str());
    server.shutdown();
    drop(dir);
}

#[test]
fn a_taken_port_is_an_error() {
    let host = host();
    let mut config = HostConfig::new(host.dir.path().join("other"));
    config.bind = host.server.addr;
    assert!(matches!(start(config), Err(ServerError::Io(_))));
}

#[test]
fn public_url_is_used_in_links() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::new(dir.path());
    config.public_url = Some("https://shl.example.org/".into());
    let account = phrkit_server::Account::generate("app").unwrap();
    let bearer = format!("Bearer {}", account.token().expose());
    config.accounts = vec![account];
    let server = start(config).unwrap();
    assert_eq!(server.base_url, "https://shl.example.org");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut reply = agent
        .post(format!("http://{}/api/shl", server.addr))
        .header("content-type", "application/json")
        .header("authorization", &bearer)
        .send("{}")
        .unwrap();
    assert_eq!(reply.status(), 201);
    let body: serde_json::Value =
        serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with("https://shl.example.org/api/shl/"), "{url}");
    assert_eq!(url.len(), "https://shl.example.org/api/shl/".len() + 43);
}

#[cfg(unix)]
#[test]
fn the_data_folder_is_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = start(HostConfig::new(&data)).unwrap();
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    server.shutdown();
}
