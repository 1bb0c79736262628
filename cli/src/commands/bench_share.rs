//! `phrkit bench sphr` and `phrkit bench shl`: the `.sphr` writer beside 7-Zip, and SMART
//! Health Links end to end on loopback plus the host's manifest endpoint under load (wrk).

use crate::ui::table;
use anyhow::bail;
use phrkit::import::ImportSource;
use phrkit::net::reach::Reach;
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::shl::content::ShareProfile;
use phrkit::shl::share::{ShareOptions, open_link};
use phrkit::{ExportRequest, ImportOptions, Store};
use std::io::BufWriter;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Peak RSS (MB) of the largest child process waited for so far.
fn children_peak_mb() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc == 0 {
        usage.ru_maxrss as f64 / 1024.0
    } else {
        0.0
    }
}

fn record(dir: &Path, size: usize) -> anyhow::Result<std::path::PathBuf> {
    let db = dir.join(format!("sphr-{size}.db"));
    let file = dir.join(format!("sphr-{size}.phr"));
    super::bench::generated(&file, 1, size)?;
    let store = Store::open(&db)?;
    store.import(
        vec![ImportSource::from_path(&file)?],
        &ImportOptions::default(),
        &NoProgress,
    )?;
    Ok(db)
}

/// `.sphr` export (child process) beside `7z a -tzip -mem=AES256` on the same `.phr`.
pub fn sphr(sizes: Vec<usize>, dir: &Path) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for size in sizes {
        let db = record(dir, size)?;
        let phr = dir.join(format!("export-{size}.phr"));
        let store = Store::open(&db)?;
        let req = ExportRequest::from_params([("outputFormat", "phr")])?;
        store.export(
            &req,
            &mut BufWriter::new(std::fs::File::create(&phr)?),
            &NoProgress,
        )?;
        drop(store);
        let ours = super::bench::measure("export-sphr", &phr, &db)?;
        let (ours_s, ours_mb) = (ours.seconds, ours.rss_mb);
        let zip = dir.join(format!("7z-{size}.zip"));
        let _ = std::fs::remove_file(&zip);
        let start = Instant::now();
        let seven = Command::new("7z")
            .args(["a", "-tzip", "-mem=AES256", "-pbenchmark", "-bso0", "-bsp0"])
            .arg(&zip)
            .arg(&phr)
            .status();
        let seven_s = start.elapsed().as_secs_f64();
        if !seven.as_ref().is_ok_and(|s| s.success()) {
            bail!("7z is needed for this benchmark (apt-get install p7zip-full)");
        }
        rows.push(vec![
            size.to_string(),
            format!("{:.1}", std::fs::metadata(&phr)?.len() as f64 / 1e6),
            format!("{ours_s:.2}"),
            format!("{seven_s:.2}"),
            format!("{:.2}x", ours_s / seven_s),
            format!("{ours_mb:.0}"),
            format!("{:.0}", children_peak_mb()),
        ]);
    }
    println!(
        ".sphr export (store → encrypted zip with documents) vs 7-Zip zipping the same .phr with AES-256:"
    );
    table(
        &[
            "resources",
            ".phr MB",
            "phrkit s",
            "7z s",
            "ratio",
            "phrkit RSS MB",
            "7z (peak child) RSS MB",
        ],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}

/// Opening a link end to end on loopback, and the manifest endpoint under wrk.
pub fn shl(dir: &Path, runs: usize) -> anyhow::Result<ExitCode> {
    let mut config = phrkit_server::HostConfig::new(dir.join("host"));
    config.poll_interval = Duration::ZERO;
    let account = phrkit_server::Account::generate("bench")?;
    let mut opts = ShareOptions::new("", ShareProfile::Emergency);
    opts.account_token = Some(Secret::new(account.token().expose()));
    opts.reach = Reach::Local;
    config.accounts = vec![account];
    let host = phrkit_server::start(config)?;
    opts.host.clone_from(&host.base_url);
    let db = record(dir, 2000)?;
    let store = Store::open(&db)?;
    let link = store.share(&opts)?;
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for n in 0..runs {
        let start = Instant::now();
        let received = open_link(link.uri.expose(), "Benchmark ER", None, Reach::Local)?;
        let er = Store::open(dir.join(format!("er-{n}.db")))?;
        er.import_received(&received, &ImportOptions::default(), &NoProgress)?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        bytes = received.files.iter().map(|f| f.bytes.len()).sum();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "open an emergency link end to end (manifest + file + decrypt + import of a {} KB IPS bundle into a new store), {runs} runs:",
        bytes / 1024
    );
    println!(
        "  median {:.1} ms, p90 {:.1} ms, min {:.1} ms",
        times[runs / 2],
        times[runs * 9 / 10],
        times[0]
    );
    let payload = phrkit::shl::link::ShlPayload::decode(link.uri.expose())?;
    let script = dir.join("manifest.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = '{\"recipient\":\"load test\",\"embeddedLengthMax\":100000}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )?;
    let out = Command::new("wrk")
        .args(["-t2", "-c16", "-d10s", "--latency", "-s"])
        .arg(&script)
        .arg(&payload.url)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            println!(
                "manifest endpoint under wrk (2 threads, 16 connections, 10 s, loopback, same 2-core machine):"
            );
            for line in text.lines().filter(|l| {
                l.contains("Requests/sec")
                    || l.contains("99%")
                    || l.contains("50%")
                    || l.contains("Non-2xx")
            }) {
                println!("  {}", line.trim());
            }
        }
        _ => println!("(wrk not installed: apt-get install wrk for the load figures)"),
    }
    host.shutdown();
    Ok(ExitCode::SUCCESS)
}
