//! The share flow (the seed's five steps in one call) and its mirror, opening a link.
//!
//! Sharing: build the profile's content from the store → encrypt each file with a new
//! random 256-bit key (JWE, compressed when smaller) → create the link on the host and
//! upload the ciphertext (the host never sees the key) → encode `url` + `key` into a
//! `shlink:/` URI → render QR codes on demand. The management token comes back to the
//! caller, who keeps it to revoke the link or list who opened it.
//!
//! Opening: decode the link, refuse an expired one without a request, fetch manifest and
//! files (passcode, `U` links, 429 back-off), decrypt, and optionally import: FHIR Bundles
//! as records, a `Binary` holding a `.sphr` as a `.sphr`. The run's Provenance names the
//! link's host and label, never the key or the link itself.

use super::ShlError;
use super::client::{Access, HttpClient, ReceivedFile};
use super::content::{ShareProfile, build, sphr_binary};
use super::jwe::{Compress, DEFAULT_MAX_PLAINTEXT, encrypt};
use super::link::{ShlPayload, generate_key};
use crate::audit::AuditAction;
use crate::error::{Error, Result};
use crate::import::{ImportReport, ImportSource};
use crate::net::reach::{Reach, check_url};
use crate::progress::{Phase, Progress, ProgressListener};
use crate::secret::Secret;
use crate::store::{Snapshot, Store};
use crate::{ImportMode, ImportOptions};
use serde_json::Value;

/// How to share.
#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// The link host's base URL (`https://…`; `http://127.0.0.1:…` with [`Reach::Local`]).
    pub host: String,
    /// The token of this app's account on the host, which creating a link needs (phrkit's
    /// host; hosts that let anyone create links need none).
    pub account_token: Option<Secret>,
    /// Which hosts may be contacted; [`Reach::Local`] only for development and a host on
    /// this machine or network.
    pub reach: Reach,
    /// What to share.
    pub profile: ShareProfile,
    /// The patient (needed when the store holds several).
    pub patient: Option<String>,
    /// A passcode the recipient must type (flag `P`).
    pub passcode: Option<Secret>,
    /// Expiry, epoch seconds.
    pub exp: Option<i64>,
    /// Flag `L`: the content may be updated later.
    pub long_term: bool,
    /// Flag `U`: one file fetched directly, no manifest (cannot have a passcode).
    pub direct_file: bool,
    /// Shown to the recipient (≤ 80 characters; defaults to the profile's).
    pub label: Option<String>,
    /// Put the link behind this viewer URL (`https://viewer.example#shlink:/…`). When
    /// `None`, the host's own viewer (`<host>/view`) is used if it serves one, so a phone's
    /// camera app opens the link in a browser.
    pub viewer: Option<String>,
    /// A bare `shlink:/…` even when the host serves a viewer.
    pub bare_link: bool,
    /// Add the whole record as a `.sphr` (inside a FHIR Binary) as a second file.
    pub include_sphr: bool,
    /// Sensitive categories the patient chose to share (all others are left out, unless an
    /// active Consent in the record permits them).
    pub include_sensitive: Vec<crate::sensitivity::Category>,
}

impl ShareOptions {
    /// Options for sharing `profile` through `host`, everything else default.
    pub fn new(host: impl Into<String>, profile: ShareProfile) -> Self {
        ShareOptions {
            host: host.into(),
            account_token: None,
            reach: Reach::Public,
            profile,
            patient: None,
            passcode: None,
            exp: None,
            long_term: false,
            direct_file: false,
            label: None,
            viewer: None,
            bare_link: false,
            include_sphr: false,
            include_sensitive: Vec::new(),
        }
    }

    /// The rules options must follow before anything is built or sent: a viewer on an
    /// address this client may reach, no passcode on a direct-file link. `share` and
    /// `preview_share` check them first; a front may call this as soon as it has the options.
    pub fn check(&self) -> Result<()> {
        if let Some(viewer) = &self.viewer
            && check_url(viewer, self.reach).is_err()
        {
            return Err(Error::param(
                "viewer",
                "a viewer URL must be https on a public host (a local one only in the \
                 development setting)",
            ));
        }
        if self.direct_file && self.passcode.is_some() {
            return Err(Error::param(
                "passcode",
                "a direct-file (U) link cannot have a passcode",
            ));
        }
        Ok(())
    }
}

