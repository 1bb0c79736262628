//! The export writers: NDJSON (`ndjson`, `phr`) and the FHIR `document` Bundle, streamed to
//! any `std::io::Write` in constant memory.
//!
//! Order (patient-centric, the same in both formats): the cover Composition, the Patient,
//! Provenance, the shared resources the record references (so a streaming reader meets a
//! reference's target before the reference), then the clinical record in chronological
//! order (resources without a clinical date last). Stored JSON is written as stored — no
//! parse, no re-serialisation. The cover page comes from [`super::cover`].

use super::attachments::Attachments;
use super::select::{Plan, text};
use crate::error::Result;
use crate::store::Store;
use serde_json::json;
use std::io::Write;

/// Receives the export's resources in order.
pub(crate) trait Sink {
    /// Opens one resource (`id` names it for the Bundle's `fullUrl`).
    fn start(&mut self, ty: &str, id: &str) -> Result<()>;
    /// Where the resource's JSON text goes, between [`Sink::start`] and [`Sink::finish`].
    fn out(&mut self) -> &mut dyn Write;
    /// Closes the resource.
    fn finish(&mut self) -> Result<()>;

    /// Writes one resource's stored JSON text.
    fn resource(&mut self, ty: &str, id: &str, json: &str) -> Result<()> {
        self.start(ty, id)?;
        self.out().write_all(json.as_bytes())?;
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
/// references resolve inside the Bundle.
pub(crate) struct Bundle<W: Write> {
    out: W,
    base: String,
    first: bool,
}

impl<W: Write> Bundle<W> {
    /// Writes the Bundle's opening, up to the first entry.
    pub fn begin(mut out: W, base: &str, id: &str, now: &str) -> Result<Self> {
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
            first: true,
        })
    }

    /// Closes the Bundle and returns the writer.
    pub fn end(mut self) -> Result<W> {
        self.out.write_all(b"]}\n")?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for Bundle<W> {
    fn start(&mut self, ty: &str, id: &str) -> Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        write!(
            self.out,
            "{{\"fullUrl\":{},\"resource\":",
            json!(format!("{}/{ty}/{id}", self.base))
        )?;
        Ok(())
    }
    fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }
    fn finish(&mut self) -> Result<()> {
        self.out.write_all(b"}")?;
        Ok(())
    }
}

/// Sends a stored resource to `sink`, rewriting its attachments when it has stored documents.
fn send(
    sink: &mut dyn Sink,
    docs: &mut Attachments<'_>,
    ty: &str,
    id: &str,
    json: &str,
) -> Result<()> {
    match docs.rewrite(id, json)? {
        Some(rewritten) => sink.resource(ty, id, &rewritten),
        None => sink.resource(ty, id, json),
    }
}

/// Writes the cover page and every planned resource to `sink`, calling `tick` after each.
pub(crate) fn write_all(
    store: &Store,
    plan: &Plan,
    cover_id: &str,
    now: &str,
    sink: &mut dyn Sink,
    docs: &mut Attachments<'_>,
    tick: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    sink.start("Composition", cover_id)?;
    super::cover::write(store, plan, cover_id, now, sink.out())?;
    sink.finish()?;
    tick("Composition")?;
    sink.resource("Patient", &plan.patient, &plan.patient_json)?;
    tick("Patient")?;
    let mut shared = store.conn.prepare_cached(
        "SELECT json FROM resource_version WHERE id = ?1 AND type = ?2 AND current = 1 AND deleted = 0",
    )?;
    let provenance = plan.provenance.iter().map(|id| ("Provenance", id.as_str()));
    let shared_resources = plan
        .shared
        .iter()
        .map(|(ty, id)| (ty.as_str(), id.as_str()));
    for (ty, id) in provenance.chain(shared_resources) {
        let json: String = shared.query_row([id, ty], |r| r.get(0))?;
        send(sink, docs, ty, id, &json)?;
        tick(ty)?;
    }
    emit(
        store,
        plan,
        "AND type <> 'Provenance' AND date_start IS NOT NULL ORDER BY date_start, type, id",
        sink,
        docs,
        tick,
    )?;
    emit(
        store,
        plan,
        "AND type <> 'Provenance' AND date_start IS NULL ORDER BY type, id",
        sink,
        docs,
        tick,
    )
}

/// Streams the compartment rows matching `plan` plus `tail` (extra condition and order).
fn emit(
    store: &Store,
    plan: &Plan,
    tail: &str,
    sink: &mut dyn Sink,
    docs: &mut Attachments<'_>,
    tick: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    plan.each_row(store, "type, id, json", tail, |r| {
        let ty = text(r, 0)?;
        send(sink, docs, ty, text(r, 1)?, text(r, 2)?)?;
        tick(ty)
    })
}
