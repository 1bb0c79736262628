//! `phrkit import` and `phrkit validate`.

use crate::StoreArgs;
use crate::ui::{Bar, table};
use anyhow::Context;
use phrkit::import::{ImportSource, Severity};
use phrkit::secret::Secret;
use phrkit::{ConflictPolicy, ImportMode, ImportOptions, ImportReport, OnInvalid, Store, Strategy};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options shared by import and validate.
#[derive(clap::Args)]
pub struct PipelineArgs {
    /// Files to read: .phr / .ndjson, a FHIR Bundle or resource as .json.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// merge (reconcile with the store) or append (store everything).
    #[arg(long, default_value = "merge")]
    pub strategy: Strategy,
    /// Under merge, when a resource differs: newer-wins, keep-existing, replace or fail.
    #[arg(long, default_value = "newer-wins")]
    pub conflict: ConflictPolicy,
    /// Invalid resources: reject, or quarantine (kept apart, never exported).
    #[arg(long, default_value = "reject")]
    pub on_invalid: OnInvalid,
    /// How many errors and warnings to print (errors first; the rest are counted).
    #[arg(long, default_value_t = 20)]
    pub issues: usize,
    /// How many errors and warnings the report keeps (errors before warnings; every error
    /// beyond is still counted). `--json` prints all that were kept.
    #[arg(long, default_value_t = 1000)]
    pub max_issues: usize,
    /// Print the report as a FHIR OperationOutcome (JSON) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// File holding the passphrase of encrypted .sphr inputs (never given on the command line).
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

impl PipelineArgs {
    /// Settings for printing a report that came from elsewhere (no files of its own).
    pub fn display_only() -> Self {
        PipelineArgs {
            files: Vec::new(),
            strategy: Strategy::Merge,
            conflict: ConflictPolicy::NewerWins,
            on_invalid: OnInvalid::Reject,
            issues: 20,
            max_issues: 1000,
            json: false,
            passphrase_file: None,
        }
    }
}

/// `phrkit import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// commit (default) or validate (run everything, write nothing).
    #[arg(long, default_value = "commit")]
    pub mode: ImportMode,
}

/// `phrkit validate`.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Compare against this store (default: an empty one, i.e. check the files alone).
    #[arg(long)]
    pub db: Option<PathBuf>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// Reads a passphrase from a file (first line, without its line ending).
pub fn read_passphrase(path: &std::path::Path) -> anyhow::Result<Secret> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default();
    anyhow::ensure!(!line.is_empty(), "{} holds no passphrase", path.display());
    Ok(Secret::new(line))
}

/// Runs an import into `store` with a progress bar.
pub fn import_files(
    store: &Store,
    files: &[PathBuf],
    opts: &ImportOptions,
) -> anyhow::Result<ImportReport> {
    import_files_with(store, files, opts, None)
}

/// [`import_files`] with a passphrase for encrypted `.sphr` inputs.
pub fn import_files_with(
    store: &Store,
    files: &[PathBuf],
    opts: &ImportOptions,
    passphrase: Option<&Secret>,
) -> anyhow::Result<ImportReport> {
    let mut sources = Vec::new();
    for f in files {
        let source =
            ImportSource::from_path(f).with_context(|| format!("cannot open {}", f.display()))?;
        sources.push(source.with_passphrase(passphrase.cloned()));
    }
    let total = files
        .iter()
        .map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .sum();
    let bar = Bar::bytes(total);
    let report = store.import(sources, opts, &bar);
    bar.finish();
    Ok(report?)
}

fn options(p: &PipelineArgs, mode: ImportMode) -> ImportOptions {
    ImportOptions {
        strategy: p.strategy,
        conflict: p.conflict,
        mode,
        on_invalid: p.on_invalid,
        max_issues: p.max_issues,
        ..ImportOptions::default()
    }
}

/// `phrkit import`.
pub fn run(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open()?;
    let passphrase = a
        .pipeline
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let opts = options(&a.pipeline, a.mode);
    let report = import_files_with(&store, &a.pipeline.files, &opts, passphrase.as_ref())?;
    print_report(&report, &a.pipeline);
    Ok(if report.nothing_read() {
        eprintln!("error: nothing in the input could be read as a FHIR resource");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `phrkit validate`: exit code 1 when anything would be rejected.
pub fn validate(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let db =
        a.db.clone()
            .unwrap_or_else(|| tmp.path().join("validate.db"));
    let store = Store::open(&db)?;
    let passphrase = a
        .pipeline
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let opts = options(&a.pipeline, ImportMode::Validate);
    let report = import_files_with(&store, &a.pipeline.files, &opts, passphrase.as_ref())?;
    print_report(&report, &a.pipeline);
    let t = report.totals();
    Ok(
        if t.rejected + t.quarantined > 0 || report.unreadable_lines > 0 || report.nothing_read() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// Prints the counts table and the first issues (or the OperationOutcome as JSON).
pub fn print_report(report: &ImportReport, p: &PipelineArgs) {
    if p.json {
        println!("{:#}", report.to_operation_outcome());
        return;
    }
    let rows: Vec<Vec<String>> = report
        .by_type
        .iter()
        .map(|(ty, c)| {
            vec![
                ty.clone(),
                c.created.to_string(),
                c.updated.to_string(),
                c.unchanged.to_string(),
                c.conflicts.to_string(),
                c.rejected.to_string(),
                c.quarantined.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(
            &[
                "type",
                "created",
                "updated",
                "unchanged",
                "conflicts",
                "rejected",
                "quarantined",
            ],
            &rows,
        );
    }
    let by = |sev: fn(Severity) -> bool| report.issues.iter().filter(move |i| sev(i.severity));
    let errors = by(|s| s <= Severity::Error);
    let warnings = by(|s| s == Severity::Warning);
    let listed = report.issues.len();
    for i in errors.chain(warnings).take(p.issues) {
        println!("  {:<7} {}", i.severity.code(), i.diagnostics());
    }
    if listed > p.issues {
        println!(
            "  … {} more errors and warnings (--issues N to print more, --json for all {listed})",
            listed - p.issues
        );
    }
    if report.issues_omitted > 0 {
        println!("  … {}", report.omitted_text());
    }
    for n in &report.notes {
        println!("  info    {}", n.diagnostics());
    }
    println!("{}", report.summary());
}
