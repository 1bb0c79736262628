//! SMART Health Links: share part of the record, manage the link, render its QR code, and
//! open and import a link someone else shared.
//!
//! Records cross the FFI by value, so a [`SharedLink`] carries everything needed to manage
//! the link later (host, id, management token): the app persists it (it is a secret: the
//! Keychain/Keystore or encrypted storage) and passes it back to [`revoke_link`] and
//! [`list_accesses`]. Opening a link is a free function because it needs no store: the app
//! can show what arrived (label, file types) before importing it into one with
//! [`PhrStore::import_received`]. All network calls block; call them off the main thread.
//!
//! Only public https hosts are contacted, unless the app calls [`allow_local_hosts`] — a
//! development switch for the whole app (like Android's cleartext-traffic setting), so a
//! link's author cannot make a phone reach its own network (module `phrkit::net::reach`).
//! [`SharedLink`]'s `toString`/`description` shows no link, id or token.

use crate::error::PhrError;
use crate::import::{ImportOptions, ImportReport};
use crate::progress::{Forward, ProgressListener};
use crate::store::PhrStore;
use phrkit::net::reach::Reach;
use phrkit::secret::Secret;
use phrkit::shl::client::{HttpClient, ReceivedFile as CoreFile};
use phrkit::shl::share::{self as core, Received, ShareOptions as CoreOptions};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the app allowed local hosts (see [`allow_local_hosts`]).
static LOCAL_HOSTS: AtomicBool = AtomicBool::new(false);

/// Development only: let every link, host and file location on this device or a private
/// network (`10.0.2.2` for the Android emulator's host, a laptop on the LAN), and plain http
/// to them, be used — for the whole app, until called with `false`. Off by default and in
/// release builds it must stay off: a link's author could otherwise make the phone send
/// requests into the network it is on.
#[uniffi::export]
pub fn allow_local_hosts(allow: bool) {
    LOCAL_HOSTS.store(allow, Ordering::Relaxed);
}

/// The reach the app chose.
fn reach() -> Reach {
    if LOCAL_HOSTS.load(Ordering::Relaxed) {
        Reach::Local
    } else {
        Reach::Public
    }
}

/// Which part of the record a link shares.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ShareProfile {
    /// An International Patient Summary for an emergency room.
    Emergency,
    /// Active medications and allergies, for a pharmacy.
    Pharmacy,
    /// Immunizations and allergies, for border control or a travel clinic.
    Travel,
    /// Problems, procedures, recent results and medications, for a specialist.
    Referral,
    /// The whole record.
    Full,
    /// Chosen resource types within an optional clinical-date range.
    Custom {
        /// Resource types (empty = all).
        types: Vec<String>,
        /// Range start, a FHIR partial date (`2020`).
        start: Option<String>,
        /// Range end, inclusive by precision (`2024-06`).
        end: Option<String>,
    },
}

impl From<ShareProfile> for phrkit::shl::content::ShareProfile {
    fn from(p: ShareProfile) -> Self {
        use phrkit::shl::content::ShareProfile as P;
        match p {
            ShareProfile::Emergency => P::Emergency,
            ShareProfile::Pharmacy => P::Pharmacy,
            ShareProfile::Travel => P::Travel,
            ShareProfile::Referral => P::Referral,
            ShareProfile::Full => P::Full,
            ShareProfile::Custom { types, start, end } => P::Custom { types, start, end },
        }
    }
}

/// The profile named by `code` (`emergency`, `pharmacy`, `travel`, `referral`, `full`,
/// `custom`), as in the CLI and links from other apps. Errors: `InvalidInput`.
#[uniffi::export]
pub fn share_profile_from_code(code: String) -> Result<ShareProfile, PhrError> {
    use phrkit::shl::content::ShareProfile as P;
    Ok(match code.parse::<P>()? {
        P::Emergency => ShareProfile::Emergency,
        P::Pharmacy => ShareProfile::Pharmacy,
        P::Travel => ShareProfile::Travel,
        P::Referral => ShareProfile::Referral,
        P::Full => ShareProfile::Full,
        P::Custom { types, start, end } => ShareProfile::Custom { types, start, end },
    })
}

