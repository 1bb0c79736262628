//! [`Secret`]: a string that must never reach a log — a passphrase, a link, a token.
//!
//! At the bottom of the crate because every layer holds one: the store's passphrase key,
//! an export's `.sphr` passphrase, a link's passcode and management token.

/// A secret string (passphrase, link, token) whose `Debug` never shows it and whose bytes are
/// overwritten with zeros when it is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; keep it out of logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
