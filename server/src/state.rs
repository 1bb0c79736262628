//! The shared state behind every route.
//!
//! [`HostState`] is a cheap `Arc` clone handed to axum. It owns the database handle, the blob
//! folder, and the in-memory parts that need no persistence (file tickets, the polling limiter,
//! per-link locks), plus the few settings routes read. The public base URL is fixed when the
//! state is made, because the default (`http://<bound address>`) is known only after binding.

use std::sync::Arc;

use crate::blobs::BlobStore;
use crate::config::HostConfig;
use crate::db::Db;
use crate::error::ServerError;
use crate::locks::LinkLocks;
use crate::secrets::KdfMemory;
use crate::throttle::PollLimiter;
use crate::tickets::Tickets;

/// Name of the SQLite file inside the data folder.
pub const DB_FILE: &str = "shl.sqlite";
/// Name of the blob folder inside the data folder.
pub const BLOB_DIR: &str = "blobs";

/// Passcode hashes computed at once. Each Argon2 run takes ~19 MiB and a core for tens of
/// milliseconds; more requests wait for a place (asynchronously, holding no thread), so a flood
/// of passcode guesses or protected links costs at most this many times that.
pub const KDF_AT_ONCE: usize = 2;

/// Everything the host's routes share. Clone freely; clones share one state.
#[derive(Clone)]
pub struct HostState {
    pub(crate) inner: Arc<Inner>,
}

/// The state's contents.
pub(crate) struct Inner {
    /// Link, file and access records.
    pub db: Db,
    /// The uploaded JWEs.
    pub blobs: BlobStore,
    /// Live file tickets.
    pub tickets: Tickets,
    /// Manifest polling limit.
    pub polls: PollLimiter,
    /// Per-link locks for passcode checks.
    pub locks: LinkLocks,
    /// Places for passcode hashing (Argon2, ~19 MiB and tens of ms each), see [`KDF_AT_ONCE`].
    pub kdf: tokio::sync::Semaphore,
    /// Argon2 working memories not in use (at most [`KDF_AT_ONCE`]).
    pub kdf_memory: std::sync::Mutex<Vec<KdfMemory>>,
    /// Public base URL, no trailing slash.
    pub base_url: String,
    /// Largest upload in bytes.
    pub max_upload: usize,
    /// Server cap on `embedded` length.
    pub embed_cap: usize,
    /// Who may create links.
    pub accounts: Vec<crate::accounts::Account>,
    /// Limits per account and per link.
    pub quotas: crate::config::Quotas,
    /// The FHIR operations' settings and their record store, opened once and shared by every
    /// request (reads run beside an import; see `phrkit::store`), when the host serves them.
    pub fhir: Option<(crate::fhir::FhirConfig, Arc<phrkit::Store>)>,
}

impl HostState {
    /// Open the data folder of `config` (creating the database and blob folder if needed) for a
    /// host reachable at `base_url` (e.g. `https://shl.example.org`). Blocks: file and SQLite
    /// I/O. Errors: the folder cannot be created, the database cannot be opened or is newer.
    pub fn open(config: &HostConfig, base_url: &str) -> Result<HostState, ServerError> {
        std::fs::create_dir_all(&config.data_dir)?;
        phrkit::private_files::restrict_dir(&config.data_dir)?;
        // Create or migrate the record store now, so a bad store fails the start.
        let fhir = match &config.fhir {
            Some(fhir) => Some((fhir.clone(), Arc::new(fhir.open_store()?))),
            None => None,
        };
        Ok(HostState {
            inner: Arc::new(Inner {
                db: Db::open(&config.data_dir.join(DB_FILE))?,
                blobs: BlobStore::open(&config.data_dir.join(BLOB_DIR))?,
                tickets: Tickets::new(config.ticket_ttl),
                polls: PollLimiter::new(config.poll_interval),
                locks: LinkLocks::default(),
                kdf: tokio::sync::Semaphore::new(KDF_AT_ONCE),
                kdf_memory: std::sync::Mutex::new(Vec::with_capacity(KDF_AT_ONCE)),
                base_url: base_url.trim_end_matches('/').to_owned(),
                max_upload: config.max_upload,
                embed_cap: config.embed_cap,
                accounts: config.accounts.clone(),
                quotas: config.quotas,
                fhir,
            }),
        })
    }

    /// The public base URL links are built on, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The manifest URL (also the `U` file URL) of link `id`.
    pub(crate) fn link_url(&self, id: &str) -> String {
        format!("{}/api/shl/{id}", self.inner.base_url)
    }

    /// Run passcode hashing or verification on the blocking pool, at most [`KDF_AT_ONCE`] at a
    /// time, each in one of the reused working memories (see [`KdfMemory`]).
    pub(crate) async fn kdf<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut KdfMemory) -> Result<T, ServerError> + Send + 'static,
    {
        let _place = self
            .inner
            .kdf
            .acquire()
            .await
            .map_err(|_| ServerError::Task)?;
        let pooled = self
            .inner
            .kdf_memory
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop());
        let mut memory = pooled.unwrap_or_default();
        let (result, memory) = self
            .blocking(move || {
                let result = f(&mut memory);
                Ok((result, memory))
            })
            .await?;
        if let Ok(mut pool) = self.inner.kdf_memory.lock() {
            pool.push(memory);
        }
        result
    }

    /// Run blocking work (blob I/O) on the blocking pool.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ServerError> + Send + 'static,
    {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| ServerError::Task)?
    }
}
