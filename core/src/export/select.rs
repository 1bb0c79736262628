//! What an export contains: the chosen patient's compartment, filtered, plus the shared
//! resources it references (transitively), planned with index-only queries.
//!
//! Filters (`_type`, `start`/`end`, `_since`) apply to the compartment. Shared resources
//! outside every compartment (Practitioner, Organization, Location, Medication…) that the
//! selection references are added transitively, so the export has no dangling reference it
//! could have filled; references into *another* patient's compartment are never followed.
//! Every planning query is answered by the covering index `resource_current_by_patient`,
//! so only the final pass reads resource JSON.

use super::ExportRequest;
use crate::error::{Error, Result};
use crate::fhir::compartment::is_shared_type;
use crate::sensitivity::{self, Category};
use crate::store::Store;
use rusqlite::types::Value as SqlValue;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The planned selection.
pub(crate) struct Plan {
    pub patient: String,
    pub patient_json: String,
    /// SQL condition selecting the compartment part (without `WHERE`), and its arguments.
    pub condition: String,
    pub args: Vec<SqlValue>,
    /// Resources per type, everything included (Patient and shared resources too).
    pub counts: BTreeMap<String, u64>,
    /// Shared resources as `(type, id)`, sorted.
    pub shared: Vec<(String, String)>,
    /// The compartment's Provenance ids, in the order they are written (clinical date, id).
    pub provenance: Vec<String>,
    /// Resources left out as sensitive, per category code (one resource may count in two).
    pub excluded: BTreeMap<String, u64>,
}

impl Plan {
    /// Total resources the export will hold (without the cover Composition).
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Runs `SELECT {columns} FROM resource_version WHERE <the plan's condition> {tail}` and
    /// calls `f` with each row.
    pub(crate) fn each_row(
        &self,
        store: &Store,
        columns: &str,
        tail: &str,
        mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut st = store.conn.prepare(&format!(
            "SELECT {columns} FROM resource_version WHERE {} {tail}",
            self.condition
        ))?;
        let mut rows = st.query(rusqlite::params_from_iter(self.args.iter()))?;
        while let Some(r) = rows.next()? {
            f(r)?;
        }
        Ok(())
    }
}

/// Column `i` of `row` as text, borrowed from the row.
pub(crate) fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str> {
    Ok(row.get_ref(i)?.as_str().map_err(rusqlite::Error::from)?)
}

/// Resolves the patient and plans the selection.
pub(crate) fn plan(store: &Store, req: &ExportRequest) -> Result<Plan> {
    let patient = match &req.patient {
        Some(p) => p.clone(),
        None => {
            let ids = store.patient_ids()?;
            match ids.len() {
                1 => ids.into_iter().next().unwrap_or_default(),
                0 => {
                    return Err(Error::NotFound(
                        "the store holds no Patient to export".into(),
                    ));
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
    let patient_json = store
        .get("Patient", &patient)?
        .ok_or_else(|| Error::NotFound(format!("patient: Patient/{patient} is not in the store")))?
        .json;

    let mut condition = String::from(
        "current = 1 AND deleted = 0 AND patient = ? AND NOT (type = 'Patient' AND id = ?)",
    );
    let mut args: Vec<SqlValue> = vec![patient.clone().into(), patient.clone().into()];
    if !req.types.is_empty() {
        condition.push_str(&format!(
            " AND type IN ({})",
            vec!["?"; req.types.len()].join(",")
        ));
        args.extend(req.types.iter().map(|t| SqlValue::from(t.clone())));
    }
    if let Some(range) = req.date_range() {
        condition.push_str(
            " AND (type = 'Provenance' OR date_start IS NULL OR (date_start < ? AND date_end > ?))",
        );
        args.push(range.end.into());
        args.push(range.start.into());
    }
    if let Some(since) = req.since {
        condition.push_str(" AND last_updated >= ?");
        args.push(since.into());
    }

    let left_out = sensitive_left_out(store, &patient, req)?;
    let conn = &store.conn;
    let mut counts = BTreeMap::new();
    counts.insert("Patient".to_string(), 1);
    let mut excluded = BTreeMap::new();
    let mut provenance = Vec::new();

    let wanted = |ty: &str| {
        is_shared_type(ty) && (req.types.is_empty() || req.types.iter().any(|t| t == ty))
    };
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut enqueue = |refs: &str, queue: &mut VecDeque<String>| {
        for target in refs.split(' ').filter(|t| !t.is_empty()) {
            if let Some((ty, _)) = target.split_once('/')
                && wanted(ty)
                && seen.insert(target.to_string())
            {
                queue.push_back(target.to_string());
            }
        }
    };
    // One index-only pass over the compartment: counts, sensitive exclusions, references to
    // follow and the Provenance to emit.
    let mut st = conn.prepare(&format!(
        "SELECT type, id, date_start, refs, sensitive FROM resource_version WHERE {condition}"
    ))?;
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    while let Some(r) = rows.next()? {
        let mask: i64 = r.get(4)?;
        if mask & left_out != 0 {
            for cat in sensitivity::categories(mask & left_out) {
                *excluded.entry(cat.code().to_string()).or_insert(0) += 1;
            }
            continue;
        }
        let ty = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        match counts.get_mut(ty) {
            Some(n) => *n += 1,
            None => {
                counts.insert(ty.to_string(), 1);
            }
        }
        if ty == "Provenance" {
            provenance.push((r.get::<_, Option<i64>>(2)?, r.get::<_, String>(1)?));
        }
        enqueue(
            r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?,
            &mut queue,
        );
    }
    drop(rows);
    drop(st);
    if left_out != 0 {
        condition.push_str(&format!(" AND (sensitive & {left_out}) = 0"));
    }
    provenance.sort();
    if let Some(Ok(patient_value)) = Some(serde_json::from_str::<serde_json::Value>(&patient_json))
    {
        enqueue(
            &crate::fhir::reference::literal_targets(&patient_value).join(" "),
            &mut queue,
        );
    }
    let mut shared = Vec::new();
    let mut lookup = conn.prepare_cached(
        "SELECT refs FROM resource_version WHERE id = ?1 AND type = ?2 AND current = 1 AND deleted = 0 AND patient IS NULL",
    )?;
    while let Some(target) = queue.pop_front() {
        let Some((ty, id)) = target.split_once('/') else {
            continue;
        };
        let refs: Option<String> =
            rusqlite::OptionalExtension::optional(lookup.query_row([id, ty], |r| r.get(0)))?;
        if let Some(refs) = refs {
            shared.push((ty.to_string(), id.to_string()));
            *counts.entry(ty.to_string()).or_insert(0) += 1;
            enqueue(&refs, &mut queue);
        }
    }
    shared.sort();
    Ok(Plan {
        patient,
        patient_json,
        condition,
        args,
        counts,
        shared,
        provenance: provenance.into_iter().map(|(_, id)| id).collect(),
        excluded,
    })
}

/// The sensitive-data categories this export leaves out (bit mask): those neither chosen by
/// the caller nor permitted by an active Consent.
fn sensitive_left_out(store: &Store, patient: &str, req: &ExportRequest) -> Result<i64> {
    let consents: Vec<serde_json::Value> = store
        .consents(patient)?
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect();
    let mut allowed = req.include_sensitive.clone();
    allowed.extend(sensitivity::consented(&consents));
    Ok(sensitivity::mask(&Category::ALL) & !sensitivity::mask(&allowed))
}
