//! Identity and the conflict policy: is an incoming resource new, a repeat, a later version
//! of an earlier line, an earlier stored version, or in conflict with the store — and by
//! business identifier, the same as a stored resource under another id?

use super::decide;
use super::{Applier, keep_source_meta, parsed};
use crate::error::{Error, Result};
use crate::import::Strategy;
use crate::import::prepare::Candidate;
use crate::import::report::{NoteKind, Severity};
use crate::store::derive::Derived;
use crate::store::write;
use serde_json::Value;

impl Applier<'_> {
    pub(super) fn identify_and_write(
        &mut self,
        line: u64,
        location: Option<String>,
        mut c: Candidate,
    ) -> Result<()> {
        let Some(mut d) = c.derived.take() else {
            return Err(Error::Internal(
                "a resource reached the writer underived".into(),
            ));
        };
        if c.ty == "Provenance" && d.patient.is_none() {
            d.patient = self.provenance_patient(parsed(&mut c.value, &d.json))?;
        }
        let unseen = self.fresh && !self.seen.maybe(&c.ty, &c.id);
        let mut existing = if unseen {
            None
        } else {
            self.tx.current(&c.ty, &c.id)?
        };
        if !self.fresh && existing.as_ref().is_none_or(|e| e.deleted) {
            for (system, value) in &d.identifiers {
                let Some(other) = self.tx.find_by_identifier(&c.ty, system, value)? else {
                    continue;
                };
                if other == c.id {
                    continue;
                }
                let Some(cur) = self.tx.current(&c.ty, &other)?.filter(|e| !e.deleted) else {
                    continue;
                };
                // Within one input, distinct ids are distinct resources whatever their
                // identifiers; and an identifier never merges two patients' resources.
                if self.written_from_this_input(&cur)
                    || (c.ty != "Patient" && cur.patient != d.patient)
                {
                    continue;
                }
                let (from, to) = (format!("{}/{}", c.ty, c.id), format!("{}/{other}", c.ty));
                self.note(NoteKind::SameIdentifier, "duplicate", line, &location, || {
                    format!("{from} has the same business identifier as stored {to}: treated as that resource")
                });
                self.remap.insert(&from, &c.ty, &other);
                keep_source_meta(&mut c, &d);
                parsed(&mut c.value, &d.json)["id"] = Value::String(other.clone());
                c.id = other;
                d = self.derive(&mut c);
                existing = Some(cur);
                break;
            }
        }
        let Some(e) = existing else {
            return self.write(&mut c, &mut d, 1, None, line);
        };
        if e.deleted {
            return self.write(&mut c, &mut d, e.version + 1, Some(e.row), line);
        }
        let earlier_line = self
            .written_from_this_input(&e)
            .then(|| self.origin(e.row).map(|(_, l)| l))
            .flatten();
        if e.hash == d.hash {
            self.report.count(&c.ty).unchanged += 1;
            if let Some(earlier) = earlier_line {
                self.note(NoteKind::RepeatedLine, "duplicate", line, &location, || {
                    format!("{}/{} repeats line {earlier}; kept once", c.ty, c.id)
                });
            }
            return Ok(());
        }
        if earlier_line.is_none()
            && let Some(old) = self.tx.version_with_hash(&c.ty, &c.id, &d.hash)?
        {
            // An earlier version of what the store holds (a file imported before, again).
            self.report.count(&c.ty).unchanged += 1;
            let current = e.version;
            self.note(
                NoteKind::OlderVersion,
                "informational",
                line,
                &location,
                || {
                    format!(
                        "{}/{} is stored version {old}; the store keeps its version {current}",
                        c.ty, c.id
                    )
                },
            );
            return Ok(());
        }
        match self.opts.strategy {
            Strategy::Append => {
                let new_id = uuid::Uuid::new_v4().to_string();
                let (from, to) = (format!("{}/{}", c.ty, c.id), format!("{}/{new_id}", c.ty));
                let held = match earlier_line {
                    Some(l) => format!("line {l} of this input holds"),
                    None => "the store holds".into(),
                };
                self.note(NoteKind::Appended, "conflict", line, &location, || {
                    format!("{held} {from} with other content: appended as {to}")
                });
                self.remap.insert(&from, &c.ty, &new_id);
                keep_source_meta(&mut c, &d);
                parsed(&mut c.value, &d.json)["id"] = Value::String(new_id.clone());
                c.id = new_id;
                let mut d = self.derive(&mut c);
                self.write(&mut c, &mut d, 1, None, line)
            }
            Strategy::Merge => match earlier_line {
                Some(earlier) => self.later_version(line, location, c, d, e, earlier),
                None => self.conflict(line, location, c, d, e),
            },
        }
    }

    /// True when `cur` was written by this run from the input being applied.
    fn written_from_this_input(&self, cur: &write::Current) -> bool {
        cur.run == Some(self.run) && self.origin(cur.row).is_some_and(|(s, _)| s == self.source)
    }

    /// A line repeating an earlier line's type and id with other content: a later version
    /// (file order is event order), decided by the conflict policy.
    fn later_version(
        &mut self,
        line: u64,
        location: Option<String>,
        mut c: Candidate,
        mut d: Derived,
        e: write::Current,
        earlier: u64,
    ) -> Result<()> {
        let what = format!(
            "{}/{}: line {line} differs from line {earlier} of this input",
            c.ty, c.id
        );
        let (replace, why) =
            decide::later_line(self.opts.conflict, d.source_updated, e.source_updated)
                .resolve(&what)?;
        if replace {
            let version = e.version + 1;
            self.note(NoteKind::LaterVersion, "conflict", line, &location, || {
                format!("{what}: stored as version {version} ({why})")
            });
            self.write(&mut c, &mut d, version, Some(e.row), line)
        } else {
            self.report.count(&c.ty).conflicts += 1;
            self.issue(
                Severity::Warning,
                "conflict",
                Some(line),
                location,
                format!("{what}; kept line {earlier} ({why})"),
            );
            Ok(())
        }
    }

    /// An incoming resource differing from the stored version of an earlier import.
    fn conflict(
        &mut self,
        line: u64,
        location: Option<String>,
        mut c: Candidate,
        mut d: Derived,
        e: write::Current,
    ) -> Result<()> {
        self.report.count(&c.ty).conflicts += 1;
        let incoming = match &d.source_version {
            Some(v) => format!("incoming version {v} (line {line})"),
            None => format!("incoming line {line}"),
        };
        let what = format!(
            "{}/{}: stored version {} differs from {incoming}",
            c.ty, c.id, e.version
        );
        let stored_time = e.source_updated.unwrap_or(e.last_updated);
        let (replace, why) =
            decide::against_store(self.opts.conflict, d.source_updated, stored_time)
                .resolve(&what)?;
        if replace {
            let version = e.version + 1;
            self.note(
                NoteKind::ReplacedStored,
                "conflict",
                line,
                &location,
                || format!("{what}; replaced as version {version} ({why})"),
            );
            self.write(&mut c, &mut d, version, Some(e.row), line)
        } else {
            self.report.count(&c.ty).unchanged += 1;
            self.issue(
                Severity::Warning,
                "conflict",
                Some(line),
                location,
                format!("{what}; kept the stored version, incoming discarded ({why})"),
            );
            Ok(())
        }
    }
}
