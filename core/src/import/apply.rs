//! The stateful half of the import pipeline, run on the writer thread inside the import's
//! transaction: resolve what needs the store, identify, apply the strategy and conflict
//! policy, write, and account for every item in the report.
//!
//! References that cannot be resolved yet (a forward `urn:uuid:` or conditional reference)
//! put their resource on a deferred list that is retried once the whole input has been read;
//! the list is capped, so memory stays bounded even for inputs full of dangling references.

use super::prepare::{
    Candidate, Derived, Kind, Prepared, derive, instant_text, json_text, set_meta,
};
use super::report::{ImportReport, Issue, Severity};
use super::{ConflictPolicy, ImportOptions, OnInvalid, Strategy};
use crate::error::{Error, Result};
use crate::fhir::reference::{RefKind, classify, rewrite_references};
use crate::store::write;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Most targets one Provenance lists; a larger group is split (see
/// [`Applier::write_provenance`]).
const PROVENANCE_TARGETS: usize = 1000;

struct Deferred {
    line: u64,
    location: Option<String>,
    source: usize,
    candidate: Candidate,
}

/// Applies prepared items to the store within one transaction.
pub(crate) struct Applier<'t> {
    conn: &'t Connection,
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
    /// Largest row id before each input started: rows above `source_rows[k]` (and below
    /// the next input's mark) were written from input `k`.
    source_rows: Vec<i64>,
    /// `Type/old` → `Type/new` for resources stored under another id (identifier match,
    /// append collisions), applied to later references.
    remap: HashMap<String, String>,
    deferred: Vec<Deferred>,
    /// Every version written, for the run's Provenance resources: its patient (an index
    /// into `patients`) and its row. Kept this compact (16 bytes a version) so a run of
    /// millions of resources holds no list of reference strings.
    targets: Vec<(Option<u32>, i64)>,
    /// Patients of the versions written so far, and their index in `patients`.
    patients: Vec<String>,
    patient_index: HashMap<String, u32>,
    /// Items processed so far (for progress).
    pub processed: u64,
}

impl<'t> Applier<'t> {
    pub fn new(conn: &'t Connection, opts: &'t ImportOptions, run: i64, now_ms: i64) -> Self {
        Applier {
            conn,
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
            source_rows: Vec::new(),
            remap: HashMap::new(),
            deferred: Vec::new(),
            targets: Vec::new(),
            patients: Vec::new(),
            patient_index: HashMap::new(),
            processed: 0,
        }
    }

    /// Starts applying the items of a new input.
    pub fn begin_source(&mut self, name: &str, name_sources: bool) -> Result<()> {
        let mark: i64 = self.conn.query_row(
            "SELECT coalesce(max(row), 0) FROM resource_version",
            [],
            |r| r.get(0),
        )?;
        self.sources.push(name.to_string());
        self.source_rows.push(mark);
        self.source = self.sources.len() - 1;
        self.name_sources = name_sources;
        Ok(())
    }

    /// True when stored row `row` was written from the input being applied.
    fn written_from_this_input(&self, row: i64) -> bool {
        let after = self
            .source_rows
            .get(self.source)
            .copied()
            .unwrap_or(i64::MAX);
        let before = self
            .source_rows
            .get(self.source + 1)
            .copied()
            .unwrap_or(i64::MAX);
        row > after && row <= before
    }

    /// The run's `meta.lastUpdated` text.
    pub fn now_text(&self) -> &str {
        &self.now
    }

