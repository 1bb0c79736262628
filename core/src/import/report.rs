//! The import report: counts per resource type, one issue per rejected or doubtful line, and
//! the routine events counted by kind, as a Rust struct and as a FHIR OperationOutcome.
//!
//! Issues quote locations (line, `Bundle.entry[i]`, element path) and rules, never resource
//! content. Errors and warnings are listed in input order up to a cap
//! (`ImportOptions::max_issues`), errors first: when the list is full an error takes the place
//! of a warning, so a thousand warnings never hide an error, and the report says exactly how
//! many of each were left out. Information (a line repeating an earlier one, a skipped cover
//! page) is never listed line by line: it is counted by [`NoteKind`], with the first instance
//! as an example, so "849 lines repeated an earlier line" costs one line of the report.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// How serious an issue is (FHIR `IssueSeverity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The import could not proceed.
    Fatal,
    /// A resource was not imported.
    Error,
    /// A resource was imported with a change or a doubt worth knowing.
    Warning,
    /// For the record (duplicates, resolved conflicts).
    Information,
}

impl Severity {
    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }

    /// Parses a FHIR severity code (unknown codes read as `error`).
    pub fn from_code(code: &str) -> Self {
        match code {
            "fatal" => Severity::Fatal,
            "warning" => Severity::Warning,
            "information" => Severity::Information,
            _ => Severity::Error,
        }
    }
}

/// One thing the import wants the caller to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// How serious.
    pub severity: Severity,
    /// FHIR `IssueType` code: `invalid`, `structure`, `duplicate`, `conflict`, `not-found`,
    /// `too-long`, `processing`, `informational`.
    pub code: &'static str,
    /// Name of the input the line came from, when the run had several.
    pub source: Option<String>,
    /// 1-based line in the input (a whole-document Bundle is line 1).
    pub line: Option<u64>,
    /// Where in the line: `Bundle.entry[3]`, `Observation/abc`, an element path.
    pub location: Option<String>,
    /// What happened.
    pub message: String,
}

impl Issue {
    /// `Line 12 (entry[3]): message` — the text used in OperationOutcome diagnostics.
    pub fn diagnostics(&self) -> String {
        let mut s = String::new();
        if let Some(src) = &self.source {
            s.push_str(src);
            s.push_str(": ");
        }
        if let Some(l) = self.line {
            s.push_str(&format!("Line {l}"));
            if let Some(loc) = &self.location {
                s.push_str(&format!(" ({loc})"));
            }
            s.push_str(": ");
        } else if let Some(loc) = &self.location {
            s.push_str(&format!("{loc}: "));
        }
        s.push_str(&self.message);
        s
    }
}

/// What happened to the resources of one type (or of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// New resources written.
    pub created: u64,
    /// Stored resources replaced by a new version.
    pub updated: u64,
    /// Incoming resources identical to what is stored (or repeated in the input).
    pub unchanged: u64,
    /// Incoming resources that differed from the stored version (resolved by the policy).
    pub conflicts: u64,
    /// Resources not imported (invalid, unreadable, conflicting duplicates).
    pub rejected: u64,
    /// Invalid resources kept apart under `on_invalid=quarantine`.
    pub quarantined: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.created += o.created;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.conflicts += o.conflicts;
        self.rejected += o.rejected;
        self.quarantined += o.quarantined;
    }
}

/// A kind of routine event, counted rather than listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoteKind {
    /// A line repeated an earlier line of the same input exactly.
    RepeatedLine,
    /// A line was a later version of a resource an earlier line of the same input held.
    LaterVersion,
    /// A stored resource was replaced by a differing incoming version (conflict policy).
    ReplacedStored,
    /// A line held an earlier version of a stored resource (a file imported before).
    OlderVersion,
    /// An incoming resource matched a stored one by business identifier.
    SameIdentifier,
    /// An incoming resource was stored under a new id (`strategy=append`).
    Appended,
    /// A Bundle entry held no resource.
    EntryWithoutResource,
    /// An export cover page (phrkit's own) was skipped.
    CoverPage,
    /// The sender's own OperationOutcome said something for information.
    Sender,
}

