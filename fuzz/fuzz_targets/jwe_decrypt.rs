//! SHL file decryption (`shl::jwe::decrypt`, compact JWE `dir`/`A256GCM`, `zip: DEF`) under
//! one fixed key: the HL7 examples' key, so the fixture JWEs decrypt.
//!
//! A random string never passes the AES-GCM tag, so the first byte picks how far in the
//! input goes:
//! - `0`: the rest is the compact JWE itself (parts, header, IV, tag parsing);
//! - `1`: the rest follows a valid `zip: DEF` protected header and its `..`;
//! - `2`: the rest is sealed under that header with the key: arbitrary raw DEFLATE reaches
//!   the inflater (zip bombs, truncated streams) behind a good tag;
//! - `3`: the rest is `header JSON` 0xFF `content`, sealed: any authenticated header;
//! - `4`: the rest is a plaintext, encrypted by `encrypt` and decrypted back.
//!
//! Checks: no panic; an accepted plaintext is within the cap (small here, so bombs are cheap
//! to refuse); what `encrypt` makes, `decrypt` opens to the same bytes and content type.
#![no_main]

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use libfuzzer_sys::fuzz_target;
use phrkit::shl::ShlError;
use phrkit::shl::jwe::{Compress, decrypt, encrypt};

/// The key of the HL7 SHL examples (`rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q`).
const KEY: [u8; 32] = [
    0xaf, 0x14, 0xe0, 0x62, 0x53, 0x9a, 0x28, 0x93, 0xc5, 0xb5, 0xc1, 0x1d, 0xd2, 0xa7, 0x1c, 0x78,
    0xdf, 0x30, 0x11, 0x4e, 0x29, 0xf7, 0x84, 0xaa, 0x03, 0x02, 0x16, 0x41, 0xee, 0xae, 0x5f, 0xb4,
];

/// Plaintext cap: large enough for the fixtures (81 KB), small enough to stop bombs fast.
const MAX: usize = 1 << 20;

const ZIP_HEADER: &str =
    r#"{"alg":"dir","enc":"A256GCM","cty":"application/fhir+json","zip":"DEF"}"#;

/// A compact JWE of `content` under `header_json`, with a fixed IV (fine for a fuzzer).
fn seal(header_json: &[u8], content: &[u8]) -> String {
    let header = B64.encode(header_json);
    let iv = [7u8; 12];
    let cipher = Aes256Gcm::new(&KEY.into());
    let Ok(sealed) = cipher.encrypt(
        &Nonce::from(iv),
        Payload {
            msg: content,
            aad: header.as_bytes(),
        },
    ) else {
        return String::new();
    };
    let (ct, tag) = sealed.split_at(sealed.len() - 16);
    format!(
        "{header}..{}.{}.{}",
        B64.encode(iv),
        B64.encode(ct),
        B64.encode(tag)
    )
}

fn check(jwe: &str) -> Result<Vec<u8>, ShlError> {
    let d = decrypt(jwe, &KEY, MAX)?;
    assert!(d.plaintext.len() <= MAX, "plaintext over the cap");
    let _ = format!("{d:?}");
    Ok(d.plaintext)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => {
            let _ = check(&String::from_utf8_lossy(rest));
        }
        1 => {
            let jwe = format!(
                "{}..{}",
                B64.encode(ZIP_HEADER),
                String::from_utf8_lossy(rest)
            );
            let _ = check(&jwe);
        }
        2 => {
            let _ = check(&seal(ZIP_HEADER.as_bytes(), rest));
        }
        3 => {
            let (header, content) = match rest.iter().position(|&b| b == 0xFF) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let _ = check(&seal(header, content));
        }
        _ => {
            let compress = match rest.first().map(|b| b % 3) {
                Some(0) => Compress::Never,
                Some(1) => Compress::Always,
                _ => Compress::IfSmaller,
            };
            let jwe = encrypt(rest, &KEY, "application/fhir+json", compress)
                .unwrap_or_else(|e| panic!("encrypt failed: {e}"));
            let d = decrypt(&jwe, &KEY, rest.len()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(d.plaintext, rest, "round trip changed the bytes");
            assert_eq!(d.content_type.as_deref(), Some("application/fhir+json"));
        }
    }
});