    fn issue(
        &mut self,
        severity: Severity,
        code: &'static str,
        line: Option<u64>,
        location: Option<String>,
        message: String,
    ) {
        if self.report.issues.len() >= self.opts.max_issues {
            self.report.issues_omitted += 1;
            return;
        }
        self.report.issues.push(Issue {
            severity,
            code,
            source: self.name_sources.then(|| self.sources[self.source].clone()),
            line,
            location,
            message,
        });
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
                    self.issue(sev, "processing", Some(line), location.clone(), msg);
                }
            }
            Kind::Skipped(msg) => self.issue(
                Severity::Information,
                "informational",
                Some(line),
                location,
                msg,
            ),
            Kind::Invalid {
                value,
                ty,
                id,
                issues,
                notes,
            } => {
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
                    write::quarantine(
                        self.conn,
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
            Kind::Resource(c) => self.resource(line, location, *c, false)?,
            Kind::Fatal(msg) => return Err(Error::Archive(format!("line {line}: {msg}"))),
        }
        Ok(())
    }

    /// Processes the resources whose references could not be resolved while streaming.
    pub fn finish_deferred(&mut self) -> Result<()> {
        for d in std::mem::take(&mut self.deferred) {
            self.source = d.source;
            self.resource(d.line, d.location, d.candidate, true)?;
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
        let remapped = match &c.derived {
            Some(d) => d.targets.iter().any(|t| self.remap.contains_key(t)),
            None => !self.remap.is_empty(),
        };
        if remapped {
            if let Some(d) = &c.derived {
                parsed(&mut c.value, &d.json);
            }
            let remap = &self.remap;
            if rewrite_references(&mut c.value, &mut |r| remap.get(r).cloned()) > 0 {
                c.derived = None;
            }
        }
        if c.derived.is_none() {
            let unresolved = self.resolve(&mut c.value)?;
            if !unresolved.is_empty() && !final_pass && self.deferred.len() < self.opts.max_deferred
            {
                self.deferred.push(Deferred {
                    line,
                    location,
                    source: self.source,
                    candidate: c,
                });
                return Ok(());
            }
            if !unresolved.is_empty() {
                self.report.unresolved_references += unresolved.len() as u64;
                let msg = format!(
                    "unresolved reference(s), kept as sent: {}",
                    unresolved.join(", ")
                );
                self.issue(
                    Severity::Warning,
                    "not-found",
                    Some(line),
                    location.clone(),
                    msg,
                );
            }
            let d = derive(&mut c.value, &c.ty, &c.id, 1, &self.now);
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

    /// Resolves `urn:uuid:` (by id in the store, which includes this import so far) and
    /// conditional `Type?identifier=system|value` references. Returns the unresolved ones,
    /// described without their query values (which may be identifiers of a person).
    fn resolve(&mut self, value: &mut Value) -> Result<Vec<String>> {
        let mut unresolved = Vec::new();
        let mut failure = None;
        let conn = self.conn;
        let remap = &self.remap;
        rewrite_references(value, &mut |r| {
            let found = match classify(r) {
                RefKind::UrnUuid(uuid) => match write::type_of_id(conn, uuid) {
                    Ok(t) => t.map(|t| format!("{t}/{uuid}")),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                },
                RefKind::Conditional { ty, query } => match resolve_conditional(conn, ty, query) {
                    Ok(id) => id.map(|id| format!("{ty}/{id}")),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                },
                _ => return None,
            };
            let found = found.map(|f| remap.get(&f).cloned().unwrap_or(f));
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

    fn identify_and_write(
        &mut self,
        line: u64,
        location: Option<String>,
        mut c: Candidate,
    ) -> Result<()> {
        let Some(mut d) = c.derived.take() else {
            return Err(Error::InvalidInput(
                "internal: resource reached the writer underived".into(),
            ));
        };
        if c.ty == "Provenance" && d.patient.is_none() {
            d.patient = self.provenance_patient(parsed(&mut c.value, &d.json))?;
        }
        let mut existing = write::current(self.conn, &c.ty, &c.id)?;
        if existing.as_ref().is_none_or(|e| e.deleted) {
            for (system, value) in &d.identifiers {
                let Some(other) = write::find_by_identifier(self.conn, &c.ty, system, value)?
                else {
                    continue;
                };
                if other == c.id {
                    continue;
                }
                let Some(cur) = write::current(self.conn, &c.ty, &other)?.filter(|e| !e.deleted)
                else {
                    continue;
                };
                // Within one input, distinct ids are distinct resources whatever their
                // identifiers; and an identifier never merges two patients' resources.
                if (cur.run == Some(self.run) && self.written_from_this_input(cur.row))
                    || (c.ty != "Patient" && cur.patient != d.patient)
                {
                    continue;
                }
                let (from, to) = (format!("{}/{}", c.ty, c.id), format!("{}/{other}", c.ty));
                self.issue(Severity::Information, "duplicate", Some(line), location.clone(),
                    format!("{from} has the same business identifier as stored {to}: treated as that resource"));
                self.remap.insert(from, to);
                parsed(&mut c.value, &d.json)["id"] = Value::String(other.clone());
                c.id = other;
                d = derive(&mut c.value, &c.ty, &c.id, 1, &self.now);
                existing = Some(cur);
                break;
            }
        }
        let Some(e) = existing else {
            return self.write(&mut c, &mut d, 1, None);
        };
        if e.deleted {
            return self.write(&mut c, &mut d, e.version + 1, Some(e.row));
        }
        let same_input = e.run == Some(self.run) && self.written_from_this_input(e.row);
        if e.hash == d.hash {
            self.report.count(&c.ty).unchanged += 1;
            if same_input {
                self.issue(
                    Severity::Information,
                    "duplicate",
                    Some(line),
                    location,
                    format!(
                        "{}/{} repeats an earlier line of this import; kept once",
                        c.ty, c.id
                    ),
                );
            }
            return Ok(());
        }
        if same_input {
            self.report.count(&c.ty).rejected += 1;
            self.issue(Severity::Error, "duplicate", Some(line), location,
                format!("{}/{} appeared earlier in this file with different content; this one was not imported", c.ty, c.id));
            return Ok(());
        }
        match self.opts.strategy {
            Strategy::Append => {
                let new_id = uuid::Uuid::new_v4().to_string();
                let (from, to) = (format!("{}/{}", c.ty, c.id), format!("{}/{new_id}", c.ty));
                self.issue(
                    Severity::Information,
                    "conflict",
                    Some(line),
                    location,
                    format!("{from} is already stored with other content: appended as {to}"),
                );
                self.remap.insert(from, to);
                parsed(&mut c.value, &d.json)["id"] = Value::String(new_id.clone());
                c.id = new_id;
                let mut d = derive(&mut c.value, &c.ty, &c.id, 1, &self.now);
                self.write(&mut c, &mut d, 1, None)
            }
            Strategy::Merge => self.conflict(line, location, c, d, e),
        }
    }

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
        let (replace, why) = match self.opts.conflict {
            ConflictPolicy::Fail => {
                return Err(Error::ImportAborted(format!(
                    "{what} (conflict policy fail)"
                )));
            }
            ConflictPolicy::Replace => (true, "policy replace"),
            ConflictPolicy::KeepExisting => (false, "policy keep-existing"),
            ConflictPolicy::NewerWins => match d.source_updated {
                Some(t) if t > stored_time => (
                    true,
                    "policy newer-wins: incoming meta.lastUpdated is newer",
                ),
                Some(_) => (
                    false,
                    "policy newer-wins: incoming meta.lastUpdated is not newer",
                ),
                None => (false, "policy newer-wins: incoming has no meta.lastUpdated"),
            },
        };
        if replace {
            self.issue(
                Severity::Information,
                "conflict",
                Some(line),
                location,
                format!("{what}; replaced as version {} ({why})", e.version + 1),
            );
            self.write(&mut c, &mut d, e.version + 1, Some(e.row))
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

    /// Writes an incoming resource as `version`, counts it and lists it for the Provenance.
    fn write(
        &mut self,
        c: &mut Candidate,
        d: &mut Derived,
        version: i64,
        previous: Option<i64>,
    ) -> Result<()> {
        let row = self.store_version(c, d, version, previous)?;
        let counts = self.report.count(&c.ty);
        if previous.is_none() {
            counts.created += 1;
        } else {
            counts.updated += 1;
        }
        let patient = d.patient.as_ref().map(|p| self.patient_number(p));
        self.targets.push((patient, row));
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
            write::insert_document(self.conn, &doc)?;
        }
        let row = write::insert_version(
            self.conn,
            previous,
            &write::NewVersion {
                ty: &c.ty,
                id: &c.id,
                version,
                patient: d.patient.as_deref(),
                period: d.period,
                last_updated: self.now_ms,
                source_updated: d.source_updated,
                hash: &d.hash,
                refs: &d.refs,
                run: Some(self.run),
                json: &d.json,
                sensitive: d.sensitive,
            },
        )?;
        write::add_identifiers(self.conn, &c.ty, &c.id, &d.identifiers)?;
        Ok(row)
    }

    /// Writes the run's Provenance — one per patient whose record the run changed, plus one
    /// for the shared resources (practitioners, organizations…) it wrote, so a patient's
    /// export never carries another patient's resource ids — and returns their ids. A group
    /// of more than [`PROVENANCE_TARGETS`] versions is split over several Provenance
    /// resources, so no single resource grows with the size of the import.
    pub fn write_provenance(
        &mut self,
        sources: &[super::report::SourceSummary],
    ) -> Result<Vec<String>> {
        let entities: Vec<Value> = sources.iter().map(|s| json!({
            "role": "source",
            "what": {
                "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:sha256:{}", s.sha256)},
                "display": format!("{} ({} bytes, SHA-256 {})", s.name, s.bytes, s.sha256),
            }
        })).collect();
        let mut targets = std::mem::take(&mut self.targets);
        // Shared resources first, then patients by id; rows in write order within each.
        let patients = &self.patients;
        targets.sort_by(|a, b| {
            let name = |t: &(Option<u32>, i64)| t.0.map(|n| patients[n as usize].as_str());
            name(a).cmp(&name(b)).then(a.1.cmp(&b.1))
        });
        let mut reference = self
            .conn
            .prepare_cached("SELECT type, id, version FROM resource_version WHERE row = ?1")?;
        let mut written = Vec::new();
        for group in targets.chunk_by(|a, b| a.0 == b.0) {
            let patient = group[0].0.map(|n| self.patients[n as usize].clone());
            for part in group.chunks(PROVENANCE_TARGETS) {
                let mut refs = Vec::with_capacity(part.len());
                for (_, row) in part {
                    let (ty, id, version): (String, String, i64) =
                        reference.query_row([row], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
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
                };
                self.store_version(&mut c, &mut d, 1, None)?;
                written.push(id);
            }
        }
        Ok(written)
    }

    /// A Provenance is in the compartment of the patient its targets belong to, even when
    /// no target is the Patient itself (FHIR R4's definition only follows Patient targets,
    /// which would orphan the provenance of a run that added only observations).
    fn provenance_patient(&self, value: &Value) -> Result<Option<String>> {
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
fn resolve_conditional(conn: &Connection, ty: &str, query: &str) -> Result<Option<String>> {
    let Some(token) = query.strip_prefix("identifier=") else {
        return Ok(None);
    };
    let token = percent_encoding::percent_decode_str(token).decode_utf8_lossy();
    let Some((system, value)) = token.split_once('|') else {
        return Ok(None);
    };
    write::find_by_identifier(conn, ty, system, value)
}
