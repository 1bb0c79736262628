//! [`PhrStore`]: the app's handle on one record store file.
//!
//! A thin object over [`phrkit::Store`], which is `Send + Sync`: calls from several threads
//! run at once. Writes (imports, deletes) take turns on the store's writer; reads (search,
//! get, export, preview) run on reader connections and never wait for a write, so a UI
//! search returns while an import runs. The `Option` inside makes [`PhrStore::close`] real:
//! later calls fail with `Closed` instead of touching a dead handle, and the file is released
//! as soon as the calls already running return. Every method blocks (SQLite, file I/O,
//! sometimes the network): apps call them off the main thread.

use crate::error::PhrError;
use crate::export::{ExportRequest, ExportResult};
use crate::import::{ImportOptions, ImportReport};
use crate::progress::{Forward, ProgressListener};
use crate::types::{SearchPage, Stats, StoredRecord};
use phrkit::Store;
use phrkit::import::ImportSource;
use phrkit::secret::Secret;
use phrkit::store::Search;
use phrkit::store::crypto::StoreKey;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

/// A personal health record store: one SQLite file of FHIR R4 resources on the device.
///
/// Every method blocks on disk (and `share` on the network): call it off the main thread.
/// Calls from several threads run at once; reads never wait for an import. Resources travel
/// as FHIR JSON strings.
#[derive(uniffi::Object)]
pub struct PhrStore {
    inner: RwLock<Option<Arc<Store>>>,
}

impl PhrStore {
    /// Runs `f` on the open store, or fails with `Closed`. No lock is held while `f` runs.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, PhrError>,
    ) -> Result<T, PhrError> {
        let store = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(PhrError::closed)?;
        f(&store)
    }
}

#[uniffi::export]
impl PhrStore {
    /// Opens the store at `path` (an absolute file path in the app's private storage),
    /// creating it if needed and upgrading its schema. Blocks; call off the main thread.
    ///
    /// `encryptionKey`: 32 random bytes the app keeps in the Android Keystore / iOS Keychain
    /// (phrkit never writes it anywhere). With a key the whole file is encrypted (SQLCipher,
    /// AES-256); without one the store is plain. Errors: `InvalidInput` (empty path, a key
    /// that is not 32 bytes), `KeyRequired` (an encrypted store opened without a key),
    /// `WrongKey`, `Storage` (cannot create or open the file), `Unsupported` (a store written
    /// by a newer phrkit: update the app).
    #[uniffi::constructor(default(encryption_key = None))]
    pub fn open(path: String, encryption_key: Option<Vec<u8>>) -> Result<Arc<Self>, PhrError> {
        if path.trim().is_empty() {
            // SQLite would open a private temporary database: never what an app means.
            return Err(PhrError::InvalidInput {
                reason: "the store path is empty".into(),
            });
        }
        let store = match encryption_key {
            None => Store::open(&path)?,
            Some(bytes) => {
                let raw: [u8; 32] =
                    bytes
                        .try_into()
                        .map_err(|b: Vec<u8>| PhrError::InvalidInput {
                            reason: format!("the encryption key must be 32 bytes, not {}", b.len()),
                        })?;
                Store::open_encrypted(&path, &StoreKey::Raw(raw))?
            }
        };
        Ok(Arc::new(PhrStore {
            inner: RwLock::new(Some(Arc::new(store))),
        }))
    }

