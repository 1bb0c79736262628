//! What the collection profiles and the IPS sections pick from the record, as data: each
//! [`Pick`] names a part of the record (active medications, the latest labs…) and the
//! profiles are lists of picks, so a new profile or section is a table row, not code.

use crate::error::{Error, Result};
use crate::sensitivity;
use crate::store::{Search, Snapshot};
use serde_json::Value;
use std::collections::BTreeMap;

/// A part of the patient's record a profile shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    /// MedicationRequest / MedicationStatement that are active, on hold or intended.
    ActiveMedications,
    /// AllergyIntolerance not inactive, resolved or entered in error.
    ActiveAllergies,
    /// Condition active (or recurring, relapsed, or without a status).
    ActiveProblems,
    /// Every Immunization.
    Immunizations,
    /// The most recent of the Procedures, at most this many.
    RecentProcedures(usize),
    /// The latest laboratory Observation per code, at most this many codes.
    LatestLabs(usize),
}

/// `pharmacy`: what is dispensed, and what must not be.
pub(super) const PHARMACY: &[Pick] = &[Pick::ActiveMedications, Pick::ActiveAllergies];
/// `travel`: vaccinations and allergies.
pub(super) const TRAVEL: &[Pick] = &[Pick::Immunizations, Pick::ActiveAllergies];
/// `referral`: what a specialist reads first.
pub(super) const REFERRAL: &[Pick] = &[
    Pick::ActiveProblems,
    Pick::RecentProcedures(20),
    Pick::LatestLabs(30),
    Pick::ActiveMedications,
];

/// Reads the patient's resources for a profile, leaving out sensitive categories the
/// patient has not opted in to and counting what it leaves out.
pub(super) struct Selector<'s> {
    pub snap: &'s Snapshot<'s>,
    pub patient: &'s str,
    pub left_out: i64,
    pub excluded: std::cell::RefCell<BTreeMap<String, u64>>,
}

impl Selector<'_> {
    /// Current resources of `types` in the patient's compartment, oldest first.
    fn load(&self, types: &[&str]) -> Result<Vec<Value>> {
        let search = Search {
            patient: Some(self.patient.to_string()),
            types: types.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        };
        let mut out = Vec::new();
        for r in self.snap.search(&search)? {
            if r.sensitive & self.left_out != 0 {
                let mut excluded = self.excluded.borrow_mut();
                for cat in sensitivity::categories(r.sensitive & self.left_out) {
                    *excluded.entry(cat.code().to_string()).or_insert(0) += 1;
                }
                continue;
            }
            out.push(
                serde_json::from_str(&r.json)
                    .map_err(|_| Error::InvalidInput("stored JSON does not parse".into()))?,
            );
        }
        Ok(out)
    }

    /// The resources `pick` names, oldest first.
    pub(super) fn pick(&self, pick: Pick) -> Result<Vec<Value>> {
        let keep = |types: &[&str], f: fn(&Value) -> bool| -> Result<Vec<Value>> {
            Ok(self.load(types)?.into_iter().filter(&f).collect())
        };
        Ok(match pick {
            Pick::ActiveMedications => keep(
                &["MedicationRequest", "MedicationStatement"],
                active_medication,
            )?,
            Pick::ActiveAllergies => keep(&["AllergyIntolerance"], active_allergy)?,
            Pick::ActiveProblems => keep(&["Condition"], active_condition)?,
            Pick::Immunizations => self.load(&["Immunization"])?,
            Pick::RecentProcedures(n) => latest(self.load(&["Procedure"])?, n),
            Pick::LatestLabs(n) => latest_per_code(keep(&["Observation"], is_lab)?, n),
        })
    }

    /// Every pick's resources, in the order of `picks`.
    pub(super) fn pick_all(&self, picks: &[Pick]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for p in picks {
            out.extend(self.pick(*p)?);
        }
        Ok(out)
    }
}

/// The most recent `n` of `items` (they arrive oldest first).
fn latest(mut items: Vec<Value>, n: usize) -> Vec<Value> {
    let skip = items.len().saturating_sub(n);
    items.drain(..skip);
    items
}

/// The latest lab result per code, at most `n`.
fn latest_per_code(labs: Vec<Value>, n: usize) -> Vec<Value> {
    let mut by_code: Vec<(String, Value)> = Vec::new();
    for r in labs {
        let code = code_of(&r, "/code/coding/0/code").unwrap_or_default();
        match by_code.iter_mut().find(|(c, _)| *c == code) {
            Some(slot) => slot.1 = r,
            None => by_code.push((code, r)),
        }
    }
    latest(by_code.into_iter().map(|(_, r)| r).collect(), n)
}

fn code_of(r: &Value, path: &str) -> Option<String> {
    r.pointer(path).and_then(Value::as_str).map(str::to_string)
}

fn active_condition(r: &Value) -> bool {
    matches!(
        code_of(r, "/clinicalStatus/coding/0/code").as_deref(),
        Some("active" | "recurrence" | "relapse") | None
    ) && code_of(r, "/verificationStatus/coding/0/code").as_deref() != Some("entered-in-error")
}

fn active_allergy(r: &Value) -> bool {
    !matches!(
        code_of(r, "/clinicalStatus/coding/0/code").as_deref(),
        Some("inactive" | "resolved")
    ) && code_of(r, "/verificationStatus/coding/0/code").as_deref() != Some("entered-in-error")
}

fn active_medication(r: &Value) -> bool {
    matches!(
        code_of(r, "/status").as_deref(),
        Some("active" | "on-hold" | "intended")
    )
}

fn is_lab(r: &Value) -> bool {
    r.get("category")
        .and_then(Value::as_array)
        .is_some_and(|cats| {
            cats.iter()
                .any(|c| c.pointer("/coding/0/code").and_then(Value::as_str) == Some("laboratory"))
        })
}