/// A link that was shared, with what is needed to manage it. Its `Debug` leaves out the
/// link, its id and the management token (capabilities).
#[derive(Clone)]
pub struct SharedLink {
    /// The `shlink:/…` URI (or the viewer URL holding it): what the QR code shows.
    pub uri: Secret,
    /// The host's base URL.
    pub host: String,
    /// The link's id on the host.
    pub id: String,
    /// The bearer token that revokes the link and lists its accesses; keep it private.
    pub management_token: Secret,
    /// Expiry, epoch seconds.
    pub exp: Option<i64>,
    /// The flags (`L`, `P`, `LP`, `U`, `LU`).
    pub flag: Option<String>,
    /// The label.
    pub label: String,
    /// How many files the link carries.
    pub files: usize,
    /// Resources left out as sensitive, per category code.
    pub excluded: std::collections::BTreeMap<String, u64>,
    /// The Patient whose record was shared (its id).
    pub patient: String,
    /// Which hosts managing it may contact (as when it was shared).
    pub reach: Reach,
}

impl std::fmt::Debug for SharedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLink")
            .field("uri", &self.uri)
            .field("host", &self.host)
            .field("id", &"<redacted>")
            .field("management_token", &self.management_token)
            .field("exp", &self.exp)
            .field("flag", &self.flag)
            .field("label", &self.label)
            .field("files", &self.files)
            .field("excluded", &self.excluded)
            .field("patient", &self.patient)
            .field("reach", &self.reach)
            .finish()
    }
}

fn flags(o: &ShareOptions) -> Option<String> {
    let mut f = String::new();
    if o.long_term {
        f.push('L');
    }
    if o.passcode.is_some() {
        f.push('P');
    }
    if o.direct_file {
        f.push('U');
    }
    (!f.is_empty()).then_some(f)
}

impl Store {
    /// What sharing with `opts` would send — counts by type, sensitive categories left out,
    /// clinical date span — without contacting the host or logging anything.
    pub fn preview_share(&self, opts: &ShareOptions) -> Result<crate::export::Preview> {
        opts.check()?;
        let snap = self.snapshot()?;
        let patient = share_patient(&snap, opts)?;
        let built = build(&snap, &patient, &opts.profile, &opts.include_sensitive)?;
        snap.finish()?;
        let mut preview = crate::export::Preview {
            excluded: built.excluded,
            ..Default::default()
        };
        let (mut earliest, mut latest) = (i64::MAX, i64::MIN);
        for f in &built.files {
            let Ok(bundle) = serde_json::from_slice::<Value>(&f.bytes) else {
                continue;
            };
            for e in bundle["entry"].as_array().into_iter().flatten() {
                let r = &e["resource"];
                let ty = r["resourceType"].as_str().unwrap_or_default().to_string();
                *preview.by_type.entry(ty).or_insert(0) += 1;
                preview.resources += 1;
                if let Some(p) = crate::fhir::clinical::clinical_period(r) {
                    earliest = earliest.min(p.start);
                    latest = latest.max(if p.end == i64::MAX {
                        p.start
                    } else {
                        p.end - 1
                    });
                }
            }
        }
        if earliest <= latest {
            preview.earliest = Some(crate::fhir::date::format_instant(earliest));
            preview.latest = Some(crate::fhir::date::format_instant(latest));
        }
        Ok(preview)
    }

    /// Builds, encrypts, uploads and links the content of `opts.profile`. Blocks on the
    /// network; call off the main thread. In three steps: the content is built inside one
    /// read snapshot, published with no store connection held (an import or a search goes
    /// on meanwhile), and the access-log entry is written through the writer at the end.
    pub fn share(&self, opts: &ShareOptions) -> Result<SharedLink> {
        self.share_with_progress(opts, &crate::progress::NoProgress)
    }

