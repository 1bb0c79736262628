//! A progressive client for servers that speak the PHR IG's HTTP operations: [`pull`] a
//! patient's record from `$phr-export` into the local store as the lines arrive, and [`push`]
//! a local export to a remote `$import`, streamed both ways.
//!
//! **Pull** asks for NDJSON and hands the response body straight to [`Store::import`] as an
//! [`ImportSource`]: the importer parses, validates and writes batches while the download
//! goes on, so memory is bounded whatever the record's size. Inline OperationOutcome lines
//! (the server's mid-stream errors) are reported by the importer, never stored.
//!
//! **A cut connection keeps what arrived.** The body is read through [`CompleteLines`], which
//! only ever passes on whole lines. When the transfer fails mid-stream (the server aborts, the
//! network drops), it drops the partial last line, records the cut ([`Cut`]: bytes and lines
//! received, bytes dropped) and ends the input cleanly, so the import commits exactly the
//! complete lines. We chose this over failing the whole run (the importer's rule for local
//! files) because for a download the lines already received are good data and the
//! alternative is starting from zero. **Resuming is pulling again:** under `strategy=merge`
//! lines already stored are `unchanged`, so a second pull completes the record without
//! duplicates; `_since` can narrow it when the server's clock is trusted.
//!
//! **Push** runs the export on the calling thread into a pipe ([`pipe`]: a bounded channel of
//! 64 KiB chunks) whose reading end is the request body ureq sends from a second thread. If
//! the export fails, the pipe reports an error so the upload is aborted, never completed as
//! a truncated but valid-looking body.
//!
//! Both block; call them off the main thread. Tokens are sent only in the `Authorization`
//! header and appear in no error message.

mod lines;
mod pipe;

pub use lines::{CompleteLines, LineState};

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::export::{ExportRequest, ExportSummary};
use crate::import::{ImportOptions, ImportReport, ImportSource};
use crate::media::OutputFormat;
use crate::net::Deadline;
use crate::net::reach::Reach;
use crate::progress::ProgressListener;
use crate::store::Store;

/// What can go wrong talking to a remote server.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The server answered with an error status; `diagnostics` is its OperationOutcome text.
    #[error("the server answered {status}: {diagnostics}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The first issue's diagnostics, or a short description.
        diagnostics: String,
    },
    /// No answer: connection refused, DNS, TLS, a timeout before the response.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The local store or export failed.
    #[error(transparent)]
    Local(#[from] crate::Error),
}

/// Where a cut transfer stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// Bytes received before the cut.
    pub bytes_received: u64,
    /// Complete lines received (all of them were handed to the import).
    pub lines_kept: u64,
    /// Bytes of the partial last line, dropped.
    pub bytes_dropped: u64,
    /// What the transport said, without any URL or token.
    pub reason: String,
}

/// Progress of a pull, as received (before the import has written it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PullProgress {
    /// Bytes received.
    pub bytes: u64,
    /// The body's size when the server sent `Content-Length`.
    pub total_bytes: Option<u64>,
    /// Complete lines (resources, and any inline OperationOutcome) received.
    pub resources: u64,
    /// Complete lines per `resourceType`.
    pub by_type: BTreeMap<String, u64>,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct PullReport {
    /// The import of what arrived (counts per type, inline errors as issues).
    pub import: ImportReport,
    /// What arrived.
    pub received: PullProgress,
    /// `Some` when the transfer was cut: the import holds exactly the complete lines before it.
    pub cut: Option<Cut>,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The local export that was sent.
    pub export: ExportSummary,
    /// The server's import report (an OperationOutcome).
    pub outcome: Value,
}

/// The agent for a server the user named: any address (its URL passed
/// [`secure_transport`]), the record streaming for as long as it takes.
fn agent() -> ureq::Agent {
    crate::net::agent(
        Deadline::Connect(std::time::Duration::from_secs(30)),
        Reach::Local,
    )
}

/// Records and tokens travel over https only; plain http is for this machine (loopback).
fn secure_transport(base_url: &str) -> Result<(), RemoteError> {
    if crate::net::reach::https_or_loopback(base_url) {
        Ok(())
    } else {
        Err(crate::Error::param(
            "base_url",
            "a health record travels over https only (plain http to this machine's loopback \
             address is allowed)",
        )
        .into())
    }
}