/// How to share. `hostUrl` and `profile` are required. Its `toString` leaves out the passcode
/// and the account token.
#[derive(Clone, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct ShareOptions {
    /// The link host's base URL: `https://…` on a public host (a local one, and plain
    /// `http`, only after `allowLocalHosts(true)`).
    pub host_url: String,
    /// This app's account token on the host (creating a link on a phrkit host needs one;
    /// hosts that let anyone create links need none). Keep it in secure storage.
    #[uniffi(default = None)]
    pub account_token: Option<String>,
    /// What to share.
    pub profile: ShareProfile,
    /// The Patient's id; needed when the store holds several.
    #[uniffi(default = None)]
    pub patient: Option<String>,
    /// A passcode the recipient must type (flag `P`; the host limits wrong attempts).
    #[uniffi(default = None)]
    pub passcode: Option<String>,
    /// Expiry, epoch seconds.
    #[uniffi(default = None)]
    pub expires_at: Option<i64>,
    /// Flag `L`: the content may be updated later.
    #[uniffi(default = false)]
    pub long_term: bool,
    /// Flag `U`: one file fetched directly, without a manifest (no passcode possible).
    #[uniffi(default = false)]
    pub direct_file: bool,
    /// Shown to the recipient (at most 80 characters; the profile's label by default).
    #[uniffi(default = None)]
    pub label: Option<String>,
    /// Wrap the link in this viewer URL (`https://viewer.example#shlink:/…`). Without one,
    /// the host's own viewer (`<host>/view`) is used when it serves one.
    #[uniffi(default = None)]
    pub viewer_url: Option<String>,
    /// A bare `shlink:/…` even when the host serves a viewer.
    #[uniffi(default = false)]
    pub bare_link: bool,
    /// Add the whole record as a `.sphr` (in a FHIR Binary) as a second file.
    #[uniffi(default = false)]
    pub include_sphr: bool,
    /// Sensitive categories to share too (see `ExportRequest.includeSensitive`).
    #[uniffi(default)]
    pub include_sensitive: Vec<String>,
}

/// A link that was shared, with what is needed to manage it. Contains secrets (the link
/// itself, its id and the management token): keep it in secure storage, never in logs. Its
/// `toString` (Kotlin) and `description` (Swift) leave them out.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
#[uniffi::export(Debug, Display)]
pub struct SharedLink {
    /// The `shlink:/…` URI (or the viewer URL holding it): what the QR code shows.
    pub uri: String,
    /// Expiry, epoch seconds, if any.
    pub expires_at: Option<i64>,
    /// The flags (`L`, `P`, `LP`, `U`, `LU`), if any.
    pub flag: Option<String>,
    /// The label shown to recipients.
    pub label: String,
    /// How many files the link carries.
    pub files: u32,
    /// Resources left out as sensitive, per category code.
    pub excluded: std::collections::HashMap<String, u64>,
    /// The Patient whose record was shared.
    pub patient: String,
    /// The host's base URL (management handle).
    pub host_url: String,
    /// The link's id on the host (management handle).
    pub link_id: String,
    /// The bearer token that revokes the link and lists its accesses (management handle).
    pub management_token: String,
}

impl std::fmt::Display for ShareOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ShareOptions(hostUrl={}, profile={:?}, patient={:?}, passcode={}, accountToken={}, \
             expiresAt={:?}, longTerm={}, directFile={}, label={:?}, includeSphr={})",
            self.host_url,
            self.profile,
            self.patient,
            redacted(self.passcode.is_some()),
            redacted(self.account_token.is_some()),
            self.expires_at,
            self.long_term,
            self.direct_file,
            self.label,
            self.include_sphr
        )
    }
}

impl std::fmt::Debug for ShareOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for SharedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SharedLink(label={:?}, files={}, flag={:?}, expiresAt={:?}, patient={}, \
             hostUrl={}, uri=<redacted>, linkId=<redacted>, managementToken=<redacted>)",
            self.label, self.files, self.flag, self.expires_at, self.patient, self.host_url
        )
    }
}

impl std::fmt::Debug for SharedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// How a secret field shows in `toString`.
fn redacted(present: bool) -> &'static str {
    if present { "<redacted>" } else { "null" }
}

