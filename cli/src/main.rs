//! `phrkit`: the command line of the phrkit personal-health-record core.
//!
//! Each subcommand lives in `commands/`; this file only parses arguments and turns any error
//! into one clear line on stderr and a non-zero exit code (no backtrace).

mod commands;
mod ui;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Keep a health record on your device, and take it anywhere.
#[derive(Parser)]
#[command(name = "phrkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the record store lives.
#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// The store file (created if missing).
    #[arg(long, env = "PHRKIT_DB", default_value = "phrkit.db")]
    pub db: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Import .phr / NDJSON / Bundle files into the store (one run, all or nothing).
    Import(commands::import::ImportArgs),
    /// Check files without writing anything: what an import would do, line by line.
    Validate(commands::import::ValidateArgs),
    /// Export a patient's record ($phr-export): FHIR Bundle, NDJSON or .phr.
    Export(commands::export::ExportArgs),
    /// Print the CapabilityStatement (or an OperationDefinition) this build implements.
    Capability(commands::export::CapabilityArgs),
    /// Share part of the record as a SMART Health Link (encrypted upload, link, QR code).
    Share(commands::share::ShareArgs),
    /// Open a SMART Health Link as a recipient (and optionally import it).
    Open(commands::share::OpenArgs),
    /// Revoke a link you shared.
    Revoke(commands::share::ManageArgs),
    /// Who opened a link you shared, and when.
    Accesses(commands::share::ManageArgs),
    /// What the store holds.
    Stats(StoreArgs),
    /// Write a deterministic synthetic record as NDJSON.
    Generate(commands::generate::GenerateArgs),
    /// The patient journey end to end on generated data, in a temporary store.
    Demo(commands::demo::DemoArgs),
    /// Benchmarks (not part of the test suite).
    Bench(commands::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import(a) => commands::import::run(a),
        Command::Validate(a) => commands::import::validate(a),
        Command::Export(a) => commands::export::run(a),
        Command::Capability(a) => commands::export::capability(a),
        Command::Share(a) => commands::share::share(a),
        Command::Open(a) => commands::share::open(a),
        Command::Revoke(a) => commands::share::revoke_cmd(a),
        Command::Accesses(a) => commands::share::accesses_cmd(a),
        Command::Stats(a) => commands::stats::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Bench(a) => commands::bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
