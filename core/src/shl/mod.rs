//! SMART Health Links (SHL): the protocol pieces that need no network.
//!
//! - [`link`]: the `shlink:/` URI and its JSON payload (build, validate, encode, decode).
//! - [`jwe`]: the compact JWE profile every SHL file uses (`alg: dir`, `enc: A256GCM`,
//!   optional `zip: DEF`).
//! - [`qr`]: QR renderings of a link (PNG, SVG, terminal), error correction M, byte mode.
//!
//! And the pieces that talk to hosts: [`reach`] (which hosts may be contacted: public https
//! ones unless local hosts are explicitly allowed), [`client`] (HTTP to a link host),
//! [`content`] (what each sharing profile puts in a link), [`share`] (sharing a record and
//! opening a link, end to end).
//!
//! Design choices, shared by the three files:
//!
//! - **Strict when we produce, lenient when we receive.** Links we create pass
//!   [`link::ShlPayload::validate`]; links we receive are parsed the way the HL7 STU1 text
//!   asks receivers to (ignore unknown fields and flag letters, tolerate padding and
//!   whitespace, accept a JWE without `cty`).
//! - **One error type, [`ShlError`], with messages that are safe to log.** No message ever
//!   contains key material, link text or plaintext: they name the field or the rule that
//!   failed, and at most a length or an algorithm name.
//! - **No hand-rolled cryptography.** AES-256-GCM comes from `aes-gcm`, randomness from the
//!   operating system (`rand::rngs::OsRng`), DEFLATE from `flate2`.
//! - **Bounded work on hostile input.** Decryption caps the plaintext, compressed or not, so a
//!   zip bomb fails with [`ShlError::TooLarge`] instead of exhausting memory.

pub mod client;
pub mod content;
pub mod jwe;
pub mod link;
pub mod qr;
pub mod share;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rand::TryRngCore;

/// base64url decoder for what we receive: padding optional, non-canonical trailing bits
/// accepted (strict decoders reject some keys written by other tools). We always *emit*
/// canonical, unpadded base64url (`URL_SAFE_NO_PAD`).
pub(crate) const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub use crate::error::ShlError;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn os_random(buf: &mut [u8]) -> Result<(), ShlError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|_| ShlError::Random)
}

/// The fixtures folder `shared/fixtures/shl`, or `None` (with a notice) when it is absent.
#[cfg(test)]
pub(crate) fn fixtures() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/shl");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} absent, skipping fixture test", dir.display());
        None
    }
}