impl NoteKind {
    /// What `n` events of this kind mean, as a sentence.
    pub fn summary(self, n: u64) -> String {
        let what = match self {
            NoteKind::RepeatedLine => "repeated an earlier line of the same input; kept once",
            NoteKind::LaterVersion => {
                "were later versions of a resource an earlier line held; stored as new versions"
            }
            NoteKind::ReplacedStored => {
                "differed from the stored version and replaced it (conflict policy)"
            }
            NoteKind::OlderVersion => {
                "held an earlier version of a stored resource; the store keeps its newer one"
            }
            NoteKind::SameIdentifier => {
                "carried the business identifier of a stored resource; merged into it"
            }
            NoteKind::Appended => "used an id already taken; stored under a new id (append)",
            NoteKind::EntryWithoutResource => "were Bundle entries without a resource; skipped",
            NoteKind::CoverPage => {
                "were phrkit export cover or contents pages (they describe an export, not the record); skipped"
            }
            NoteKind::Sender => "were information the sender put in an OperationOutcome",
        };
        format!("{n} {} {what}", if n == 1 { "line" } else { "lines" })
    }
}

/// How many events of one kind the run had, with the first as an example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// What happened.
    pub kind: NoteKind,
    /// How often.
    pub count: u64,
    /// The first time it happened.
    pub first: Issue,
}

impl Note {
    /// `12 lines repeated … (first: Line 7 (Bundle.entry[2]): …)`.
    pub fn diagnostics(&self) -> String {
        format!(
            "{} (first: {})",
            self.kind.summary(self.count),
            self.first.diagnostics()
        )
    }
}

/// One input of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    /// The name the caller gave (usually the file name).
    pub name: String,
    /// SHA-256 of its bytes, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The outcome of an import (or of a `mode=validate` dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The run's number in the store, when something was committed.
    pub run_id: Option<i64>,
    /// True when the changes were committed (false for validate mode and for no-ops).
    pub committed: bool,
    /// True for a `mode=validate` dry run: counts say what a commit would do.
    pub validate_only: bool,
    /// Counts per resource type.
    pub by_type: BTreeMap<String, Counts>,
    /// References that could not be resolved (kept as sent).
    pub unresolved_references: u64,
    /// Error issues the sender put inline (OperationOutcome lines).
    pub sender_errors: u64,
    /// Lines that were not JSON, too long, or not resources.
    pub unreadable_lines: u64,
    /// Errors and warnings, in input order (capped; errors are kept before warnings).
    pub issues: Vec<Issue>,
    /// Errors and warnings left out beyond the cap.
    pub issues_omitted: u64,
    /// Of those, errors.
    pub errors_omitted: u64,
    /// Routine events counted by kind, in the order of their first occurrence.
    pub notes: Vec<Note>,
    /// Resources (valid or not) the input held; 0 means nothing could be read as FHIR.
    pub resources_seen: u64,
    /// The inputs.
    pub sources: Vec<SourceSummary>,
    /// An earlier run that imported a byte-identical input.
    pub previously_imported_in_run: Option<i64>,
    /// Ids of the Provenance resources recording this run (one per patient it touched).
    pub provenance_ids: Vec<String>,
}

impl ImportReport {
    /// Counts over all types.
    pub fn totals(&self) -> Counts {
        let mut t = Counts::default();
        self.by_type.values().for_each(|c| t.add(c));
        t
    }

    /// Errors in the run: listed and omitted.
    pub fn error_count(&self) -> u64 {
        self.issues
            .iter()
            .filter(|i| i.severity <= Severity::Error)
            .count() as u64
            + self.errors_omitted
    }