    /// [`Store::share`], reporting [`Phase::Sharing`] once the link exists on the host and
    /// after each file's upload (`resources` = files uploaded of `total_resources`).
    /// Returning `false` cancels: a link already created is revoked on the host, nothing is
    /// logged, and the call returns [`Error::Cancelled`]. A failed upload revokes it too, so
    /// no half-filled link stays behind.
    pub fn share_with_progress(
        &self,
        opts: &ShareOptions,
        progress: &dyn ProgressListener,
    ) -> Result<SharedLink> {
        opts.check()?;
        let (patient, built, files) = {
            let snap = self.snapshot()?;
            let patient = share_patient(&snap, opts)?;
            let mut built = build(&snap, &patient, &opts.profile, &opts.include_sensitive)?;
            let mut files = std::mem::take(&mut built.files);
            if opts.include_sphr {
                files.push(sphr_binary(&snap, &patient, &opts.include_sensitive)?);
            }
            snap.finish()?;
            (patient, built, files)
        };
        if opts.direct_file && files.len() != 1 {
            return Err(Error::param(
                "direct_file",
                "a direct-file (U) link carries exactly one file",
            ));
        }
        let label = opts
            .label
            .clone()
            .unwrap_or_else(|| opts.profile.default_label().to_string());
        let flag = flags(opts);
        let key_text = generate_key();
        let draft = ShlPayload {
            url: "https://x/".into(),
            flag: flag.clone(),
            key: key_text.clone(),
            label: Some(label.clone()),
            exp: opts.exp,
            v: None,
        };
        draft.validate()?;
        let key = draft.key_bytes()?;
        let client = HttpClient::new(opts.reach);
        let created = client.create_link(
            &opts.host,
            opts.account_token.as_ref().map(Secret::expose),
            opts.passcode.as_ref().map(Secret::expose),
            opts.exp,
            Some(&label),
            flag.as_deref(),
        )?;
        let uploaded = (0..=files.len()).try_for_each(|done| {
            let step = Progress {
                phase: Phase::Sharing,
                bytes: 0,
                total_bytes: None,
                resources: done as u64,
                total_resources: Some(files.len() as u64),
            };
            if !progress.on_progress(&step) {
                return Err(Error::Cancelled);
            }
            let Some(f) = files.get(done) else {
                return Ok(());
            };
            let jwe = encrypt(&f.bytes, &key, &f.content_type, Compress::IfSmaller)?;
            client.upload(
                &opts.host,
                &created.id,
                &created.management_token,
                &f.content_type,
                &jwe,
            )?;
            Ok(())
        });
        if let Err(e) = uploaded {
            // Best effort: the host may be what failed. The error says what happened.
            let _ = client.revoke(&opts.host, &created.id, &created.management_token);
            return Err(e);
        }
        let mut payload = draft;
        payload.url.clone_from(&created.url);
        payload.validate()?;
        let viewer = match (&opts.viewer, opts.bare_link) {
            (_, true) => None,
            (Some(v), false) => Some(v.clone()),
            (None, false) => client.viewer(&opts.host),
        };
        let uri = match &viewer {
            Some(v) => payload.encode_with_viewer(v),
            None => payload.encode(),
        };
        Ok(SharedLink {
            uri: Secret::new(uri),
            host: opts.host.clone(),
            id: created.id,
            management_token: Secret::new(created.management_token),
            exp: opts.exp,
            flag,
            label,
            files: files.len(),
            excluded: built.excluded,
            patient: patient.clone(),
            reach: opts.reach,
        })
        .and_then(|link: SharedLink| {
            let profile = match &opts.profile {
                ShareProfile::Custom { .. } => "custom".to_string(),
                other => format!("{other:?}").to_lowercase(),
            };
            let action = AuditAction::ShareCreated {
                profile,
                label: link.label.clone(),
                host: link.host.clone(),
            };
            self.record_audit(&link.patient, &action)?;
            Ok(link)
        })
    }

    /// Imports what a link delivered: FHIR JSON as records, a `Binary` holding a zip as a
    /// `.sphr`. Provenance names the link's host and label, never the key.
    pub fn import_received(
        &self,
        received: &Received,
        opts: &ImportOptions,
        progress: &dyn ProgressListener,
    ) -> Result<ImportReport> {
        let mut sources = Vec::new();
        for (n, f) in received.files.iter().enumerate() {
            let name = format!(
                "SMART Health Link from {} ({}), file {}",
                received.host,
                received.label.as_deref().unwrap_or("no label"),
                n + 1
            );
            if !f.content_type.starts_with("application/fhir+json")
                && f.content_type != "application/json"
            {
                return Err(ShlError::UnsupportedContent(format!(
                    "{} files are not imported",
                    f.content_type
                ))
                .into());
            }
            match zip_in_binary(&f.bytes) {
                Some(zip) => sources.push(ImportSource::from_bytes(format!("{name}.sphr"), zip)),
                None => sources.push(ImportSource::from_bytes(name, f.bytes.clone())),
            }
        }
        self.import(sources, opts, progress)
    }
}

fn zip_in_binary(bytes: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    if v.get("resourceType")?.as_str()? != "Binary"
        || v.get("contentType")?.as_str()? != "application/zip"
    {
        return None;
    }
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(v.get("data")?.as_str()?)
        .ok()
}