fn endpoint(base_url: &str, path: &str, params: &[(&str, &str)]) -> String {
    let mut url = format!("{}{path}", base_url.trim_end_matches('/'));
    for (i, (k, v)) in params.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&utf8_percent_encode(k, NON_ALPHANUMERIC).to_string());
        url.push('=');
        url.push_str(&utf8_percent_encode(v, NON_ALPHANUMERIC).to_string());
    }
    url
}

fn transport(e: ureq::Error) -> RemoteError {
    // ureq's messages can hold the URL; keep only the kind of failure.
    let kind = match e {
        ureq::Error::Io(io) => format!("I/O error ({})", io.kind()),
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        _ => "HTTP error".to_string(),
    };
    RemoteError::Transport(kind)
}

/// An error answer: its status and the first issue's diagnostics.
fn status_error(mut response: ureq::http::Response<ureq::Body>) -> RemoteError {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let diagnostics = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["issue"][0]["diagnostics"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "no OperationOutcome in the answer".to_string());
    RemoteError::Status {
        status,
        diagnostics,
    }
}

/// Pulls a record from `GET <base_url>/Bundle/$phr-export?<params>` as NDJSON and imports it
/// into `store` as it arrives, with `opts`. `params` are `$phr-export`'s (`patient`, `start`,
/// `end`, `_since`, `_type`); `outputFormat` must be absent or an NDJSON one. `progress` is
/// called as lines arrive (from the import's reader thread). Blocks.
///
/// Errors: the server refused (4xx/5xx before the body) or cannot be reached, or the local
/// import failed (then nothing was written). A cut mid-body is not an error: see
/// [`PullReport::cut`].
pub fn pull(
    store: &mut Store,
    base_url: &str,
    token: &str,
    params: &[(&str, &str)],
    opts: &ImportOptions,
    progress: &(dyn Fn(&PullProgress) + Sync),
) -> Result<PullReport, RemoteError> {
    let mut params = params.to_vec();
    match params.iter().find(|(k, _)| *k == "outputFormat") {
        None => params.push(("outputFormat", "ndjson")),
        Some((_, f)) if matches!(*f, "ndjson" | "phr") => {}
        Some(_) => {
            return Err(crate::Error::param("outputFormat", "a pull reads ndjson or phr").into());
        }
    }
    secure_transport(base_url)?;
    let url = endpoint(base_url, "/Bundle/$phr-export", &params);
    let response = agent()
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Accept", "application/fhir+ndjson, application/x-ndjson")
        .call()
        .map_err(transport)?;
    if response.status() != 200 {
        return Err(status_error(response));
    }
    let total = response.body().content_length();
    let body = response.into_body().into_reader();
    let state = Arc::new(Mutex::new(LineState::default()));
    let reader = CompleteLines::new(body, total, state.clone(), progress);
    let source = ImportSource::from_reader("$phr-export response", reader, total);
    let import = store.import(vec![source], opts, &crate::progress::NoProgress)?;
    let state = state.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(PullReport {
        import,
        received: state.progress,
        cut: state.cut,
    })
}

