//! The stateful half of the import pipeline, run on the writer thread inside the import's
//! transaction: resolve what needs the store, identify, apply the strategy and conflict
//! policy, write, and account for every item in the report.
//!
//! This file holds the item loop, reference resolution against the store and the writes;
//! `identify` decides what an incoming resource is (new, repeat, later version, conflict…)
//! with the pure rules of `decide`; `park` holds back resources that name something further
//! on in the input; `provenance` writes the run's Provenance.

mod decide;
mod identify;
mod park;
mod provenance;

use super::names::{NameTable, Seen};
use super::prepare::{Candidate, Kind, Prepared};
use super::report::{ImportReport, Issue, NoteKind, Severity};
use super::{ImportOptions, OnInvalid};
use crate::error::{Error, Result};
use crate::fhir::reference::{RefKind, classify, rewrite_references};
use crate::store::derive::{Derived, derive, instant_text, json_text, set_meta};
use crate::store::write::{self, WriteTx};
use serde_json::Value;
use std::collections::HashMap;

/// Unresolved references named in one issue; the rest are counted.
const UNRESOLVED_SHOWN: usize = 3;
/// Parked resources finished per round trip to the store.
const PARKED_BATCH: usize = 256;

/// The patient index of a version in no patient's compartment (a shared resource).
const NO_PATIENT: u32 = u32::MAX;

/// Applies prepared items to the store within one transaction.
pub(crate) struct Applier<'t> {
    tx: &'t WriteTx<'t>,
    opts: &'t ImportOptions,
    run: i64,
    now: String,
    now_ms: i64,
    pub report: ImportReport,
    /// Names of the run's inputs so far (issues name them when there are several).
    sources: Vec<String>,
    /// Whether issues name their input.
    name_sources: bool,
    /// Index of the input being applied.
    source: usize,
    /// `Type/old` → `Type/new` for resources stored under another id (identifier match,
    /// append collisions), applied to later references.
    remap: NameTable,
    /// `Type/id` of every resource parked so far.
    parked: NameTable,
    /// `urn:uuid:X` → the parked resource whose id is X: while parked it is in neither the
    /// store nor (if it was long ago) the run's forgetful names.
    parked_ids: NameTable,
    /// The input being applied is the first thing this store ever receives: a resource not in
    /// `seen` is new and has no identifier twin, so the lookups are skipped.
    fresh: bool,
    /// Every `Type/id` written from the input, when `fresh`.
    seen: Seen,
    /// The input line of every row the run wrote, by `row - first_row` (0: not from a line).
    /// Four bytes a version: the report names both lines when a later line repeats one.
    lines: Vec<u32>,
    first_row: Option<i64>,
    /// Versions written and not yet listed in a Provenance: (patient index, row).
    unlisted: Vec<(u32, i64)>,
    /// Provenance written before the run's inputs were all read: their rows, to be given the
    /// inputs' hashes at the end.
    early_provenance: Vec<i64>,
    /// Ids of the Provenance written so far.
    provenance_ids: Vec<String>,
    /// `(first row, input)`: rows from each point on came from that input.
    source_starts: Vec<(i64, usize)>,
    patients: Vec<String>,
    patient_index: HashMap<String, u32>,
    /// Items processed so far (for progress).
    pub processed: u64,
}

impl<'t> Applier<'t> {
    pub fn new(tx: &'t WriteTx<'t>, opts: &'t ImportOptions, run: i64, now_ms: i64) -> Self {
        Applier {
            tx,
            opts,
            run,
            now: instant_text(now_ms),
            now_ms,
            report: ImportReport {
                validate_only: opts.mode == super::ImportMode::Validate,
                ..Default::default()
            },
            sources: Vec::new(),
            name_sources: false,
            source: 0,
            remap: NameTable::default(),
            parked: NameTable::default(),
            parked_ids: NameTable::default(),
            fresh: false,
            seen: Seen::default(),
            lines: Vec::new(),
            first_row: None,
            unlisted: Vec::new(),
            early_provenance: Vec::new(),
            provenance_ids: Vec::new(),
            source_starts: Vec::new(),
            patients: Vec::new(),
            patient_index: HashMap::new(),
            processed: 0,
        }
    }

