//! What a share contains: one FHIR Bundle per share profile, built from the store.
//!
//! The profiles follow the seed's use cases. `emergency` is an International Patient
//! Summary document (Composition LOINC 60591-5 with the IPS sections for allergies,
//! medications, problems, immunizations, results and procedures, each with a narrative and
//! an `emptyReason` when there is nothing); `pharmacy`, `travel` and `referral` are
//! `collection` Bundles of the resources those readers need; `full` and `custom` reuse the
//! `$phr-export` document Bundle. Resources leave as stored; referenced shared resources
//! (practitioners, organizations, medications) travel with them so references resolve.

use crate::error::{Error, Result};
use crate::export::{DEFAULT_BASE_URL, ExportRequest};
use crate::fhir::reference::literal_targets;
use crate::media::OutputFormat;
use crate::progress::NoProgress;
use crate::sensitivity::{self, Category};
use crate::store::{Search, Snapshot};
use picks::{PHARMACY, REFERRAL, Selector, TRAVEL};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::str::FromStr;

mod ips;
mod picks;

/// Media type of every file a profile produces.
pub const FHIR_JSON: &str = "application/fhir+json";

/// Which part of the record a link shares.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Chosen resource types within an optional date range (FHIR partial dates).
    Custom {
        /// Resource types (empty = all).
        types: Vec<String>,
        /// Range start (e.g. `2020`).
        start: Option<String>,
        /// Range end (e.g. `2024-06`).
        end: Option<String>,
    },
}

impl FromStr for ShareProfile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "emergency" => ShareProfile::Emergency,
            "pharmacy" => ShareProfile::Pharmacy,
            "travel" => ShareProfile::Travel,
            "referral" => ShareProfile::Referral,
            "full" => ShareProfile::Full,
            "custom" => ShareProfile::Custom {
                types: Vec::new(),
                start: None,
                end: None,
            },
            other => {
                return Err(Error::param(
                    "profile",
                    format!(
                        "`{other}` is not one of: emergency, pharmacy, travel, referral, full, custom"
                    ),
                ));
            }
        })
    }
}

impl ShareProfile {
    /// A default label for links of this profile (≤ 80 characters, no personal data).
    pub fn default_label(&self) -> &'static str {
        match self {
            ShareProfile::Emergency => "Emergency patient summary",
            ShareProfile::Pharmacy => "Current medications and allergies",
            ShareProfile::Travel => "Immunizations and allergies",
            ShareProfile::Referral => "Referral summary",
            ShareProfile::Full => "Personal health record",
            ShareProfile::Custom { .. } => "Shared health records",
        }
    }
}

/// One file to share: its media type and bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareFile {
    /// Media type (`application/fhir+json`).
    pub content_type: String,
    /// The file.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ShareFile({}, {} bytes)",
            self.content_type,
            self.bytes.len()
        )
    }
}

/// Shared resources (no patient compartment) the selection references, transitively.
fn referenced_shared(snap: &Snapshot<'_>, selected: &[Value]) -> Result<Vec<Value>> {
    let mut seen: std::collections::HashSet<String> = selected
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["resourceType"].as_str().unwrap_or(""),
                r["id"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut queue: Vec<String> = selected.iter().flat_map(literal_targets).collect();
    let mut out = Vec::new();
    while let Some(target) = queue.pop() {
        if !seen.insert(target.clone()) {
            continue;
        }
        let Some((ty, id)) = target.split_once('/') else {
            continue;
        };
        if crate::fhir::compartment::is_compartment_type(ty) || ty == "Patient" {
            continue;
        }
        if let Some(found) = snap.get(ty, id)? {
            let v: Value = serde_json::from_str(&found.json)
                .map_err(|_| Error::InvalidInput("stored JSON does not parse".into()))?;
            queue.extend(literal_targets(&v));
            out.push(v);
        }
    }
    Ok(out)
}

fn entry(r: &Value) -> Value {
    json!({
        "fullUrl": format!("{DEFAULT_BASE_URL}/{}/{}", r["resourceType"].as_str().unwrap_or(""), r["id"].as_str().unwrap_or("")),
        "resource": r,
    })
}

fn bundle(kind: &str, resources: Vec<Value>, now: &str) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    let mut b = json!({
        "resourceType": "Bundle",
        "id": id,
        "type": kind,
        "timestamp": now,
        "entry": resources.iter().map(entry).collect::<Vec<_>>(),
    });
    if kind == "document" {
        b["identifier"] = json!({"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")});
    }
    b
}

/// What a profile produced: the files, and what was left out as sensitive.
#[derive(Debug, Clone, Default)]
pub struct Built {
    /// The files to share.
    pub files: Vec<ShareFile>,
    /// Resources left out as sensitive, per category code.
    pub excluded: BTreeMap<String, u64>,
}