    /// True when the inputs held bytes but no FHIR resource at all, valid or not (an
    /// unreadable file, a lone `[`, a Bundle of empty entries): callers fail loudly rather
    /// than report "0 created". An empty input is not this: it is a no-op.
    pub fn nothing_read(&self) -> bool {
        self.resources_seen == 0 && self.sources.iter().any(|s| s.bytes > 0)
    }

    /// Adds an error or warning, keeping errors first when the list is full.
    pub(crate) fn push_issue(&mut self, issue: Issue, cap: usize) {
        if self.issues.len() < cap {
            self.issues.push(issue);
            return;
        }
        let is_error = issue.severity <= Severity::Error;
        if is_error
            && let Some(i) = self
                .issues
                .iter()
                .rposition(|i| i.severity > Severity::Error)
        {
            self.issues.remove(i);
            self.issues.push(issue);
        } else if is_error {
            self.errors_omitted += 1;
        }
        self.issues_omitted += 1;
    }

    /// Counts one more event of `kind` if the report has seen one; false when it is new.
    pub(crate) fn count_note(&mut self, kind: NoteKind) -> bool {
        match self.notes.iter_mut().find(|n| n.kind == kind) {
            Some(n) => {
                n.count += 1;
                true
            }
            None => false,
        }
    }

    /// The first event of `kind`.
    pub(crate) fn add_note(&mut self, kind: NoteKind, first: Issue) {
        self.notes.push(Note {
            kind,
            count: 1,
            first,
        });
    }

    /// True when the run changed nothing (all unchanged, or nothing valid).
    pub fn is_no_op(&self) -> bool {
        let t = self.totals();
        t.created == 0 && t.updated == 0 && t.quarantined == 0
    }

    /// One sentence: what was (or would be) done.
    pub fn summary(&self) -> String {
        let t = self.totals();
        let counts = format!(
            "{} created, {} updated, {} unchanged, {} conflicts, {} rejected, {} quarantined",
            t.created, t.updated, t.unchanged, t.conflicts, t.rejected, t.quarantined
        );
        let mut s = if self.validate_only {
            format!("validate only, nothing written; a commit would give: {counts}")
        } else {
            counts
        };
        if self.unresolved_references > 0 {
            s.push_str(&format!(
                "; {} unresolved references",
                self.unresolved_references
            ));
        }
        if self.nothing_read() {
            s.push_str("; nothing in the input could be read as a FHIR resource");
            return s;
        }
        if self.is_no_op() && !self.validate_only {
            match self.previously_imported_in_run {
                Some(run) => s.push_str(&format!(
                    "; no changes: the same file was already imported (run {run})"
                )),
                None => s.push_str("; no changes"),
            }
        }
        s
    }

    /// `12 more errors and 3 more warnings were not listed (the report keeps 1000 issues)`.
    pub fn omitted_text(&self) -> String {
        let warnings = self.issues_omitted - self.errors_omitted;
        let mut parts = Vec::new();
        if self.errors_omitted > 0 {
            parts.push(format!("{} more errors", self.errors_omitted));
        }
        if warnings > 0 {
            parts.push(format!("{warnings} more warnings"));
        }
        format!(
            "{} were not listed (the report lists {} issues; raise max_issues to see more)",
            parts.join(" and "),
            self.issues.len()
        )
    }

    pub(crate) fn count(&mut self, ty: &str) -> &mut Counts {
        self.by_type.entry(ty.to_string()).or_default()
    }