/// One recorded opening of a shared link.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LinkAccess {
    /// Who said they were opening it (the recipient name they gave).
    pub recipient: String,
    /// When, RFC 3339.
    pub time: String,
}

/// One decrypted file a link delivered.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivedFile {
    /// Its media type (`application/fhir+json`, …).
    pub content_type: String,
    /// The plaintext.
    pub bytes: Vec<u8>,
}

/// What opening a link returned: show it, then import it with `PhrStore.importReceived`.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivedLink {
    /// The link's label, if it has one.
    pub label: Option<String>,
    /// The host (scheme, name, port) the files came from.
    pub host: String,
    /// The decrypted files.
    pub files: Vec<ReceivedFile>,
}

/// Opens a SMART Health Link (`shlink:/…` or a viewer URL containing one) as `recipient`
/// (a name the sharer will see in the access list), with the `passcode` if the link has
/// flag `P`. Blocks on the network; call off the main thread. Errors: `InvalidInput` (not a
/// link, undecryptable content), `LinkExpired`, `LinkGone`, `PasscodeRequired`,
/// `PasscodeWrong` (with `remainingAttempts`), `Network`.
#[uniffi::export(default(passcode = None))]
pub fn open_link(
    link: String,
    recipient: String,
    passcode: Option<String>,
) -> Result<ReceivedLink, PhrError> {
    let passcode = passcode.map(Secret::new);
    let r = core::open_link(&link, &recipient, passcode.as_ref(), reach())?;
    Ok(ReceivedLink {
        label: r.label,
        host: r.host,
        files: r
            .files
            .into_iter()
            .map(|f| ReceivedFile {
                content_type: f.content_type,
                bytes: f.bytes,
            })
            .collect(),
    })
}

/// Revokes a link you shared: recipients get `LinkGone` from now on. Blocks on the network.
/// Errors: `Network` (host unreachable, or it refused: unknown link, wrong token),
/// `InvalidInput` (a host URL that is not https).
#[uniffi::export]
pub fn revoke_link(link: SharedLink) -> Result<(), PhrError> {
    Ok(HttpClient::new(reach()).revoke(&link.host_url, &link.link_id, &link.management_token)?)
}

/// One line of the access log.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AccessLogEntry {
    /// When (RFC 3339).
    pub recorded: String,
    /// `export`, `sphr-export`, `share-created`, `share-revoked` or `link-accessed`.
    pub action: String,
    /// Who received or acted.
    pub who: String,
    /// What happened, in words.
    pub description: String,
}

/// The core's view of a shared link, for management calls.
fn core_link(link: &SharedLink) -> phrkit::shl::share::SharedLink {
    phrkit::shl::share::SharedLink {
        uri: phrkit::secret::Secret::new(link.uri.clone()),
        host: link.host_url.clone(),
        id: link.link_id.clone(),
        management_token: phrkit::secret::Secret::new(link.management_token.clone()),
        exp: link.expires_at,
        flag: link.flag.clone(),
        label: link.label.clone(),
        files: link.files as usize,
        excluded: Default::default(),
        patient: link.patient.clone(),
        reach: reach(),
    }
}

/// Who opened a link you shared, and when, oldest first. Blocks on the network. Errors as
/// `revokeLink`.
#[uniffi::export]
pub fn list_accesses(link: SharedLink) -> Result<Vec<LinkAccess>, PhrError> {
    Ok(HttpClient::new(reach())
        .accesses(&link.host_url, &link.link_id, &link.management_token)?
        .into_iter()
        .map(|a| LinkAccess {
            recipient: a.recipient,
            time: a.time,
        })
        .collect())
}

/// A PNG (8-bit greyscale) QR code of `text` (a link's `uri`), `modulePx` pixels per module
/// (1–64; 8 suits a phone screen), with the standard 4-module quiet zone. Errors:
/// `InvalidInput` (text too long for a QR code, `modulePx` out of range).
#[uniffi::export]
pub fn qr_png(text: String, module_px: u32) -> Result<Vec<u8>, PhrError> {
    Ok(phrkit::shl::qr::png(&text, module_px)?)
}

/// An SVG document of the QR code of `text` (8 user units per module, quiet zone
/// included): scale it freely. Errors: `InvalidInput` (text too long for a QR code).
#[uniffi::export]
pub fn qr_svg(text: String) -> Result<String, PhrError> {
    Ok(phrkit::shl::qr::svg(&text)?)
}

