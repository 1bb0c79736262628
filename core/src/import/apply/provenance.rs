//! The run's Provenance: per patient whose record the run changed, plus one for the shared
//! resources (practitioners, organizations…) it wrote, so a patient's export never carries
//! another patient's resource ids; at most [`PROVENANCE_TARGETS`] targets each, so no single
//! resource grows with the size of the import.
//!
//! Versions are listed as they are written, a bounded batch at a time: the run never holds
//! a list that grows with the input. A patient's versions in one batch share a Provenance
//! only once there are enough of them to fill it (or at the end); a file that mixes many
//! patients may therefore get more, smaller Provenance resources. Those written before the
//! whole input was read get the inputs' names and hashes (`entity`) at the end.

use super::{Applier, NO_PATIENT};
use crate::error::Result;
use crate::fhir::reference::{RefKind, classify};
use crate::import::prepare::Candidate;
use crate::import::report::SourceSummary;
use crate::store::derive::derive;
use serde_json::{Value, json};

/// Most targets one Provenance lists; a larger group is split. 500 keeps the line under
/// 64 KB even with 64-character ids of the longest type names, so no exported line of
/// phrkit's own grows past what a streaming reader holds at once.
const PROVENANCE_TARGETS: usize = 500;
/// Versions waiting to be listed before a batch of Provenance is written (1 MiB).
pub(super) const UNLISTED_MAX: usize = 65_536;

impl Applier<'_> {
    /// Lists the waiting versions in Provenance resources. Before the end (no `entities` yet)
    /// only full groups of [`PROVENANCE_TARGETS`] are written, unless so many partial groups
    /// wait that they fill half the batch; at the end, everything.
    pub(super) fn list_in_provenance(&mut self, entities: Option<&[Value]>) -> Result<()> {
        let all = entities.is_some();
        let mut unlisted = std::mem::take(&mut self.unlisted);
        let patients = &self.patients;
        let name = |p: u32| (p != NO_PATIENT).then(|| patients[p as usize].clone());
        // Shared resources first, then patients by id; rows in write order within each.
        unlisted.sort_by(|a, b| name(a.0).cmp(&name(b.0)).then(a.1.cmp(&b.1)));
        let mut groups: Vec<(Option<String>, Vec<i64>)> = Vec::new();
        let mut waiting = Vec::new();
        for group in unlisted.chunk_by(|a, b| a.0 == b.0) {
            let full = if all {
                group.len()
            } else {
                group.len() / PROVENANCE_TARGETS * PROVENANCE_TARGETS
            };
            let (now, later) = group.split_at(full);
            if !now.is_empty() {
                groups.push((name(group[0].0), now.iter().map(|w| w.1).collect()));
            }
            waiting.extend_from_slice(later);
        }
        if !all && waiting.len() >= UNLISTED_MAX / 2 {
            for group in waiting.chunk_by(|a, b| a.0 == b.0) {
                groups.push((name(group[0].0), group.iter().map(|w| w.1).collect()));
            }
            waiting.clear();
        }
        self.unlisted = waiting;
        for (patient, rows) in groups {
            for part in rows.chunks(PROVENANCE_TARGETS) {
                self.provenance(patient.clone(), part, entities)?;
            }
        }
        Ok(())
    }

    /// Writes the rest of the run's Provenance, gives those written early the inputs'
    /// `entity`, and returns the ids of all of them.
    pub fn write_provenance(&mut self, sources: &[SourceSummary]) -> Result<Vec<String>> {
        let entities = entities(sources);
        self.list_in_provenance(Some(&entities))?;
        for row in std::mem::take(&mut self.early_provenance) {
            // Our own serialisation of an object: it parses.
            let mut value: Value =
                serde_json::from_str(&self.tx.json_of_row(row)?).unwrap_or(Value::Null);
            let Some(id) = value["id"].as_str().map(str::to_string) else {
                continue;
            };
            value["entity"] = Value::Array(entities.clone());
            let d = derive(&mut value, "Provenance", &id, 1, &self.now);
            self.tx.replace_json(row, &d.json, &d.hash)?;
        }
        Ok(std::mem::take(&mut self.provenance_ids))
    }

    /// Writes one Provenance listing `rows`; without `entities` (inputs still being read) it
    /// is completed by [`Self::write_provenance`].
    fn provenance(
        &mut self,
        patient: Option<String>,
        rows: &[i64],
        entities: Option<&[Value]>,
    ) -> Result<()> {
        let mut refs = Vec::with_capacity(rows.len());
        for row in rows {
            let (ty, id, version) = self.tx.version_of_row(*row)?;
            refs.push(json!({"reference": format!("{ty}/{id}/_history/{version}")}));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let mut value = json!({
            "resourceType": "Provenance",
            "id": id,
            "target": refs,
            "recorded": self.now,
            "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE", "display": "create"}], "text": "import"},
            "agent": [{
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "assembler", "display": "Assembler"}]},
                "who": {"display": crate::SOFTWARE}
            }],
        });
        if let Some(e) = entities {
            value["entity"] = Value::Array(e.to_vec());
        }
        let mut d = derive(&mut value, "Provenance", &id, 1, &self.now);
        d.patient = patient;
        let mut c = Candidate {
            ty: "Provenance".into(),
            id: id.clone(),
            value,
            notes: Vec::new(),
            derived: None,
            documents: Vec::new(),
            source_meta: None,
        };
        let row = self.store_version(&mut c, &mut d, 1, None)?;
        if entities.is_none() {
            self.early_provenance.push(row);
        }
        self.provenance_ids.push(id);
        Ok(())
    }

    /// A Provenance is in the compartment of the patient its targets belong to, even when
    /// no target is the Patient itself (FHIR R4's definition only follows Patient targets,
    /// which would orphan the provenance of a run that added only observations).
    pub(super) fn provenance_patient(&self, value: &Value) -> Result<Option<String>> {
        let Some(Value::Array(targets)) = value.get("target") else {
            return Ok(None);
        };
        for t in targets {
            if let Some(RefKind::Literal {
                ty,
                id,
                absolute: false,
            }) = t.get("reference").and_then(Value::as_str).map(classify)
                && let Some(p) = self.tx.patient_of_row(ty, id)?
            {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}

/// The run's inputs as Provenance entities: name, size and SHA-256.
fn entities(sources: &[SourceSummary]) -> Vec<Value> {
    sources
        .iter()
        .map(|s| json!({
            "role": "source",
            "what": {
                "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:sha256:{}", s.sha256)},
                "display": format!("{} ({} bytes, SHA-256 {})", s.name, s.bytes, s.sha256),
            }
        }))
        .collect()
}