/// Builds the files a link of `profile` carries for `patient`, leaving out sensitive
/// categories not in `include` (nor permitted by an active Consent).
pub fn build(
    snap: &Snapshot<'_>,
    patient: &str,
    profile: &ShareProfile,
    include: &[Category],
) -> Result<Built> {
    let consents: Vec<Value> = snap
        .search(&Search {
            patient: Some(patient.to_string()),
            types: vec!["Consent".into()],
            ..Default::default()
        })?
        .iter()
        .filter_map(|r| serde_json::from_str(&r.json).ok())
        .collect();
    let mut allowed = include.to_vec();
    allowed.extend(sensitivity::consented(&consents));
    let sel = Selector {
        snap,
        patient,
        left_out: sensitivity::mask(&Category::ALL) & !sensitivity::mask(&allowed),
        excluded: Default::default(),
    };
    let files = build_files(&sel, profile, include)?;
    Ok(Built {
        files: files.0,
        excluded: files.1.unwrap_or_else(|| sel.excluded.into_inner()),
    })
}

/// Files, and the exclusion counts when a `$phr-export` built them.
type FilesAndExclusions = (Vec<ShareFile>, Option<BTreeMap<String, u64>>);

/// The files, and (for profiles built on `$phr-export`) the export's own exclusion counts.
fn build_files(
    sel: &Selector<'_>,
    profile: &ShareProfile,
    include: &[Category],
) -> Result<FilesAndExclusions> {
    let (snap, patient) = (sel.snap, sel.patient);
    let now = crate::fhir::date::format_instant(crate::fhir::date::now_ms());
    let patient_resource: Value = serde_json::from_str(&snap.require("Patient", patient)?.json)
        .map_err(|_| Error::InvalidInput("stored JSON does not parse".into()))?;
    let file = |v: Value| ShareFile {
        content_type: FHIR_JSON.into(),
        bytes: v.to_string().into_bytes(),
    };
    let collection = |selected: Vec<Value>| -> Result<FilesAndExclusions> {
        let mut all = vec![patient_resource.clone()];
        let shared = referenced_shared(snap, &selected)?;
        all.extend(selected);
        all.extend(shared);
        Ok((vec![file(bundle("collection", all, &now))], None))
    };
    match profile {
        ShareProfile::Pharmacy => collection(sel.pick_all(PHARMACY)?),
        ShareProfile::Travel => collection(sel.pick_all(TRAVEL)?),
        ShareProfile::Referral => collection(sel.pick_all(REFERRAL)?),
        ShareProfile::Emergency => {
            let mut sections = Vec::new();
            let mut selected: Vec<Value> = Vec::new();
            for section in ips::SECTIONS {
                let entries = sel.pick(section.pick)?;
                sections.push(ips::section(section, &entries));
                selected.extend(entries);
            }
            let composition = ips::composition(patient, &now, sections);
            let shared = referenced_shared(snap, &selected)?;
            let mut all = vec![composition, patient_resource.clone()];
            all.extend(selected);
            all.extend(shared);
            Ok((vec![file(bundle("document", all, &now))], None))
        }
        ShareProfile::Full | ShareProfile::Custom { .. } => {
            let mut req = ExportRequest::new(OutputFormat::Bundle).with_patient(patient)?;
            if let ShareProfile::Custom { types, start, end } = profile {
                req = req.with_types(types.iter().map(String::as_str))?;
                if let Some(s) = start {
                    req = req.with_start(s)?;
                }
                if let Some(e) = end {
                    req = req.with_end(e)?;
                }
            }
            req.include_sensitive = include.to_vec();
            let mut out = Vec::new();
            let summary = snap.export_unlogged(&req, &mut out, &NoProgress)?;
            let file = ShareFile {
                content_type: FHIR_JSON.into(),
                bytes: out,
            };
            Ok((vec![file], Some(summary.excluded)))
        }
    }
}

/// The whole record as a `.sphr` (unencrypted: the link's JWE protects it) wrapped in a FHIR
/// `Binary`, so viewers that do not know `.sphr` still see valid FHIR.
pub fn sphr_binary(snap: &Snapshot<'_>, patient: &str, include: &[Category]) -> Result<ShareFile> {
    let mut req = ExportRequest::new(OutputFormat::Sphr).with_patient(patient)?;
    req.encrypt = false;
    req.include_sensitive = include.to_vec();
    let mut zip = Vec::new();
    snap.export_unlogged(&req, &mut zip, &NoProgress)?;
    use base64::Engine;
    let binary = json!({
        "resourceType": "Binary",
        "id": uuid::Uuid::new_v4().to_string(),
        "contentType": "application/zip",
        "data": base64::engine::general_purpose::STANDARD.encode(&zip),
    });
    Ok(ShareFile {
        content_type: FHIR_JSON.into(),
        bytes: binary.to_string().into_bytes(),
    })
}
