//! Test harness: a real host from `start()` on 127.0.0.1 with an ephemeral port and a temp data
//! folder, and a blocking ureq agent that returns every status as a response.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use phrkit_server::{Account, ApiToken, HostConfig, RunningServer, start};
use serde_json::{Value, json};
use ureq::http::{HeaderMap, Method, Request};

pub struct Host {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
    pub agent: ureq::Agent,
}

/// A created link.
pub struct Link {
    pub id: String,
    pub token: String,
    pub url: String,
}

/// A response, read completely.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The token of the test host's one account (`tester`), which creates every link.
pub const ACCOUNT_TOKEN: &str = "test-account-token-of-at-least-32-characters";

/// A host with no polling limit (tests of the limit set one).
pub fn host() -> Host {
    host_with(|_| {})
}

pub fn host_with(adjust: impl FnOnce(&mut HostConfig)) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let mut config = HostConfig::new(dir.path().join("data"));
    config.poll_interval = Duration::ZERO;
    config.accounts = vec![Account::new("tester", ApiToken::new(ACCOUNT_TOKEN).unwrap()).unwrap()];
    adjust(&mut config);
    let server = start(config).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    Host { server, dir, agent }
}

/// A JWE compact string of the right shape and about `len` characters. The host is blind to
/// its content, so no real encryption is needed here.
pub fn fake_jwe(len: usize, seed: u8) -> String {
    let header = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiY3R5IjoiYXBwbGljYXRpb24vZmhpcitqc29uIn0";
    let fixed = header.len() + 2 + 16 + 1 + 1 + 22 + 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let body: String = (0..len.saturating_sub(fixed).max(1))
        .map(|i| alphabet[(i * 7 + usize::from(seed)) % 64] as char)
        .collect();
    format!("{header}..AAAAAAAAAAAAAAAA.{body}.BBBBBBBBBBBBBBBBBBBBBB")
}

impl Host {
    pub fn base(&self) -> &str {
        &self.server.base_url
    }

    /// Options for sharing `profile` through this host as its test account (a host on
    /// loopback, so local hosts are allowed).
    pub fn share_options(
        &self,
        profile: phrkit::shl::content::ShareProfile,
    ) -> phrkit::shl::share::ShareOptions {
        let mut opts = phrkit::shl::share::ShareOptions::new(self.base(), profile);
        opts.account_token = Some(phrkit::secret::Secret::new(ACCOUNT_TOKEN));
        opts.reach = phrkit::net::reach::Reach::Local;
        opts
    }

    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = match body {
            Some(body) => self.agent.run(builder.body(body.to_owned()).unwrap()),
            None => self.agent.run(builder.body(()).unwrap()),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.body_mut().read_to_string().unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn post_json(&self, url: &str, body: &Value) -> Reply {
        self.send(
            Method::POST,
            url,
            &[("content-type", "application/json")],
            Some(&body.to_string()),
        )
    }

    pub fn get(&self, url: &str) -> Reply {
        self.send(Method::GET, url, &[], None)
    }

    /// `POST /api/shl` as the test account.
    pub fn create_reply(&self, body: &Value) -> Reply {
        self.create_reply_as(ACCOUNT_TOKEN, body)
    }

    /// `POST /api/shl` as the account whose token is `token`.
    pub fn create_reply_as(&self, token: &str, body: &Value) -> Reply {
        self.send(
            Method::POST,
            &format!("{}/api/shl", self.base()),
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {token}")),
            ],
            Some(&body.to_string()),
        )
    }

    pub fn create(&self, body: Value) -> Link {
        self.create_as(ACCOUNT_TOKEN, body)
    }

    /// A link created by the account whose token is `token`.
    pub fn create_as(&self, token: &str, body: Value) -> Link {
        let reply = self.create_reply_as(token, &body);
        assert_eq!(reply.status, 201, "{}", reply.body);
        let json = reply.json();
        let text = |key: &str| json[key].as_str().unwrap().to_owned();
        Link {
            id: text("id"),
            token: text("managementToken"),
            url: text("url"),
        }
    }

    pub fn upload(&self, link: &Link, content_type: &str, jwe: &str) -> Reply {
        let auth = format!("Bearer {}", link.token);
        self.send(
            Method::POST,
            &format!("{}/file", link.url),
            &[("authorization", &auth), ("content-type", content_type)],
            Some(jwe),
        )
    }

    /// Management call with the link's token.
    pub fn manage(&self, method: Method, url: &str, link: &Link, body: Option<&Value>) -> Reply {
        let auth = format!("Bearer {}", link.token);
        let body = body.map(Value::to_string);
        self.send(
            method,
            url,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.as_deref(),
        )
    }

    pub fn manifest(&self, link: &Link, recipient: &str) -> Reply {
        self.post_json(&link.url, &json!({ "recipient": recipient }))
    }
}

/// Call `probe` until it returns true, failing after `limit`.
pub fn wait_until(limit: Duration, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !probe() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A record store in its own temporary folder holding one generated patient with
/// `resources` resources (generator seed `seed`).
pub fn generated_store(resources: usize, seed: u64) -> (tempfile::TempDir, phrkit::Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = phrkit::Store::open(dir.path().join("phone.db")).unwrap();
    let mut buf = Vec::new();
    let opts = phrkit::generate::GenerateOptions {
        patients: 1,
        resources_per_patient: resources,
        seed,
        ..Default::default()
    };
    phrkit::generate::generate(&opts, &mut buf).unwrap();
    let source = phrkit::import::ImportSource::from_bytes("gen.phr", buf);
    store
        .import(
            vec![source],
            &phrkit::ImportOptions::default(),
            &phrkit::progress::NoProgress,
        )
        .unwrap();
    (dir, store)
}