    /// The report as a FHIR OperationOutcome: a first `information` issue with the summary
    /// and counts per type, then one issue per reported problem.
    pub fn to_operation_outcome(&self) -> Value {
        let mut issues = vec![json!({
            "severity": if self.nothing_read() { "error" } else { "information" },
            "code": if self.nothing_read() { "structure" } else { "informational" },
            "diagnostics": self.summary(),
        })];
        for (ty, c) in &self.by_type {
            issues.push(json!({
                "severity": "information",
                "code": "informational",
                "diagnostics": format!(
                    "{ty}: {} created, {} updated, {} unchanged, {} conflicts, {} rejected, {} quarantined",
                    c.created, c.updated, c.unchanged, c.conflicts, c.rejected, c.quarantined
                ),
            }));
        }
        for i in &self.issues {
            let mut issue = json!({
                "severity": i.severity.code(),
                "code": i.code,
                "diagnostics": i.diagnostics(),
            });
            if let Some(loc) = &i.location {
                issue["expression"] = json!([loc]);
            }
            issues.push(issue);
        }
        if self.issues_omitted > 0 {
            issues.push(json!({
                "severity": if self.errors_omitted > 0 { "error" } else { "warning" },
                "code": "too-costly",
                "diagnostics": self.omitted_text(),
            }));
        }
        for n in &self.notes {
            let mut issue = json!({
                "severity": "information",
                "code": "informational",
                "diagnostics": n.diagnostics(),
            });
            if let Some(loc) = &n.first.location {
                issue["expression"] = json!([loc]);
            }
            issues.push(issue);
        }
        json!({"resourceType": "OperationOutcome", "issue": issues})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_outcome_lists_counts_and_line_numbered_issues() {
        let mut r = ImportReport::default();
        r.count("Observation").created = 2;
        r.count("Patient").rejected = 1;
        r.issues.push(Issue {
            severity: Severity::Error,
            code: "invalid",
            source: None,
            line: Some(7),
            location: Some("Patient.gender".into()),
            message: "value is not one of the allowed codes".into(),
        });
        let oo = r.to_operation_outcome();
        assert_eq!(oo["resourceType"], "OperationOutcome");
        let text = oo.to_string();
        assert!(text.contains("Line 7 (Patient.gender): value is not one of the allowed codes"));
        assert!(text.contains("Observation: 2 created"));
        assert!(
            r.summary()
                .starts_with("2 created, 0 updated, 0 unchanged, 0 conflicts, 1 rejected")
        );
        let oo_valid = crate::fhir::validate::schema().validate(&oo);
        assert_eq!(oo_valid, vec![], "the report is a valid OperationOutcome");
    }

    fn issue(severity: Severity, line: u64) -> Issue {
        Issue {
            severity,
            code: "invalid",
            source: None,
            line: Some(line),
            location: None,
            message: "m".into(),
        }
    }

    #[test]
    fn errors_take_the_place_of_warnings_when_the_list_is_full() {
        let mut r = ImportReport::default();
        for line in 1..=5 {
            r.push_issue(issue(Severity::Warning, line), 3);
        }
        r.push_issue(issue(Severity::Error, 6), 3);
        r.push_issue(issue(Severity::Error, 7), 3);
        let kept: Vec<(Severity, u64)> = r
            .issues
            .iter()
            .map(|i| (i.severity, i.line.unwrap()))
            .collect();
        assert_eq!(
            kept,
            vec![
                (Severity::Warning, 1),
                (Severity::Error, 6),
                (Severity::Error, 7)
            ]
        );
        r.push_issue(issue(Severity::Error, 8), 3);
        r.push_issue(issue(Severity::Error, 9), 3);
        assert_eq!(r.issues.len(), 3);
        assert_eq!(r.error_count(), 4, "listed and omitted errors");
        assert_eq!((r.issues_omitted, r.errors_omitted), (6, 1));
        assert!(
            r.omitted_text()
                .starts_with("1 more errors and 5 more warnings"),
            "{}",
            r.omitted_text()
        );
    }

    #[test]
    fn information_is_counted_by_kind_with_its_first_instance() {
        let mut r = ImportReport::default();
        for line in 1..=849 {
            if !r.count_note(NoteKind::RepeatedLine) {
                r.add_note(NoteKind::RepeatedLine, issue(Severity::Information, line));
            }
        }
        assert_eq!(r.notes.len(), 1);
        assert_eq!(r.notes[0].count, 849);
        let text = r.to_operation_outcome().to_string();
        assert!(
            text.contains(
                "849 lines repeated an earlier line of the same input; kept once (first: Line 1: m)"
            ),
            "{text}"
        );
    }
}
