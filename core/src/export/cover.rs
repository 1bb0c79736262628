//! The export's cover page: a Composition (LOINC 11503-0 "Medical records", the IG's
//! `PhrComposition`) naming the patient, the exporting software and the date, written first.
//!
//! Its size does not depend on the record's (about 1.5 KB). It used to list every entry of
//! the export, grouped by type: 13 MB for a 200,000-resource record, all of it before the
//! first clinical line, and a pass over the whole index before the first byte. The IG asks
//! only for the type and a subject; a table of contents is contradictory there (a
//! DocumentManifest, an IPS, or nothing). So the rule is:
//! - NDJSON / `.phr`: the cover lists nothing. A reader has the record itself, line by line.
//! - Bundle: FHIR documents may hold only what the Composition references, directly or
//!   indirectly (and Provenance). The cover's one section references the first page of the
//!   [`contents`](super::contents): List resources of bounded size, each written after the
//!   entries it lists and pointing to the next, so the Bundle stays a valid document without
//!   anything growing with the record ahead of the data.

use super::{EXPORT_COVER_TAG, PHRKIT_TAG_SYSTEM};
use crate::error::Result;
use serde_json::json;
use std::io::Write;

/// Writes the cover page (without a line end) to `out`. `contents` is the id of the first
/// contents page, for Bundles.
pub(crate) fn write(
    patient: &str,
    id: &str,
    now: &str,
    contents: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let text = match contents {
        Some(_) => {
            "Personal health record. The patient comes first, then allergies, problems, \
             medications and immunizations, then the rest of the record newest first; the \
             contents pages follow the entries they list."
        }
        None => {
            "Personal health record. The patient comes first, then allergies, problems, \
             medications and immunizations, then the rest of the record newest first."
        }
    };
    let mut cover = json!({
        "resourceType": "Composition",
        "id": id,
        "meta": {
            "lastUpdated": now,
            "profile": ["http://hl7.org/fhir/uv/phr/StructureDefinition/PhrComposition"],
            "tag": [{"system": PHRKIT_TAG_SYSTEM, "code": EXPORT_COVER_TAG, "display": "phrkit export cover page"}]
        },
        "text": {"status": "generated", "div": format!(
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">{text} Exported by {}.</div>", crate::SOFTWARE)},
        "contained": [{"resourceType": "Device", "id": "exporter",
            "deviceName": [{"name": "phrkit", "type": "user-friendly-name"}],
            "version": [{"value": env!("CARGO_PKG_VERSION")}]}],
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11503-0", "display": "Medical records"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "date": now,
        "author": [{"reference": "#exporter", "display": crate::SOFTWARE}],
        "title": "Personal health record",
    });
    if let Some(first) = contents {
        cover["section"] = json!([{
            "title": "Contents",
            "code": {"coding": [{"system": "http://loinc.org", "code": "11503-0", "display": "Medical records"}]},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Every entry of this document, in pages.</div>"},
            "entry": [{"reference": format!("List/{first}")}]
        }]);
    }
    out.write_all(cover.to_string().as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cover_is_small_and_names_the_patient() {
        for contents in [None, Some("page-1")] {
            let mut out = Vec::new();
            write("p1", "c", "2026-01-01T00:00:00Z", contents, &mut out).unwrap();
            assert!(out.len() < 4096, "{} bytes", out.len());
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["subject"]["reference"], "Patient/p1");
            assert_eq!(v["type"]["coding"][0]["code"], "11503-0");
            assert_eq!(v["section"].is_array(), contents.is_some());
            assert_eq!(crate::fhir::validate::schema().validate(&v), vec![]);
        }
    }
}
