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

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
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

/// Argon2id hash (PHC string with a fresh random salt) of a passcode. Slow: call off async threads.
pub fn hash_passcode(passcode: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|_| ServerError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| ServerError::PasscodeHash)?;
    Argon2::default()
        .hash_password(passcode.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| ServerError::PasscodeHash)
}

/// Whether `passcode` matches a PHC string made by [`hash_passcode`]. A malformed stored hash
/// counts as no match. Slow: call off async threads.
pub fn verify_passcode(passcode: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(passcode.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
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
        let h1 = hash_passcode("1234").unwrap();
        let h2 = hash_passcode("1234").unwrap();
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2);
        assert!(!h1.contains("1234"));
        assert!(verify_passcode("1234", &h1));
        assert!(!verify_passcode("1235", &h1));
        assert!(!verify_passcode("1234", "not a hash"));
    }

    #[test]
    fn token_hash_compare() {
        let hash = sha256("secret");
        assert!(token_matches("secret", &hash));
        assert!(!token_matches("secreT", &hash));
        assert!(!token_matches("secret", &hash[..31]));
    }
}
