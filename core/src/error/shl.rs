//! [`ShlError`]: what can go wrong in the SMART Health Link protocol layer. Kept with the
//! crate's other errors, below every module, so [`super::Error`] can wrap it without the
//! error type depending on the `shl` module (which sits near the top).

/// Everything that can go wrong in the SHL protocol layer.
///
/// Messages are written for a person and are safe to log: they never include key
/// material, link text, or decrypted content.
#[derive(Debug, thiserror::Error)]
pub enum ShlError {
    /// The text is not a SMART Health Link (no `shlink:/`, or a payload that is not
    /// base64url).
    #[error("not a valid SMART Health Link: {0}")]
    InvalidLink(String),
    /// The link decodes, but its JSON payload breaks a rule (missing field, wrong type,
    /// bad key, or a rule of [`crate::shl::link::ShlPayload::validate`]).
    #[error("invalid SMART Health Link payload: {0}")]
    InvalidPayload(String),
    /// The text is not a compact JWE of the SHL profile (wrong number of parts, bad
    /// header, IV or tag of the wrong size, …).
    #[error("not an SHL file (compact JWE): {0}")]
    NotAJwe(String),
    /// The JWE asks for an algorithm, encryption or compression this profile does not
    /// support (only `alg: dir`, `enc: A256GCM`, `zip: DEF`).
    #[error("unsupported JWE algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// AES-GCM authentication failed.
    #[error("decryption failed: wrong key or tampered data")]
    DecryptionFailed,
    /// AES-GCM refused to encrypt (only for inputs beyond the GCM length limit).
    #[error("encryption failed: content too long for AES-GCM")]
    EncryptionFailed,
    /// The authenticated content says `zip: DEF` but is not a valid raw DEFLATE stream.
    #[error("decrypted content is not valid raw DEFLATE data")]
    Compression,
    /// The (decompressed) plaintext would exceed the caller's limit.
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes, that was exceeded.
        limit: usize,
    },
    /// The QR code could not be made (text too long for any QR version) or rendered.
    #[error("QR code error: {0}")]
    Qr(String),
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Random,
    /// The link's `exp` has passed (checked before any request).
    #[error("this link has expired")]
    LinkExpired,
    /// The host no longer serves the link (404/410: expired, revoked, disabled, unknown).
    #[error("this link is no longer available (expired, revoked or out of passcode attempts)")]
    LinkGone,
    /// The link needs a passcode and none was given.
    #[error("this link needs a passcode{}", attempts(.remaining_attempts))]
    PasscodeRequired {
        /// Attempts left before the host disables the link, when it says.
        remaining_attempts: Option<u32>,
    },
    /// The passcode was wrong.
    #[error("wrong passcode{}", attempts(.remaining_attempts))]
    PasscodeWrong {
        /// Attempts left before the host disables the link, when it says.
        remaining_attempts: Option<u32>,
    },
    /// The host could not be reached or the connection failed.
    #[error("network error: {0}")]
    Network(String),
    /// The host answered with an unexpected status.
    #[error("the link host answered HTTP {status}")]
    Host {
        /// The HTTP status code.
        status: u16,
    },
    /// A URL is not https (plain http would let a network observer fetch the ciphertext, and
    /// is allowed only to a local host in the development setting).
    #[error("refused: SMART Health Links must use https")]
    Insecure,
    /// A URL points at this device or a private network (a link could use the device to reach
    /// services its author cannot); allowed only in the development setting.
    #[error(
        "refused: the address is on this device or a private network (allowed only with the \
         development setting for local hosts)"
    )]
    LocalAddress,
    /// The link host refused to create a link: it needs a valid account token.
    #[error("the link host refused to create a link: it needs a valid account token")]
    NotAuthorized,
    /// The link host refused: this account or link has used up its quota.
    #[error("the link host refused: the account or link has reached its storage quota")]
    OverQuota,
    /// The file's content type is not one phrkit can use.
    #[error("unsupported SHL content: {0}")]
    UnsupportedContent(String),
    /// The host's answer to a manifest request is not a usable manifest (not JSON, cut short,
    /// no `files` list, too many files, a file with neither `embedded` nor `location`).
    #[error("the link host sent an unusable manifest: {0}")]
    BadManifest(String),
}

fn attempts(remaining: &Option<u32>) -> String {
    match remaining {
        Some(n) => format!(" ({n} attempts left)"),
        None => String::new(),
    }
}
