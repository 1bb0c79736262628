//! `phrkit pull` and `phrkit push`: a record over HTTP from or to a server that speaks the PHR
//! IG's operations (another `phrkit serve`, or any compatible server), streamed, with a
//! progress bar.
//!
//! The token is read from `--token-file` or `PHRKIT_TOKEN`, never from an argument (which
//! would sit in the shell history and the process list). A pull cut mid-stream keeps every
//! complete line and says so; running the same pull again resumes it without duplicates.

use crate::StoreArgs;
use crate::ui::Bar;
use anyhow::Context;
use phrkit::progress::{Phase, Progress, ProgressListener};
use phrkit::remote::{PullProgress, pull, push};
use phrkit::{ConflictPolicy, ImportOptions, OutputFormat, Strategy};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the token comes from.
#[derive(clap::Args)]
pub struct TokenArgs {
    /// File holding the server's API token (default: the PHRKIT_TOKEN environment variable).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

impl TokenArgs {
    fn token(&self) -> anyhow::Result<String> {
        if let Some(file) = &self.token_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let token = text.trim().to_owned();
            anyhow::ensure!(!token.is_empty(), "{} holds no token", file.display());
            return Ok(token);
        }
        std::env::var("PHRKIT_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .context("no token: pass --token-file FILE or set PHRKIT_TOKEN")
    }
}

/// Options of `phrkit pull`.
#[derive(clap::Args)]
pub struct PullArgs {
    /// The server's FHIR base URL, e.g. http://127.0.0.1:8787.
    pub url: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub selection: crate::commands::export::SelectionArgs,
    /// Under merge, when a resource differs: newer-wins, keep-existing, replace or fail.
    #[arg(long, default_value = "newer-wins")]
    pub conflict: ConflictPolicy,
}

/// `phrkit pull`.
pub fn run_pull(a: PullArgs) -> anyhow::Result<ExitCode> {
    let token = a.token.token()?;
    let mut store = a.store.open()?;
    let params = a.selection.params();
    let opts = ImportOptions {
        strategy: Strategy::Merge,
        conflict: a.conflict,
        ..ImportOptions::default()
    };
    let bar = Bar::bytes(None);
    let progress = |p: &PullProgress| {
        bar.on_progress(&Progress {
            phase: Phase::Importing,
            bytes: p.bytes,
            total_bytes: p.total_bytes,
            resources: p.resources,
            total_resources: None,
        });
    };
    let report = pull(&mut store, &a.url, &token, &params, &opts, &progress);
    bar.finish();
    let report = report?;
    eprintln!(
        "received {} lines, {} bytes; {}",
        report.received.resources,
        report.received.bytes,
        report.import.summary()
    );
    if report.import.sender_errors > 0 {
        eprintln!(
            "the server reported {} error(s) inline; the lines before them were imported",
            report.import.sender_errors
        );
    }
    if let Some(cut) = &report.cut {
        eprintln!(
            "the transfer was cut after {} bytes: {}; the {} complete lines were imported \
             ({} bytes of a partial line dropped). Run the same pull again to complete it.",
            cut.bytes_received, cut.reason, cut.lines_kept, cut.bytes_dropped
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `phrkit push`.
#[derive(clap::Args)]
pub struct PushArgs {
    /// The server's FHIR base URL, e.g. http://127.0.0.1:8787.
    pub url: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub token: TokenArgs,
    /// The patient to send, when the store holds several.
    #[arg(long)]
    pub patient: Option<String>,
    /// Format on the wire: phr (NDJSON, default) or bundle.
    #[arg(long, default_value = "phr")]
    pub format: OutputFormat,
    /// merge (reconcile with the server's record) or append.
    #[arg(long, default_value = "merge")]
    pub strategy: Strategy,
    /// commit, or validate (the server checks everything and writes nothing).
    #[arg(long, default_value = "commit")]
    pub mode: phrkit::ImportMode,
}

/// `phrkit push`.
pub fn run_push(a: PushArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.format != OutputFormat::Sphr,
        "push sends phr, ndjson or bundle; export a .sphr to a file instead"
    );
    let token = a.token.token()?;
    let store = a.store.open()?;
    let mut params = vec![("outputFormat", a.format.code())];
    if let Some(p) = &a.patient {
        params.push(("patient", p));
    }
    let req = phrkit::ExportRequest::from_params(params)?;
    let import_params = [("strategy", a.strategy.as_str()), ("mode", a.mode.as_str())];
    let bar = Bar::resources();
    let report = push(&store, &a.url, &token, &req, &import_params, &bar);
    bar.finish();
    let report = report?;
    eprintln!(
        "sent {} resources of Patient/{} ({} bytes)",
        report.export.resources, report.export.patient, report.export.bytes
    );
    let summary = report.outcome["issue"][0]["diagnostics"]
        .as_str()
        .unwrap_or("no report");
    eprintln!("the server: {summary}");
    Ok(ExitCode::SUCCESS)
}
