//! Import options and the import report, as records the app builds and reads.
//!
//! The options mirror the core's [`phrkit::ImportOptions`] policies (the ones an app offers a
//! user); every field is optional so `ImportOptions()` means the PHR IG's defaults, and the
//! core's size limits stay the core's. The report flattens [`phrkit::ImportReport`]: counts
//! per type, totals, issues with line numbers, the summary sentence, and the same report as
//! a FHIR OperationOutcome (JSON) for apps that display or forward it.

use std::collections::HashMap;

/// How incoming resources meet stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Strategy {
    /// Reconcile with what is stored (the default): the same resource goes through the
    /// conflict policy.
    Merge,
    /// Store everything; an id already used by different content gets a new id.
    Append,
}

/// Under `MERGE`, what happens when an incoming resource differs from the stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConflictPolicy {
    /// The later `meta.lastUpdated` wins; without one the stored version stays (default).
    NewerWins,
    /// The stored version always stays.
    KeepExisting,
    /// The incoming version always replaces the stored one.
    Replace,
    /// Any conflict aborts the import with `Conflict`; nothing is written.
    Fail,
}

/// Commit, or only report what a commit would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ImportMode {
    /// Write the changes (default).
    Commit,
    /// Run everything, write nothing; the report's counts say what a commit would do.
    Validate,
}

/// What happens to resources that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum OnInvalid {
    /// Not imported; reported with line and reason (default).
    Reject,
    /// Kept apart in quarantine (never exported) and reported.
    Quarantine,
}

/// Options of an import. `ImportOptions()` gives the defaults (merge, newer-wins, commit,
/// reject).
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ImportOptions {
    /// Default `MERGE`.
    #[uniffi(default = None)]
    pub strategy: Option<Strategy>,
    /// Default `NEWER_WINS`.
    #[uniffi(default = None)]
    pub conflict: Option<ConflictPolicy>,
    /// Default `COMMIT`.
    #[uniffi(default = None)]
    pub mode: Option<ImportMode>,
    /// Default `REJECT`.
    #[uniffi(default = None)]
    pub on_invalid: Option<OnInvalid>,
}

impl From<&ImportOptions> for phrkit::ImportOptions {
    fn from(o: &ImportOptions) -> Self {
        let mut core = phrkit::ImportOptions::default();
        if let Some(s) = o.strategy {
            core.strategy = match s {
                Strategy::Merge => phrkit::Strategy::Merge,
                Strategy::Append => phrkit::Strategy::Append,
            };
        }
        if let Some(c) = o.conflict {
            core.conflict = match c {
                ConflictPolicy::NewerWins => phrkit::ConflictPolicy::NewerWins,
                ConflictPolicy::KeepExisting => phrkit::ConflictPolicy::KeepExisting,
                ConflictPolicy::Replace => phrkit::ConflictPolicy::Replace,
                ConflictPolicy::Fail => phrkit::ConflictPolicy::Fail,
            };
        }
        if let Some(m) = o.mode {
            core.mode = match m {
                ImportMode::Commit => phrkit::ImportMode::Commit,
                ImportMode::Validate => phrkit::ImportMode::Validate,
            };
        }
        if let Some(i) = o.on_invalid {
            core.on_invalid = match i {
                OnInvalid::Reject => phrkit::OnInvalid::Reject,
                OnInvalid::Quarantine => phrkit::OnInvalid::Quarantine,
            };
        }
        core
    }
}

/// What happened to the resources of one type (or, in `totals`, of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Record)]
pub struct TypeCounts {
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
    /// Invalid resources kept in quarantine.
    pub quarantined: u64,
}

impl From<phrkit::import::Counts> for TypeCounts {
    fn from(c: phrkit::import::Counts) -> Self {
        TypeCounts {
            created: c.created,
            updated: c.updated,
            unchanged: c.unchanged,
            conflicts: c.conflicts,
            rejected: c.rejected,
            quarantined: c.quarantined,
        }
    }
}

