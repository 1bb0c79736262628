//! The SHL file format: compact JWE with `alg: dir`, `enc: A256GCM`, optional `zip: DEF`.
//!
//! Design choices and trade-offs:
//!
//! - **One profile, not a JOSE library.** Only what SHL uses is implemented, on top of the
//!   audited `aes-gcm` crate: direct key agreement (the link's 32-byte key is the content
//!   key), AES-256-GCM with a 96-bit IV and 128-bit tag, AAD = the ASCII of the encoded
//!   protected header (RFC 7516 §5.1). Anything else is refused with
//!   [`ShlError::UnsupportedAlgorithm`] rather than half-supported.
//! - **Fresh random IV per call** from the OS CSPRNG: one key covers every file and every
//!   update of a link, so IVs must never repeat (STU1); 96 random bits make a collision
//!   negligible at any realistic number of files.
//! - **We write `cty`, we do not require it.** The header we produce is exactly
//!   `{"alg":"dir","enc":"A256GCM","cty":"…"}` (+ `"zip":"DEF"`); on input a missing `cty`
//!   and unknown headers such as `kid` are accepted (real producers emit both), but `crit`
//!   is refused as RFC 7515 requires for extensions we do not understand.
//! - **Compression is the caller's choice** ([`Compress`]): `IfSmaller` costs one DEFLATE
//!   pass and keeps the output only when it is smaller.
//! - **Hard size cap on decryption.** The plaintext, and the inflated output of `zip: DEF`,
//!   may not exceed the caller's `max_plaintext`; inflation reads through `take(max + 1)`,
//!   so a zip bomb stops after `max + 1` bytes with [`ShlError::TooLarge`].
//! - **Clear refusals.** A 3-part SMART Health Card JWS (seen in the HL7 examples where a
//!   JWE was expected) gets its own message; a failed tag check says "wrong key or tampered
//!   data" and nothing about the content.

use std::io::{Read, Write};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{B64_LENIENT, ShlError, os_random};

