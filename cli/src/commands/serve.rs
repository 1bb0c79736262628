//! `phrkit serve`: one process hosting the SMART Health Link routes and the FHIR operations
//! (`/metadata`, `$phr-export`, `$import`) on the record store `<data>/phrkit.db`.
//!
//! The token comes from `--token-file`, else `PHRKIT_TOKEN`, else `<data>/token`, created on
//! first start (32 random bytes, mode 0600). The token itself is never printed: the first
//! start prints a curl example that reads it from its file. Binds 127.0.0.1:8787 by default;
//! binding another interface is the user's explicit choice.
//!
//! Creating SMART Health Links needs an account: the accounts come from `--accounts-file`, else
//! `<data>/accounts`, created on first start with one account `owner` (mode 0600);
//! `phrkit share --account-token-file <data>/accounts` uses it.

use anyhow::Context;
use phrkit_server::{
    ACCOUNTS_FILE, ApiToken, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP,
    DEFAULT_SERVE_BIND, FhirConfig, HostConfig, STORE_FILE, TOKEN_FILE,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `phrkit serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Data folder: the record store, the SHL host's files and the token.
    #[arg(long, default_value = "phrkit-data")]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value_t = DEFAULT_SERVE_BIND)]
    pub bind: SocketAddr,
    /// File holding the API token (default: PHRKIT_TOKEN, else <data>/token, created if missing).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Accounts allowed to create links, one `name token` per line (default: <data>/accounts,
    /// created with one account `owner` if missing).
    #[arg(long)]
    pub accounts_file: Option<PathBuf>,
    /// Public base URL used in links and status URLs (default: http://<bind>).
    #[arg(long)]
    pub public_url: Option<String>,
    /// The record store is encrypted with the key in this file (as for the other commands;
    /// PHRKIT_KEY also works). Prefer a raw key (64 hex digits): a passphrase is stretched on
    /// every request.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Connections served at once; more wait until one ends (keep it below `ulimit -n`).
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Connections from one client address at once; one more is closed at once. Set 0 behind
    /// a reverse proxy (every connection then comes from the proxy) and limit there.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
}

/// `phrkit serve`: blocks until Ctrl-C.
pub fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let (token, source, created) = if let Some(file) = &a.token_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        if phrkit::private_files::readable_by_others(file) {
            eprintln!(
                "warning: {} is readable by other users of this machine; `chmod 600` it",
                file.display()
            );
        }
        (ApiToken::new(&text)?, file.display().to_string(), false)
    } else if let Ok(env) = std::env::var("PHRKIT_TOKEN") {
        (ApiToken::new(&env)?, "PHRKIT_TOKEN".to_string(), false)
    } else {
        let (token, created) = phrkit_server::load_or_create_token(&a.data)?;
        let path = a.data.join(TOKEN_FILE);
        (token, path.display().to_string(), created)
    };
    let (accounts, accounts_path, accounts_created) = match &a.accounts_file {
        Some(file) => (
            phrkit_server::load_accounts(file)
                .with_context(|| format!("cannot use {}", file.display()))?,
            file.clone(),
            false,
        ),
        None => {
            let (accounts, created) = phrkit_server::load_or_create_accounts(&a.data)?;
            (accounts, a.data.join(ACCOUNTS_FILE), created)
        }
    };
    if phrkit::private_files::readable_by_others(&accounts_path) {
        eprintln!(
            "warning: {} is readable by other users of this machine; `chmod 600` it",
            accounts_path.display()
        );
    }
    let mut config = HostConfig::new(&a.data);
    config.accounts = accounts;
    config.bind = a.bind;
    config.public_url = a.public_url.clone();
    config.max_connections = a.max_connections;
    config.max_connections_per_ip = a.max_connections_per_ip;
    let mut fhir = FhirConfig::new(a.data.join(STORE_FILE), token);
    fhir.key = crate::store_key(a.key_file.as_deref())?;
    let encrypted = fhir.key.is_some();
    config.fhir = Some(fhir);
    let base = a
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", a.bind));
    eprintln!(
        "phrkit serve: {base} ({} record store {})",
        if encrypted { "encrypted" } else { "plain" },
        a.data.join(STORE_FILE).display()
    );
    eprintln!("FHIR operations need `Authorization: Bearer <token>`; the token is in {source}");
    if config.accounts.is_empty() {
        eprintln!(
            "warning: {} lists no account, so nobody can create links here",
            accounts_path.display()
        );
    }
    eprintln!(
        "creating links needs one of the {} account(s) in {}{}",
        config.accounts.len(),
        accounts_path.display(),
        if accounts_created {
            " (just created with the account `owner`: \
             phrkit share --account-token-file <that file>)"
        } else {
            ""
        }
    );
    if created {
        let file = a.data.join(TOKEN_FILE);
        eprintln!("a new token was created (readable only by you). Try:");
        eprintln!("  curl {base}/metadata");
        eprintln!(
            "  curl -OJ -H \"Authorization: Bearer $(cat {})\" '{base}/Bundle/$phr-export?outputFormat=phr'",
            file.display()
        );
    }
    phrkit_server::run_forever(config)?;
    Ok(ExitCode::SUCCESS)
}
