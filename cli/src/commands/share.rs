//! `phrkit share`, `phrkit open`, `phrkit revoke`, `phrkit accesses`: SMART Health Links.
//!
//! Secrets stay off the command line: passcodes and the host account's token come from files,
//! and the management handle a share returns (host, link id, token) is written to a file
//! readable only by the owner, which `revoke` and `accesses` read back.
//!
//! The sharer's host is the user's own choice (`--host`), so it may be on this machine or the
//! local network; the links `phrkit open` is given are a stranger's, so it reaches only public
//! https hosts unless `--allow-local-hosts` says otherwise (module `phrkit::net::reach`).

use crate::StoreArgs;
use crate::commands::import::{PipelineArgs, print_report, read_passphrase};
use anyhow::Context;
use phrkit::net::reach::Reach;
use phrkit::secret::Secret;
use phrkit::shl::content::ShareProfile;
use phrkit::shl::share::{ShareOptions, SharedLink, open_link};
use phrkit::{ImportOptions, Store};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `phrkit share`.
#[derive(clap::Args)]
pub struct ShareArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// emergency, pharmacy, travel, referral, full or custom.
    #[arg(long, default_value = "emergency")]
    pub profile: String,
    /// custom: resource types (comma-separated).
    #[arg(long = "type")]
    pub types: Option<String>,
    /// custom: from this (partial) date.
    #[arg(long)]
    pub start: Option<String>,
    /// custom: up to this (partial) date.
    #[arg(long)]
    pub end: Option<String>,
    /// The patient, when the store holds several.
    #[arg(long)]
    pub patient: Option<String>,
    /// Require the passcode in this file (flag P).
    #[arg(long)]
    pub passcode_file: Option<PathBuf>,
    /// Lifetime: 30m, 12h, 7d.
    #[arg(long)]
    pub expires: Option<String>,
    /// One file fetched directly, without a manifest (flag U, "direct file"; no passcode).
    /// Recipients may fetch it as long as the link lives; every fetch is logged.
    #[arg(long)]
    pub direct_file: bool,
    /// Renamed `--direct-file`: flag U is direct file access, not single use.
    #[arg(long, hide = true)]
    pub single_use: bool,
    /// The content may change later (flag L).
    #[arg(long)]
    pub long_term: bool,
    /// The link host: https, or plain http to this machine or your local network (a
    /// `phrkit serve` you run).
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    pub host: String,
    /// The file holding this host account's token, which creating a link needs: the token
    /// alone, or a `name token` line such as the first line of `phrkit serve`'s
    /// `<data>/accounts` (PHRKIT_ACCOUNT_TOKEN also works).
    #[arg(long)]
    pub account_token_file: Option<PathBuf>,
    /// Shown to the recipient (≤ 80 characters).
    #[arg(long)]
    pub label: Option<String>,
    /// A bare `shlink:/…` link even when the host serves a viewer page.
    #[arg(long)]
    pub bare: bool,
    /// Wrap the link in this viewer URL (`https://viewer.example/`); by default the host's
    /// own viewer (`<host>/view`) when it serves one.
    #[arg(long)]
    pub viewer: Option<String>,
    /// Also send the whole record as a .sphr.
    #[arg(long)]
    pub include_sphr: bool,
    /// Write the QR code as PNG here.
    #[arg(long)]
    pub qr_png: Option<PathBuf>,
    /// Write the QR code as SVG here.
    #[arg(long)]
    pub qr_svg: Option<PathBuf>,
    /// Where to keep the management handle (host, id, token) for revoke/accesses.
    #[arg(long, default_value = "phrkit-share.json")]
    pub manage_file: PathBuf,
    /// Sensitive categories to share too (mental-health, substance-use, sexual-health, hiv,
    /// restricted, or all); by default they stay on the device.
    #[arg(long)]
    pub include_sensitive: Option<String>,
    /// Show what the link would carry, and share nothing.
    #[arg(long)]
    pub preview: bool,
}

/// Parses `--include-sensitive` (comma list or `all`).
pub fn sensitive_categories(
    arg: Option<&str>,
) -> anyhow::Result<Vec<phrkit::sensitivity::Category>> {
    let Some(list) = arg else {
        return Ok(Vec::new());
    };
    Ok(phrkit::sensitivity::parse_categories(
        list.split(','),
        "--include-sensitive",
    )?)
}

