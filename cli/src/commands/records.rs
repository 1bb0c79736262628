//! `phrkit get`, `phrkit search`, `phrkit history`, `phrkit delete`, `phrkit quarantine`: the
//! store's records one at a time, as the core's `Store` offers them.
//!
//! Output is the stored JSON, one resource per line (NDJSON), so it pipes into `jq` or back
//! into `phrkit import`; what is not a resource (a version's number and time, a quarantine
//! reason, a count) goes to stderr. A resource is named `Type/id`.

use crate::StoreArgs;
use phrkit::fhir::date::{DateRange, format_instant, parse_fhir_date};
use phrkit::fhir::reference::{RefKind, classify};
use phrkit::store::Search;
use std::io::Write;
use std::process::ExitCode;

/// Options of `phrkit get`, `phrkit history` and `phrkit delete`.
#[derive(clap::Args)]
pub struct OneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The resource, as `Type/id` (e.g. `AllergyIntolerance/a1`).
    pub resource: String,
}

/// Options of `phrkit search`.
#[derive(clap::Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only these resource types (comma-separated).
    #[arg(long = "type")]
    pub types: Option<String>,
    /// Only this patient's record (`Patient/123` or `123`).
    #[arg(long)]
    pub patient: Option<String>,
    /// Only resources with a clinical date from this (partial) date on: 2010, 2020-06.
    #[arg(long)]
    pub start: Option<String>,
    /// Only resources with a clinical date up to this (partial) date, inclusive by precision.
    #[arg(long)]
    pub end: Option<String>,
    /// At most this many resources.
    #[arg(long, conflicts_with_all = ["page_size", "page_token"])]
    pub limit: Option<usize>,
    /// Page instead: this many resources, newest clinical date first; the next page's token
    /// goes to stderr as `next page: --page-token …`.
    #[arg(long)]
    pub page_size: Option<usize>,
    /// The page after this token (from a previous `--page-size` search with the same filters).
    #[arg(long)]
    pub page_token: Option<String>,
}

/// `Type/id` → `(Type, id)` (read as a FHIR relative reference), or a clear error.
fn type_and_id(resource: &str) -> anyhow::Result<(&str, &str)> {
    match classify(resource) {
        RefKind::Literal {
            ty,
            id,
            absolute: false,
        } => Ok((ty, id)),
        _ => anyhow::bail!("`{resource}`: name the resource as Type/id, e.g. Patient/p1"),
    }
}

