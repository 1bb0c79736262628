//! The patient-readable access log: every disclosure of the record, as FHIR AuditEvents in
//! the store itself.
//!
//! Exports (every format, `.sphr` included), share-link creation and revocation, and each
//! access a link host reports (who, when) become one AuditEvent each, in the patient's
//! compartment (`entity.what` = the Patient). Keeping them as ordinary resources means they
//! travel: a full export or a `.sphr` carries the log, and an import keeps it with its
//! provenance. Host-reported accesses get ids derived from (link, recipient, time), so
//! syncing the same list twice adds nothing. Entries hold the profile, format and counts —
//! never a link, key, passcode or the record's content.

use crate::error::Result;
use crate::store::derive::{derive, instant_text, set_meta};
use crate::store::write::{self, WriteTx};
use crate::store::{Search, Store};
use serde_json::{Value, json};

/// The code system of phrkit's audit subtypes.
pub const AUDIT_SYSTEM: &str = "https://phrkit.dev/CodeSystem/audit";

/// What happened, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditAction {
    /// The record (or part of it) was exported.
    Export {
        /// `bundle`, `ndjson`, `phr` or `sphr`.
        format: String,
        /// Resources written.
        resources: u64,
        /// Sensitive resources left out, as `category: n` text.
        excluded: String,
    },
    /// A SMART Health Link was created.
    ShareCreated {
        /// The share profile (`emergency`, `pharmacy`…).
        profile: String,
        /// The link's label.
        label: String,
        /// The host's base URL.
        host: String,
    },
    /// A SMART Health Link was revoked.
    ShareRevoked {
        /// The link's label.
        label: String,
        /// The host's base URL.
        host: String,
    },
    /// Someone opened a shared link (as the host reports).
    LinkAccessed {
        /// Who said they were asking.
        recipient: String,
        /// When (RFC 3339), as the host recorded it.
        time: String,
        /// The link's label.
        label: String,
    },
}

impl AuditAction {
    fn code(&self) -> &'static str {
        match self {
            AuditAction::Export { format, .. } if format == "sphr" => "sphr-export",
            AuditAction::Export { .. } => "export",
            AuditAction::ShareCreated { .. } => "share-created",
            AuditAction::ShareRevoked { .. } => "share-revoked",
            AuditAction::LinkAccessed { .. } => "link-accessed",
        }
    }

    fn describe(&self) -> String {
        match self {
            AuditAction::Export {
                format,
                resources,
                excluded,
            } if excluded.is_empty() => {
                format!("exported {resources} resources as {format}")
            }
            AuditAction::Export {
                format,
                resources,
                excluded,
            } => {
                format!(
                    "exported {resources} resources as {format}; left out as sensitive: {excluded}"
                )
            }
            AuditAction::ShareCreated {
                profile,
                label,
                host,
            } => format!("shared \"{label}\" ({profile}) through {host}"),
            AuditAction::ShareRevoked { label, host } => {
                format!("revoked the link \"{label}\" on {host}")
            }
            AuditAction::LinkAccessed {
                recipient, label, ..
            } => format!("{recipient} opened the link \"{label}\""),
        }
    }
}

/// One line of the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The AuditEvent's id.
    pub id: String,
    /// When it happened (RFC 3339).
    pub recorded: String,
    /// `export`, `sphr-export`, `share-created`, `share-revoked`, `link-accessed`.
    pub action: String,
    /// Who received or acted (a recipient, or this app).
    pub who: String,
    /// What happened, in words.
    pub description: String,
}

impl Store {
    /// Records `action` on `patient`'s record as an AuditEvent; returns its id.
    pub(crate) fn record_audit(&self, patient: &str, action: &AuditAction) -> Result<String> {
        let now = instant_text(crate::fhir::date::now_ms());
        let (recorded, id, who) = match action {
            AuditAction::LinkAccessed {
                recipient,
                time,
                label,
            } => {
                let id = derived_id(&format!("{label}|{recipient}|{time}"));
                (time.clone(), id, recipient.clone())
            }
            _ => (
                now.clone(),
                uuid::Uuid::new_v4().to_string(),
                crate::SOFTWARE.to_string(),
            ),
        };
        let event = json!({
            "resourceType": "AuditEvent",
            "id": id,
            "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110106", "display": "Export"},
            "subtype": [{"system": AUDIT_SYSTEM, "code": action.code()}],
            "action": if matches!(action, AuditAction::ShareRevoked { .. }) { "D" } else { "R" },
            "recorded": recorded,
            "outcome": "0",
            "outcomeDesc": action.describe(),
            "agent": [{
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP", "display": "information recipient"}]},
                "who": {"display": who},
                "requestor": matches!(action, AuditAction::LinkAccessed { .. }),
            }],
            "source": {"observer": {"display": crate::SOFTWARE}},
            "entity": [{
                "what": {"reference": format!("Patient/{patient}")},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
                "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
            }],
        });
        // Written through the writer now, or as soon as an import running meanwhile lets go
        // of it: the read this entry records never waits for a write.
        self.write_soon(Box::new(move |tx| append(tx, event.clone())))?;
        Ok(id)
    }

    /// The access log, newest first (of one patient, or of everyone).
    pub fn access_log(&self, patient: Option<&str>) -> Result<Vec<AuditEntry>> {
        let search = Search {
            patient: patient.map(str::to_string),
            types: vec!["AuditEvent".into()],
            ..Default::default()
        };
        let mut entries: Vec<AuditEntry> = self
            .search(&search)?
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.json).ok())
            .map(|v| AuditEntry {
                id: v["id"].as_str().unwrap_or_default().to_string(),
                recorded: v["recorded"].as_str().unwrap_or_default().to_string(),
                action: v
                    .pointer("/subtype/0/code")
                    .and_then(Value::as_str)
                    .unwrap_or("other")
                    .to_string(),
                who: v
                    .pointer("/agent/0/who/display")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                description: v["outcomeDesc"].as_str().unwrap_or_default().to_string(),
            })
            .collect();
        entries.sort_by(|a, b| b.recorded.cmp(&a.recorded));
        Ok(entries)
    }
}

/// Writes one resource this library made (not imported), unless an identical one is stored
/// already, inside `tx`.
fn append(tx: &WriteTx<'_>, mut value: Value) -> Result<()> {
    let now = instant_text(crate::fhir::date::now_ms());
    let ty = value["resourceType"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = value["id"].as_str().unwrap_or_default().to_string();
    let d = derive(&mut value, &ty, &id, 1, &now);
    let current = tx.current(&ty, &id)?;
    if current
        .as_ref()
        .is_some_and(|c| c.hash == d.hash && !c.deleted)
    {
        return Ok(());
    }
    let version = current.as_ref().map_or(1, |c| c.version + 1);
    let json = if version == 1 {
        d.json.clone()
    } else {
        set_meta(&mut value, version, &now);
        value.to_string()
    };
    tx.insert_version(
        current.map(|c| c.row),
        &write::NewVersion {
            ty: &ty,
            id: &id,
            version,
            last_updated: crate::fhir::date::now_ms(),
            run: None,
            json: &json,
            derived: &d,
        },
    )?;
    Ok(())
}

fn derived_id(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}