/// Prints a preview: counts by type, what stays home, the date span.
pub fn print_preview(p: &phrkit::export::Preview) {
    for (ty, n) in &p.by_type {
        println!("  {ty:<24} {n}");
    }
    println!(
        "{} resources{}",
        p.resources,
        match (&p.earliest, &p.latest) {
            (Some(a), Some(b)) => format!(
                ", clinical dates {} to {}",
                &a[..10.min(a.len())],
                &b[..10.min(b.len())]
            ),
            _ => String::new(),
        }
    );
    print_excluded(&p.excluded);
}

/// Says what was left out as sensitive, if anything.
pub fn print_excluded(excluded: &std::collections::BTreeMap<String, u64>) {
    if !excluded.is_empty() {
        let parts: Vec<String> = excluded.iter().map(|(c, n)| format!("{c} {n}")).collect();
        println!(
            "left out as sensitive (opt in with --include-sensitive): {}",
            parts.join(", ")
        );
    }
}

/// `30m`, `12h`, `7d` → seconds.
fn parse_duration(s: &str) -> anyhow::Result<i64> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .with_context(|| format!("`{s}`: expected a number and m, h or d, e.g. 7d"))?;
    Ok(n * match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => anyhow::bail!("`{s}`: expected m, h or d, e.g. 7d"),
    })
}

/// Writes `contents` to `path` readable by the owner only.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    phrkit::private_files::write_private(path, contents)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The account token from `file` (its first line that is not a comment; the last word of it,
/// so an accounts-file line `name token` works), else from `PHRKIT_ACCOUNT_TOKEN`.
fn account_token(file: Option<&Path>) -> anyhow::Result<Option<Secret>> {
    let text = match file {
        Some(path) => {
            if phrkit::private_files::readable_by_others(path) {
                eprintln!(
                    "warning: {} is readable by other users of this machine; `chmod 600` it",
                    path.display()
                );
            }
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?
        }
        None => match std::env::var("PHRKIT_ACCOUNT_TOKEN") {
            Ok(token) => token,
            Err(_) => return Ok(None),
        },
    };
    let token = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .and_then(|line| line.split_whitespace().last())
        .context("the account token file holds no token")?;
    Ok(Some(Secret::new(token)))
}

/// `phrkit share`.
pub fn share(a: ShareArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open()?;
    let mut profile: ShareProfile = a.profile.parse()?;
    if let ShareProfile::Custom { types, start, end } = &mut profile {
        *types = a
            .types
            .as_deref()
            .map(|t| t.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        *start = a.start.clone();
        *end = a.end.clone();
    }
    let mut opts = ShareOptions::new(&a.host, profile);
    opts.reach = Reach::Local;
    opts.account_token = account_token(a.account_token_file.as_deref())?;
    opts.patient = a.patient.clone();
    opts.passcode = a
        .passcode_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    opts.exp = a
        .expires
        .as_deref()
        .map(parse_duration)
        .transpose()?
        .map(|s| phrkit::fhir::date::now_ms() / 1000 + s);
    if a.single_use {
        anyhow::bail!(
            "--single-use is now --direct-file: it sets flag U (direct file access), and a \
             U link can be fetched again while it lives, so the old name promised too much"
        );
    }
    opts.direct_file = a.direct_file;
    opts.long_term = a.long_term;
    opts.label = a.label.clone();
    opts.viewer = a.viewer.clone();
    opts.bare_link = a.bare;
    opts.include_sphr = a.include_sphr;
    opts.include_sensitive = sensitive_categories(a.include_sensitive.as_deref())?;
    if a.preview {
        print_preview(&store.preview_share(&opts)?);
        return Ok(ExitCode::SUCCESS);
    }
    let link = store.share(&opts)?;
    print_excluded(&link.excluded);
    let uri = link.uri.expose();
    println!("{}", phrkit::shl::qr::terminal(uri)?);
    println!("{uri}");
    if let Some(p) = &a.qr_png {
        write_private(p, &phrkit::shl::qr::png(uri, 8)?)?;
    }
    if let Some(p) = &a.qr_svg {
        write_private(p, phrkit::shl::qr::svg(uri)?.as_bytes())?;
    }
    let handle = json!({"host": link.host, "id": link.id, "managementToken": link.management_token.expose(),
        "label": link.label, "exp": link.exp, "flag": link.flag, "patient": link.patient});
    write_private(&a.manage_file, handle.to_string().as_bytes())?;
    eprintln!(
        "shared {} file(s) as \"{}\"{}; management handle in {} (phrkit revoke / phrkit accesses)",
        link.files,
        link.label,
        link.flag
            .as_deref()
            .map(|f| format!(", flags {f}"))
            .unwrap_or_default(),
        a.manage_file.display()
    );
    crate::close_logged(store)?;
    Ok(ExitCode::SUCCESS)
}

/// Options of `phrkit revoke` and `phrkit accesses`.
#[derive(clap::Args)]
pub struct ManageArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The management handle `phrkit share` wrote.
    #[arg(long, default_value = "phrkit-share.json")]
    pub manage_file: PathBuf,
}

