//! The `shlink:/` URI and its JSON payload (HL7 SMART Health Links STU1, "SHLink Payload").
//!
//! Design choices and trade-offs:
//!
//! - **Two rule sets.** [`ShlPayload::validate`] enforces every rule for links *we* create
//!   (url ≤ 128 characters, 43-character canonical key, label ≤ 80, flag in
//!   `L`/`P`/`LP`/`U`/`LU`, `v` 1 or absent): the strictest reading of STU1 and of the
//!   stricter validators (kill-the-clipboard, health-cards-dev-tools), so every other
//!   implementation accepts our links. [`ShlPayload::decode`] is the lenient receiver the
//!   spec asks for: it ignores unknown properties and unknown flag letters, strips
//!   whitespace and `=` padding, and finds the link after a viewer prefix (`…#shlink:/`).
//! - **Byte-exact encoding.** Keys are written in the order url, flag, key, label, exp, v,
//!   so the spec's worked example (which has no `exp` or `v`) re-encodes byte for byte.
//!   Absent fields are omitted, never written as `null`.
//! - **Label length** is counted in UTF-16 code units, as JavaScript validators do; for
//!   text outside the Basic Multilingual Plane this is stricter than counting characters,
//!   which keeps our links valid for those validators too.
//! - **`exp` as a number only.** A string (as in the HL7 example `shl-payload-1.json`, in
//!   milliseconds) is refused with a precise error rather than guessed at.
//! - **Secrets stay out of logs.** `Debug` redacts the key, and error messages never quote
//!   the link or the key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{B64_LENIENT, ShlError, os_random};

/// The URI scheme prefix of a bare link.
pub const SCHEME_PREFIX: &str = "shlink:/";
/// Longest `url` a payload may carry, in characters (STU1: SHALL NOT exceed 128).
pub const MAX_URL_CHARS: usize = 128;
/// Longest `label`, in UTF-16 code units (STU1: ≤ 80 characters).
pub const MAX_LABEL_CHARS: usize = 80;
/// The flag strings valid in protocol version 1 (letters in alphabetical order).
pub const VALID_FLAGS: [&str; 5] = ["L", "LP", "LU", "P", "U"];

/// The decoded payload of a SMART Health Link.
///
/// Fields mirror the spec's JSON properties, declared in the order they are serialized
/// (absent ones are skipped). There is deliberately no `Deserialize`: use the lenient
/// [`decode`](Self::decode). `Debug` is written by hand and redacts `key` and `url` (the
/// manifest URL holds the link id, a capability); `key` is zeroed when the payload is dropped.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ShlPayload {
    /// Manifest URL, or with flag `U` the URL of the single encrypted file.
    pub url: String,
    /// Flag letters in alphabetical order (`L` long-term, `P` passcode, `U` direct file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The AES-256 key: 43 base64url characters encoding 32 bytes.
    pub key: String,
    /// A short description shown to the receiver, ≤ 80 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Expiry hint, in seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Protocol version; absent means 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
}

impl Drop for ShlPayload {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

impl fmt::Debug for ShlPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShlPayload")
            .field("url", &"<redacted>")
            .field("key", &"<redacted>")
            .field("exp", &self.exp)
            .field("flag", &self.flag)
            .field("label", &self.label)
            .field("v", &self.v)
            .finish()
    }
}