/// Default cap on decrypted (and decompressed) content: 64 MiB.
pub const DEFAULT_MAX_PLAINTEXT: usize = 64 * 1024 * 1024;

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Whether [`encrypt`] compresses the plaintext with raw DEFLATE (`zip: DEF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compress {
    /// Never compress.
    Never,
    /// Always compress, even when it makes the content larger.
    Always,
    /// Compress, and keep the compressed form only when it is strictly smaller.
    IfSmaller,
}

/// The result of [`decrypt`].
#[derive(Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext, already inflated when the JWE said `zip: DEF`.
    pub plaintext: Vec<u8>,
    /// The `cty` header, when present (e.g. `application/fhir+json`).
    pub content_type: Option<String>,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field(
                "plaintext",
                &format_args!("<{} bytes>", self.plaintext.len()),
            )
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// The protected header we write, in this key order.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    enc: &'a str,
    cty: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip: Option<&'a str>,
}

/// Encrypts `plaintext` into a compact JWE for an SHL file.
///
/// `content_type` goes into `cty` (e.g. `application/fhir+json`).
pub fn encrypt(
    plaintext: &[u8],
    key: &[u8; 32],
    content_type: &str,
    compress: Compress,
) -> Result<String, ShlError> {
    let deflated = match compress {
        Compress::Never => None,
        Compress::Always => Some(deflate(plaintext)?),
        Compress::IfSmaller => Some(deflate(plaintext)?).filter(|d| d.len() < plaintext.len()),
    };
    let header = Header {
        alg: "dir",
        enc: "A256GCM",
        cty: content_type,
        zip: deflated.as_ref().map(|_| "DEF"),
    };
    let header_json = serde_json::to_vec(&header).map_err(|_| ShlError::EncryptionFailed)?;
    seal(&header_json, deflated.as_deref().unwrap_or(plaintext), key)
}

/// AES-256-GCM with a fresh IV; AAD = the encoded header. Returns the compact JWE.
fn seal(header_json: &[u8], msg: &[u8], key: &[u8; 32]) -> Result<String, ShlError> {
    let header_b64 = URL_SAFE_NO_PAD.encode(header_json);
    let mut iv = [0u8; IV_LEN];
    os_random(&mut iv)?;
    let aad = header_b64.as_bytes();
    let sealed = (cipher(key).encrypt(&Nonce::from(iv), Payload { msg, aad }))
        .map_err(|_| ShlError::EncryptionFailed)?;
    let (ciphertext, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    Ok(format!(
        "{header_b64}..{}.{}.{}",
        b64(&iv),
        b64(ciphertext),
        b64(tag)
    ))
}

/// Decrypts a compact JWE of the SHL profile, refusing content over `max_plaintext` bytes
/// (after decompression); [`DEFAULT_MAX_PLAINTEXT`] is a sensible default.
pub fn decrypt(jwe: &str, key: &[u8; 32], max_plaintext: usize) -> Result<Decrypted, ShlError> {
    let parts: Vec<&str> = jwe.trim().split('.').collect();
    let [header_b64, encrypted_key, iv_b64, ct_b64, tag_b64] = parts[..] else {
        return Err(ShlError::NotAJwe(match parts.len() {
            3 => "this is a JWS (3 parts, a signed object such as a SMART Health Card), \
                  not a JWE (5 parts)"
                .to_owned(),
            n => format!("expected 5 dot-separated parts, found {n}"),
        }));
    };
    if !encrypted_key.is_empty() {
        return Err(ShlError::NotAJwe(
            "the encrypted key part must be empty for alg \"dir\"".into(),
        ));
    }
    let header = parse_header(header_b64)?;
    let text = |name: &str| header.get(name).and_then(Value::as_str);
    match (text("alg"), text("enc")) {
        (Some("dir"), Some("A256GCM")) => {}
        (alg, enc) => {
            return Err(ShlError::UnsupportedAlgorithm(format!(
                "alg {alg:?} / enc {enc:?} (only \"dir\" / \"A256GCM\" are supported)"
            )));
        }
    }
    if header.contains_key("crit") {
        return Err(ShlError::UnsupportedAlgorithm(
            "critical header extensions (crit) are not supported".into(),
        ));
    }
    let zip = match header.get("zip") {
        None => false,
        Some(Value::String(z)) if z == "DEF" => true,
        Some(_) => return Err(ShlError::UnsupportedAlgorithm("zip other than DEF".into())),
    };
    let content_type = match header.get("cty") {
        None => None,
        Some(Value::String(c)) => Some(c.clone()),
        Some(_) => return Err(ShlError::NotAJwe("cty must be a string".into())),
    };
    let iv = part(iv_b64, "IV")?;
    let iv: [u8; IV_LEN] = iv.try_into().map_err(|v: Vec<u8>| {
        ShlError::NotAJwe(format!("IV must be {IV_LEN} bytes, found {}", v.len()))
    })?;
    let tag = part(tag_b64, "tag")?;
    if tag.len() != TAG_LEN {
        let n = tag.len();
        return Err(ShlError::NotAJwe(format!(
            "tag must be {TAG_LEN} bytes, found {n}"
        )));
    }
    let mut sealed = part(ct_b64, "ciphertext")?;
    if !zip && sealed.len() > max_plaintext {
        return Err(ShlError::TooLarge {
            limit: max_plaintext,
        });
    }
    sealed.extend_from_slice(&tag);
    let opened = cipher(key)
        .decrypt(
            &Nonce::from(iv),
            Payload {
                msg: &sealed,
                aad: header_b64.as_bytes(),
            },
        )
        .map_err(|_| ShlError::DecryptionFailed)?;
    let plaintext = if zip {
        inflate(&opened, max_plaintext)?
    } else {
        opened
    };
    Ok(Decrypted {
        plaintext,
        content_type,
    })
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(&(*key).into())
}

fn part(b64: &str, name: &str) -> Result<Vec<u8>, ShlError> {
    B64_LENIENT
        .decode(b64)
        .map_err(|_| ShlError::NotAJwe(format!("the {name} part is not base64url")))
}

fn parse_header(b64: &str) -> Result<Map<String, Value>, ShlError> {
    let bytes = part(b64, "header")?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ShlError::NotAJwe(
            "the protected header is not a JSON object".into(),
        )),
    }
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, ShlError> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|_| ShlError::Compression)
}

/// Raw-inflates `data`, failing with `TooLarge` as soon as the output passes `max`.
fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, ShlError> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    DeflateDecoder::new(data)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| ShlError::Compression)?;
    if out.len() > max {
        return Err(ShlError::TooLarge { limit: max });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    const V1_KEY: &str = "rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q";
    const V2_JWE: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiY3R5IjoiYXBwbGljYXRpb24vc21hcnQtaGVhbHRoLWNhcmQifQ..B9Bd5AW751az-gEx.iah6mxLb5TQe2ZfCwEUs4R1t8WoP0mnFc-TUzN1NIyzUeDwJNOcxv4CY8wV6ys4Dicnr3IhqTvVU1RbR-4eq1GCd4g96faV8_0MbHwXzP246Tz9BDLhQ2zlAjYqvvCi_JuWdyWqGhKeWGX1XibNHFzzVT0FmYensfKF4o0uSeZWQDKVEEhzMSKuALMpUkfwHcmCRfLT-ctANSxq-Zj0IIeT66XbztOomStjlfi-F-FaqBGZfHOARCVvT143CTYELLJCUdD4qUVkrNuLmRZrNuqVpY0g5BjABswkIoDmyoRJAEohuZCamZNA--p-uRqJjRefED1eMrKSppabV2ugaqoFlieujTOE-a3VKib9aC-lFsmLalkwh9ctr_FZqS9H46rqGjGcOxtAXalo1jkMPGupVsE1W-xIH14wbPCYcgfldH9SH7X60462kxD8OFdHpvnnfAvjQnaE4QDqasT5ySpBRtck4GVxs2IRBt62-kOlzoI8lHapLdwIms-Gdt7z38E47ZE3afE4IIbobPGz7wGvjbi3z234ARvGQ4jREgPQb1NRYAEtZlrZNzR6N7ofXD8jF502tw-QWI_Ox0jFP5tynIiMp-hG25ecQ0s4MzPHFC0ZABPamgg3MS-UILl76gMDCHS5Te_JAXZoC1HnkETw5M217SaG5ISAU0F5qETMREfTjZR9E45MDhnw7uY1vo2lffRB3ei1QqGuLh0gUnVU7TUfFYwcOqV15sb0t1lMj0mmyG5v-_dE9H6dYtRKJARltmdfSmc1HisBewx75Xh5ChJQ1hiCEDaZ1wqFjsFJ6SrKgJ7C1N7vx6QKx8YXwFH7ePG2qG39leT5JKZnqAvi9fqc6x-YwfhSjbRKGZoj2o55Fd2fbwtK6CXpiW6AekT7PUcl_7ynTq-DaQ_Yc29WwtmgapcCRNpfcMsoqCD4giu1V3Sj5DQLglwuk1gAMcuV5fo8JpABu2_is83WZ_GJ1WWMUxyZGq6u-EGuZrP96Yewb7-zfnt2lao_LJg1ef5cqDTW7-0MS27wkmLiIi0e-PYvS-UfWVHg1oNbR-MHXMVEQ6gqNg08IgEyPDSFCUbf75HuMILN80bQNtSlFj6FR7uNKHr8sigvKI80k.5flOKKmeqYm0TamwROr8Nw";

    fn v1_key() -> [u8; 32] {
        URL_SAFE_NO_PAD.decode(V1_KEY).unwrap().try_into().unwrap()
    }

    fn hex_sha256(data: &[u8]) -> String {
        Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Builds a JWE around `msg` with an arbitrary header, for hostile-input tests.
    fn seal_raw(header: &str, msg: &[u8]) -> String {
        seal(header.as_bytes(), msg, &v1_key()).unwrap()
    }

    /// The error `decrypt` gives with the V1 key.
    fn fails(jwe: &str, max: usize) -> ShlError {
        decrypt(jwe, &v1_key(), max).unwrap_err()
    }

    fn header_of(jwe: &str) -> String {
        let h = URL_SAFE_NO_PAD.decode(jwe.split('.').next().unwrap());
        String::from_utf8(h.unwrap()).unwrap()
    }

    #[test]
    fn v2_decrypts() {
        let out = decrypt(V2_JWE, &v1_key(), DEFAULT_MAX_PLAINTEXT).unwrap();
        assert_eq!(out.plaintext.len(), 846);
        let expected = "7e581b1bb86949d849815bc6f653fa56ab342af9e550da671414c7d9830c48c6";
        assert_eq!(hex_sha256(&out.plaintext), expected);
        assert_eq!(
            out.content_type.as_deref(),
            Some("application/smart-health-card")
        );
    }

    #[test]
    fn ips_fixture_decrypts_byte_for_byte() {
        let Some(dir) = crate::shl::fixtures() else {
            return;
        };
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let link = String::from_utf8(read("IPS_IG-bundle-01-shl.txt")).unwrap();
        let key = crate::shl::link::ShlPayload::decode(&link)
            .unwrap()
            .key_bytes()
            .unwrap();
        let jwe = String::from_utf8(read("IPS_IG-bundle-01-enc.txt")).unwrap();
        let out = decrypt(&jwe, &key, DEFAULT_MAX_PLAINTEXT).unwrap();
        assert_eq!(out.plaintext, read("IPS_IG-bundle-01.json"));
        assert_eq!(out.content_type, None);
        let tight = decrypt(&jwe, &key, 60_972);
        assert!(matches!(tight, Err(ShlError::TooLarge { limit: 60_972 })));
    }

    #[test]
    fn carin_fixture_is_a_jws_not_a_jwe() {
        let Some(dir) = crate::shl::fixtures() else {
            return;
        };
        let jws = std::fs::read_to_string(dir.join("CARIN_INS_CD-bundle-01-enc.txt")).unwrap();
        match decrypt(&jws, &v1_key(), DEFAULT_MAX_PLAINTEXT) {
            Err(ShlError::NotAJwe(m)) => assert!(m.contains("JWS"), "{m}"),
            other => panic!("expected NotAJwe, got {other:?}"),
        }
    }

    #[test]
    fn round_trips_with_and_without_zip() {
        let key = v1_key();
        let text = br#"{"resourceType":"Bundle","entry":[]}"#.repeat(50);
        for (mode, zipped) in [(Compress::Never, false), (Compress::Always, true)] {
            let jwe = encrypt(&text, &key, "application/fhir+json", mode).unwrap();
            let zip = if zipped { r#","zip":"DEF""# } else { "" };
            let expected =
                format!(r#"{{"alg":"dir","enc":"A256GCM","cty":"application/fhir+json"{zip}}}"#);
            assert_eq!(header_of(&jwe), expected);
            let out = decrypt(&format!(" {jwe}\n"), &key, DEFAULT_MAX_PLAINTEXT).unwrap();
            assert_eq!(out.plaintext, text);
            assert_eq!(out.content_type.as_deref(), Some("application/fhir+json"));
        }
        let empty = encrypt(b"", &key, "text/plain", Compress::Never).unwrap();
        assert!(decrypt(&empty, &key, 0).unwrap().plaintext.is_empty());
    }

    #[test]
    fn if_smaller_picks_correctly_and_ivs_are_fresh() {
        let key = v1_key();
        let repetitive = b"aaaa".repeat(1000);
        let incompressible: [u8; 32] = v1_key();
        let a = encrypt(&repetitive, &key, "x", Compress::IfSmaller).unwrap();
        let b = encrypt(&incompressible, &key, "x", Compress::IfSmaller).unwrap();
        assert!(header_of(&a).contains("zip") && !header_of(&b).contains("zip"));
        assert!(a.len() < 200, "compressed form kept");
        assert_eq!(decrypt(&b, &key, 100).unwrap().plaintext, incompressible);
        let c = encrypt(&repetitive, &key, "x", Compress::IfSmaller).unwrap();
        assert_ne!(a.split('.').nth(2), c.split('.').nth(2), "IV reused");
    }

    #[test]
    fn tampering_wrong_key_and_truncation_fail_cleanly() {
        let key = v1_key();
        let jwe = encrypt(b"secret health data", &key, "text/plain", Compress::Never).unwrap();
        let mut wrong = key;
        wrong[0] ^= 1;
        let e = decrypt(&jwe, &wrong, DEFAULT_MAX_PLAINTEXT).unwrap_err();
        assert!(matches!(e, ShlError::DecryptionFailed));
        assert!(!e.to_string().contains("secret"));
        let p: Vec<&str> = jwe.split('.').collect();
        let mut ct = URL_SAFE_NO_PAD.decode(p[3]).unwrap();
        ct[0] ^= 0x80;
        let tampered = [p[0], "", p[2], &URL_SAFE_NO_PAD.encode(ct), p[4]].join(".");
        assert!(matches!(fails(&tampered, 1024), ShlError::DecryptionFailed));
        // A different (still valid) header changes the AAD.
        let h2 = URL_SAFE_NO_PAD.encode(r#"{"alg":"dir","enc":"A256GCM","cty":"text/html"}"#);
        let swapped = [&h2, "", p[2], p[3], p[4]].join(".");
        assert!(matches!(fails(&swapped, 1024), ShlError::DecryptionFailed));
        let no_tag = jwe.rsplit_once('.').unwrap().0;
        assert!(matches!(fails(no_tag, 1024), ShlError::NotAJwe(_)));
        let short_tag = &jwe[..jwe.len() - 2];
        assert!(matches!(fails(short_tag, 1024), ShlError::NotAJwe(_)));
        assert!(matches!(fails("", 1024), ShlError::NotAJwe(_)));
    }

    #[test]
    fn headers_are_checked() {
        let unsupported = [
            r#"{"alg":"A256KW","enc":"A256GCM"}"#,
            r#"{"alg":"dir","enc":"A128GCM"}"#,
            r#"{"alg":"dir","enc":"A256GCM","zip":"GZ"}"#,
            r#"{"alg":"dir","enc":"A256GCM","crit":["exp"],"exp":1}"#,
        ];
        for h in unsupported {
            let e = fails(&seal_raw(h, b"{}"), 1024);
            assert!(matches!(e, ShlError::UnsupportedAlgorithm(_)), "{h}");
        }
        let kid = seal_raw(r#"{"enc":"A256GCM","alg":"dir","kid":"abc"}"#, b"{}");
        assert_eq!(decrypt(&kid, &v1_key(), 1024).unwrap().plaintext, b"{}");
        assert!(matches!(
            fails(&seal_raw("not json", b"{}"), 1024),
            ShlError::NotAJwe(_)
        ));
        let with_key = V2_JWE.replacen("..", ".AAAA.", 1);
        assert!(matches!(fails(&with_key, 4096), ShlError::NotAJwe(_)));
    }

    #[test]
    fn zip_bomb_and_bad_deflate_fail_cleanly() {
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            enc.write_all(&zeros).unwrap();
        }
        let h = r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#;
        let bomb = seal_raw(h, &enc.finish().unwrap());
        let e = fails(&bomb, 1 << 20);
        assert!(
            matches!(e, ShlError::TooLarge { limit: 1_048_576 }),
            "{e:?}"
        );
        let garbage = seal_raw(h, &[0xff; 64]);
        assert!(matches!(fails(&garbage, 1 << 20), ShlError::Compression));
        let plain = seal_raw(r#"{"alg":"dir","enc":"A256GCM"}"#, &[1; 2048]);
        assert!(matches!(fails(&plain, 2047), ShlError::TooLarge { .. }));
    }
}
