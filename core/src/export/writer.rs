//! The export writers: NDJSON (`ndjson`, `phr`) and the FHIR `document` Bundle, streamed to
//! any `std::io::Write` in constant memory, starting at once.
//!
//! Order (the same in both formats), chosen for a reader that may be cut off:
//! 1. the cover Composition (bounded, see [`super::cover`]);
//! 2. the Patient;
//! 3. the summary a clinician reads first — allergies, problems, medications,
//!    immunizations ([`SUMMARY_TYPES`]) — newest first;
//! 4. the rest of the record newest first, resources without a clinical date last;
//! 5. Provenance (the record's history, least needed at a counter).
//!
//! Shared resources (Practitioner, Organization, Location, Medication…) are written just
//! before the first resource that references them, their own references first, so a
//! streaming reader meets every shared target before its referrer; references between
//! compartment resources may point forward (readers must tolerate that, as the IG says).
//! Nothing is planned ahead: each part is one streaming query over the export index, so the
//! first lines leave before the record has been read, and no line grows with the record.
//! Stored JSON is written as stored — no parse, no re-serialisation — except attachments
//! (see [`super::attachments`]).

use super::attachments::Attachments;
use super::contents::Contents;
use super::escape::plain;
use super::select::{Scope, targets};
use crate::error::Result;
use crate::fhir::attachment::mentions_stored_documents;
use crate::store::Snapshot;
use crate::store::selection::{Pass, SharedLookup};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

/// The types of the summary written first (the IPS's core sections).
pub(crate) const SUMMARY_TYPES: [&str; 5] = [
    "AllergyIntolerance",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Immunization",
];

/// Receives the export's resources in order.
pub(crate) trait Sink {
    /// Opens one resource (`id` names it for the Bundle's `fullUrl`).
    fn start(&mut self, ty: &str, id: &str) -> Result<()>;
    /// Where the resource's JSON text goes, between [`Sink::start`] and [`Sink::finish`].
    fn out(&mut self) -> &mut dyn Write;
    /// Closes the resource.
    fn finish(&mut self) -> Result<()>;

    /// Writes one resource's stored JSON text.
    fn resource(&mut self, ty: &str, id: &str, json: &[u8]) -> Result<()> {
        self.start(ty, id)?;
        self.out().write_all(json)?;
        self.finish()
    }
}

/// NDJSON: one resource per line, `\n`-terminated.
pub(crate) struct Ndjson<W: Write>(pub W);

impl<W: Write> Sink for Ndjson<W> {
    fn start(&mut self, _ty: &str, _id: &str) -> Result<()> {
        Ok(())
    }
    fn out(&mut self) -> &mut dyn Write {
        &mut self.0
    }
    fn finish(&mut self) -> Result<()> {
        self.0.write_all(b"\n")?;
        Ok(())
    }
}

/// A `document` Bundle: `fullUrl`s are `<base>/<Type>/<id>`, so the stored relative
/// references resolve inside the Bundle. Every entry after the cover is listed on the
/// [`Contents`] pages, written between entries as pages fill.
pub(crate) struct Bundle<W: Write> {
    out: W,
    base: String,
    entries: u64,
    contents: Contents,
}

impl<W: Write> Bundle<W> {
    /// Writes the Bundle's opening, up to the first entry.
    pub fn begin(mut out: W, base: &str, id: &str, now: &str, contents: Contents) -> Result<Self> {
        let head = json!({
            "resourceType": "Bundle",
            "id": id,
            "meta": {"lastUpdated": now, "profile": ["http://hl7.org/fhir/uv/phr/StructureDefinition/PhrBundle"]},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")},
            "type": "document",
            "timestamp": now,
        })
        .to_string();
        out.write_all(&head.as_bytes()[..head.len() - 1])?;
        out.write_all(b",\"entry\":[")?;
        Ok(Bundle {
            out,
            base: base.trim_end_matches('/').to_string(),
            entries: 0,
            contents,
        })
    }

    /// The id of the first contents page, for the cover.
    pub fn first_page(&self) -> String {
        self.contents.page_id(1)
    }

    /// Writes the last contents page, closes the Bundle and returns the writer.
    pub fn end(mut self) -> Result<W> {
        self.page(false)?;
        self.out.write_all(b"]}\n")?;
        Ok(self.out)
    }

    fn open_entry(&mut self, ty: &str, id: &str) -> Result<()> {
        if self.entries > 0 {
            self.out.write_all(b",")?;
        }
        self.entries += 1;
        if plain(&self.base) && plain(ty) && plain(id) {
            write!(
                self.out,
                "{{\"fullUrl\":\"{}/{ty}/{id}\",\"resource\":",
                self.base
            )?;
        } else {
            write!(
                self.out,
                "{{\"fullUrl\":{},\"resource\":",
                json!(format!("{}/{ty}/{id}", self.base))
            )?;
        }
        Ok(())
    }

    /// Writes the page being filled as an entry.
    fn page(&mut self, more: bool) -> Result<()> {
        let id = self.contents.page_id_current();
        self.open_entry("List", &id)?;
        self.contents.write_page(more, &mut self.out)?;
        self.out.write_all(b"}")?;
        Ok(())
    }
}

impl<W: Write> Sink for Bundle<W> {
    fn start(&mut self, ty: &str, id: &str) -> Result<()> {
        if self.entries > 0 {
            // Everything after the cover is listed.
            if self.contents.is_full() {
                self.page(true)?;
            }
            self.contents.add(ty, id);
        }
        self.open_entry(ty, id)
    }
    fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }
    fn finish(&mut self) -> Result<()> {
        self.out.write_all(b"}")?;
        Ok(())
    }
}