fn load_handle(path: &Path) -> anyhow::Result<SharedLink> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).context("the management file is not JSON")?;
    let field = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .with_context(|| format!("the management file has no {k}"))
    };
    Ok(SharedLink {
        uri: Secret::new(""),
        host: field("host")?,
        id: field("id")?,
        management_token: Secret::new(field("managementToken")?),
        exp: v["exp"].as_i64(),
        flag: v["flag"].as_str().map(str::to_string),
        label: v["label"].as_str().unwrap_or_default().to_string(),
        files: 0,
        excluded: Default::default(),
        patient: field("patient")?,
        reach: Reach::Local,
    })
}

/// `phrkit revoke`.
pub fn revoke_cmd(a: ManageArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open()?;
    store.revoke_link(&load_handle(&a.manage_file)?)?;
    crate::close_logged(store)?;
    eprintln!("revoked: the link no longer opens (recorded in the access log)");
    Ok(ExitCode::SUCCESS)
}

/// `phrkit accesses`.
pub fn accesses_cmd(a: ManageArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open()?;
    let list = store.sync_accesses(&load_handle(&a.manage_file)?)?;
    crate::close_logged(store)?;
    if list.is_empty() {
        println!("nobody has opened this link");
    }
    for access in list {
        println!("{}  {}", access.time, access.recipient);
    }
    Ok(ExitCode::SUCCESS)
}

/// Options of `phrkit open`.
#[derive(clap::Args)]
pub struct OpenArgs {
    /// The link (`shlink:/…` or a viewer URL), or `-` to read it from stdin.
    pub link: String,
    /// Who is opening it (shown to the sharer), e.g. "City Pharmacy".
    #[arg(long)]
    pub recipient: String,
    /// The link's passcode, from this file.
    #[arg(long)]
    pub passcode_file: Option<PathBuf>,
    /// Import what arrives into the store.
    #[arg(long)]
    pub import: bool,
    /// The store to import into.
    #[arg(long, env = "PHRKIT_DB", default_value = "phrkit.db")]
    pub db: PathBuf,
    /// Write the received files into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Development only: let the link reach this machine and private networks (and plain
    /// http there). Without it, a link can point only at public https hosts.
    #[arg(long, env = "PHRKIT_ALLOW_LOCAL_HOSTS")]
    pub allow_local_hosts: bool,
}

/// `phrkit open`.
pub fn open(a: OpenArgs) -> anyhow::Result<ExitCode> {
    let link = if a.link == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        a.link.clone()
    };
    let passcode = a
        .passcode_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let reach = if a.allow_local_hosts {
        Reach::Local
    } else {
        Reach::Public
    };
    let received = open_link(&link, &a.recipient, passcode.as_ref(), reach)?;
    println!(
        "{} file(s) from {} ({})",
        received.files.len(),
        received.host,
        received.label.as_deref().unwrap_or("no label")
    );
    for (n, f) in received.files.iter().enumerate() {
        let kind = serde_json::from_slice::<serde_json::Value>(&f.bytes)
            .ok()
            .and_then(|v| {
                Some(format!(
                    "{} {}",
                    v["resourceType"].as_str()?,
                    v["type"].as_str().unwrap_or("")
                ))
            })
            .unwrap_or_default();
        println!(
            "  {}: {} {} bytes {kind}",
            n + 1,
            f.content_type,
            f.bytes.len()
        );
        if let Some(dir) = &a.out {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(format!("file-{}.json", n + 1)), &f.bytes)?;
        }
    }
    if a.import {
        let store = Store::open(&a.db)?;
        let bar = crate::ui::Bar::bytes(None);
        let report = store.import_received(&received, &ImportOptions::default(), &bar);
        bar.finish();
        let args = PipelineArgs::display_only();
        print_report(&report?, &args);
    }
    Ok(ExitCode::SUCCESS)
}
