//! The SMART Health Link parser (`ShlPayload::decode`) on arbitrary text: bare `shlink:/`
//! links, viewer URLs (`…#shlink:/…`), padding, whitespace, any JSON payload.
//!
//! Checks that it never panics; that an accepted payload has a usable 32-byte key; that it
//! re-encodes, bare and behind a viewer, to a link that decodes to the same payload; that
//! `validate` and `Debug` never panic, and `Debug` never shows the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phrkit::shl::link::ShlPayload;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(payload) = ShlPayload::decode(&text) else {
        return;
    };
    assert!(payload.key_bytes().is_ok(), "accepted without a usable key");
    let _ = payload.validate();
    let _ = (
        payload.version(),
        payload.is_expired(0),
        payload.has_flag('P'),
    );
    let again = ShlPayload::decode(&payload.encode());
    assert_eq!(
        again.as_ref().ok(),
        Some(&payload),
        "bare re-encoding differs"
    );
    let viewer = payload.encode_with_viewer("https://viewer.example.org/#");
    let again = ShlPayload::decode(&viewer);
    assert_eq!(
        again.as_ref().ok(),
        Some(&payload),
        "viewer re-encoding differs"
    );
    let debug = format!("{payload:?}");
    assert!(debug.contains("<redacted>"), "Debug lost the redaction");
    let elsewhere = [payload.url.as_str(), payload.flag.as_deref().unwrap_or("")]
        .into_iter()
        .chain(payload.label.as_deref())
        .any(|s| s.contains(&payload.key));
    assert!(
        elsewhere || !debug.contains(&payload.key),
        "Debug shows the key"
    );
});
