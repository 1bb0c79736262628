//! Independent implementations check phrkit's SMART Health Links: Python `jwcrypto` decrypts
//! our JWEs and we decrypt its; npm `kill-the-clipboard` parses our links and its viewer
//! opens them against our host (passcode, embedded and location paths); `zbarimg` reads our
//! QR codes back to the exact link. `scripts/test.sh` installs all three; outside CI a
//! missing tool skips its test with a notice.

mod common;

use common::host;
use phrkit::Store;
use phrkit::shl::content::ShareProfile;
use phrkit::shl::jwe::{Compress, decrypt, encrypt};
use phrkit::shl::link::{ShlPayload, generate_key};

use phrkit::secret::Secret;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// Runs a tool, feeding `stdin`; `None` (with a notice) when the tool is missing outside CI.
fn run(program: &str, args: &[&str], stdin: &[u8]) -> Option<(bool, String, String)> {
    let child = Command::new(program)
        .args(args)
        .current_dir(interop_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{program} is required in CI: {e}"
            );
            eprintln!("notice: {program} not available; skipping");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn tool_ready(check: &[&str]) -> bool {
    let ok = Command::new(check[0])
        .args(&check[1..])
        .current_dir(interop_dir())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{check:?} must work in CI (scripts/test.sh installs it)"
        );
        eprintln!("notice: {check:?} unavailable; skipping");
    }
    ok
}

fn key() -> (String, [u8; 32]) {
    let text = generate_key();
    let bytes = ShlPayload {
        url: "https://x/".into(),
        key: text.clone(),
        flag: None,
        label: None,
        exp: None,
        v: None,
    }
    .key_bytes()
    .unwrap();
    (text, bytes)
}

#[test]
fn jwcrypto_and_phrkit_read_each_others_jwes() {
    if !tool_ready(&["python3", "-c", "import jwcrypto"]) {
        return;
    }
    let (text, bytes) = key();
    let plaintext = br#"{"resourceType":"Bundle","type":"collection","entry":[]}"#.repeat(40);
    for compress in [Compress::Never, Compress::Always] {
        let jwe = encrypt(&plaintext, &bytes, "application/fhir+json", compress).unwrap();
        let (ok, out, err) = run("python3", &["jw.py", "decrypt", &text], jwe.as_bytes()).unwrap();
        assert!(ok, "{err}");
        assert_eq!(out.as_bytes(), plaintext.as_slice());
    }
    for zip in ["true", "false"] {
        let (ok, jwe, err) = run(
            "python3",
            &["jw.py", "encrypt", &text, "application/fhir+json", zip],
            &plaintext,
        )
        .unwrap();
        assert!(ok, "{err}");
        let d = decrypt(&jwe, &bytes, 1 << 20).unwrap();
        assert_eq!(d.plaintext, plaintext);
        assert_eq!(d.content_type.as_deref(), Some("application/fhir+json"));
    }
}

fn shared_store() -> (tempfile::TempDir, Store) {
    common::generated_store(300, 9)
}

#[test]
fn kill_the_clipboard_parses_and_opens_our_links() {
    if !tool_ready(&["node", "-e", "import('kill-the-clipboard')"]) {
        return;
    }
    let h = host();
    let (_d, phone) = shared_store();
    let mut opts = h.share_options(ShareProfile::Emergency);
    opts.passcode = Some(Secret::new("2468"));
    opts.viewer = Some("https://viewer.example.org/".into());
    let link = phone.share(&opts).unwrap();
    let (ok, out, err) = run("node", &["ktc.mjs", "parse", link.uri.expose()], b"").unwrap();
    assert!(ok, "{err}");
    let parsed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            parsed["flag"].as_str(),
            parsed["keyLength"].as_u64(),
            parsed["passcode"].as_bool()
        ),
        (Some("P"), Some(43), Some(true))
    );

    for (max, path) in [("100000", "embedded"), ("10", "located")] {
        let (ok, out, err) = run(
            "node",
            &[
                "ktc.mjs",
                "resolve",
                link.uri.expose(),
                "Oracle Pharmacy",
                "2468",
                max,
            ],
            b"",
        )
        .unwrap();
        assert!(ok, "{path}: {err}");
        let got: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(got["files"], 1, "{out}");
        assert_eq!(got["types"][0], "Bundle:document");
        assert_eq!(got[path], 1, "{path} path used: {out}");
    }
    let (ok, _, err) = run(
        "node",
        &[
            "ktc.mjs",
            "resolve",
            link.uri.expose(),
            "Oracle Pharmacy",
            "wrong",
        ],
        b"",
    )
    .unwrap();
    assert!(!ok && err.contains("SHLInvalidPasscodeError"), "{err}");
}

#[test]
fn kill_the_clipboard_and_phrkit_read_each_others_jwes() {
    if !tool_ready(&["node", "-e", "import('kill-the-clipboard')"]) {
        return;
    }
    let (text, bytes) = key();
    let plaintext = br#"{"resourceType":"Patient","id":"p1"}"#;
    let jwe = encrypt(plaintext, &bytes, "application/fhir+json", Compress::Always).unwrap();
    let (ok, out, err) = run("node", &["ktc.mjs", "decrypt", &text], jwe.as_bytes()).unwrap();
    assert!(ok, "{err}");
    let got: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(got["content"].as_str().unwrap().as_bytes(), plaintext);
    let (ok, theirs, err) = run(
        "node",
        &["ktc.mjs", "encrypt", &text, "application/fhir+json", "true"],
        plaintext,
    )
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(
        decrypt(&theirs, &bytes, 1 << 20).unwrap().plaintext,
        plaintext
    );
}

#[test]
fn zbarimg_reads_our_qr_codes_back_to_the_exact_link() {
    if !tool_ready(&["zbarimg", "--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let link = ShlPayload {
        url: "https://shl.example.org/api/shl/Y9xwkUdtmN9wwoJoN3ffJIhX2UGvCL1JnlPVNL3kDWM".into(),
        key: generate_key(),
        flag: Some("LP".into()),
        label: Some("Emergency patient summary".into()),
        exp: Some(1_900_000_000),
        v: None,
    }
    .encode_with_viewer("https://viewer.example.org/");
    let png = dir.path().join("qr.png");
    std::fs::write(&png, phrkit::shl::qr::png(&link, 6).unwrap()).unwrap();
    let out = Command::new("zbarimg")
        .args(["--nodbus", "--raw", "-q"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), link);
    let svg = dir.path().join("qr.svg");
    std::fs::write(&svg, phrkit::shl::qr::svg(&link).unwrap()).unwrap();
    let converted = dir.path().join("svg.png");
    if Command::new("rsvg-convert")
        .arg("-o")
        .arg(&converted)
        .arg(&svg)
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let out = Command::new("zbarimg")
            .args(["--nodbus", "--raw", "-q"])
            .arg(&converted)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            link,
            "the SVG too"
        );
    }
}