/// Where the stream goes and what it counts: the sink, documents to put back, the
/// per-resource callback, and what was left out as sensitive.
pub(crate) struct Output<'a, 's> {
    pub sink: &'a mut dyn Sink,
    pub docs: &'a mut Attachments<'s>,
    pub tick: &'a mut dyn FnMut(&str) -> Result<()>,
    pub excluded: BTreeMap<String, u64>,
}

impl Output<'_, '_> {
    /// Sends a stored resource, rewriting its attachments when it has stored documents.
    fn send(&mut self, ty: &str, id: &str, json: &[u8]) -> Result<()> {
        let rewritten = if mentions_stored_documents(json) {
            let text = std::str::from_utf8(json)
                .map_err(|_| crate::Error::Internal("stored JSON is not UTF-8".into()))?;
            self.docs.rewrite(id, text)?
        } else {
            None
        };
        match rewritten {
            Some(rewritten) => self.sink.resource(ty, id, rewritten.as_bytes())?,
            None => self.sink.resource(ty, id, json)?,
        }
        (self.tick)(ty)
    }
}

/// Shared resources written so far (and those looked for and absent), so each goes out
/// once, before its first referrer.
struct Shared<'c> {
    lookup: SharedLookup<'c>,
    seen: HashSet<String>,
    /// `Type/id` being looked for (reused: no allocation per reference).
    key: String,
}

/// One shared resource waiting for its own targets to be written first.
struct Pending {
    ty: String,
    id: String,
    json: String,
    refs: Vec<(String, String)>,
}

impl Shared<'_> {
    /// Writes every shared resource that `refs` names and that is not out yet, each after
    /// the shared resources it names in turn (depth-first, with an explicit stack).
    fn write_targets<'r>(
        &mut self,
        scope: &Scope,
        refs: impl Iterator<Item = (&'r str, &'r str)>,
        out: &mut Output<'_, '_>,
    ) -> Result<()> {
        for (ty, id) in refs {
            let Some(first) = self.fetch(scope, ty, id)? else {
                continue;
            };
            let mut stack = vec![first];
            while let Some(top) = stack.last_mut() {
                if let Some((ty, id)) = top.refs.pop() {
                    if let Some(next) = self.fetch(scope, &ty, &id)? {
                        stack.push(next);
                    }
                    continue;
                }
                if let Some(done) = stack.pop() {
                    out.send(&done.ty, &done.id, done.json.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// The shared resource `ty/id` when the export wants it and has not had it yet.
    fn fetch(&mut self, scope: &Scope, ty: &str, id: &str) -> Result<Option<Pending>> {
        if !scope.wants_shared(ty) {
            return Ok(None);
        }
        self.key.clear();
        self.key.push_str(ty);
        self.key.push('/');
        self.key.push_str(id);
        if self.seen.contains(self.key.as_str()) {
            return Ok(None);
        }
        self.seen.insert(self.key.clone());
        Ok(self.lookup.find(ty, id)?.map(|(refs, json)| {
            let mut refs: Vec<(String, String)> = targets(&refs)
                .map(|(t, i)| (t.to_string(), i.to_string()))
                .collect();
            refs.reverse(); // popped from the end: written in the order named
            Pending {
                ty: ty.to_string(),
                id: id.to_string(),
                json,
                refs,
            }
        }))
    }
}

/// Writes the cover page and the whole selection to `out.sink`, in the module's order.
pub(crate) fn write_all(
    snap: &Snapshot<'_>,
    scope: &Scope,
    cover_id: &str,
    now: &str,
    first_page: Option<&str>,
    out: &mut Output<'_, '_>,
) -> Result<()> {
    out.sink.start("Composition", cover_id)?;
    super::cover::write(&scope.patient, cover_id, now, first_page, out.sink.out())?;
    out.sink.finish()?;
    (out.tick)("Composition")?;
    let mut shared = Shared {
        lookup: snap.shared_lookup()?,
        seen: HashSet::new(),
        key: String::new(),
    };
    if let Ok(patient) = serde_json::from_str::<serde_json::Value>(&scope.patient_json) {
        let named = crate::fhir::reference::literal_targets(&patient);
        shared.write_targets(scope, named.iter().filter_map(|t| t.split_once('/')), out)?;
    }
    out.send("Patient", &scope.patient, scope.patient_json.as_bytes())?;
    // Two passes over the export index: the summary (noting the Provenance ids on the way,
    // written last), then the rest. Each is read in index order, so neither sorts.
    // The summary pass reads JSON only for its own rows, not for Provenance's.
    let mut provenance = Vec::new();
    for pass in [Pass::These(&SUMMARY_TYPES), Pass::Others(&SUMMARY_TYPES)] {
        snap.compartment_rows(&scope.compartment, pass, |r| {
            if scope.leaves_out(r.sensitive, &mut out.excluded) {
                return Ok(());
            }
            if r.ty == "Provenance" {
                provenance.push(r.id.to_string());
                return Ok(());
            }
            shared.write_targets(scope, targets(r.refs), out)?;
            out.send(r.ty, r.id, r.json)
        })?;
    }
    // Provenance oldest first, as the record's history reads.
    for id in provenance.iter().rev() {
        let (refs, json) = snap.current_refs_json("Provenance", id)?;
        shared.write_targets(scope, targets(&refs), out)?;
        out.send("Provenance", id, json.as_bytes())?;
    }
    Ok(())
}