#[uniffi::export]
impl PhrStore {
    /// Builds the `profile`'s content from this store, encrypts it on the device, uploads
    /// the ciphertext to the host and returns the link. Blocks on disk and network; call off
    /// the main thread; an import or search runs meanwhile. `listener` hears `SHARING` (files
    /// uploaded of all) and may cancel: the link is then revoked on the host and nothing is
    /// logged. Errors: `InvalidInput` (bad options, label, dates), `NotFound` (no patient),
    /// `Network`, `Cancelled`.
    #[uniffi::method(default(listener = None))]
    pub fn share(
        &self,
        options: ShareOptions,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<SharedLink, PhrError> {
        let mut core = CoreOptions::new(options.host_url, options.profile.into());
        core.account_token = options.account_token.map(Secret::new);
        core.reach = reach();
        core.patient = options.patient;
        core.passcode = options.passcode.map(Secret::new);
        core.exp = options.expires_at;
        core.long_term = options.long_term;
        core.direct_file = options.direct_file;
        core.label = options.label;
        core.viewer = options.viewer_url;
        core.bare_link = options.bare_link;
        core.include_sphr = options.include_sphr;
        core.include_sensitive = crate::export::categories(&options.include_sensitive)?;
        let forward = Forward::new(listener);
        let link = self.with(|store| forward.finish(store.share_with_progress(&core, &forward)))?;
        Ok(SharedLink {
            uri: link.uri.expose().to_string(),
            expires_at: link.exp,
            flag: link.flag,
            label: link.label,
            files: u32::try_from(link.files).unwrap_or(u32::MAX),
            host_url: link.host,
            link_id: link.id,
            management_token: link.management_token.expose().to_string(),
            excluded: link.excluded.into_iter().collect(),
            patient: link.patient,
        })
    }

    /// Revokes a link this store shared and records it in the access log. Blocks on the
    /// network. Errors: `Network`, `LinkGone`.
    pub fn revoke_shared_link(&self, link: SharedLink) -> Result<(), PhrError> {
        let core = core_link(&link);
        self.with(|store| Ok(store.revoke_link(&core)?))
    }

    /// Who opened a link this store shared; each access is recorded in the access log (once).
    /// Blocks on the network.
    pub fn sync_accesses(&self, link: SharedLink) -> Result<Vec<LinkAccess>, PhrError> {
        let core = core_link(&link);
        let list = self.with(|store| Ok(store.sync_accesses(&core)?))?;
        Ok(list
            .into_iter()
            .map(|a| LinkAccess {
                recipient: a.recipient,
                time: a.time,
            })
            .collect())
    }

    /// The access log, newest first: every export, share, revocation and link access
    /// (of one patient, or all). Blocks; call off the main thread.
    pub fn access_log(&self, patient: Option<String>) -> Result<Vec<AccessLogEntry>, PhrError> {
        let entries = self.with(|store| Ok(store.access_log(patient.as_deref())?))?;
        Ok(entries
            .into_iter()
            .map(|e| AccessLogEntry {
                recorded: e.recorded,
                action: e.action,
                who: e.who,
                description: e.description,
            })
            .collect())
    }

    /// Imports what `openLink` received (FHIR JSON as records, an attached `.sphr` as an
    /// archive) in one all-or-nothing run; the Provenance names the host and label, never the
    /// link. Blocks; call off the main thread. Errors as `importFile`, plus `InvalidInput` for
    /// content types phrkit does not import.
    #[uniffi::method(default(listener = None, options))]
    pub fn import_received(
        &self,
        received: ReceivedLink,
        options: ImportOptions,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ImportReport, PhrError> {
        let received = Received {
            label: received.label,
            host: received.host,
            files: received
                .files
                .into_iter()
                .map(|f| CoreFile {
                    content_type: f.content_type,
                    bytes: f.bytes,
                })
                .collect(),
        };
        let opts = phrkit::ImportOptions::from(&options);
        let forward = Forward::new(listener);
        self.with(|store| {
            Ok(forward
                .finish(store.import_received(&received, &opts, &forward))?
                .into())
        })
    }
}
