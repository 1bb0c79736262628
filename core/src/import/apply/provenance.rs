//! The run's Provenance: one per patient whose record the run changed, plus one for the
//! shared resources (practitioners, organizations…) it wrote, so a patient's export never
//! carries another patient's resource ids; split at [`PROVENANCE_TARGETS`] so no single
//! resource grows with the size of the import.

use super::super::prepare::{Candidate, derive};
use super::{Applier, Written};
use crate::error::Result;
use crate::fhir::reference::{RefKind, classify};
use crate::store::write;
use serde_json::{Value, json};

/// Most targets one Provenance lists; a larger group is split.
const PROVENANCE_TARGETS: usize = 1000;

impl Applier<'_> {
    /// Writes the run's Provenance — one per patient whose record the run changed, plus one
    /// for the shared resources (practitioners, organizations…) it wrote, so a patient's
    /// export never carries another patient's resource ids — and returns their ids. A group
    /// of more than [`PROVENANCE_TARGETS`] versions is split over several Provenance
    /// resources, so no single resource grows with the size of the import.
    pub fn write_provenance(
        &mut self,
        sources: &[crate::import::report::SourceSummary],
    ) -> Result<Vec<String>> {
        let entities: Vec<Value> = sources.iter().map(|s| json!({
            "role": "source",
            "what": {
                "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:sha256:{}", s.sha256)},
                "display": format!("{} ({} bytes, SHA-256 {})", s.name, s.bytes, s.sha256),
            }
        })).collect();
        let mut written = std::mem::take(&mut self.written);
        // Shared resources first, then patients by id; rows in write order within each.
        let patients = std::mem::take(&mut self.patients);
        let name = |w: &Written| patients.get(w.patient as usize).map(String::as_str);
        written.sort_by(|a, b| name(a).cmp(&name(b)).then(a.row.cmp(&b.row)));
        let mut reference = self
            .conn
            .prepare_cached("SELECT type, id, version FROM resource_version WHERE row = ?1")?;
        let mut ids = Vec::new();
        for group in written.chunk_by(|a, b| a.patient == b.patient) {
            let patient = name(&group[0]).map(str::to_string);
            for part in group.chunks(PROVENANCE_TARGETS) {
                let mut refs = Vec::with_capacity(part.len());
                for w in part {
                    let (ty, id, version): (String, String, i64) =
                        reference.query_row([w.row], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
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
                    "entity": entities,
                });
                let mut d = derive(&mut value, "Provenance", &id, 1, &self.now);
                d.patient = patient.clone();
                let mut c = Candidate {
                    ty: "Provenance".into(),
                    id: id.clone(),
                    value,
                    notes: Vec::new(),
                    derived: None,
                    documents: Vec::new(),
                    source_meta: None,
                };
                self.store_version(&mut c, &mut d, 1, None)?;
                ids.push(id);
            }
        }
        Ok(ids)
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
                && let Some(p) = write::patient_of_row(self.conn, ty, id)?
            {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}