/// Exports `req` from `store` and streams it to `POST <base_url>/Bundle/$import?<params>`,
/// where `params` are `$import`'s (`strategy`, `mode`, `conflict`, `on_invalid`). For `sphr`
/// the passphrase (`req.passphrase`, required when encrypting) goes in `X-PHR-Passphrase`.
/// `progress` sees the export. Blocks.
///
/// Errors: the export failed (the upload is aborted, so the server imports nothing), the
/// server cannot be reached, or it answered with an error status.
pub fn push(
    store: &Store,
    base_url: &str,
    token: &str,
    req: &ExportRequest,
    params: &[(&str, &str)],
    progress: &dyn ProgressListener,
) -> Result<PushReport, RemoteError> {
    let content_type = match req.format {
        OutputFormat::Bundle => "application/fhir+json",
        OutputFormat::Ndjson | OutputFormat::Phr => "application/x-ndjson",
        OutputFormat::Sphr => "application/zip",
    };
    let passphrase = match (
        &req.passphrase,
        req.format == OutputFormat::Sphr && req.encrypt,
    ) {
        (Some(p), true) => Some(p.expose().to_owned()),
        (None, true) => {
            return Err(
                crate::Error::param("passphrase", "pushing an encrypted sphr needs one").into(),
            );
        }
        (_, false) => None,
    };
    secure_transport(base_url)?;
    let url = endpoint(base_url, "/Bundle/$import", params);
    let (mut writer, reader) = pipe::pipe();
    let auth = format!("Bearer {token}");
    std::thread::scope(|scope| {
        let upload = scope.spawn(move || {
            // `Expect: 100-continue`: a refusal (401, 413, 415…) arrives before the body is sent.
            let mut request = agent()
                .post(&url)
                .header("Expect", "100-continue")
                .header("Authorization", &auth)
                .header("Content-Type", content_type);
            if let Some(p) = &passphrase {
                request = request.header("X-PHR-Passphrase", p);
            }
            let mut response = request
                .send(ureq::SendBody::from_owned_reader(reader))
                .map_err(transport)?;
            if response.status() != 200 {
                return Err(status_error(response));
            }
            let text = response
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_string()
                .map_err(transport)?;
            serde_json::from_str::<Value>(&text).map_err(|_| RemoteError::Status {
                status: 200,
                diagnostics: "the answer is not an OperationOutcome".into(),
            })
        });
        let exported = store.export(req, &mut writer, progress);
        match &exported {
            Ok(_) => {
                let _ = writer.flush();
                drop(writer);
            }
            Err(_) => writer.abort(),
        }
        let uploaded = upload
            .join()
            .map_err(|_| RemoteError::Transport("the upload thread failed".into()))?;
        // The server's answer explains a refused upload better than the broken pipe it caused.
        match (exported, uploaded) {
            (Ok(export), Ok(outcome)) => Ok(PushReport { export, outcome }),
            (_, Err(e @ RemoteError::Status { .. })) => Err(e),
            (Err(e), _) => Err(e.into()),
            (Ok(_), Err(e)) => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{self, Read};

    #[test]
    fn records_never_travel_over_plain_http_to_another_machine() {
        for ok in [
            "https://clinic.example/fhir",
            "http://127.0.0.1:8080",
            "http://localhost/x",
            "http://[::1]:9/",
        ] {
            assert!(secure_transport(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://clinic.example/fhir",
            "http://10.0.0.5",
            "ftp://x",
            "not a url",
        ] {
            assert!(secure_transport(bad).is_err(), "{bad}");
        }
        // Refused before anything is sent or stored.
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("s.db")).unwrap();
        let r = pull(
            &mut store,
            "http://clinic.example",
            "t",
            &[],
            &ImportOptions::default(),
            &|_| {},
        );
        assert!(matches!(r, Err(RemoteError::Local(_))), "{r:?}");
    }

    /// Yields `data` in small pieces, then fails.
    struct Failing {
        data: Vec<u8>,
        pos: usize,
    }

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
            }
            let n = out.len().min(7).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn read_all(data: &[u8], fail: bool) -> (Vec<u8>, LineState) {
        let state = Arc::new(Mutex::new(LineState::default()));
        let mut out = Vec::new();
        if fail {
            let inner = Failing {
                data: data.to_vec(),
                pos: 0,
            };
            CompleteLines::new(inner, None, state.clone(), &|_| {})
                .read_to_end(&mut out)
                .unwrap();
        } else {
            CompleteLines::new(data, None, state.clone(), &|_| {})
                .read_to_end(&mut out)
                .unwrap();
        }
        let s = state.lock().unwrap().clone();
        (out, s)
    }

    #[test]
    fn a_cut_keeps_the_complete_lines_and_drops_the_partial_one() {
        let data = b"{\"resourceType\":\"Patient\",\"id\":\"p\"}\n{\"resourceType\":\"Observation\",\"id\":\"o\"}\n{\"resourceType\":\"Obs";
        let (out, state) = read_all(data, true);
        assert!(out.ends_with(b"\"o\"}\n"));
        assert_eq!(out.len(), data.len() - 20);
        let cut = state.cut.expect("a cut is recorded");
        assert_eq!(cut.lines_kept, 2);
        assert_eq!(cut.bytes_dropped, 20);
        assert_eq!(cut.bytes_received, data.len() as u64);
        assert_eq!(state.progress.by_type["Observation"], 1);
    }

    #[test]
    fn a_clean_end_keeps_a_last_line_without_newline() {
        let data = b"{\"resourceType\":\"Patient\"}\n{\"resourceType\":\"Patient\"}";
        let (out, state) = read_all(data, false);
        assert_eq!(out, data);
        assert!(state.cut.is_none());
        assert_eq!(state.progress.resources, 2);
    }
}
