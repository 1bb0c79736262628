//! HTTP for SMART Health Links: the sharer's calls to a link host (create, upload, revoke,
//! list accesses) and the recipient's (manifest, files), over `ureq` (blocking, rustls).
//!
//! Status codes follow the spec and the servers in circulation (see
//! `spec/smart-health-links.md` §3.3): 401/403 → passcode problem with `remainingAttempts`
//! when given; 404/410 → link gone; 429 → wait `Retry-After` (bounded) and retry. Creating a
//! link sends the host's account token; 401 then means the host wants a (valid) one, 403 a
//! quota. Which hosts are reached is the client's [`Reach`] (module `reach`): public https
//! hosts unless the caller opts into local ones; redirects are never followed. Error
//! messages never contain URLs: a link's URL is a capability.

use super::ShlError;
use super::link::ShlPayload;
use crate::net::Deadline;
use crate::net::reach::{LocalAddressRefused, Reach, check_url};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The longest `Retry-After` the client honours before giving up.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// How many 429 answers in a row the client tolerates.
const MAX_RETRIES: usize = 3;

/// A blocking HTTP client for link hosts. Calls block; use it off the main thread.
pub struct HttpClient {
    agent: ureq::Agent,
    reach: Reach,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new(Reach::Public)
    }
}

/// What the host answers when a link is created. Its `Debug` shows only the manifest URL's
/// host: the id and the token are capabilities.
#[derive(Clone, Deserialize)]
pub struct CreatedLink {
    /// The link id on the host (a capability: keep it private).
    pub id: String,
    /// The bearer token for managing the link.
    #[serde(rename = "managementToken")]
    pub management_token: String,
    /// The manifest URL, which goes into the link payload.
    pub url: String,
}

impl std::fmt::Debug for CreatedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedLink")
            .field("id", &"<redacted>")
            .field("management_token", &"<redacted>")
            .field("url", &"<redacted>")
            .finish()
    }
}

/// One recorded access to a shared link.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Access {
    /// Who said they were asking (the `recipient` of the manifest request).
    pub recipient: String,
    /// When (RFC 3339).
    pub time: String,
}

/// A decrypted file received through a link.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedFile {
    /// The content type (from the manifest, else the JWE `cty`, else sniffed).
    pub content_type: String,
    /// The plaintext.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ReceivedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ReceivedFile({}, {} bytes)",
            self.content_type,
            self.bytes.len()
        )
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::Io(io) => format!("connection failed ({:?})", io.kind()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS handshake failed".into(),
        ureq::Error::BodyExceedsLimit(n) => format!("response larger than {n} bytes"),
        _ => "request failed".into(),
    }
}

fn network(e: ureq::Error) -> ShlError {
    match e {
        ureq::Error::Other(inner) if inner.is::<LocalAddressRefused>() => ShlError::LocalAddress,
        e => ShlError::Network(describe(&e)),
    }
}

/// Most files one link's manifest may list.
pub const MAX_FILES: usize = 100;
/// Largest manifest read, bytes (embedded files are at most `embeddedLengthMax` each).
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

fn remaining(body: &Value) -> Option<u32> {
    body.get("remainingAttempts")
        .and_then(Value::as_u64)
        .map(|n| n as u32)
}

impl HttpClient {
    /// A client reaching the hosts `reach` allows, with 30-second timeouts, that reads non-2xx
    /// answers instead of failing.
    pub fn new(reach: Reach) -> Self {
        HttpClient {
            agent: crate::net::agent(Deadline::Whole(Duration::from_secs(30)), reach),
            reach,
        }
    }

    /// Refuses `url` unless this client's [`Reach`] allows it.
    fn check(&self, url: &str) -> Result<(), ShlError> {
        check_url(url, self.reach)
    }

    fn expect_ok(status: u16) -> Result<(), ShlError> {
        match status {
            200..=299 => Ok(()),
            404 | 410 => Err(ShlError::LinkGone),
            s => Err(ShlError::Host { status: s }),
        }
    }

