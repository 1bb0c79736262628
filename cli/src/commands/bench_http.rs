//! `phrkit bench http`: the HTTP operations against their in-process twins, in one run.
//!
//! For each size, a single-patient record is generated and imported locally (timed: the
//! in-process import twin) and exported in-process (timed) — both in child processes of
//! `phrkit bench child`, as the other benchmarks do. Then `phrkit serve` runs as a child
//! process on that store and the record is fetched over loopback HTTP as NDJSON (timed, body
//! discarded, the time until the first clinical line had arrived noted); a second `phrkit serve` on an empty store receives the same file through
//! `$import` (timed until the report arrives). The servers' peak RSS (`VmHWM`) is read from
//! `/proc` after each run: flat server memory means it does not grow with the record.
//!
//! Run from a release build: `cargo run --release -p phrkit-cli -- bench http`.

use super::bench::measure;
use crate::ui::table;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `phrkit bench http`.
#[derive(clap::Args)]
pub struct HttpArgs {
    /// Record sizes (resources of one patient), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "20000,200000")]
    sizes: Vec<usize>,
    /// Work folder (default: a temporary one).
    #[arg(long)]
    dir: Option<PathBuf>,
}

const TOKEN: &str = "bench-token-not-secret-0123456789abcdef";

/// `phrkit bench http`.
pub fn run(a: HttpArgs) -> anyhow::Result<std::process::ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run `cargo run --release -p phrkit-cli -- bench http`");
    }
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for size in a.sizes {
        let file = dir.join(format!("bench-http-{size}.phr"));
        let generated = super::bench::generated(&file, 1, size)?;
        let source = fresh(&dir.join(format!("source-{size}")))?;
        let target = fresh(&dir.join(format!("target-{size}")))?;
        let local_import =
            measure("import", &file, &source.join(phrkit_server::STORE_FILE))?.seconds;
        let local_export = measure(
            "export-ndjson",
            &file,
            &source.join(phrkit_server::STORE_FILE),
        )?
        .seconds;

        let server = Server::start(&source)?;
        let start = Instant::now();
        let mut response = agent()
            .get(format!(
                "{}/Bundle/$phr-export?outputFormat=ndjson",
                server.base
            ))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()?;
        anyhow::ensure!(
            response.status() == 200,
            "export answered {}",
            response.status()
        );
        let (bytes, first_clinical) = read_lines(response.body_mut().as_reader(), start)?;
        let http_export = start.elapsed().as_secs_f64();
        let export_rss = server.peak_rss_mb();
        drop(server);

        let server = Server::start(&target)?;
        let start = Instant::now();
        let mut response = agent()
            .post(format!("{}/Bundle/$import", server.base))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/x-ndjson")
            .send(ureq::SendBody::from_owned_reader(std::fs::File::open(
                &file,
            )?))?;
        let report = response.body_mut().read_to_string()?;
        anyhow::ensure!(
            response.status() == 200,
            "import answered {}: {report}",
            response.status()
        );
        let http_import = start.elapsed().as_secs_f64();
        let import_rss = server.peak_rss_mb();
        drop(server);

        rows.push(vec![
            generated.resources.to_string(),
            format!("{:.1}", bytes as f64 / 1e6),
            first_clinical.map_or("-".into(), |t| format!("{:.1}", t * 1e3)),
            format!("{local_export:.2}"),
            format!("{http_export:.2}"),
            format!("{:.2}x", http_export / local_export),
            format!("{export_rss:.0}"),
            format!("{local_import:.2}"),
            format!("{http_import:.2}"),
            format!("{:.2}x", http_import / local_import),
            format!("{import_rss:.0}"),
        ]);
    }
    println!(
        "NDJSON export and import over loopback HTTP vs in-process (seconds; server peak RSS):"
    );
    table(
        &[
            "resources",
            "MB",
            "first clinical line ms",
            "export s",
            "HTTP s",
            "ratio",
            "server RSS MB",
            "import s",
            "HTTP s",
            "ratio",
            "server RSS MB",
        ],
        &rows,
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// Reads an NDJSON body to its end; returns its size and the seconds from `start` until the
/// first clinical line (neither the cover, the Patient nor a shared resource) had arrived.
fn read_lines(body: impl std::io::Read, start: Instant) -> anyhow::Result<(u64, Option<f64>)> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(64 << 10, body);
    let mut line = Vec::new();
    let (mut bytes, mut first) = (0u64, None);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok((bytes, first));
        }
        bytes += n as u64;
        if first.is_none() {
            let v: serde_json::Value = serde_json::from_slice(&line)?;
            let ty = v["resourceType"].as_str().unwrap_or_default();
            if !matches!(ty, "Composition" | "Patient")
                && !phrkit::fhir::compartment::is_shared_type(ty)
            {
                first = Some(start.elapsed().as_secs_f64());
            }
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// An empty data folder.
fn fresh(dir: &Path) -> anyhow::Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("bench-token"), TOKEN)?;
    Ok(dir.to_path_buf())
}

/// `phrkit serve` in a child process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &Path) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--token-file")
            .arg(data.join("bench-token"))
            .stderr(Stdio::null())
            .spawn()?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent()
            .get(format!("{}/metadata", server.base))
            .call()
            .is_err()
        {
            anyhow::ensure!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn peak_rss_mb(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
            })
            .map_or(0.0, |kb: f64| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
