//! `phrkit bench`: benchmarks run by hand (never in CI), each measurement in a child process
//! so its peak RSS (`VmHWM`) is its own, with the floor measured in the same run.
//!
//! Run from a release build: `cargo run --release -p phrkit-cli -- bench import`. The import
//! benchmark has its own module (`bench_import.rs`).

use crate::ui::table;
use anyhow::{Context, bail};
use clap::Subcommand;
use phrkit::generate::{GenerateOptions, generate};
use phrkit::progress::NoProgress;
use phrkit::{ImportOptions, Store};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Options of `phrkit bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Import with full validation vs the floor, on generated, transaction-Bundle, Synthea and
    /// hostile inputs.
    Import(super::bench_import::ImportBenchArgs),
    /// NDJSON and Bundle export of one patient's record vs the floor (SELECT of the stored
    /// text to /dev/null).
    Export(SizeArgs),
    /// Import and export on an encrypted (SQLCipher) store vs a plain one.
    Privacy(SizeArgs),
    /// `.sphr` export beside `7z a -tzip -mem=AES256` on the same `.phr`.
    Sphr(SizeArgs),
    /// Opening a SMART Health Link end to end, and the host's manifest endpoint under wrk.
    Shl(SizeArgs),
    /// NDJSON export and import over loopback HTTP vs in-process, with server RSS.
    Http(super::bench_http::HttpArgs),
    /// One measurement, run by the parent in a fresh process.
    #[command(hide = true)]
    Child(ChildArgs),
}

#[derive(clap::Args)]
pub(crate) struct SizeArgs {
    /// Record sizes (resources), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "20000,200000")]
    pub(crate) sizes: Vec<usize>,
    /// Work folder (default: a temporary one).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

impl SizeArgs {
    /// `--dir` (created if missing), or else the temporary folder `tmp`.
    pub(crate) fn work_dir(&self, tmp: &tempfile::TempDir) -> anyhow::Result<PathBuf> {
        let dir = self.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

#[derive(clap::Args)]
struct ChildArgs {
    task: String,
    file: PathBuf,
    db: PathBuf,
}

/// Dispatches a benchmark.
pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    match a.what {
        What::Import(a) => super::bench_import::run(a),
        What::Export(s) => bench_export(s),
        What::Privacy(s) => bench_privacy(s),
        What::Sphr(s) => {
            let tmp = tempfile::tempdir()?;
            super::bench_share::sphr(s.sizes.clone(), &s.work_dir(&tmp)?)
        }
        What::Shl(s) => {
            let tmp = tempfile::tempdir()?;
            super::bench_share::shl(&s.work_dir(&tmp)?, 50)
        }
        What::Http(h) => super::bench_http::run(h),
        What::Child(c) => child(c),
    }
}

/// One child measurement: wall seconds and peak RSS.
pub(crate) struct Measure {
    pub seconds: f64,
    pub rss_mb: f64,
}

/// Runs `phrkit bench child <task> <file> <db>` in a fresh process and reads its measurement.
pub(crate) fn measure(task: &str, file: &Path, db: &Path) -> anyhow::Result<Measure> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["bench", "child", task])
        .arg(file)
        .arg(db)
        .output()?;
    if !out.status.success() {
        bail!("{task} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let seconds: f64 = parts.next().context("no time")?.parse()?;
    let rss_kb: f64 = parts.next().context("no rss")?.parse()?;
    Ok(Measure {
        seconds,
        rss_mb: rss_kb / 1024.0,
    })
}

fn bench_export(a: SizeArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run `cargo run --release -p phrkit-cli -- bench export`"
        );
    }
    let tmp = tempfile::tempdir()?;
    let dir = a.work_dir(&tmp)?;
    let mut rows = Vec::new();
    for size in a.sizes {
        let file = dir.join(format!("bench-export-{size}.phr"));
        let s = generated(&file, 1, size)?;
        let db = dir.join(format!("export-{size}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        measure("import", &file, &db)?;
        let floor = measure("floor-export", &file, &db)?;
        let ndjson = measure("export-ndjson", &file, &db)?;
        let bundle = measure("export-bundle", &file, &db)?;
        rows.push(vec![
            s.resources.to_string(),
            format!("{:.2}", floor.seconds),
            format!("{:.2}", ndjson.seconds),
            format!("{:.2}x", ndjson.seconds / floor.seconds),
            format!("{:.2}", bundle.seconds),
            format!("{:.2}x", bundle.seconds / floor.seconds),
            format!("{:.0}", ndjson.rss_mb),
            format!("{:.0}", bundle.rss_mb),
            format!("{:.0}", floor.rss_mb),
        ]);
    }
    println!("export of one patient's record vs floor (SELECT of the stored text to /dev/null):");
    table(
        &[
            "resources",
            "floor s",
            "ndjson s",
            "ratio",
            "bundle s",
            "ratio",
            "ndjson RSS MB",
            "bundle RSS MB",
            "floor RSS MB",
        ],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

/// The key the encrypted benchmark stores use (benchmarks only).
const BENCH_KEY: phrkit::store::crypto::StoreKey = phrkit::store::crypto::StoreKey::Raw([42u8; 32]);

fn bench_privacy(a: SizeArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run `cargo run --release -p phrkit-cli -- bench privacy`"
        );
    }
    let tmp = tempfile::tempdir()?;
    let dir = a.work_dir(&tmp)?;
    let mut rows = Vec::new();
    for size in a.sizes {
        let file = dir.join(format!("bench-privacy-{size}.phr"));
        let s = generated(&file, 1, size)?;
        let mut cells = vec![s.resources.to_string()];
        for (label, suffix) in [("plain", ""), ("encrypted", "-enc")] {
            let db = dir.join(format!("privacy-{label}-{size}.db"));
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
            }
            let import = measure(&format!("import{suffix}"), &file, &db)?;
            let floor = measure(&format!("floor-export{suffix}"), &file, &db)?;
            let export = measure(&format!("export-ndjson{suffix}"), &file, &db)?;
            cells.push(format!("{:.2}", import.seconds));
            cells.push(format!("{:.2}", floor.seconds));
            cells.push(format!("{:.2}", export.seconds));
            cells.push(format!("{:.0}", import.rss_mb.max(export.rss_mb)));
        }
        let ratio = |i: usize, j: usize| -> String {
            let (a, b): (f64, f64) = (
                cells[i].parse().unwrap_or(0.0),
                cells[j].parse().unwrap_or(1.0),
            );
            format!("{:+.0}%", (a / b - 1.0) * 100.0)
        };
        let (imp, floor, exp) = (ratio(5, 1), ratio(6, 2), ratio(7, 3));
        cells.push(imp);
        cells.push(floor);
        cells.push(exp);
        rows.push(cells);
    }
    println!("encrypted (SQLCipher, raw key) vs plain store:");
    table(
        &[
            "resources",
            "plain import s",
            "plain floor s",
            "plain export s",
            "RSS MB",
            "enc import s",
            "enc floor s",
            "enc export s",
            "RSS MB",
            "import overhead",
            "floor overhead",
            "export overhead",
        ],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes a deterministic generated record (`patients` × `per_patient`, seed 42) to `path`.
pub(crate) fn generated(
    path: &Path,
    patients: usize,
    per_patient: usize,
) -> anyhow::Result<phrkit::generate::GenerateSummary> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let summary = generate(
        &GenerateOptions {
            patients,
            resources_per_patient: per_patient,
            seed: 42,
            ..Default::default()
        },
        &mut w,
    )?;
    w.flush()?;
    Ok(summary)
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn child(c: ChildArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let encrypted = c.task.ends_with("-enc");
    let open = |db: &Path| -> anyhow::Result<Store> {
        Ok(if encrypted {
            Store::open_encrypted(db, &BENCH_KEY)?
        } else {
            Store::open(db)?
        })
    };
    match c.task.trim_end_matches("-enc") {
        "floor" => floor(&c.file, &c.db)?,
        "import" => {
            let store = open(&c.db)?;
            let src = phrkit::import::ImportSource::from_path(&c.file)?;
            let report = store.import(vec![src], &ImportOptions::default(), &NoProgress)?;
            let t = report.totals();
            if t.rejected > 0 || t.created == 0 {
                bail!("unexpected import result: {}", report.summary());
            }
        }
        "import-any" => {
            let store = open(&c.db)?;
            let src = phrkit::import::ImportSource::from_path(&c.file)?;
            store.import(vec![src], &ImportOptions::default(), &NoProgress)?;
        }
        "floor-export" => {
            let conn = rusqlite::Connection::open(&c.db)?;
            if encrypted {
                // The same page cipher as the store (see store/crypto.rs), raw key.
                let hex: String = [42u8; 32].iter().map(|b| format!("{b:02x}")).collect();
                conn.pragma_update(None, "key", format!("x'{hex}'"))?;
                conn.pragma_update(None, "cipher_hmac_algorithm", "HMAC_SHA256")?;
            }
            let mut out = BufWriter::new(std::fs::File::create("/dev/null")?);
            let mut st = conn
                .prepare("SELECT json FROM resource_version WHERE current = 1 AND deleted = 0")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                out.write_all(r.get_ref(0)?.as_bytes()?)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        "export-sphr" => {
            let store = open(&c.db)?;
            let mut req = phrkit::ExportRequest::from_params([("outputFormat", "sphr")])?;
            req.passphrase = Some(phrkit::secret::Secret::new(
                "benchmark passphrase of four words",
            ));
            let mut out = BufWriter::new(std::fs::File::create(c.db.with_extension("sphr"))?);
            store.export(&req, &mut out, &NoProgress)?;
            out.flush()?;
        }
        "export-ndjson" | "export-bundle" => {
            let store = open(&c.db)?;
            let format = if c.task.starts_with("export-ndjson") {
                "ndjson"
            } else {
                "bundle"
            };
            let req = phrkit::ExportRequest::from_params([("outputFormat", format)])?;
            let mut out = BufWriter::new(std::fs::File::create("/dev/null")?);
            store.export(&req, &mut out, &NoProgress)?;
            out.flush()?;
        }
        other => bail!("unknown bench task {other}"),
    }
    println!("{} {}", start.elapsed().as_secs_f64(), peak_rss_kb());
    Ok(ExitCode::SUCCESS)
}

/// The floor: every line as raw text into a one-column table, one transaction, same pragmas.
fn floor(file: &Path, db: &Path) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute("CREATE TABLE raw (line TEXT NOT NULL)", [])?;
    let tx = conn.transaction()?;
    {
        let mut st = tx.prepare("INSERT INTO raw (line) VALUES (?1)")?;
        for line in std::io::BufReader::new(std::fs::File::open(file)?).lines() {
            st.execute([line?])?;
        }
    }
    tx.commit()?;
    Ok(())
}