/// `phrkit get Type/id`: the current version's JSON; exit 1 when absent or deleted.
pub fn get(a: OneArgs) -> anyhow::Result<ExitCode> {
    let (ty, id) = type_and_id(&a.resource)?;
    match a.store.open()?.get(ty, id)? {
        Some(r) => {
            println!("{}", r.json);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("{ty}/{id} is not in the store (or was deleted: phrkit history shows it)");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `phrkit history Type/id`: every version, newest first (a deleted version prints `{}`).
pub fn history(a: OneArgs) -> anyhow::Result<ExitCode> {
    let (ty, id) = type_and_id(&a.resource)?;
    let versions = a.store.open()?.history(ty, id)?;
    if versions.is_empty() {
        eprintln!("{ty}/{id} has never been in the store");
        return Ok(ExitCode::FAILURE);
    }
    let mut out = std::io::stdout().lock();
    for v in &versions {
        let what = if v.deleted { "deleted" } else { "version" };
        eprintln!(
            "{what} {} of {ty}/{id}, {}",
            v.version,
            format_instant(v.last_updated)
        );
        writeln!(out, "{}", if v.deleted { "{}" } else { &v.json })?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `phrkit delete Type/id`: a delete marker as its newest version (history keeps the others).
pub fn delete(a: OneArgs) -> anyhow::Result<ExitCode> {
    let (ty, id) = type_and_id(&a.resource)?;
    if a.store.open()?.delete(ty, id)? {
        eprintln!("deleted {ty}/{id} (its earlier versions stay in phrkit history)");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{ty}/{id} is not in the store: nothing deleted");
        Ok(ExitCode::FAILURE)
    }
}

/// `phrkit purge`: one resource and every version of it, gone from the store file.
pub fn purge(a: OneArgs) -> anyhow::Result<ExitCode> {
    let (ty, id) = type_and_id(&a.resource)?;
    if a.store.open()?.purge(ty, id)? {
        eprintln!("purged {ty}/{id}: every version removed, its bytes overwritten in the file");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{ty}/{id} is not in the store: nothing purged");
        Ok(ExitCode::FAILURE)
    }
}

/// Options of `phrkit wipe`.
#[derive(clap::Args)]
pub struct WipeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Required: says you mean it (everything in the store is erased, the access log too).
    #[arg(long)]
    pub yes_erase_everything: bool,
}

/// `phrkit wipe`: the whole store emptied ("delete my data"), its bytes overwritten.
pub fn wipe(a: WipeArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.yes_erase_everything,
        "wipe erases every record, document and log entry of {}: add --yes-erase-everything",
        a.store.db.display()
    );
    a.store.open()?.wipe()?;
    eprintln!("wiped {}: the store is empty", a.store.db.display());
    Ok(ExitCode::SUCCESS)
}

/// `phrkit search`: current resources in clinical-date order, streamed as NDJSON.
pub fn search(a: SearchArgs) -> anyhow::Result<ExitCode> {
    let date = |name: &str, value: &Option<String>| -> anyhow::Result<Option<DateRange>> {
        value
            .as_deref()
            .map(|v| {
                parse_fhir_date(v).map_err(|e| {
                    anyhow::anyhow!("--{name} {v}: {e} (expected 2010, 2020-06 or 2024-01-01)")
                })
            })
            .transpose()
    };
    let dates = DateRange::spanning(date("start", &a.start)?, date("end", &a.end)?);
    let search = Search {
        patient: a
            .patient
            .as_deref()
            .map(|p| p.trim_start_matches("Patient/").to_string()),
        types: a
            .types
            .as_deref()
            .map(|t| t.split(',').map(str::trim).map(str::to_string).collect())
            .unwrap_or_default(),
        dates,
        limit: a.limit,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if a.page_size.is_some() || a.page_token.is_some() {
        let search = Search {
            limit: a.page_size,
            ..search
        };
        let page = a
            .store
            .open()?
            .search_page(&search, a.page_token.as_deref())?;
        for r in &page.records {
            writeln!(out, "{}", r.json)?;
        }
        out.flush()?;
        eprintln!("{} resource(s) on this page", page.records.len());
        match page.next_page_token {
            Some(t) => eprintln!("next page: --page-token {t}"),
            None => eprintln!("last page"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut found = 0u64;
    a.store.open()?.for_each_match(&search, |r| {
        found += 1;
        writeln!(out, "{}", r.json)?;
        Ok(())
    })?;
    out.flush()?;
    eprintln!("{found} resource(s)");
    Ok(ExitCode::SUCCESS)
}

/// `phrkit quarantine`: what imports kept aside (`--on-invalid quarantine`), with the reason.
pub fn quarantine(a: StoreArgs) -> anyhow::Result<ExitCode> {
    let kept = a.open()?.quarantined()?;
    let mut out = std::io::stdout().lock();
    for q in &kept {
        let name = match (&q.resource_type, &q.id) {
            (None, _) => "(no resourceType)".to_string(),
            (Some(ty), None) => format!("{ty} (no id)"),
            (Some(ty), Some(id)) => format!("{ty}/{id}"),
        };
        eprintln!("{name}: {}", q.reason);
        writeln!(out, "{}", q.json)?;
    }
    eprintln!("{} quarantined resource(s)", kept.len());
    Ok(ExitCode::SUCCESS)
}
