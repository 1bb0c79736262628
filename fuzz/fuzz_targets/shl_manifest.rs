//! The recipient's side of a SMART Health Link (`HttpClient::fetch_files`): a manifest (or a
//! direct `U` file) of arbitrary bytes, served by a fake link host on 127.0.0.1.
//!
//! The manifest is read inside `fetch_files` (`shl/client.rs`), so it is fuzzed through the
//! public call with a real HTTP round trip. The first byte picks the host's behaviour:
//! bits 0–2 the status of the manifest (or `U` file) answer (200, 200, 401, 403, 404, 410,
//! 429 with `Retry-After: 0`, 500), bit 3 a passcode, bit 4 a `U` link (the rest is the
//! file itself), bit 5 a 4 KiB plaintext budget instead of 1 MiB. The rest is the body.
//!
//! So that the client never leaves this machine, every `location` it would fetch is pointed
//! at the fake host, which answers it with a valid JWE; an `embedded` value of
//! `"fuzz:valid"` is replaced by a valid JWE too (the seed corpus uses it), so the decrypting
//! half is reached past the AES-GCM tag.
//!
//! Checks: no panic; at most `MAX_FILES` files and the plaintext budget in all; a `U` link
//! gives one file; no error message contains the host's URL (a link's URL is a capability).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phrkit::shl::client::{HttpClient, MAX_FILES};
use phrkit::net::reach::{Reach, check_url};
use phrkit::shl::jwe::{Compress, encrypt};
use phrkit::shl::link::ShlPayload;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The link key (the HL7 examples' key, so the fixture JWE decrypts).
const KEY: &str = "rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q";

/// What the fake host answers next.
#[derive(Default)]
struct Reply {
    status: u16,
    /// The body of the manifest (`/m`) or direct-file (`/u`) answer.
    body: Vec<u8>,
}

struct Host {
    base: String,
    reply: Arc<Mutex<Reply>>,
    client: HttpClient,
    /// A JWE of a small Patient under [`KEY`], for `location` and `"fuzz:valid"`.
    jwe: String,
}

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("cannot listen: {e}"));
        let base = match listener.local_addr() {
            Ok(a) => format!("http://{a}"),
            Err(e) => panic!("no address: {e}"),
        };
        let key = ShlPayload::new("", KEY)
            .key_bytes()
            .unwrap_or_else(|e| panic!("{e}"));
        let jwe = encrypt(
            br#"{"resourceType":"Patient","id":"p"}"#,
            &key,
            "application/fhir+json",
            Compress::Never,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let reply = Arc::new(Mutex::new(Reply::default()));
        let (shared, file) = (reply.clone(), jwe.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, &shared, file.as_bytes());
            }
        });
        Host {
            base,
            reply,
            client: HttpClient::new(Reach::Local),
            jwe,
        }
    })
}

/// Reads one request (headers, and a body by length or chunks) and answers it.
fn answer(mut stream: TcpStream, reply: &Mutex<Reply>, file: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 8192];
    let complete = |r: &[u8]| -> bool {
        let Some(end) = r.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&r[..end]).to_ascii_lowercase();
        let body = r.len() - end - 4;
        if head.contains("transfer-encoding: chunked") {
            return r.ends_with(b"0\r\n\r\n");
        }
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        body >= length
    };
    while !complete(&request) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let path = request
        .split(|&b| b == b' ')
        .nth(1)
        .unwrap_or_default()
        .to_vec();
    let (status, body) = if path.starts_with(b"/f") {
        (200, file.to_vec())
    } else {
        let r = reply.lock().unwrap_or_else(|p| p.into_inner());
        (r.status, r.body.clone())
    };
    let retry = if status == 429 {
        "retry-after: 0\r\n"
    } else {
        ""
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// The manifest as served: every `location` the client would fetch points at the fake
/// host, and `"fuzz:valid"` embeds a valid JWE. Untouched bytes when nothing needs it.
fn served(body: &[u8], host: &Host) -> Vec<u8> {
    let Ok(Value::Object(mut manifest)) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let mut changed = false;
    if let Some(Value::Array(files)) = manifest.get_mut("files") {
        for f in files.iter_mut().filter_map(Value::as_object_mut) {
            match f.get("embedded") {
                Some(Value::String(e)) if e == "fuzz:valid" => {
                    f.insert("embedded".into(), Value::String(host.jwe.clone()));
                    changed = true;
                }
                Some(Value::String(_)) => {}
                _ => {
                    if let Some(Value::String(loc)) = f.get("location")
                        && check_url(loc, Reach::Local).is_ok()
                    {
                        f.insert("location".into(), format!("{}/f", host.base).into());
                        changed = true;
                    }
                }
            }
        }
    }
    if changed {
        serde_json::to_vec(&manifest).unwrap_or_default()
    } else {
        body.to_vec()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let host = host();
    let status = [200, 200, 401, 403, 404, 410, 429, 500][usize::from(flags & 7)];
    let direct = flags & 16 != 0;
    let budget = if flags & 32 != 0 { 4 << 10 } else { 1 << 20 };
    let mut payload = ShlPayload::new(
        format!("{}/{}", host.base, if direct { "u" } else { "m" }),
        KEY,
    );
    if direct {
        payload.flag = Some("LU".into());
    }
    {
        let mut reply = host.reply.lock().unwrap_or_else(|p| p.into_inner());
        reply.status = status;
        reply.body = if direct {
            body.to_vec()
        } else {
            served(body, host)
        };
    }
    let passcode = (flags & 8 != 0).then_some("1234");
    match host
        .client
        .fetch_files(&payload, "Fuzz Clinic", passcode, budget)
    {
        Ok(files) => {
            assert!(files.len() <= MAX_FILES, "{} files", files.len());
            assert!(
                !direct || files.len() == 1,
                "a U link gave {} files",
                files.len()
            );
            let total: usize = files.iter().map(|f| f.bytes.len()).sum();
            assert!(
                total <= budget,
                "{total} bytes over the {budget}-byte budget"
            );
            let _ = format!("{files:?}");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.contains("127.0.0.1"),
                "an error names the URL: {message}"
            );
        }
    }
});
