//! The export's cover page: a Composition (LOINC 11503-0 "Medical records") with one section
//! per resource type listing every entry of the export, written as one line of JSON.
//!
//! Sections need the entries grouped by type (in clinical-date order within a type), while
//! the export index yields them in date order. Sorting 200,000 rows in SQLite took longer
//! than writing the whole record, so the entries are read once in index order and grouped in
//! memory in a compact form (a UUID id in 17 bytes). A record too big for
//! [`GROUPING_LIMIT`] falls back to SQLite's `ORDER BY`: memory stays bounded either way.

use super::select::{Plan, text};
use super::{EXPORT_COVER_TAG, PHRKIT_TAG_SYSTEM};
use crate::error::Result;
use crate::store::Store;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// Most bytes the in-memory grouping may hold (~490,000 UUID-named entries).
const GROUPING_LIMIT: usize = 8 << 20;

/// Writes the cover page (without a line end) to `out`.
pub(crate) fn write(
    store: &Store,
    plan: &Plan,
    id: &str,
    now: &str,
    out: &mut dyn Write,
) -> Result<()> {
    write_grouping(store, plan, id, now, out, GROUPING_LIMIT)
}

fn write_grouping(
    store: &Store,
    plan: &Plan,
    id: &str,
    now: &str,
    out: &mut dyn Write,
    limit: usize,
) -> Result<()> {
    let head = json!({
        "resourceType": "Composition",
        "id": id,
        "meta": {
            "lastUpdated": now,
            "profile": ["http://hl7.org/fhir/uv/phr/StructureDefinition/PhrComposition"],
            "tag": [{"system": PHRKIT_TAG_SYSTEM, "code": EXPORT_COVER_TAG, "display": "phrkit export cover page"}]
        },
        "text": {"status": "generated", "div": format!(
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">Personal health record: {} resources of {} types, exported by {}.</div>",
            plan.total(), plan.counts.len(), crate::SOFTWARE)},
        "contained": [{"resourceType": "Device", "id": "exporter",
            "deviceName": [{"name": "phrkit", "type": "user-friendly-name"}],
            "version": [{"value": env!("CARGO_PKG_VERSION")}]}],
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11503-0", "display": "Medical records"}]},
        "subject": {"reference": format!("Patient/{}", plan.patient)},
        "date": now,
        "author": [{"reference": "#exporter", "display": crate::SOFTWARE}],
        "title": "Personal health record",
    })
    .to_string();
    out.write_all(&head.as_bytes()[..head.len() - 1])?;
    out.write_all(b",\"section\":[")?;
    // Besides the compartment: the shared resources and the Patient, after the compartment
    // entries of their type.
    let mut extra: Vec<(String, String)> = plan.shared.clone();
    extra.push(("Patient".into(), plan.patient.clone()));
    extra.sort();
    let mut sections = Sections::default();
    match group(store, plan, limit)? {
        Some(groups) => {
            let mut extra = extra.into_iter().peekable();
            for (ty, ids) in &groups {
                while let Some((ety, eid)) = extra.next_if(|(ety, _)| ety < ty) {
                    sections.entry(out, &ety, &eid)?;
                }
                for id in Ids(ids) {
                    sections.entry(out, ty, &id)?;
                }
            }
            for (ety, eid) in extra {
                sections.entry(out, &ety, &eid)?;
            }
        }
        None => sorted_by_sqlite(store, plan, extra, &mut sections, out)?,
    }
    sections.close(out)?;
    out.write_all(b"]}")?;
    Ok(())
}

/// The compartment's entries grouped by type, each type's ids packed in index order; `None`
/// when they would not fit in `limit` bytes.
fn group(store: &Store, plan: &Plan, limit: usize) -> Result<Option<BTreeMap<String, Vec<u8>>>> {
    let mut groups: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut size = 0;
    plan.each_row(store, "type, id", "", |r| {
        if size > limit {
            return Ok(()); // Falling back: the rest of the rows need no packing.
        }
        let ty = text(r, 0)?;
        let packed = match groups.get_mut(ty) {
            Some(packed) => packed,
            None => groups.entry(ty.to_string()).or_default(),
        };
        let before = packed.len();
        pack(text(r, 1)?, packed);
        size += packed.len() - before;
        Ok(())
    })?;
    Ok((size <= limit).then_some(groups))
}

/// The same entries through SQLite's sorter: constant memory, slower.
fn sorted_by_sqlite(
    store: &Store,
    plan: &Plan,
    extra: Vec<(String, String)>,
    sections: &mut Sections,
    out: &mut dyn Write,
) -> Result<()> {
    let mut extra = extra.into_iter().peekable();
    plan.each_row(store, "type, id", "ORDER BY type, date_start, id", |r| {
        let (ty, id) = (text(r, 0)?, text(r, 1)?);
        while let Some((ety, eid)) = extra.next_if(|(ety, _)| ety.as_str() < ty) {
            sections.entry(out, &ety, &eid)?;
        }
        sections.entry(out, ty, id)
    })?;
    for (ety, eid) in extra {
        sections.entry(out, &ety, &eid)?;
    }
    Ok(())
}