/// What opening a link returned.
#[derive(Debug, Clone)]
pub struct Received {
    /// The link's label, if any.
    pub label: Option<String>,
    /// The host (scheme, name and port) the files came from.
    pub host: String,
    /// The decrypted files.
    pub files: Vec<ReceivedFile>,
}

/// Opens `link` (bare `shlink:/…` or a viewer URL) as `recipient`, contacting only the hosts
/// `reach` allows ([`Reach::Public`] unless developing against a local host). Blocks on the
/// network.
pub fn open_link(
    link: &str,
    recipient: &str,
    passcode: Option<&Secret>,
    reach: Reach,
) -> Result<Received> {
    let payload = ShlPayload::decode(link)?;
    if payload.version() != 1 {
        return Err(ShlError::InvalidPayload(format!(
            "protocol version {} is not supported",
            payload.version()
        ))
        .into());
    }
    if payload.is_expired(crate::fhir::date::now_ms() / 1000) {
        return Err(ShlError::LinkExpired.into());
    }
    if recipient.trim().is_empty() {
        return Err(Error::param(
            "recipient",
            "say who is opening the link (shown to the sharer)",
        ));
    }
    let files = HttpClient::new(reach).fetch_files(
        &payload,
        recipient,
        passcode.map(Secret::expose),
        DEFAULT_MAX_PLAINTEXT,
    )?;
    let host = payload
        .url
        .parse::<ureq::http::Uri>()
        .ok()
        .and_then(|u| {
            u.authority()
                .map(|a| format!("{}://{a}", u.scheme_str().unwrap_or("https")))
        })
        .unwrap_or_else(|| "unknown host".into());
    Ok(Received {
        label: payload.label.clone(),
        host,
        files,
    })
}

/// Revokes a shared link (without logging it: prefer [`Store::revoke_link`]).
pub fn revoke(link: &SharedLink) -> Result<()> {
    Ok(HttpClient::new(link.reach).revoke(&link.host, &link.id, link.management_token.expose())?)
}

/// Who opened a shared link, and when (without logging it: prefer [`Store::sync_accesses`]).
pub fn accesses(link: &SharedLink) -> Result<Vec<Access>> {
    Ok(HttpClient::new(link.reach).accesses(
        &link.host,
        &link.id,
        link.management_token.expose(),
    )?)
}

fn share_patient(snap: &Snapshot<'_>, opts: &ShareOptions) -> Result<String> {
    Ok(crate::export::resolve_patient(snap, opts.patient.as_deref(), "share")?.id)
}

impl Store {
    /// Revokes a shared link and records it in the access log.
    pub fn revoke_link(&self, link: &SharedLink) -> Result<()> {
        revoke(link)?;
        self.record_audit(
            &link.patient,
            &AuditAction::ShareRevoked {
                label: link.label.clone(),
                host: link.host.clone(),
            },
        )?;
        Ok(())
    }

    /// Asks the host who opened `link` and records each access in the access log (an
    /// access already recorded is not recorded twice).
    pub fn sync_accesses(&self, link: &SharedLink) -> Result<Vec<Access>> {
        let list = accesses(link)?;
        for a in &list {
            let action = AuditAction::LinkAccessed {
                recipient: a.recipient.clone(),
                time: a.time.clone(),
                label: link.label.clone(),
            };
            self.record_audit(&link.patient, &action)?;
        }
        Ok(list)
    }
}

/// Validate-mode options for previewing what a received link would import.
pub fn preview_options() -> ImportOptions {
    ImportOptions {
        mode: ImportMode::Validate,
        ..ImportOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shl::client::CreatedLink;

    #[test]
    fn debug_output_shows_no_capability() {
        let (uri, id, token) = (
            "shlink:/eyJsaW5rLWtleS1zZWNyZXQ",
            "id-capability-43",
            "token-capability-43",
        );
        let link = SharedLink {
            uri: Secret::new(uri),
            host: "https://shl.example".into(),
            id: id.into(),
            management_token: Secret::new(token),
            exp: None,
            flag: Some("P".into()),
            label: "Pharmacy".into(),
            files: 1,
            excluded: Default::default(),
            patient: "p1".into(),
            reach: Reach::Public,
        };
        let created = CreatedLink {
            id: id.into(),
            management_token: token.into(),
            url: format!("https://shl.example/api/shl/{id}"),
        };
        for text in [format!("{link:?}"), format!("{created:?}")] {
            for secret in [uri, id, token] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        assert!(
            format!("{link:?}").contains("Pharmacy"),
            "the rest still shows"
        );
    }
}