    /// Closes the store: every later call fails with `Closed`, and the database file is
    /// released as soon as the calls already running return (this one does not wait for
    /// them). Calling it again does nothing.
    /// (Kotlin: `closeStore()`, because `close()` is AutoCloseable's, which frees the native
    /// object itself; after it, calls throw `IllegalStateException`.)
    pub fn close(&self) {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Imports the file at `path` (`.phr`/NDJSON, a FHIR Bundle or resource, or a `.sphr`
    /// with its `passphrase`) in one all-or-nothing transaction. Blocks; call off the main
    /// thread. Per-resource problems are issues in the report; an exception means nothing
    /// was written: `Storage` (unreadable file), `InvalidInput`, `PassphraseRequired`,
    /// `WrongPassphrase`, `Conflict` (policy `FAIL`), `Cancelled` (the listener said stop).
    #[uniffi::method(default(passphrase = None, listener = None, options))]
    pub fn import_file(
        &self,
        path: String,
        options: ImportOptions,
        passphrase: Option<String>,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ImportReport, PhrError> {
        let source = ImportSource::from_path(&path)?.with_passphrase(passphrase.map(Secret::new));
        self.import(vec![source], &options, listener)
    }

    /// Imports bytes already in memory (a small file picked by the user, a download);
    /// `name` is recorded in the run's Provenance. Otherwise as `importFile`; prefer
    /// `importFile` for anything large.
    #[uniffi::method(default(passphrase = None, listener = None, options))]
    pub fn import_bytes(
        &self,
        name: String,
        bytes: Vec<u8>,
        options: ImportOptions,
        passphrase: Option<String>,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ImportReport, PhrError> {
        let source =
            ImportSource::from_bytes(name, bytes).with_passphrase(passphrase.map(Secret::new));
        self.import(vec![source], &options, listener)
    }

    /// Writes the export `request` asks for to the file at `path`, replacing it only when
    /// the export succeeds (written beside it, then renamed). Blocks; call off the main
    /// thread. Errors: `InvalidInput` (a bad date, type or patient; several patients and
    /// none chosen), `NotFound` (no such patient), `Storage`, `Cancelled`.
    #[uniffi::method(default(listener = None))]
    pub fn export_to_file(
        &self,
        path: String,
        request: ExportRequest,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ExportResult, PhrError> {
        let req = request.to_core()?;
        let target = Path::new(&path);
        let forward = Forward::new(listener);
        let mut file = phrkit::export::ExportFile::create(Some(target))?;
        let summary =
            self.with(|store| forward.finish(store.export(&req, file.file(), &forward)))?;
        file.finish(target)?;
        Ok(ExportResult::new(path, summary))
    }

    /// The current version of `resourceType/id` as FHIR JSON, or null when absent or deleted.
    pub fn get(&self, resource_type: String, id: String) -> Result<Option<String>, PhrError> {
        self.with(|s| Ok(s.get(&resource_type, &id)?.map(|r| r.json)))
    }

    /// Current resources as FHIR JSON, ordered by clinical date then type and id. Every filter
    /// is optional: `resourceType` (an R4 type), `patient` (`123` or `Patient/123`), `start`
    /// and `end` (FHIR partial dates, inclusive by precision; resources without a clinical
    /// date are kept), `limit` (at most this many). Errors: `InvalidInput` naming the filter.
    #[uniffi::method(default(resource_type = None, patient = None, start = None, end = None, limit = None))]
    pub fn search(
        &self,
        resource_type: Option<String>,
        patient: Option<String>,
        start: Option<String>,
        end: Option<String>,
        limit: Option<u32>,
    ) -> Result<Vec<String>, PhrError> {
        let mut search = search_of(resource_type, patient, start, end)?;
        search.limit = limit.map(|l| l as usize);
        self.with(|s| Ok(s.search(&search)?.into_iter().map(|r| r.json).collect()))
    }

    /// One page of current resources, newest clinical date first (undated last), with the
    /// filters of `search` and `pageSize` resources (default 50, at most 1000), after
    /// `pageToken` (null: the first page). Every resource stored when the first page was read
    /// appears on exactly one page, whatever is written between pages. Errors:
    /// `InvalidInput` (a bad filter, or a token of another search).
    #[uniffi::method(default(resource_type = None, patient = None, start = None, end = None, page_size = 50, page_token = None))]
    pub fn search_page(
        &self,
        resource_type: Option<String>,
        patient: Option<String>,
        start: Option<String>,
        end: Option<String>,
        page_size: u32,
        page_token: Option<String>,
    ) -> Result<SearchPage, PhrError> {
        let mut search = search_of(resource_type, patient, start, end)?;
        search.limit = Some(page_size as usize);
        let page = self.with(|s| Ok(s.search_page(&search, page_token.as_deref())?))?;
        Ok(SearchPage {
            records: page.records.into_iter().map(StoredRecord::from).collect(),
            next_page_token: page.next_page_token,
        })
    }

    /// Number of current resources of `resourceType`, or of all types when null.
    #[uniffi::method(default(resource_type = None))]
    pub fn count(&self, resource_type: Option<String>) -> Result<u64, PhrError> {
        self.with(|s| Ok(s.count(resource_type.as_deref())?))
    }

    /// Deletes `resourceType/id` (a new version marks it deleted; history keeps the old
    /// ones). Returns false when there was nothing to delete.
    pub fn delete(&self, resource_type: String, id: String) -> Result<bool, PhrError> {
        self.with(|s| Ok(s.delete(&resource_type, &id)?))
    }

    /// The ids of the Patients in the store, sorted.
    pub fn patient_ids(&self) -> Result<Vec<String>, PhrError> {
        self.with(|s| Ok(s.patient_ids()?))
    }

    /// What the store holds: counts by type, versions, import runs, quarantine, documents.
    pub fn stats(&self) -> Result<Stats, PhrError> {
        self.with(|s| Ok(s.stats()?.into()))
    }

    /// The FHIR CapabilityStatement (JSON) describing what this build of phrkit implements:
    /// formats, `$phr-export` and `$import` with their parameters. Pure; works when closed.
    pub fn capability_statement(&self) -> String {
        phrkit::capability::statement(None).to_string()
    }
}

impl PhrStore {
    /// One import run over `sources`, with the app's listener.
    pub(crate) fn import(
        &self,
        sources: Vec<ImportSource<'static>>,
        options: &ImportOptions,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ImportReport, PhrError> {
        let opts = phrkit::ImportOptions::from(options);
        let forward = Forward::new(listener);
        self.with(|store| {
            Ok(forward
                .finish(store.import(sources, &opts, &forward))?
                .into())
        })
    }
}

/// The core's search for the SDK's filters, checked as `$phr-export` checks its parameters.
fn search_of(
    resource_type: Option<String>,
    patient: Option<String>,
    start: Option<String>,
    end: Option<String>,
) -> Result<Search, PhrError> {
    let mut req = phrkit::ExportRequest::default().with_types(
        resource_type
            .as_deref()
            .into_iter()
            .flat_map(|t| t.split(',')),
    )?;
    if let Some(p) = &patient {
        req = req.with_patient(p)?;
    }
    if let Some(d) = &start {
        req = req.with_start(d)?;
    }
    if let Some(d) = &end {
        req = req.with_end(d)?;
    }
    req.check()?;
    Ok(Search {
        patient: req.patient.clone(),
        types: req.types.clone(),
        dates: req.date_range(),
        limit: None,
    })
}
