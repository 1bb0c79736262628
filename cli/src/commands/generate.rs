//! `phrkit generate`.

use anyhow::Context;
use phrkit::generate::{GenerateOptions, generate};
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
    /// Output file (`-` for stdout).
    #[arg(short, long, default_value = "-")]
    pub output: PathBuf,
}

/// Writes the record and prints a one-line summary on stderr.
pub fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    let opts = GenerateOptions {
        patients: a.patients,
        resources_per_patient: a.resources_per_patient,
        seed: a.seed,
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
