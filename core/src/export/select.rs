//! What an export contains: the chosen patient's compartment, filtered, plus the shared
//! resources it references (transitively), planned with index-only queries.
//!
//! Filters (`_type`, `start`/`end`, `_since`) apply to the compartment. Shared resources
//! outside every compartment (Practitioner, Organization, Location, Medication…) that the
//! selection references are added transitively, so the export has no dangling reference it
//! could have filled; references into *another* patient's compartment are never followed.
//! Every planning query is index-only (see [`crate::store::selection`]), so only the final
//! pass reads resource JSON.

use super::ExportRequest;
use crate::error::{Error, Result};
use crate::fhir::compartment::is_shared_type;
use crate::sensitivity::{self, Category};
use crate::store::selection::Compartment;
use crate::store::{Snapshot, StoredResource};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What an export selects, resolved from the request without reading the compartment:
/// enough to start streaming at once.
pub(crate) struct Scope {
    pub patient: String,
    pub patient_json: String,
    /// The compartment rows to read. Sensitive resources are not filtered there: readers
    /// test `sensitive` against [`Scope::left_out`] so that they can count what they leave out.
    pub compartment: Compartment,
    /// Bit mask of the sensitive categories this export leaves out.
    pub left_out: i64,
}

impl Scope {
    /// True when a referenced shared resource of type `ty` belongs in the export.
    pub fn wants_shared(&self, ty: &str) -> bool {
        let types = &self.compartment.types;
        is_shared_type(ty) && (types.is_empty() || types.iter().any(|t| t == ty))
    }

    /// True when a row whose `sensitive` column is `mask` stays out of the export; it is then
    /// counted in `excluded` under each category that keeps it out.
    pub fn leaves_out(&self, mask: i64, excluded: &mut BTreeMap<String, u64>) -> bool {
        if mask & self.left_out == 0 {
            return false;
        }
        for cat in sensitivity::categories(mask & self.left_out) {
            *excluded.entry(cat.code().to_string()).or_insert(0) += 1;
        }
        true
    }
}

/// The whole selection counted, for previews: one index-only pass over the compartment.
pub(crate) struct Plan {
    pub scope: Scope,
    /// Resources per type, everything included (Patient and shared resources too).
    pub counts: BTreeMap<String, u64>,
    /// Resources left out as sensitive, per category code (one resource may count in two).
    pub excluded: BTreeMap<String, u64>,
}

impl Plan {
    /// Total resources the export will hold (without the cover Composition).
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// The shared-resource targets (`Type/id`) that `refs` (a `refs` column) names.
pub(crate) fn targets(refs: &str) -> impl Iterator<Item = (&str, &str)> {
    refs.split(' ').filter_map(|t| t.split_once('/'))
}

/// Resolves the patient and the filters: no pass over the compartment.
pub(crate) fn scope(snap: &Snapshot<'_>, req: &ExportRequest) -> Result<Scope> {
    let found = resolve_patient(snap, req.patient.as_deref(), "export")?;
    let (patient, patient_json) = (found.id, found.json);
    let left_out = sensitive_left_out(snap, &patient, req)?;
    Ok(Scope {
        compartment: Compartment {
            patient: patient.clone(),
            types: req.types.clone(),
            dates: req.date_range(),
            since: req.since,
        },
        patient,
        patient_json,
        left_out,
    })
}

/// The Patient an export or share is about: the one asked for (`Patient/<id>` or `<id>`),
/// which must be stored, or else the store's only one. `action` names the operation in the
/// errors: `NotFound` for no such patient (or none at all), a `patient` parameter error when
/// several are stored and none was chosen.
pub(crate) fn resolve_patient(
    snap: &Snapshot<'_>,
    requested: Option<&str>,
    action: &str,
) -> Result<StoredResource> {
    let id = match requested {
        Some(p) => p.trim_start_matches("Patient/").to_string(),
        None => {
            let mut ids = snap.patient_ids()?;
            match ids.len() {
                1 => ids.remove(0),
                0 => {
                    return Err(Error::NotFound(format!(
                        "the store holds no Patient to {action}"
                    )));
                }
                n => {
                    return Err(Error::param(
                        "patient",
                        format!("required: the store holds {n} patients"),
                    ));
                }
            }
        }
    };
    snap.get("Patient", &id)?
        .ok_or_else(|| Error::NotFound(format!("patient: Patient/{id} is not in the store")))
}

/// Counts the whole selection: compartment, sensitive exclusions and the shared resources
/// it references (transitively), with index-only queries.
pub(crate) fn plan(snap: &Snapshot<'_>, req: &ExportRequest) -> Result<Plan> {
    let scope = scope(snap, req)?;
    let mut counts = BTreeMap::new();
    counts.insert("Patient".to_string(), 1);
    let mut excluded = BTreeMap::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut enqueue = |refs: &str, queue: &mut VecDeque<String>| {
        for (ty, id) in targets(refs) {
            let target = format!("{ty}/{id}");
            if scope.wants_shared(ty) && seen.insert(target.clone()) {
                queue.push_back(target);
            }
        }
    };
    snap.compartment_index(&scope.compartment, |ty, refs, sensitive| {
        if scope.leaves_out(sensitive, &mut excluded) {
            return Ok(());
        }
        match counts.get_mut(ty) {
            Some(n) => *n += 1,
            None => {
                counts.insert(ty.to_string(), 1);
            }
        }
        enqueue(refs, &mut queue);
        Ok(())
    })?;
    if let Ok(patient_value) = serde_json::from_str::<serde_json::Value>(&scope.patient_json) {
        enqueue(
            &crate::fhir::reference::literal_targets(&patient_value).join(" "),
            &mut queue,
        );
    }
    let mut lookup = snap.shared_lookup()?;
    while let Some(target) = queue.pop_front() {
        let Some((ty, id)) = target.split_once('/') else {
            continue;
        };
        if let Some((refs, _)) = lookup.find(ty, id)? {
            *counts.entry(ty.to_string()).or_insert(0) += 1;
            enqueue(&refs, &mut queue);
        }
    }
    drop(lookup);
    Ok(Plan {
        scope,
        counts,
        excluded,
    })
}

/// The sensitive-data categories this export leaves out (bit mask): those neither chosen by
/// the caller nor permitted by an active Consent.
fn sensitive_left_out(snap: &Snapshot<'_>, patient: &str, req: &ExportRequest) -> Result<i64> {
    let consents: Vec<serde_json::Value> = snap
        .consents(patient)?
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    let mut allowed = req.include_sensitive.clone();
    allowed.extend(sensitivity::consented(&consents));
    Ok(sensitivity::mask(&Category::ALL) & !sensitivity::mask(&allowed))
}
