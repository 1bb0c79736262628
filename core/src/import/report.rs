//! The import report: counts per resource type and one issue per rejected, conflicting or
//! otherwise notable line, as a Rust struct and as a FHIR OperationOutcome.
//!
//! Issues quote locations (line, `Bundle.entry[i]`, element path) and rules, never resource
//! content. The number of issues kept is capped (see `ImportOptions::max_issues`); the report
//! says how many more there were, so a million bad lines cannot exhaust memory.

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
    /// The issues, in input order (capped).
    pub issues: Vec<Issue>,
    /// Issues left out beyond the cap.
    pub issues_omitted: u64,
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

    pub(crate) fn count(&mut self, ty: &str) -> &mut Counts {
        self.by_type.entry(ty.to_string()).or_default()
    }

    /// The report as a FHIR OperationOutcome: a first `information` issue with the summary
    /// and counts per type, then one issue per reported problem.
    pub fn to_operation_outcome(&self) -> Value {
        let mut issues = vec![json!({
            "severity": "information",
            "code": "informational",
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
                "severity": "warning",
                "code": "too-costly",
                "diagnostics": format!("{} more issues not listed", self.issues_omitted),
            }));
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
}
