//! Host configuration.
//!
//! One plain struct with public fields, so the CLI can fill it from flags and tests can shorten
//! timings (ticket lifetime, polling interval) without a builder. [`HostConfig::new`] gives the
//! defaults the spec and the reference server use: 60 s file tickets, 1 manifest request per
//! second per link and recipient, embedded files up to 10,000 characters, uploads up to 64 MiB;
//! and connection limits a public host needs (1,024 connections, 64 per address, 10 s to send
//! headers, 30 s of body silence; module `listen`). No account is configured by default, so a
//! host made with [`HostConfig::new`] creates no links until [`HostConfig::accounts`] lists one
//! (module `accounts`); [`Quotas::default`] bounds what each account and link may store.
//! The default bind address uses port 0 (an ephemeral port) so a library user never collides with
//! another process; `phrkit serve` binds [`DEFAULT_SERVE_BIND`] instead.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The address `phrkit serve` binds when none is given: loopback, port 8787.
pub const DEFAULT_SERVE_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);

/// Largest `embedded` value the host ever returns, whatever the client asks (characters).
pub const DEFAULT_EMBED_CAP: usize = 10_000;

/// Largest accepted upload (the JWE compact string), in bytes: 64 MiB.
pub const DEFAULT_MAX_UPLOAD: usize = 64 * 1024 * 1024;

/// Connections served at once by default (see [`HostConfig::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Connections from one address at once by default.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 64;

/// What one account and one link may hold on the host. Checked when a link is created or a
/// file uploaded, inside the transaction that records it, so concurrent requests cannot pass
/// a limit together; a refused upload stores nothing (403 with the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Files one link may carry (the recipient client reads at most 100). Default 100.
    pub files_per_link: u64,
    /// Bytes of ciphertext one link may carry. Default 256 MiB.
    pub bytes_per_link: u64,
    /// Bytes of ciphertext all of an account's links together may carry, revoked and expired
    /// links included (their files are kept so a `PUT` can reactivate them). Default 2 GiB.
    pub bytes_per_account: u64,
    /// Live links (neither revoked nor expired) an account may have at once. Default 10,000.
    pub live_links_per_account: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            files_per_link: 100,
            bytes_per_link: 256 << 20,
            bytes_per_account: 2 << 30,
            live_links_per_account: 10_000,
        }
    }
}

/// How to run the SMART Health Link host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Folder holding `shl.sqlite` and the `blobs/` folder; created if missing.
    pub data_dir: PathBuf,
    /// Address to listen on. Default `127.0.0.1:0` (an ephemeral port).
    pub bind: SocketAddr,
    /// Base URL put in manifest URLs and file `location`s, without a trailing slash, e.g.
    /// `https://shl.example.org`. Default `http://<bound address>`.
    pub public_url: Option<String>,
    /// Minimum time between two manifest requests for the same link by the same recipient;
    /// a faster request gets 429 with `Retry-After`. `Duration::ZERO` disables the check.
    /// Default 1 s.
    pub poll_interval: Duration,
    /// Lifetime of a file `location` ticket (single use). Default 60 s.
    pub ticket_ttl: Duration,
    /// Largest accepted upload body in bytes; larger gets 413. Default 64 MiB.
    pub max_upload: usize,
    /// Server cap on the length of an `embedded` file; the client's `embeddedLengthMax` can only
    /// lower it. Default 10,000.
    pub embed_cap: usize,
    /// Connections served at once; more wait in the kernel's backlog until one ends.
    /// Default [`DEFAULT_MAX_CONNECTIONS`] (keep it below the process's file-descriptor limit).
    pub max_connections: usize,
    /// Connections from one client address at once (an IPv6 /64 counts as one); one more is
    /// closed at once. 0 turns the check off, which a host behind a reverse proxy needs (every
    /// connection then comes from the proxy). Default [`DEFAULT_MAX_CONNECTIONS_PER_IP`].
    pub max_connections_per_ip: usize,
    /// Time a client has to send a request's headers, and how long a kept-alive connection may
    /// sit idle between requests; then the connection is closed. Default 10 s.
    pub header_timeout: Duration,
    /// Longest pause between two pieces of a request body; then the request fails (400, or
    /// 408 for `$import`, which rolls back). Default 30 s.
    pub body_timeout: Duration,
    /// Who may create links (`POST /api/shl` with `Authorization: Bearer <account token>`).
    /// Default none: the host refuses every creation with 401 until one is configured.
    pub accounts: Vec<crate::accounts::Account>,
    /// Limits per account and per link. Default [`Quotas::default`].
    pub quotas: Quotas,
    /// The FHIR operations (`/metadata`, `$phr-export`, `$import`) on a record store; `None`
    /// (the default) serves only the SMART Health Link routes.
    pub fhir: Option<crate::fhir::FhirConfig>,
}

impl HostConfig {
    /// Defaults for a host keeping its data in `data_dir` (see the field docs).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            data_dir: data_dir.into(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            public_url: None,
            poll_interval: Duration::from_secs(1),
            ticket_ttl: Duration::from_secs(60),
            max_upload: DEFAULT_MAX_UPLOAD,
            embed_cap: DEFAULT_EMBED_CAP,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            accounts: Vec::new(),
            quotas: Quotas::default(),
            fhir: None,
        }
    }
}