    /// Starts applying the items of a new input.
    pub fn begin_source(&mut self, name: &str, name_sources: bool) -> Result<()> {
        self.sources.push(name.to_string());
        self.source = self.sources.len() - 1;
        self.name_sources = name_sources;
        self.fresh = self.tx.holds_anything()? == (false, false);
        self.seen = Seen::default();
        Ok(())
    }

    /// The input and line a row this run wrote came from.
    fn origin(&self, row: i64) -> Option<(usize, u64)> {
        let offset = usize::try_from(row - self.first_row?).ok()?;
        let line = *self.lines.get(offset).filter(|l| **l != 0)?;
        let at = self
            .source_starts
            .partition_point(|(first, _)| *first <= row);
        let source = self.source_starts.get(at.checked_sub(1)?)?.1;
        Some((source, u64::from(line)))
    }

    /// The run's `meta.lastUpdated` text.
    pub fn now_text(&self) -> &str {
        &self.now
    }

    fn issue_at(
        &self,
        severity: Severity,
        code: &'static str,
        line: Option<u64>,
        location: Option<String>,
        message: String,
    ) -> Issue {
        Issue {
            severity,
            code,
            source: self.name_sources.then(|| self.sources[self.source].clone()),
            line,
            location,
            message,
        }
    }

    /// Reports an error or warning.
    fn issue(
        &mut self,
        severity: Severity,
        code: &'static str,
        line: Option<u64>,
        location: Option<String>,
        message: String,
    ) {
        let issue = self.issue_at(severity, code, line, location, message);
        self.report.push_issue(issue, self.opts.max_issues);
    }

    /// Counts a routine event; `message` is built only for the first of its kind.
    fn note(
        &mut self,
        kind: NoteKind,
        code: &'static str,
        line: u64,
        location: &Option<String>,
        message: impl FnOnce() -> String,
    ) {
        if !self.report.count_note(kind) {
            let first = self.issue_at(
                Severity::Information,
                code,
                Some(line),
                location.clone(),
                message(),
            );
            self.report.add_note(kind, first);
        }
    }

