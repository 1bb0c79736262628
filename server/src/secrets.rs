//! Random capabilities and the hashes the host keeps instead of them.
//!
//! Link ids, management tokens and file tickets are 32 bytes from the operating system's RNG,
//! written as 43 base64url characters (256 bits, as the spec asks of the link URL). The
//! database never holds any of them in clear: link ids and tokens are stored as SHA-256 digests
//! (a fast hash is enough for 256-bit random secrets), and a stolen database therefore gives no
//! working link or token. Tokens are compared in constant time (`subtle`).
//!
//! Passcodes are low-entropy, so they get a slow, salted hash: Argon2id with the crate's default
//! (OWASP) parameters, stored as a PHC string. Hashing and verifying take tens of milliseconds of
//! CPU, so callers run them on the blocking pool, never on an async worker thread.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ServerError;

/// 32 bytes from the OS RNG as 43 base64url characters.
pub fn random_token() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| ServerError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 digest of a string's bytes.
pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// SHA-256 of `bytes` as 43 base64url characters (the content address of a blob).
pub fn sha256_b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
}

/// Whether `token` hashes to `stored_hash`, compared in constant time.
pub fn token_matches(token: &str, stored_hash: &[u8]) -> bool {
    sha256(token).ct_eq(stored_hash).into()
}

/// Working memory for one Argon2 run (19 MiB with the default parameters), reused from run to
/// run. Allocating it per run was the host's undoing under a passcode flood: with mimalloc as
/// the process allocator, each freed 19 MiB block stayed resident, and 1,000 wrong passcodes
/// grew the process to 3.3 GB. The host keeps one per place of its hashing semaphore
/// (`state::KDF_AT_ONCE`), so hashing memory is bounded at that many times 19 MiB.
pub struct KdfMemory(Vec<Block>);

impl KdfMemory {
    /// Memory for runs with the default parameters (grown on demand for larger stored ones).
    pub fn new() -> Self {
        KdfMemory(vec![Block::default(); Params::DEFAULT_M_COST as usize])
    }

    /// The blocks for a run with `params`, growing the buffer if they need more.
    fn for_params(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.0.len() < needed {
            self.0.resize(needed, Block::default());
        }
        &mut self.0[..needed]
    }
}

impl Default for KdfMemory {
    fn default() -> Self {
        Self::new()
    }
}

/// Argon2id hash (PHC string with a fresh random salt) of a passcode, with the crate's default
/// (OWASP) parameters, computed in `memory`. Slow: call off async threads.
pub fn hash_passcode(passcode: &str, memory: &mut KdfMemory) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| ServerError::Random)?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(
            passcode.as_bytes(),
            &salt,
            &mut out,
            memory.for_params(&params),
        )
        .map_err(|_| ServerError::PasscodeHash)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| ServerError::PasscodeHash)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|_| ServerError::PasscodeHash)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|_| ServerError::PasscodeHash)?),
    };
    Ok(phc.to_string())
}

/// Whether `passcode` matches a PHC string made by [`hash_passcode`] (or any Argon2 PHC
/// string), computed in `memory` and compared in constant time. A malformed stored hash counts
/// as no match. Slow: call off async threads.
pub fn verify_passcode(passcode: &str, phc: &str, memory: &mut KdfMemory) -> bool {
    let mut matches = || -> Option<bool> {
        let hash = PasswordHash::new(phc).ok()?;
        let params = Params::try_from(&hash).ok()?;
        let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let mut salt = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut salt).ok()?;
        let expected = hash.hash?;
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(
                passcode.as_bytes(),
                salt,
                &mut out,
                memory.for_params(&params),
            )
            .ok()?;
        Some(expected.as_bytes().ct_eq(&out).into())
    };
    matches().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_chars_and_distinct() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn passcode_hash_round_trip_and_salted() {
        let mut memory = KdfMemory::new();
        let h1 = hash_passcode("1234", &mut memory).unwrap();
        let h2 = hash_passcode("1234", &mut memory).unwrap();
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2);
        assert!(!h1.contains("1234"));
        assert!(verify_passcode("1234", &h1, &mut memory));
        assert!(!verify_passcode("1235", &h1, &mut memory));
        assert!(!verify_passcode("1234", "not a hash", &mut memory));
    }

    #[test]
    fn hashes_are_interchangeable_with_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let mut memory = KdfMemory::new();
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let stock = Argon2::default()
            .hash_password(b"2468", &salt)
            .unwrap()
            .to_string();
        assert!(
            verify_passcode("2468", &stock, &mut memory),
            "stored by an earlier host"
        );
        assert!(!verify_passcode("2469", &stock, &mut memory));
        let ours = hash_passcode("2468", &mut memory).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"2468", &parsed).is_ok());
    }

    #[test]
    fn reused_memory_keeps_many_runs_flat() {
        let rss = || {
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
                    line.split_whitespace().nth(1)?.parse::<u64>().ok()
                })
                .unwrap_or(0)
        };
        let hash = hash_passcode("a", &mut KdfMemory::new()).unwrap();
        let before = rss();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut memory = KdfMemory::new();
                    for _ in 0..50 {
                        assert!(!verify_passcode("b", &hash, &mut memory));
                    }
                });
            }
        });
        let grown = rss().saturating_sub(before);
        // Two buffers of 19 MiB; allocating per run grew this by ~200 MB.
        assert!(grown < 80 * 1024, "RSS grew by {grown} KiB over 100 runs");
    }

    #[test]
    fn token_hash_compare() {
        let hash = sha256("secret");
        assert!(token_matches("secret", &hash));
        assert!(!token_matches("secreT", &hash));
        assert!(!token_matches("secret", &hash[..31]));
    }
}
