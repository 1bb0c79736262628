//! A SMART Health Link host on loopback for the Kotlin and Swift tests: starts
//! `phrkit_server` on `127.0.0.1:0` with its data in a temporary folder, prints its base URL
//! as the first line on stdout and the token of its one account (which creating links needs)
//! as the second, and serves until stdin closes (the test process exits or
//! closes the pipe), then removes its data.
//!
//! An example rather than a binary so that `phrkit-server` (axum, tokio) stays a
//! dev-dependency and never reaches the mobile libraries. Manifest polling is not throttled
//! here (`poll_interval` 0): the tests open the same link many times in a row.

use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = tempfile::tempdir()?;
    let mut config = phrkit_server::HostConfig::new(data.path());
    config.poll_interval = std::time::Duration::ZERO;
    let account = phrkit_server::Account::generate("sdk-tests")?;
    let token = account.token().expose().to_owned();
    config.accounts = vec![account];
    let server = phrkit_server::start(config)?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", server.base_url)?;
    writeln!(out, "{token}")?;
    out.flush()?;
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    server.shutdown();
    Ok(())
}
