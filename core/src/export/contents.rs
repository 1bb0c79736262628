//! The contents of a Bundle export, in pages: List resources of at most [`PAGE_ITEMS`]
//! entries or [`PAGE_BYTES`] bytes, each written right after the entries it lists, each
//! ending with a reference to the next page. The cover's one section references page 1.
//!
//! This keeps the Bundle a valid FHIR document (every entry is referenced by the
//! Composition, directly or through the chain) while nothing written ahead of the data grows
//! with the record, and a reader cut off mid-stream holds complete pages for what it got.
//! Page ids are derived from the patient and the export's time, so a fixed `timestamp`
//! still gives a byte-for-byte reproducible export. Importers skip the pages (their tag says
//! they describe an export, like the cover).

use crate::error::Result;
use crate::fhir::tags::{EXPORT_CONTENTS_TAG, PHRKIT_TAG_SYSTEM};
use serde_json::json;
use std::io::Write;

/// Most entries on one page.
pub(crate) const PAGE_ITEMS: usize = 1000;
/// Most bytes of entries on one page (long ids fill a page before [`PAGE_ITEMS`]).
pub(crate) const PAGE_BYTES: usize = 48 << 10;

/// The pages being filled.
pub(crate) struct Contents {
    patient: String,
    now: String,
    now_ms: i64,
    /// Number of the page being filled (1-based).
    page: u64,
    /// Its entries as JSON, comma-separated.
    items: String,
    count: usize,
}

impl Contents {
    /// Pages for an export of `patient` made at `now` (`now_ms` in epoch ms).
    pub fn new(patient: &str, now: &str, now_ms: i64) -> Self {
        Contents {
            patient: patient.to_string(),
            now: now.to_string(),
            now_ms,
            page: 1,
            items: String::new(),
            count: 0,
        }
    }

    /// Id of page `n`.
    pub fn page_id(&self, n: u64) -> String {
        super::derived_id(&self.patient, self.now_ms, &format!("contents-{n}"))
    }

    /// Id of the page being filled.
    pub fn page_id_current(&self) -> String {
        self.page_id(self.page)
    }

    /// True when the page being filled can take no more entries.
    pub fn is_full(&self) -> bool {
        self.count >= PAGE_ITEMS || self.items.len() >= PAGE_BYTES
    }

    /// Lists `ty/id` on the page being filled.
    pub fn add(&mut self, ty: &str, id: &str) {
        if self.count > 0 {
            self.items.push(',');
        }
        if super::escape::plain(ty) && super::escape::plain(id) {
            self.items.push_str("{\"item\":{\"reference\":\"");
            self.items.push_str(ty);
            self.items.push('/');
            self.items.push_str(id);
            self.items.push_str("\"}}");
        } else {
            self.items.push_str(&item(&format!("{ty}/{id}")));
        }
        self.count += 1;
    }

    /// Writes the page being filled as a List (without a line end), linked to the next page
    /// when `more`; returns its id and starts the next page.
    pub fn write_page(&mut self, more: bool, out: &mut dyn Write) -> Result<String> {
        let id = self.page_id(self.page);
        let head = json!({
            "resourceType": "List",
            "id": id,
            "meta": {
                "lastUpdated": self.now,
                "tag": [{"system": PHRKIT_TAG_SYSTEM, "code": EXPORT_CONTENTS_TAG, "display": "phrkit export contents page"}]
            },
            "status": "current",
            "mode": "snapshot",
            "title": format!("Contents, page {}", self.page),
            "subject": {"reference": format!("Patient/{}", self.patient)},
            "date": self.now,
        })
        .to_string();
        out.write_all(&head.as_bytes()[..head.len() - 1])?;
        out.write_all(b",\"entry\":[")?;
        out.write_all(self.items.as_bytes())?;
        if more {
            let next = item(&format!("List/{}", self.page_id(self.page + 1)));
            if self.count > 0 {
                out.write_all(b",")?;
            }
            out.write_all(next.as_bytes())?;
        }
        out.write_all(b"]}")?;
        self.page += 1;
        self.items.clear();
        self.count = 0;
        Ok(id)
    }
}

/// One List entry referencing `reference`.
fn item(reference: &str) -> String {
    json!({"item": {"reference": reference}}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fill_link_and_validate() {
        let mut c = Contents::new("p1", "2026-01-01T00:00:00Z", 0);
        let first = c.page_id(1);
        for n in 0..PAGE_ITEMS {
            assert!(!c.is_full());
            c.add("Observation", &format!("o{n}"));
        }
        assert!(c.is_full());
        let mut out = Vec::new();
        assert_eq!(c.write_page(true, &mut out).unwrap(), first);
        assert!(
            out.len() < 64 << 10,
            "a page stays under 64 KB: {}",
            out.len()
        );
        let page: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let entries = page["entry"].as_array().unwrap();
        assert_eq!(entries.len(), PAGE_ITEMS + 1);
        assert_eq!(
            entries[PAGE_ITEMS]["item"]["reference"],
            format!("List/{}", c.page_id(2))
        );
        assert_eq!(crate::fhir::validate::schema().validate(&page), vec![]);
        // The last page has no link; ids are reproducible.
        c.add("Patient", "p1");
        let mut last = Vec::new();
        assert_eq!(c.write_page(false, &mut last).unwrap(), c.page_id(2));
        let page: serde_json::Value = serde_json::from_slice(&last).unwrap();
        assert_eq!(page["entry"].as_array().unwrap().len(), 1);
        assert_eq!(Contents::new("p1", "x", 0).page_id(1), first);
    }
}
