//! Parking: a resource whose references name something further on in the input waits in the
//! store's file (inside the run's transaction) and is finished once the whole input has been
//! read. Later lines of a parked resource are parked too, so its versions keep file order.

use super::{Applier, PARKED_BATCH, key};
use crate::error::{Error, Result};
use crate::import::names::NameTable;
use crate::import::prepare::{Candidate, resolve_names};
use crate::import::report::Severity;
use crate::store::derive::json_text;
use crate::store::write;
use serde_json::Value;

impl Applier<'_> {
    /// Finishes the parked resources, now that `names` holds every name of the run's input.
    /// `progress` gets the items processed so far and returns false to cancel.
    pub fn finish_parked(
        &mut self,
        names: &NameTable,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<()> {
        if self.parked.is_empty() {
            return Ok(());
        }
        // Parked resources may come from any input: no shortcut.
        self.fresh = false;
        let mut after = 0;
        loop {
            let rows = self.tx.parked_after(self.run, after, PARKED_BATCH)?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for r in rows {
                self.source = r.source;
                // Our own serialisation of an object: it parses.
                let mut value: Value = serde_json::from_str(&r.json)
                    .map_err(|e| Error::Internal(format!("a parked resource: {e}")))?;
                resolve_names(&mut value, names);
                resolve_names(&mut value, &self.parked_ids);
                let c = Candidate {
                    ty: r.ty,
                    id: r.id,
                    value,
                    notes: Vec::new(),
                    derived: None,
                    documents: Vec::new(),
                    source_meta: r.source_meta,
                };
                self.resource(r.line, r.location, c, true)?;
            }
            if !progress(self.processed) {
                return Err(Error::Cancelled);
            }
        }
        self.tx.clear_parked(self.run)
    }

    /// Parks `c` until the run's input has been read (see [`Self::finish_parked`]).
    pub(super) fn park(
        &mut self,
        line: u64,
        location: Option<String>,
        mut c: Candidate,
    ) -> Result<()> {
        for doc in std::mem::take(&mut c.documents) {
            self.tx.insert_document(&doc)?;
        }
        for n in std::mem::take(&mut c.notes) {
            self.issue(
                Severity::Warning,
                "processing",
                Some(line),
                location.clone(),
                n,
            );
        }
        let (json, source_meta) = match c.derived.take() {
            Some(d) => (d.json, Some((d.source_updated, d.source_version))),
            None => (json_text(&c.value), c.source_meta.take()),
        };
        self.parked.insert(&key(&c.ty, &c.id), &c.ty, &c.id);
        if c.id.len() == 36 {
            self.parked_ids.insert(&c.id, &c.ty, &c.id);
        }
        self.tx.park(
            self.run,
            &write::Pending {
                seq: 0,
                source: self.source,
                line,
                location,
                ty: c.ty,
                id: c.id,
                json,
                source_meta,
            },
        )
    }
}
