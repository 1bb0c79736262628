//! The one error type apps see: [`PhrError`] (`PhrException` in Kotlin, `PhrError` in Swift).
//!
//! The core has two rich enums ([`phrkit::Error`], [`phrkit::shl::ShlError`]) with a variant
//! per cause. An app needs fewer: one case per thing it would *do* differently (ask for a
//! passphrase, ask for a passcode again, tell the user the link is gone, retry later…). So
//! each public case folds several internal ones, carries the core's message as `reason`
//! (safe to show and log: the core never puts health data, keys or link text in a message),
//! and the passcode cases add the host's `remainingAttempts`. [`From<phrkit::Error>`] is the
//! only mapping; everything in this crate returns `Result<_, PhrError>` through it.
//!
//! A non-flat error (fields, not just text) is what makes Kotlin generate a sealed exception
//! class with typed properties; its `message` reads `reason=…`, and `toString()` (Swift:
//! `description`) is the plain sentence, through the exported `Display`.

use phrkit::Error;
use phrkit::shl::ShlError;

/// Why a phrkit call failed. Branch on the case; show `reason` (a sentence, safe to display
/// and log: it never contains health data, passphrases, keys or link text).
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum PhrError {
    /// An argument or the input itself cannot be used: malformed JSON or FHIR, a bad date,
    /// an unknown resource type or profile, a damaged or unsafe archive, text that is not a
    /// SMART Health Link, content that does not decrypt. Fix the input; retrying won't help.
    #[error("{reason}")]
    InvalidInput {
        /// What is wrong, naming the parameter or rule.
        reason: String,
    },
    /// The `.sphr` archive is encrypted and no passphrase was given: ask the user for one.
    #[error("{reason}")]
    PassphraseRequired {
        /// The core's message.
        reason: String,
    },
    /// The passphrase does not open the `.sphr` archive: ask again.
    #[error("{reason}")]
    WrongPassphrase {
        /// The core's message.
        reason: String,
    },
    /// The store file is encrypted and was opened without a key: open it with its key.
    #[error("{reason}")]
    KeyRequired {
        /// The core's message.
        reason: String,
    },
    /// The key does not open the store (or the file is not a phrkit store).
    #[error("{reason}")]
    WrongKey {
        /// The core's message.
        reason: String,
    },
    /// The SMART Health Link needs a passcode and none was given: ask the user for one.
    #[error("{reason}")]
    PasscodeRequired {
        /// The core's message.
        reason: String,
        /// Attempts left before the host disables the link, when the host says.
        remaining_attempts: Option<u32>,
    },
    /// The passcode was wrong: ask again (at most `remainingAttempts` more times).
    #[error("{reason}")]
    PasscodeWrong {
        /// The core's message.
        reason: String,
        /// Attempts left before the host disables the link, when the host says.
        remaining_attempts: Option<u32>,
    },
    /// The link's expiry time has passed (checked on the device, before any request).
    #[error("{reason}")]
    LinkExpired {
        /// The core's message.
        reason: String,
    },
    /// The host no longer serves the link: revoked, expired there, or out of passcode attempts.
    #[error("{reason}")]
    LinkGone {
        /// The core's message.
        reason: String,
    },
    /// The link host could not be reached or answered unexpectedly: retry later.
    #[error("{reason}")]
    Network {
        /// The core's message (never the URL: a link's URL is a capability).
        reason: String,
    },
    /// The link host refused to create a link or store a file: the app's account token is
    /// missing or wrong (`ShareOptions.accountToken`), or the account or link has reached its
    /// quota. Retrying won't help; fix the token, or revoke old links.
    #[error("{reason}")]
    HostRefused {
        /// The core's message.
        reason: String,
    },
    /// The store or a file failed: disk full, permission denied, no such file, a locked or
    /// corrupt database.
    #[error("{reason}")]
    Storage {
        /// The underlying error's message.
        reason: String,
    },
    /// An import met a conflict under the `FAIL` conflict policy; nothing was written.
    #[error("{reason}")]
    Conflict {
        /// Which resource conflicted.
        reason: String,
    },
    /// The requested resource, patient or link is not there.
    #[error("{reason}")]
    NotFound {
        /// What was looked for (type/id, never content).
        reason: String,
    },
    /// The progress listener returned `false`; nothing was written.
    #[error("{reason}")]
    Cancelled {
        /// The core's message.
        reason: String,
    },
    /// The store was closed with `close()`; open a new one.
    #[error("{reason}")]
    Closed {
        /// What was attempted.
        reason: String,
    },
    /// This build cannot do it: a store written by a newer phrkit (update the app), a
    /// feature the specification has and phrkit not yet.
    #[error("{reason}")]
    Unsupported {
        /// What is not supported.
        reason: String,
    },
    /// A bug or an environment failure (no OS randomness, a progress listener that threw).
    /// Report it.
    #[error("{reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

impl PhrError {
    /// The error every call on a closed store returns.
    pub(crate) fn closed() -> Self {
        PhrError::Closed {
            reason: "this store was closed; open it again".into(),
        }
    }
}

impl From<Error> for PhrError {
    fn from(e: Error) -> Self {
        let reason = e.to_string();
        match e {
            Error::Storage(_) | Error::Io(_) => PhrError::Storage { reason },
            Error::InvalidInput(_) | Error::InvalidParameter { .. } | Error::Archive(_) => {
                PhrError::InvalidInput { reason }
            }
            Error::NotFound(_) => PhrError::NotFound { reason },
            Error::SchemaTooNew { .. } | Error::Unsupported(_) => PhrError::Unsupported { reason },
            Error::ImportAborted(_) | Error::VersionMismatch { .. } => {
                PhrError::Conflict { reason }
            }
            Error::PassphraseRequired => PhrError::PassphraseRequired { reason },
            Error::WrongPassphrase => PhrError::WrongPassphrase { reason },
            Error::KeyRequired => PhrError::KeyRequired { reason },
            Error::WrongKey => PhrError::WrongKey { reason },
            Error::Cancelled => PhrError::Cancelled { reason },
            Error::Internal(_) => PhrError::Internal { reason },
            Error::Shl(shl) => from_shl(shl, reason),
        }
    }
}

impl From<ShlError> for PhrError {
    fn from(e: ShlError) -> Self {
        let reason = e.to_string();
        from_shl(e, reason)
    }
}

/// The SMART Health Link cases, with the message already made (with or without the core's
/// `SMART Health Link:` prefix, depending on how the error arrived).
fn from_shl(e: ShlError, reason: String) -> PhrError {
    match e {
        ShlError::LinkExpired => PhrError::LinkExpired { reason },
        ShlError::LinkGone => PhrError::LinkGone { reason },
        ShlError::PasscodeRequired { remaining_attempts } => PhrError::PasscodeRequired {
            reason,
            remaining_attempts,
        },
        ShlError::PasscodeWrong { remaining_attempts } => PhrError::PasscodeWrong {
            reason,
            remaining_attempts,
        },
        ShlError::Network(_) | ShlError::Host { .. } | ShlError::BadManifest(_) => {
            PhrError::Network { reason }
        }
        ShlError::NotAuthorized | ShlError::OverQuota => PhrError::HostRefused { reason },
        ShlError::Random | ShlError::EncryptionFailed => PhrError::Internal { reason },
        ShlError::InvalidLink(_)
        | ShlError::InvalidPayload(_)
        | ShlError::NotAJwe(_)
        | ShlError::UnsupportedAlgorithm(_)
        | ShlError::DecryptionFailed
        | ShlError::Compression
        | ShlError::TooLarge { .. }
        | ShlError::Qr(_)
        | ShlError::Insecure
        | ShlError::LocalAddress
        | ShlError::UnsupportedContent(_) => PhrError::InvalidInput { reason },
    }
}

impl From<std::io::Error> for PhrError {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e).into()
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PhrError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        PhrError::Internal {
            reason: format!("a callback threw: {}", e.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_case_keeps_the_core_message() {
        let e: PhrError = Error::WrongPassphrase.into();
        assert!(matches!(e, PhrError::WrongPassphrase { .. }));
        assert_eq!(e.to_string(), Error::WrongPassphrase.to_string());
        let e: PhrError = Error::Shl(ShlError::PasscodeWrong {
            remaining_attempts: Some(2),
        })
        .into();
        assert!(matches!(
            e,
            PhrError::PasscodeWrong {
                remaining_attempts: Some(2),
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "SMART Health Link: wrong passcode (2 attempts left)"
        );
        let e: PhrError = Error::param("start", "bad").into();
        assert!(matches!(e, PhrError::InvalidInput { .. }));
    }
}
