//! `phrkit log`, `phrkit encrypt-store`, `phrkit decrypt-store`, `phrkit rekey`.

use crate::StoreArgs;
use anyhow::Context;
use phrkit::store::crypto::{StoreKey, decrypt_store, encrypt_store};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `phrkit log`.
#[derive(clap::Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this patient's log.
    #[arg(long)]
    pub patient: Option<String>,
}

/// `phrkit log`: who saw the record, newest first.
pub fn log(a: LogArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open()?;
    let entries = store.access_log(
        a.patient
            .as_deref()
            .map(|p| p.trim_start_matches("Patient/")),
    )?;
    if entries.is_empty() {
        println!("the record has not left this device");
    }
    for e in entries {
        println!(
            "{}  {:<14} {:<24} {}",
            e.recorded, e.action, e.who, e.description
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `phrkit encrypt-store` / `decrypt-store`.
#[derive(clap::Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The new store file to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

fn required_key(a: &StoreArgs) -> anyhow::Result<StoreKey> {
    a.key()?
        .context("give the key with --key-file or PHRKIT_KEY")
}

/// `phrkit encrypt-store`: copies the plain `--db` into an encrypted `--out`.
pub fn encrypt(a: CopyArgs) -> anyhow::Result<ExitCode> {
    encrypt_store(&a.store.db, &a.out, &required_key(&a.store)?)?;
    eprintln!(
        "encrypted copy written to {}; check it opens, then delete the plain file",
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `phrkit decrypt-store`: copies the encrypted `--db` into a plain `--out`.
pub fn decrypt(a: CopyArgs) -> anyhow::Result<ExitCode> {
    decrypt_store(&a.store.db, &required_key(&a.store)?, &a.out)?;
    eprintln!("plain copy written to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Options of `phrkit rekey`.
#[derive(clap::Args)]
pub struct RekeyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// File holding the new key.
    #[arg(long)]
    pub new_key_file: PathBuf,
}

/// `phrkit rekey`: changes the key of an encrypted store in place.
pub fn rekey(a: RekeyArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.new_key_file)
        .with_context(|| format!("cannot read {}", a.new_key_file.display()))?;
    let new = StoreKey::parse(text.lines().next().unwrap_or_default())?;
    let mut store = a.store.open()?;
    anyhow::ensure!(
        store.is_encrypted(),
        "the store is not encrypted: use encrypt-store first"
    );
    store.rekey(&new)?;
    eprintln!("the store now opens with the new key only");
    Ok(ExitCode::SUCCESS)
}