/// How serious an issue is (FHIR `IssueSeverity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum IssueSeverity {
    /// The import could not proceed.
    Fatal,
    /// A resource was not imported.
    Error,
    /// A resource was imported with a change or a doubt worth knowing.
    Warning,
    /// For the record (duplicates, resolved conflicts).
    Information,
}

/// One thing the import wants the user to know, located in the input. Never contains
/// resource content.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportIssue {
    /// How serious.
    pub severity: IssueSeverity,
    /// FHIR `IssueType` code: `invalid`, `structure`, `duplicate`, `conflict`, `not-found`…
    pub code: String,
    /// The input's name, when the import had several.
    pub source: Option<String>,
    /// 1-based line in the input (a whole-file Bundle is line 1).
    pub line: Option<u64>,
    /// Where in the line: `Bundle.entry[3]`, `Observation/abc`, an element path.
    pub location: Option<String>,
    /// What happened.
    pub message: String,
}

/// A kind of routine event and how often it happened.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportNote {
    /// What happened, with the count: "849 lines repeated an earlier line…".
    pub summary: String,
    /// How often.
    pub count: u64,
    /// The first time it happened.
    pub first: ImportIssue,
}

/// The outcome of an import (or of a `VALIDATE` dry run).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportReport {
    /// True when the changes were written (false for a dry run and when nothing changed).
    pub committed: bool,
    /// True for a `VALIDATE` dry run: the counts say what a commit would do.
    pub validate_only: bool,
    /// The run's number in the store, when something was committed.
    pub run_id: Option<i64>,
    /// Counts per resource type.
    pub by_type: HashMap<String, TypeCounts>,
    /// Counts over all types.
    pub totals: TypeCounts,
    /// References that could not be resolved (kept as sent).
    pub unresolved_references: u64,
    /// Lines that were not JSON, too long, or not resources.
    pub unreadable_lines: u64,
    /// Errors and warnings, in input order (capped, errors kept before warnings; see
    /// `issuesOmitted`).
    pub issues: Vec<ImportIssue>,
    /// Errors and warnings left out beyond the cap.
    pub issues_omitted: u64,
    /// Of those, errors.
    pub errors_omitted: u64,
    /// Routine events (repeated lines, later versions, skipped cover pages…) counted by kind.
    pub notes: Vec<ImportNote>,
    /// True when the input held bytes but no FHIR resource at all: show it as a failure.
    pub nothing_read: bool,
    /// One sentence: what was (or would be) done.
    pub summary: String,
    /// The same report as a FHIR R4 OperationOutcome, JSON text.
    pub operation_outcome: String,
}

impl From<phrkit::ImportReport> for ImportReport {
    fn from(r: phrkit::ImportReport) -> Self {
        ImportReport {
            committed: r.committed,
            validate_only: r.validate_only,
            run_id: r.run_id,
            totals: r.totals().into(),
            summary: r.summary(),
            operation_outcome: r.to_operation_outcome().to_string(),
            by_type: r
                .by_type
                .iter()
                .map(|(t, c)| (t.clone(), (*c).into()))
                .collect(),
            unresolved_references: r.unresolved_references,
            unreadable_lines: r.unreadable_lines,
            issues_omitted: r.issues_omitted,
            errors_omitted: r.errors_omitted,
            nothing_read: r.nothing_read(),
            notes: r
                .notes
                .iter()
                .map(|n| ImportNote {
                    summary: n.kind.summary(n.count),
                    count: n.count,
                    first: n.first.clone().into(),
                })
                .collect(),
            issues: r.issues.into_iter().map(ImportIssue::from).collect(),
        }
    }
}

impl From<phrkit::import::Issue> for ImportIssue {
    fn from(i: phrkit::import::Issue) -> Self {
        use phrkit::import::Severity;
        ImportIssue {
            severity: match i.severity {
                Severity::Fatal => IssueSeverity::Fatal,
                Severity::Error => IssueSeverity::Error,
                Severity::Warning => IssueSeverity::Warning,
                Severity::Information => IssueSeverity::Information,
            },
            code: i.code.to_string(),
            source: i.source,
            line: i.line,
            location: i.location,
            message: i.message,
        }
    }
}