    /// Creates a link on `host` (base URL, e.g. `https://shl.example.org`) as the account whose
    /// token is `account_token` (hosts that let anyone create links need none).
    pub fn create_link(
        &self,
        host: &str,
        account_token: Option<&str>,
        passcode: Option<&str>,
        exp: Option<i64>,
        label: Option<&str>,
        flag: Option<&str>,
    ) -> Result<CreatedLink, ShlError> {
        let url = format!("{}/api/shl", host.trim_end_matches('/'));
        self.check(&url)?;
        let body = json!({"passcode": passcode, "exp": exp, "label": label, "flag": flag});
        let mut request = self.agent.post(&url);
        if let Some(token) = account_token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut resp = request.send_json(&body).map_err(network)?;
        match resp.status().as_u16() {
            401 => return Err(ShlError::NotAuthorized),
            403 => return Err(ShlError::OverQuota),
            status => Self::expect_ok(status)?,
        }
        resp.body_mut().read_json().map_err(|_| ShlError::Host {
            status: resp.status().as_u16(),
        })
    }

    /// Uploads one already-encrypted file (a compact JWE) to link `id`.
    pub fn upload(
        &self,
        host: &str,
        id: &str,
        token: &str,
        content_type: &str,
        jwe: &str,
    ) -> Result<(), ShlError> {
        let url = format!("{}/api/shl/{id}/file", host.trim_end_matches('/'));
        self.check(&url)?;
        let resp = self
            .agent
            .post(&url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .send(jwe.as_bytes())
            .map_err(network)?;
        match resp.status().as_u16() {
            403 => Err(ShlError::OverQuota),
            status => Self::expect_ok(status),
        }
    }

    /// The host's viewer page (`<host>/view`) when it serves one, so links can open in any
    /// phone's browser; `None` when it answers anything but an HTML page.
    pub fn viewer(&self, host: &str) -> Option<String> {
        let url = format!("{}/view", host.trim_end_matches('/'));
        self.check(&url).ok()?;
        let resp = self.agent.get(&url).call().ok()?;
        let html = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        (resp.status().as_u16() == 200 && html).then_some(url)
    }

    /// Revokes link `id`: later manifest requests get 404.
    pub fn revoke(&self, host: &str, id: &str, token: &str) -> Result<(), ShlError> {
        let url = format!("{}/api/shl/{id}", host.trim_end_matches('/'));
        self.check(&url)?;
        let resp = self
            .agent
            .delete(&url)
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .map_err(network)?;
        Self::expect_ok(resp.status().as_u16())
    }

    /// Who opened link `id`, and when.
    pub fn accesses(&self, host: &str, id: &str, token: &str) -> Result<Vec<Access>, ShlError> {
        let url = format!("{}/api/shl/{id}/accesses", host.trim_end_matches('/'));
        self.check(&url)?;
        let mut resp = self
            .agent
            .get(&url)
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .map_err(network)?;
        Self::expect_ok(resp.status().as_u16())?;
        resp.body_mut()
            .read_json()
            .map_err(|_| ShlError::Host { status: 200 })
    }

    /// Fetches and decrypts every file a link points to, as `recipient`.
    pub fn fetch_files(
        &self,
        payload: &ShlPayload,
        recipient: &str,
        passcode: Option<&str>,
        max_plaintext: usize,
    ) -> Result<Vec<ReceivedFile>, ShlError> {
        self.check(&payload.url)?;
        let key = payload.key_bytes()?;
        if payload.has_flag('U') {
            let mut resp = self
                .agent
                .get(&payload.url)
                .query("recipient", recipient)
                .call()
                .map_err(network)?;
            Self::expect_ok(resp.status().as_u16())?;
            let jwe = read_limited(&mut resp, max_plaintext)?;
            return Ok(vec![decrypt_file(&jwe, &key, None, max_plaintext)?]);
        }
        let mut body = json!({"recipient": recipient, "embeddedLengthMax": 100_000});
        if let Some(p) = passcode {
            body["passcode"] = json!(p);
        }
        let mut tries = 0;
        let manifest: Value = loop {
            let mut resp = self
                .agent
                .post(&payload.url)
                .send_json(&body)
                .map_err(network)?;
            let status = resp.status().as_u16();
            if status == 200 {
                // Not JSON, or cut short: an error, never "a manifest of 0 files".
                let text = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_MANIFEST_BYTES)
                    .read_to_string()
                    .map_err(|e| {
                        ShlError::BadManifest(format!("cannot read it ({})", describe(&e)))
                    })?;
                break serde_json::from_str::<Value>(&text)
                    .map_err(|_| ShlError::BadManifest("not JSON".into()))?;
            }
            let json: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
            match status {
                401 | 403 if passcode.is_none() => {
                    return Err(ShlError::PasscodeRequired {
                        remaining_attempts: remaining(&json),
                    });
                }
                401 | 403 => {
                    return Err(ShlError::PasscodeWrong {
                        remaining_attempts: remaining(&json),
                    });
                }
                404 | 410 => return Err(ShlError::LinkGone),
                429 if tries < MAX_RETRIES => {
                    tries += 1;
                    let wait = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map_or(Duration::from_secs(1), Duration::from_secs);
                    if wait > MAX_RETRY_WAIT {
                        return Err(ShlError::Host { status });
                    }
                    std::thread::sleep(wait);
                }
                s => return Err(ShlError::Host { status: s }),
            }
        };
        let files = manifest
            .get("files")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| ShlError::BadManifest("no `files` list".into()))?;
        if files.len() > MAX_FILES {
            return Err(ShlError::BadManifest(format!(
                "{} files, more than the {MAX_FILES} a link may carry",
                files.len()
            )));
        }
        let mut total = 0usize;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let content_type = f
                .get("contentType")
                .and_then(Value::as_str)
                .map(str::to_string);
            let jwe = match (
                f.get("embedded").and_then(Value::as_str),
                f.get("location").and_then(Value::as_str),
            ) {
                (Some(e), _) => e.to_string(),
                (None, Some(loc)) => {
                    self.check(loc)?;
                    let mut resp = self.agent.get(loc).call().map_err(network)?;
                    Self::expect_ok(resp.status().as_u16())?;
                    read_limited(&mut resp, max_plaintext)?
                }
                (None, None) => {
                    return Err(ShlError::BadManifest(
                        "a file with neither `embedded` nor `location`".into(),
                    ));
                }
            };
            let file = decrypt_file(&jwe, &key, content_type, max_plaintext - total)?;
            total += file.bytes.len();
            out.push(file);
        }
        Ok(out)
    }
}