/// Tag bytes of a packed id.
const UUID: u8 = 0;
const TEXT: u8 = 1;

/// Appends `id` to `packed`: a lower-case hyphenated UUID as its 16 bytes, anything else as
/// its length (two bytes) and text.
fn pack(id: &str, packed: &mut Vec<u8>) {
    if let Ok(uuid) = uuid::Uuid::try_parse(id)
        && id.len() == 36
        && uuid.hyphenated().encode_lower(&mut [0u8; 36]) == id
    {
        packed.push(UUID);
        packed.extend_from_slice(uuid.as_bytes());
        return;
    }
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX);
    packed.push(TEXT);
    packed.extend_from_slice(&len.to_le_bytes());
    packed.extend_from_slice(&id.as_bytes()[..usize::from(len)]);
}

/// The ids [`pack`] wrote, in order.
struct Ids<'a>(&'a [u8]);

impl Iterator for Ids<'_> {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        let (&tag, rest) = self.0.split_first()?;
        if tag == UUID {
            let bytes: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            self.0 = &rest[16..];
            return Some(uuid::Uuid::from_bytes(bytes).hyphenated().to_string());
        }
        let len = usize::from(u16::from_le_bytes(rest.get(..2)?.try_into().ok()?));
        let text = rest.get(2..2 + len)?;
        self.0 = &rest[2 + len..];
        Some(String::from_utf8_lossy(text).into_owned())
    }
}

/// Writes section entries, opening a section when the type changes.
#[derive(Default)]
struct Sections {
    current: Option<String>,
}

impl Sections {
    fn entry(&mut self, out: &mut dyn Write, ty: &str, id: &str) -> Result<()> {
        if self.current.as_deref() == Some(ty) {
            out.write_all(b",")?;
        } else {
            if self.current.is_some() {
                out.write_all(b"]},")?;
            }
            write!(out, "{{\"title\":{},\"entry\":[", json!(ty))?;
            self.current = Some(ty.to_string());
        }
        if plain(ty) && plain(id) {
            write!(out, "{{\"reference\":\"{ty}/{id}\"}}")?;
        } else {
            write!(out, "{{\"reference\":{}}}", json!(format!("{ty}/{id}")))?;
        }
        Ok(())
    }

    fn close(&mut self, out: &mut dyn Write) -> Result<()> {
        if self.current.take().is_some() {
            out.write_all(b"]}")?;
        }
        Ok(())
    }
}

/// True when `s` needs no JSON escaping (what FHIR ids and type names are made of).
fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_ids_come_back_exactly() {
        let ids = [
            "0b0e5a8e-2f43-4c37-9d55-0c1f2d3e4f50",
            "0B0E5A8E-2F43-4C37-9D55-0C1F2D3E4F50",
            "0b0e5a8e2f434c379d550c1f2d3e4f50",
            "urn-ish.id-1",
            "x",
        ];
        let mut packed = Vec::new();
        for id in ids {
            pack(id, &mut packed);
        }
        assert_eq!(Ids(&packed).collect::<Vec<_>>(), ids);
        // The canonical UUID took 17 bytes; the upper-case one is kept as text.
        assert_eq!(packed[0], UUID);
        assert_eq!(packed[17], TEXT);
    }

    #[test]
    fn grouping_in_memory_and_sorting_in_sqlite_write_the_same_cover() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("s.db")).unwrap();
        let opts = crate::generate::GenerateOptions {
            patients: 1,
            resources_per_patient: 300,
            seed: 7,
            ..Default::default()
        };
        let mut record = Vec::new();
        crate::generate::generate(&opts, &mut record).unwrap();
        let src = crate::import::ImportSource::from_bytes("r.ndjson", record);
        let options = crate::import::ImportOptions::default();
        store
            .import(vec![src], &options, &crate::progress::NoProgress)
            .unwrap();
        let plan = super::super::select::plan(&store, &crate::ExportRequest::default()).unwrap();
        let cover = |limit| {
            let mut out = Vec::new();
            write_grouping(&store, &plan, "c", "2026-01-01T00:00:00Z", &mut out, limit).unwrap();
            String::from_utf8(out).unwrap()
        };
        let (grouped, sorted) = (cover(GROUPING_LIMIT), cover(0));
        assert_eq!(grouped, sorted);
        let v: serde_json::Value = serde_json::from_str(&grouped).unwrap_or_default();
        let entries: usize = v["section"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|s| s["entry"].as_array().map_or(0, Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(entries as u64, plan.total());
    }
}
