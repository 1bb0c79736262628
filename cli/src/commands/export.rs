//! `phrkit export` and `phrkit capability`.

use crate::StoreArgs;
use crate::ui::Bar;
use anyhow::Context;
use phrkit::{ExportRequest, ExportSummary, OutputFormat, Store};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Which part of a record: the `$phr-export` selection parameters (export and pull).
#[derive(clap::Args)]
pub struct SelectionArgs {
    /// The patient (`Patient/123` or `123`); required when the store holds several.
    #[arg(long)]
    pub patient: Option<String>,
    /// From this (partial) date on: 2010, 2020-06, 2024-01-01.
    #[arg(long)]
    pub start: Option<String>,
    /// Up to the end of this (partial) date, inclusive.
    #[arg(long)]
    pub end: Option<String>,
    /// Only what was changed since this instant.
    #[arg(long)]
    pub since: Option<String>,
    /// Only these resource types (comma-separated).
    #[arg(long = "type")]
    pub types: Option<String>,
}

impl SelectionArgs {
    /// The given options as `$phr-export` parameters.
    pub fn params(&self) -> Vec<(&str, &str)> {
        let optional = [
            ("patient", &self.patient),
            ("start", &self.start),
            ("end", &self.end),
            ("_since", &self.since),
            ("_type", &self.types),
        ];
        optional
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .collect()
    }
}

/// Options of `phrkit export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// bundle (FHIR document Bundle), ndjson, phr, or sphr (encrypted zip with documents).
    #[arg(long, default_value = "bundle")]
    pub format: OutputFormat,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output file, or `-` for stdout (default: `<Given>-<Family>-<date>.<ext>` here;
    /// `record-<date>.sphr` for sphr).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// sphr: encrypt with the passphrase in this file (never given on the command line).
    #[arg(long, conflicts_with_all = ["generate_passphrase", "no_encryption"])]
    pub passphrase_file: Option<PathBuf>,
    /// sphr: generate a strong passphrase and print it once (the default without a file).
    #[arg(long)]
    pub generate_passphrase: bool,
    /// Sensitive categories to include (mental-health, substance-use, sexual-health, hiv,
    /// restricted, or all); by default they are left out and counted.
    #[arg(long)]
    pub include_sensitive: Option<String>,
    /// Show what the export would contain, and write nothing.
    #[arg(long)]
    pub preview: bool,
    /// sphr: write a plain, unencrypted zip (only when the file is protected otherwise).
    #[arg(long, conflicts_with = "generate_passphrase")]
    pub no_encryption: bool,
}

impl ExportArgs {
    /// The core request these options describe.
    pub fn request(&self) -> anyhow::Result<ExportRequest> {
        let format = self.format.code();
        let mut params: Vec<(&str, &str)> = vec![("outputFormat", format)];
        params.extend(self.selection.params());
        let mut req = ExportRequest::from_params(params)?;
        req.encrypt = !self.no_encryption;
        req.include_sensitive =
            crate::commands::share::sensitive_categories(self.include_sensitive.as_deref())?;
        Ok(req)
    }
}

/// Exports `req` to `path` (see [`phrkit::export::ExportFile`]), or to stdout for `-`.
pub fn export_to(
    store: &Store,
    req: &ExportRequest,
    path: Option<&Path>,
) -> anyhow::Result<(ExportSummary, Option<PathBuf>)> {
    let bar = Bar::resources();
    if path.is_some_and(|p| p.as_os_str() == "-") {
        let mut out = BufWriter::new(std::io::stdout().lock());
        let summary = store.export(req, &mut out, &bar);
        bar.finish();
        out.flush()?;
        return Ok((summary?, None));
    }
    let mut file = phrkit::export::ExportFile::create(path).with_context(|| {
        let shown = path.map_or_else(|| ".".into(), |p| p.display().to_string());
        format!("cannot write {shown}")
    })?;
    let mut out = BufWriter::new(file.file());
    let summary = store.export(req, &mut out, &bar);
    bar.finish();
    let summary = summary?;
    out.flush()?;
    drop(out);
    let target = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&summary.file_name));
    file.finish(&target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok((summary, Some(target)))
}

/// `phrkit export`.
pub fn run(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open()?;
    let mut req = a.request()?;
    if a.preview {
        crate::commands::share::print_preview(&store.preview_export(&req)?);
        return Ok(ExitCode::SUCCESS);
    }
    req.passphrase = a
        .passphrase_file
        .as_deref()
        .map(crate::commands::import::read_passphrase)
        .transpose()?;
    let (summary, path) = export_to(&store, &req, a.output.as_deref())?;
    crate::close_logged(store)?;
    let to = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "stdout".into());
    eprintln!(
        "{} resources of Patient/{} as {} ({}), {} bytes → {to}",
        summary.resources, summary.patient, summary.format, summary.media_type, summary.bytes
    );
    crate::commands::share::print_excluded(&summary.excluded);
    if summary.format == OutputFormat::Sphr {
        eprintln!(
            "{} documents inside; entries AES-256 encrypted: {}",
            summary.documents, req.encrypt
        );
    }
    if let Some(p) = &summary.passphrase {
        // Printed once, to the terminal only: phrkit keeps no copy.
        eprintln!(
            "passphrase (shown once, keep it apart from the file): {}",
            p.expose()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `phrkit capability`.
#[derive(clap::Args)]
pub struct CapabilityArgs {
    /// Print this OperationDefinition instead: phr-export or import.
    #[arg(long)]
    pub operation: Option<String>,
}

/// `phrkit capability`: the CapabilityStatement (or an OperationDefinition) as JSON.
pub fn capability(a: CapabilityArgs) -> anyhow::Result<ExitCode> {
    let value = match a.operation.as_deref() {
        None => phrkit::capability::statement(None),
        Some("phr-export") => phrkit::capability::phr_export_operation(),
        Some("import") | Some("phr-import") => phrkit::capability::phr_import_operation(),
        Some(other) => anyhow::bail!("unknown operation `{other}`: phr-export or import"),
    };
    println!("{value:#}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn exporting_to_a_pipe_writes_into_it_and_leaves_it_a_pipe() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let mut record = Vec::new();
        let options = phrkit::generate::GenerateOptions {
            patients: 1,
            resources_per_patient: 40,
            seed: 5,
            ..Default::default()
        };
        phrkit::generate::generate(&options, &mut record).unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        let source = phrkit::import::ImportSource::from_bytes("g.phr", record);
        let opts = phrkit::ImportOptions::default();
        store
            .import(vec![source], &opts, &phrkit::progress::NoProgress)
            .unwrap();

        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let req = ExportRequest::from_params([("outputFormat", "ndjson")]).unwrap();
        let (summary, written) = export_to(&store, &req, Some(&fifo)).unwrap();
        // Checked before joining: had a file been renamed over the pipe, the reader would
        // wait for a writer forever.
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "still a pipe, not a file renamed over it");
        let bytes = reader.join().unwrap();
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(lines, summary.resources);
        assert_eq!(written.as_deref(), Some(fifo.as_path()));
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().ends_with(".partial")
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