impl ShlPayload {
    /// A payload with only the required fields; set the others directly.
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key: key.into(),
            exp: None,
            flag: None,
            label: None,
            v: None,
        }
    }

    /// Checks every rule for a link we create; the error names the first rule broken.
    pub fn validate(&self) -> Result<(), ShlError> {
        let bad = |m: String| Err(ShlError::InvalidPayload(m));
        let url_len = self.url.chars().count();
        if url_len == 0 {
            return bad("url is empty".into());
        }
        if url_len > MAX_URL_CHARS {
            return bad(format!("url has {url_len} characters (max 128)"));
        }
        if self.key.len() != 43 || URL_SAFE_NO_PAD.decode(&self.key).is_err() {
            return bad("key must be 43 canonical base64url characters (32 bytes)".into());
        }
        if let Some(label) = &self.label {
            let n = label.encode_utf16().count();
            if n > MAX_LABEL_CHARS {
                return bad(format!("label has {n} characters (max 80)"));
            }
        }
        if let Some(flag) = &self.flag {
            if flag.contains('U') && flag.contains('P') {
                return bad("flag U (direct file) cannot be combined with P (passcode)".into());
            }
            if !VALID_FLAGS.contains(&flag.as_str()) {
                return bad(format!("flag must be one of {VALID_FLAGS:?}"));
            }
        }
        match self.v {
            None | Some(1) => Ok(()),
            Some(v) => bad(format!("unsupported version v={v} (only 1)")),
        }
    }

    /// The bare link: `shlink:/` + base64url (no padding) of the minified JSON payload.
    ///
    /// Does not validate; call [`validate`](Self::validate) on links you create.
    pub fn encode(&self) -> String {
        // Serializing strings and integers into memory cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{SCHEME_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// The link behind a viewer URL: `<viewer>#shlink:/…` (a trailing `#` on `viewer` is
    /// not doubled). The payload sits in the fragment, which browsers never send to servers.
    pub fn encode_with_viewer(&self, viewer: &str) -> String {
        format!("{}#{}", viewer.trim_end_matches('#'), self.encode())
    }

    /// Parses a bare link or any text containing `#shlink:/` (a viewer URL).
    ///
    /// Lenient as receivers must be: unknown properties and flag letters are ignored (the
    /// known letters L, P, U are kept in alphabetical order), whitespace and `=` padding are
    /// stripped, `null` counts as absent. `label` and `url` lengths are not checked.
    pub fn decode(input: &str) -> Result<ShlPayload, ShlError> {
        let input = input.trim();
        let encoded = (input.strip_prefix(SCHEME_PREFIX))
            .or_else(|| input.split_once("#shlink:/").map(|(_, rest)| rest))
            .ok_or_else(|| ShlError::InvalidLink("no `shlink:/` found".into()))?;
        let cleaned: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = B64_LENIENT
            .decode(cleaned.trim_end_matches('='))
            .map_err(|_| ShlError::InvalidLink("payload is not base64url".into()))?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ShlError::InvalidLink(format!("payload is not JSON ({e})")))?;
        let Value::Object(obj) = json else {
            return Err(invalid("payload is not a JSON object"));
        };
        let url = string_field(&obj, "url")?.ok_or_else(|| invalid("url is missing"))?;
        let key = string_field(&obj, "key")?.ok_or_else(|| invalid("key is missing"))?;
        let flag = string_field(&obj, "flag")?.and_then(|f| {
            let known: String = ['L', 'P', 'U']
                .into_iter()
                .filter(|c| f.contains(*c))
                .collect();
            (!known.is_empty()).then_some(known)
        });
        let payload = ShlPayload {
            url,
            key,
            exp: exp_field(&obj)?,
            flag,
            label: string_field(&obj, "label")?,
            v: match obj.get("v") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| invalid("v must be a non-negative integer"))?,
                ),
            },
        };
        payload.key_bytes()?;
        Ok(payload)
    }

    /// The 32 raw key bytes (a non-canonical final character is tolerated).
    pub fn key_bytes(&self) -> Result<[u8; 32], ShlError> {
        let err = || invalid("key must be 43 base64url characters encoding 32 bytes");
        if self.key.len() != 43 {
            return Err(err());
        }
        let bytes = B64_LENIENT.decode(&self.key).map_err(|_| err())?;
        bytes.try_into().map_err(|_| err())
    }

    /// Whether the flag string contains `letter` (e.g. `'P'`).
    pub fn has_flag(&self, letter: char) -> bool {
        self.flag.as_deref().is_some_and(|f| f.contains(letter))
    }

    /// Whether `exp` is set and lies before `now_epoch_s` (a hint: servers decide).
    pub fn is_expired(&self, now_epoch_s: i64) -> bool {
        self.exp.is_some_and(|exp| exp < now_epoch_s)
    }

    /// The protocol version, 1 when `v` is absent. Receivers should not fetch a manifest
    /// for a version they do not support (they may still show the label).
    pub fn version(&self) -> u32 {
        self.v.unwrap_or(1)
    }
}

/// A fresh AES-256 key: 32 bytes from the OS CSPRNG as 43 base64url characters.
///
/// # Panics
/// If the operating system's random number generator fails (never on a working OS).
/// A link must not be made without real randomness, so there is no fallback.
pub fn generate_key() -> String {
    random_id()
}

/// A fresh unguessable identifier (256 bits, 43 base64url characters) for URL path
/// segments and tokens: enough for the spec's "≥ 256 bits of entropy" in `url`.
///
/// # Panics
/// If the operating system's random number generator fails, as [`generate_key`].
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    #[allow(clippy::expect_used)] // not input-dependent; no safe way to go on
    os_random(&mut bytes).expect("operating system random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn invalid(msg: &str) -> ShlError {
    ShlError::InvalidPayload(msg.to_owned())
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ShlError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ShlError::InvalidPayload(format!("{name} must be a string"))),
    }
}