    /// Accounts for one prepared item.
    pub fn apply(&mut self, p: Prepared) -> Result<()> {
        self.processed += 1;
        let Prepared {
            line,
            location,
            kind,
        } = p;
        match kind {
            Kind::Unreadable(msg) => {
                self.report.unreadable_lines += 1;
                self.issue(Severity::Error, "structure", Some(line), location, msg);
            }
            Kind::SenderOutcome(items) => {
                for (sev, text) in items {
                    if sev <= Severity::Error {
                        self.report.sender_errors += 1;
                    }
                    let msg = format!("the sender reported: {text}");
                    if sev == Severity::Information {
                        self.note(NoteKind::Sender, "processing", line, &location, || msg);
                    } else {
                        self.issue(sev, "processing", Some(line), location.clone(), msg);
                    }
                }
            }
            Kind::EmptyEntry => self.note(
                NoteKind::EntryWithoutResource,
                "informational",
                line,
                &location,
                || "Bundle entry without a resource".into(),
            ),
            Kind::Cover => self.note(
                NoteKind::CoverPage,
                "informational",
                line,
                &location,
                || "phrkit export cover page (describes the export, not the record)".into(),
            ),
            Kind::Invalid {
                value,
                ty,
                id,
                issues,
                notes,
            } => {
                self.report.resources_seen += 1;
                let tyname = ty.clone().unwrap_or_else(|| "(no type)".into());
                for n in notes {
                    self.issue(
                        Severity::Warning,
                        "processing",
                        Some(line),
                        location.clone(),
                        n,
                    );
                }
                let reason = issues
                    .iter()
                    .map(|i| format!("{}: {}", i.location, i.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                for vi in issues {
                    let loc = Some(match &location {
                        Some(l) => format!("{l} {}", vi.location),
                        None => vi.location,
                    });
                    self.issue(Severity::Error, "invalid", Some(line), loc, vi.message);
                }
                if self.opts.on_invalid == OnInvalid::Quarantine {
                    self.tx.quarantine(
                        self.run,
                        Some(line),
                        ty.as_deref(),
                        id.as_deref(),
                        &reason,
                        &value.to_string(),
                    )?;
                    self.report.count(&tyname).quarantined += 1;
                } else {
                    self.report.count(&tyname).rejected += 1;
                }
            }
            Kind::Resource(c) => {
                self.report.resources_seen += 1;
                self.resource(line, location, *c, false)?
            }
            Kind::Fatal(msg) => return Err(Error::Archive(format!("line {line}: {msg}"))),
        }
        Ok(())
    }

    fn resource(
        &mut self,
        line: u64,
        location: Option<String>,
        mut c: Candidate,
        final_pass: bool,
    ) -> Result<()> {
        if !final_pass && !self.parked.is_empty() && self.parked.contains(&key(&c.ty, &c.id)) {
            return self.park(line, location, c);
        }
        let remapped = !self.remap.is_empty()
            && match &c.derived {
                Some(d) => d.targets.iter().any(|t| self.remap.contains(t)),
                None => true,
            };
        if remapped {
            if let Some(d) = c.derived.take() {
                keep_source_meta(&mut c, &d);
                parsed(&mut c.value, &d.json);
                c.derived = Some(d);
            }
            let remap = &self.remap;
            if rewrite_references(&mut c.value, &mut |r| remap.reference(r)) > 0 {
                c.derived = None;
            }
        }
        if c.derived.is_none() {
            let unresolved = self.resolve(&mut c.value)?;
            if !unresolved.is_empty() && !final_pass {
                return self.park(line, location, c);
            }
            if !unresolved.is_empty() {
                self.report.unresolved_references += unresolved.len() as u64;
                let mut msg = format!(
                    "unresolved reference(s), kept as sent: {}",
                    unresolved[..unresolved.len().min(UNRESOLVED_SHOWN)].join(", ")
                );
                if unresolved.len() > UNRESOLVED_SHOWN {
                    msg.push_str(&format!(
                        " and {} more",
                        unresolved.len() - UNRESOLVED_SHOWN
                    ));
                }
                self.issue(
                    Severity::Warning,
                    "not-found",
                    Some(line),
                    location.clone(),
                    msg,
                );
            }
            let d = self.derive(&mut c);
            c.derived = Some(d);
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
        self.identify_and_write(line, location, c)
    }

    /// Derives `c`, keeping the source's meta when the value carries ours already.
    fn derive(&self, c: &mut Candidate) -> Derived {
        let mut d = derive(&mut c.value, &c.ty, &c.id, 1, &self.now);
        if let Some((updated, version)) = c.source_meta.clone() {
            d.source_updated = updated;
            d.source_version = version;
        }
        d
    }

    /// Resolves `urn:uuid:` (by id in the store, which includes this import so far) and
    /// conditional `Type?identifier=system|value` references. Returns the unresolved ones,
    /// described without their query values (which may be identifiers of a person).
    fn resolve(&mut self, value: &mut Value) -> Result<Vec<String>> {
        let mut unresolved = Vec::new();
        let mut failure = None;
        let tx = self.tx;
        let remap = &self.remap;
        rewrite_references(value, &mut |r| {
            let found = match classify(r) {
                RefKind::UrnUuid(uuid) => match tx.type_of_id(uuid) {
                    Ok(t) => t.map(|t| format!("{t}/{uuid}")),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                },
                RefKind::Conditional { ty, query } => match resolve_conditional(tx, ty, query) {
                    Ok(id) => id.map(|id| format!("{ty}/{id}")),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                },
                _ => return None,
            };
            let found = found.map(|f| remap.reference(&f).unwrap_or(f));
            if found.is_none() {
                unresolved.push(match classify(r) {
                    RefKind::Conditional { ty, .. } => format!("{ty}?… (conditional)"),
                    _ => r.to_string(),
                });
            }
            found
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(unresolved),
        }
    }

    /// Writes an incoming resource as `version`, counts it and lists it for the Provenance.
    fn write(
        &mut self,
        c: &mut Candidate,
        d: &mut Derived,
        version: i64,
        previous: Option<i64>,
        line: u64,
    ) -> Result<()> {
        let row = self.store_version(c, d, version, previous)?;
        if self.fresh {
            self.seen.insert(&c.ty, &c.id);
        }
        let counts = self.report.count(&c.ty);
        if previous.is_none() {
            counts.created += 1;
        } else {
            counts.updated += 1;
        }
        let patient = d
            .patient
            .as_ref()
            .map_or(NO_PATIENT, |p| self.patient_number(p));
        if self.source_starts.last().map(|s| s.1) != Some(self.source) {
            self.source_starts.push((row, self.source));
        }
        let first = *self.first_row.get_or_insert(row);
        if let Ok(offset) = usize::try_from(row - first) {
            if self.lines.len() <= offset {
                self.lines.resize(offset + 1, 0);
            }
            self.lines[offset] = u32::try_from(line).unwrap_or(u32::MAX).max(1);
        }
        self.unlisted.push((patient, row));
        if self.unlisted.len() >= provenance::UNLISTED_MAX {
            self.list_in_provenance(None)?;
        }
        Ok(())
    }

    fn patient_number(&mut self, patient: &str) -> u32 {
        if let Some(&n) = self.patient_index.get(patient) {
            return n;
        }
        let n = self.patients.len() as u32;
        self.patients.push(patient.to_string());
        self.patient_index.insert(patient.to_string(), n);
        n
    }

    /// Stores one version with its documents and identifiers; returns its row.
    fn store_version(
        &mut self,
        c: &mut Candidate,
        d: &mut Derived,
        version: i64,
        previous: Option<i64>,
    ) -> Result<i64> {
        if version != 1 {
            set_meta(parsed(&mut c.value, &d.json), version, &self.now);
            d.json = json_text(&c.value);
        }
        for doc in std::mem::take(&mut c.documents) {
            self.tx.insert_document(&doc)?;
        }
        let row = self.tx.insert_version(
            previous,
            &write::NewVersion {
                ty: &c.ty,
                id: &c.id,
                version,
                last_updated: self.now_ms,
                run: Some(self.run),
                json: &d.json,
                derived: d,
            },
        )?;
        Ok(row)
    }
}

/// The name a resource goes by in the run's remap and parked tables.
fn key(ty: &str, id: &str) -> String {
    format!("{ty}/{id}")
}

/// Before `c`'s value is rebuilt from its stored JSON (which carries phrkit's meta), keeps
/// the source's `meta.lastUpdated` and `meta.versionId` that the conflict policy compares.
fn keep_source_meta(c: &mut Candidate, d: &Derived) {
    if c.source_meta.is_none() {
        c.source_meta = Some((d.source_updated, d.source_version.clone()));
    }
}

/// A candidate's parsed resource. Preparing drops the tree of a fully derived resource on its
/// worker thread (this thread rarely needs it, and freeing every tree here would cost the
/// single writer its time); the few paths that change a resource parse its JSON again.
fn parsed<'v>(value: &'v mut Value, json: &str) -> &'v mut Value {
    if value.is_null() {
        // Our own serialisation of an object: it parses.
        *value = serde_json::from_str(json).unwrap_or(Value::Null);
    }
    value
}

/// Resolves `identifier=system|value` (URL-encoded or not) against the identifier table.
fn resolve_conditional(tx: &WriteTx<'_>, ty: &str, query: &str) -> Result<Option<String>> {
    let Some(token) = query.strip_prefix("identifier=") else {
        return Ok(None);
    };
    let token = percent_encoding::percent_decode_str(token).decode_utf8_lossy();
    let Some((system, value)) = token.split_once('|') else {
        return Ok(None);
    };
    tx.find_by_identifier(ty, system, value)
}
