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
    /// The store is encrypted with the key in this file (64 hex digits = a raw 32-byte key,
    /// anything else = a passphrase). Keys never go on the command line; PHRKIT_KEY also works.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// SQLite page cache, MiB (default 8: an import of any size stays within a phone's 64 MB).
    #[arg(long, env = "PHRKIT_CACHE_MIB")]
    pub cache_mib: Option<u32>,
    /// Import worker threads (default: the cores, at most 4).
    #[arg(long, env = "PHRKIT_THREADS")]
    pub threads: Option<usize>,
}

/// A store key from `file`, else from the `PHRKIT_KEY` environment variable; `None` when
/// neither is given (a plain store).
pub fn store_key(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Option<phrkit::store::crypto::StoreKey>> {
    use anyhow::Context;
    let text = match (file, std::env::var("PHRKIT_KEY")) {
        (Some(f), _) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, Ok(k)) => k,
        (None, Err(_)) => return Ok(None),
    };
    Ok(Some(phrkit::store::crypto::StoreKey::parse(
        text.lines().next().unwrap_or_default(),
    )?))
}

impl StoreArgs {
    /// The store key, from `--key-file` or the `PHRKIT_KEY` environment variable.
    pub fn key(&self) -> anyhow::Result<Option<phrkit::store::crypto::StoreKey>> {
        store_key(self.key_file.as_deref())
    }

    /// Opens the store (encrypted when a key is given).
    pub fn open(&self) -> anyhow::Result<phrkit::Store> {
        use anyhow::Context;
        let mut options = phrkit::StoreOptions::default();
        options.cache_mib = self.cache_mib.unwrap_or(options.cache_mib);
        options.threads = self.threads.unwrap_or(options.threads);
        let store = match self.key()? {
            Some(k) => phrkit::Store::open_encrypted_with_options(&self.db, &k, options),
            None => phrkit::Store::open_with_options(&self.db, options),
        };
        store.with_context(|| format!("cannot open store {}", self.db.display()))
    }
}

/// Closes a store after a command that read and logged (an export, a share): access-log
/// entries that waited because another process held the store's writer are written now,
/// waiting up to ten minutes for it, and saying so; an entry still unwritten is an error.
pub fn close_logged(store: phrkit::Store) -> anyhow::Result<()> {
    if store.flush_access_log(std::time::Duration::ZERO)? == 0 {
        return Ok(());
    }
    eprintln!(
        "waiting for another phrkit process to finish writing, to record this in the access log…"
    );
    let left = store.flush_access_log(std::time::Duration::from_secs(600))?;
    anyhow::ensure!(
        left == 0,
        "the access log could not be written: another process held the store for ten minutes"
    );
    Ok(())
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
    /// The access log: every export, share and link access, newest first.
    Log(commands::privacy::LogArgs),
    /// Copy a plain store into a new encrypted one (key from --key-file or PHRKIT_KEY).
    EncryptStore(commands::privacy::CopyArgs),
    /// Copy an encrypted store into a new plain one.
    DecryptStore(commands::privacy::CopyArgs),
    /// Change the key of an encrypted store.
    Rekey(commands::privacy::RekeyArgs),
    /// What the store holds.
    Stats(StoreArgs),
    /// One resource's current JSON (`Type/id`).
    Get(commands::records::OneArgs),
    /// Current resources by type, patient and clinical date, as NDJSON.
    Search(commands::records::SearchArgs),
    /// Every version of one resource, newest first.
    History(commands::records::OneArgs),
    /// Delete one resource (its history is kept).
    Delete(commands::records::OneArgs),
    /// Remove one resource and all its versions; their bytes leave the store file.
    Purge(commands::records::OneArgs),
    /// Erase the whole store ("delete my data"); needs --yes-erase-everything.
    Wipe(commands::records::WipeArgs),
    /// What imports kept aside as invalid (`--on-invalid quarantine`), with the reasons.
    Quarantine(StoreArgs),
    /// Write a deterministic synthetic record as NDJSON.
    Generate(commands::generate::GenerateArgs),
    /// The patient journey end to end on generated data, in a temporary store.
    Demo(commands::demo::DemoArgs),
    /// Benchmarks (not part of the test suite).
    Bench(commands::bench::BenchArgs),
    /// Serve the record (FHIR $phr-export, $import, /metadata) and SMART Health Links.
    Serve(commands::serve::ServeArgs),
    /// Pull a record from a server over HTTP, importing it as it arrives.
    Pull(commands::remote::PullArgs),
    /// Push the record to a server's $import over HTTP, streamed.
    Push(commands::remote::PushArgs),
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
        Command::Log(a) => commands::privacy::log(a),
        Command::EncryptStore(a) => commands::privacy::encrypt(a),
        Command::DecryptStore(a) => commands::privacy::decrypt(a),
        Command::Rekey(a) => commands::privacy::rekey(a),
        Command::Stats(a) => commands::stats::run(a),
        Command::Get(a) => commands::records::get(a),
        Command::Search(a) => commands::records::search(a),
        Command::History(a) => commands::records::history(a),
        Command::Delete(a) => commands::records::delete(a),
        Command::Purge(a) => commands::records::purge(a),
        Command::Wipe(a) => commands::records::wipe(a),
        Command::Quarantine(a) => commands::records::quarantine(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Pull(a) => commands::remote::run_pull(a),
        Command::Push(a) => commands::remote::run_push(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes in one line, each cause only when the text so far does not already
/// say it (the core's errors quote their source: `{e:#}` printed "this link has expired: this
/// link has expired").
fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn an_error_says_each_cause_once() {
        let expired = anyhow::Error::from(phrkit::Error::from(phrkit::shl::ShlError::LinkExpired));
        assert_eq!(
            describe(&expired),
            "SMART Health Link: this link has expired"
        );
        let io = std::io::Error::other("disk full");
        let wrapped = anyhow::Error::from(io).context("cannot write out.phr");
        assert_eq!(describe(&wrapped), "cannot write out.phr: disk full");
    }
}
