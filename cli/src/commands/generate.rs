//! `phrkit generate`.

use anyhow::Context;
use phrkit::generate::{GenerateOptions, References, Shape, generate};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `phrkit generate`.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Number of patients.
    #[arg(long, default_value_t = 1)]
    pub patients: usize,
    /// Resources per patient (the Patient included).
    #[arg(long, default_value_t = 500)]
    pub resources_per_patient: usize,
    /// Random seed: the same seed gives the same record, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `ndjson` (one resource per line) or `transaction` (one transaction Bundle per patient
    /// per line, as Synthea and hospital portals export: urn:uuid fullUrls, forward
    /// references, the shared pool repeated with differing extensions, a Provenance last).
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "transaction"])]
    pub shape: String,
    /// With `--shape transaction`: `urn` (urn:uuid references) or `literal` (Type/id).
    #[arg(long, default_value = "urn", value_parser = ["urn", "literal"])]
    pub references: String,
    /// Output file (`-` for stdout).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
}

/// The generator's shape for the command-line words (checked by clap).
pub fn shape(shape: &str, references: &str) -> Shape {
    match (shape, references) {
        ("transaction", "literal") => Shape::TransactionBundles(References::Literal),
        ("transaction", _) => Shape::TransactionBundles(References::Urn),
        _ => Shape::Ndjson,
    }
}

/// Writes the record and prints a one-line summary on stderr.
pub fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    let opts = GenerateOptions {
        patients: a.patients,
        resources_per_patient: a.resources_per_patient,
        seed: a.seed,
        shape: shape(&a.shape, &a.references),
    };
    let summary = if a.output.as_os_str() == "-" {
        let out = std::io::stdout().lock();
        generate(&opts, BufWriter::new(out))?
    } else {
        let file = std::fs::File::create(&a.output)
            .with_context(|| format!("cannot create {}", a.output.display()))?;
        let mut w = BufWriter::new(file);
        let s = generate(&opts, &mut w)?;
        w.flush()?;
        s
    };
    eprintln!("{} resources, {} bytes", summary.resources, summary.bytes);
    Ok(ExitCode::SUCCESS)
}
