//! Test harness for the FHIR operations: a real host from `start()` on 127.0.0.1 (ephemeral
//! port) whose record store holds a generated single-patient record, a token, and a ureq agent
//! that returns every status as a response.

#![allow(dead_code)]

use std::time::Duration;

use phrkit::generate::{GenerateOptions, generate};
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use phrkit::{ImportOptions, Store};
use phrkit_server::{ApiToken, FhirConfig, HostConfig, RunningServer, start};
use ureq::http::{HeaderMap, Method, Request};

pub const TOKEN: &str = "test-token-0123456789abcdefghijklmnopqrstu";

pub struct Fhir {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub agent: ureq::Agent,
    pub patient: String,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A generated single-patient record as NDJSON.
pub fn record(resources: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    generate(
        &GenerateOptions {
            patients: 1,
            resources_per_patient: resources,
            seed,
            ..Default::default()
        },
        &mut out,
    )
    .unwrap();
    out
}

/// Imports `ndjson` into the store at `path`; returns the patient ids.
pub fn fill(path: &std::path::Path, ndjson: Vec<u8>) -> Vec<String> {
    let store = Store::open(path).unwrap();
    if !ndjson.is_empty() {
        let report = store
            .import(
                vec![ImportSource::from_bytes("fixture.phr", ndjson)],
                &ImportOptions::default(),
                &NoProgress,
            )
            .unwrap();
        assert!(report.committed, "{}", report.summary());
    }
    store.patient_ids().unwrap()
}

/// A host with `resources` generated resources (0: an empty store).
pub fn fhir_host(resources: usize, adjust: impl FnOnce(&mut FhirConfig)) -> Fhir {
    fhir_host_with(resources, |config| {
        if let Some(fhir) = config.fhir.as_mut() {
            adjust(fhir);
        }
    })
}

/// A host on an existing data folder (`dir/data`).
pub fn fhir_host_on(
    dir: tempfile::TempDir,
    patient: String,
    adjust: impl FnOnce(&mut FhirConfig),
) -> Fhir {
    launch(dir, patient, |config| {
        if let Some(fhir) = config.fhir.as_mut() {
            adjust(fhir);
        }
    })
}

/// A host with `resources` generated resources (0: an empty store) whose whole configuration (connection limits
/// and timeouts too; the FHIR part is `config.fhir`) the test adjusts.
pub fn fhir_host_with(resources: usize, adjust: impl FnOnce(&mut HostConfig)) -> Fhir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let ndjson = if resources > 0 {
        record(resources, 7)
    } else {
        Vec::new()
    };
    let ids = fill(&data.join(phrkit_server::STORE_FILE), ndjson);
    launch(dir, ids.into_iter().next().unwrap_or_default(), adjust)
}

fn launch(dir: tempfile::TempDir, patient: String, adjust: impl FnOnce(&mut HostConfig)) -> Fhir {
    let data = dir.path().join("data");
    let fhir = FhirConfig::new(
        data.join(phrkit_server::STORE_FILE),
        ApiToken::new(TOKEN).unwrap(),
    );
    let mut config = HostConfig::new(&data);
    config.fhir = Some(fhir);
    adjust(&mut config);
    let server = start(config).unwrap();
    Fhir {
        server,
        dir,
        agent: agent(),
        patient,
    }
}

impl Fhir {
    pub fn base(&self) -> &str {
        &self.server.base_url
    }

    pub fn store(&self) -> Store {
        Store::open(self.dir.path().join("data").join(phrkit_server::STORE_FILE)).unwrap()
    }

    /// A request with the token unless `headers` holds an Authorization of its own.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let url = format!("{}{path}", self.base());
        let mut builder = Request::builder().method(method).uri(url);
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            builder = builder.header("authorization", format!("Bearer {TOKEN}"));
        }
        for (name, value) in headers {
            if !value.is_empty() {
                builder = builder.header(*name, *value);
            }
        }
        let response = match body {
            Some(body) => self.agent.run(builder.body(body).unwrap()),
            None => self.agent.run(builder.body(()).unwrap()),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, headers, None)
    }
}