fn read_limited(
    resp: &mut ureq::http::Response<ureq::Body>,
    max: usize,
) -> Result<String, ShlError> {
    // A JWE is ~4/3 of its (compressed) plaintext plus headers.
    let limit = (max as u64).saturating_mul(2).saturating_add(4096);
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_string()
        .map_err(network)
}

fn decrypt_file(
    jwe: &str,
    key: &[u8; 32],
    manifest_type: Option<String>,
    max: usize,
) -> Result<ReceivedFile, ShlError> {
    let d = super::jwe::decrypt(jwe, key, max)?;
    // The JWE's `cty` is covered by its authentication tag; the manifest's is not. It wins,
    // and a manifest that says otherwise is refused.
    if let (Some(cty), Some(listed)) = (&d.content_type, &manifest_type)
        && !cty.eq_ignore_ascii_case(listed)
    {
        return Err(ShlError::BadManifest(format!(
            "it lists a file as {listed} but the file itself says {cty}"
        )));
    }
    let content_type = d
        .content_type
        .or(manifest_type)
        .unwrap_or_else(|| sniff(&d.plaintext));
    Ok(ReceivedFile {
        content_type,
        bytes: d.plaintext,
    })
}

/// For files without a declared type (U links from some hosts): SHC or FHIR by shape.
fn sniff(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if v.get("verifiableCredential").is_some() => "application/smart-health-card".into(),
        _ => "application/fhir+json".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_untyped_content() {
        assert_eq!(
            sniff(br#"{"verifiableCredential":[]}"#),
            "application/smart-health-card"
        );
        assert_eq!(
            sniff(br#"{"resourceType":"Bundle"}"#),
            "application/fhir+json"
        );
    }
}