fn exp_field(obj: &Map<String, Value>) -> Result<Option<i64>, ShlError> {
    match obj.get("exp") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            // A fractional number of seconds: keep the whole seconds.
            (None, Some(f)) if f.is_finite() && f.abs() < 9.0e18 => Ok(Some(f.floor() as i64)),
            _ => Err(invalid("exp is out of range for epoch seconds")),
        },
        Some(Value::String(_)) => Err(invalid("exp must be a JSON number, found a string")),
        Some(_) => Err(invalid("exp must be a JSON number of epoch seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_B64: &str = "eyJ1cmwiOiJodHRwczovL2Voci5leGFtcGxlLm9yZy9xci9ZOXh3a1VkdG1OOXd3b0pvTjNmZkpJaFgyVUd2Q0wxSm5sUFZOTDNrRFdNL20iLCJmbGFnIjoiTFAiLCJrZXkiOiJyeFRnWWxPYUtKUEZ0Y0VkMHFjY2VOOHdFVTRwOTRTcUF3SVdRZTZ1WDdRIiwibGFiZWwiOiJCYWNrLXRvLXNjaG9vbCBpbW11bml6YXRpb25zIGZvciBPbGl2ZXIgQnJvd24ifQ";
    const V1_KEY: &str = "rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q";

    fn v1() -> ShlPayload {
        let mut p = ShlPayload::new(
            "https://ehr.example.org/qr/Y9xwkUdtmN9wwoJoN3ffJIhX2UGvCL1JnlPVNL3kDWM/m",
            V1_KEY,
        );
        p.flag = Some("LP".into());
        p.label = Some("Back-to-school immunizations for Oliver Brown".into());
        p
    }

    fn edit(f: &dyn Fn(&mut ShlPayload)) -> ShlPayload {
        let mut p = v1();
        f(&mut p);
        p
    }

    fn link_of(json: &str) -> String {
        format!("shlink:/{}", URL_SAFE_NO_PAD.encode(json))
    }

    fn payload_err(r: Result<ShlPayload, ShlError>) -> String {
        match r {
            Err(e @ (ShlError::InvalidPayload(_) | ShlError::InvalidLink(_))) => e.to_string(),
            other => panic!("expected a payload error, got {other:?}"),
        }
    }

    #[test]
    fn v1_encodes_and_decodes_byte_for_byte() {
        let link = format!("shlink:/{V1_B64}");
        assert_eq!(link.len(), 278);
        assert!(v1().validate().is_ok());
        assert_eq!(v1().encode(), link);
        let decoded = ShlPayload::decode(&link).unwrap();
        assert_eq!(decoded, v1());
        assert_eq!(decoded.encode(), link);
        let viewer = v1().encode_with_viewer("https://viewer.example.org#");
        assert_eq!(viewer, format!("https://viewer.example.org#{link}"));
        assert_eq!(ShlPayload::decode(&viewer).unwrap(), v1());
    }

    #[test]
    fn decode_is_lenient_and_round_trips_all_fields() {
        let messy = format!("  shlink:/{}\n{}==\n", &V1_B64[..100], &V1_B64[100..]);
        assert_eq!(ShlPayload::decode(&messy).unwrap(), v1());
        let viewer = format!("https://viewer.tcpdev.org/shlink.html#shlink:/{V1_B64}");
        assert_eq!(ShlPayload::decode(&viewer).unwrap(), v1());
        let full = edit(&|p| (p.exp, p.v) = (Some(1_767_225_600), Some(1)));
        assert_eq!(ShlPayload::decode(&full.encode()).unwrap(), full);
    }

    #[test]
    fn unknown_fields_and_flag_letters_are_ignored() {
        let json = format!(
            r#"{{"url":"https://x.example/m","key":"{V1_KEY}","flag":"XPLZ","_ext":1,"extension":{{}},"exp":1.5e9,"label":null}}"#
        );
        let p = ShlPayload::decode(&link_of(&json)).unwrap();
        assert_eq!(p.flag.as_deref(), Some("LP"));
        assert_eq!(p.exp, Some(1_500_000_000));
        assert_eq!(p.label, None);
        let json = format!(r#"{{"url":"u","key":"{V1_KEY}","flag":"QZ"}}"#);
        assert_eq!(ShlPayload::decode(&link_of(&json)).unwrap().flag, None);
    }

    #[test]
    fn fixtures_decode_or_fail_precisely() {
        let Some(dir) = crate::shl::fixtures() else {
            return;
        };
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        let p = ShlPayload::decode(&read("IPS_IG-bundle-01-shl.txt")).unwrap();
        assert_eq!(
            p,
            ShlPayload::decode(&link_of(&read("shl-payload-2.json"))).unwrap()
        );
        assert!(p.has_flag('U') && p.has_flag('L') && !p.has_flag('P'));
        assert!(p.validate().is_ok());
        let msg = payload_err(ShlPayload::decode(&link_of(&read("shl-payload-1.json"))));
        assert!(msg.contains("exp must be a JSON number"), "{msg}");
        assert!(
            !msg.contains("1767225600000") && !msg.contains(V1_KEY),
            "{msg}"
        );
    }

    #[test]
    fn decode_reports_precise_errors() {
        let with_key = |rest: &str| link_of(&format!(r#"{{"key":"{V1_KEY}"{rest}}}"#));
        let cases = [
            ("https://example.org/no-link".to_owned(), "no `shlink:/`"),
            ("shlink:/$$$$".to_owned(), "not base64url"),
            (link_of("not json"), "not JSON"),
            (link_of("[1,2]"), "not a JSON object"),
            (with_key(""), "url is missing"),
            (link_of(r#"{"url":"u"}"#), "key is missing"),
            (link_of(r#"{"url":"u","key":"c2hvcnQ"}"#), "32 bytes"),
            (with_key(r#","url":7"#), "url must be a string"),
            (with_key(r#","url":"u","v":-1"#), "v must be"),
            (
                with_key(r#","url":"u","exp":true"#),
                "exp must be a JSON number",
            ),
        ];
        for (input, expected) in cases {
            let msg = payload_err(ShlPayload::decode(&input));
            assert!(msg.contains(expected), "{expected:?} not in {msg:?}");
            assert!(!msg.contains(V1_KEY));
        }
    }

    #[test]
    fn validate_rules_one_by_one() {
        let err = |p: ShlPayload| match p.validate() {
            Err(ShlError::InvalidPayload(m)) => m,
            other => panic!("expected InvalidPayload, got {other:?}"),
        };
        assert!(err(edit(&|p| p.flag = Some("PU".into()))).contains("cannot be combined"));
        assert!(err(edit(&|p| p.flag = Some("LPU".into()))).contains("cannot be combined"));
        assert!(err(edit(&|p| p.flag = Some("PL".into()))).contains("flag must be one of"));
        for ok in VALID_FLAGS {
            assert!(
                edit(&|p| p.flag = Some(ok.into())).validate().is_ok(),
                "{ok}"
            );
        }
        let url = format!("https://example.org/{}", "a".repeat(128 - 20));
        assert!(edit(&|p| p.url = url.clone()).validate().is_ok());
        assert!(err(edit(&|p| p.url = format!("{url}b"))).contains("129 characters"));
        assert!(err(edit(&|p| p.url.clear())).contains("empty"));
        assert!(edit(&|p| p.label = Some("é".repeat(80))).validate().is_ok());
        assert!(err(edit(&|p| p.label = Some("x".repeat(81)))).contains("81 characters"));
        assert!(err(edit(&|p| p.key.truncate(42))).contains("43"));
        // 43 characters, but the last one leaves non-zero unused bits.
        let non_canonical = edit(&|p| p.key = format!("{}R", &V1_KEY[..42]));
        assert!(non_canonical.key_bytes().is_ok());
        assert!(err(non_canonical).contains("canonical"));
        assert!(err(edit(&|p| p.v = Some(2))).contains("v=2"));
        assert!(edit(&|p| p.v = Some(1)).validate().is_ok());
    }

    #[test]
    fn debug_redaction_keys_and_helpers() {
        let shown = format!("{:?}", v1());
        assert!(
            !shown.contains(V1_KEY) && shown.contains("<redacted>"),
            "{shown}"
        );
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert_eq!(random_id().len(), 43);
        let p = ShlPayload::new(format!("https://h.example/{}", random_id()), a);
        assert!(p.validate().is_ok() && p.key_bytes().is_ok());
        let p = edit(&|p| p.exp = Some(100));
        assert!(p.has_flag('P') && !p.has_flag('U'));
        assert!(!p.is_expired(100) && p.is_expired(101));
        assert!(!v1().is_expired(i64::MAX));
        assert_eq!(v1().version(), 1);
    }
}
