//! The store's SQLite connections: one writer, and readers that never wait for it.
//!
//! In WAL mode a reader sees the last committed state while a writer works, but one SQLite
//! connection does one thing at a time. So a store keeps one **writer** connection behind a
//! mutex (imports, deletes, the access log take turns on it) and a small pool of **reader**
//! connections, each answering inside its own read transaction ([`super::Snapshot`]). A
//! search, a preview or an export therefore runs beside an import — on another thread of the
//! same process, or in another process — and sees the store as it was before the import.
//!
//! Readers open lazily and at most [`IDLE_READERS`] are kept: each holds its own page cache
//! (up to [`super::StoreOptions::cache_mib`]), so a store that is only imported into pays for
//! none. An encrypted store keeps its key (zeroed on drop) to key each reader it opens; a
//! passphrase key makes each new reader pay SQLCipher's KDF once, so apps use raw keys.
//!
//! Writes the library makes on the side of a read (the access-log entry an export records)
//! must not make the read wait for an import: [`Connections::write_soon`] runs them now when
//! the writer is free, and otherwise queues them; whoever holds the writer runs the queue
//! when it lets go ([`Writer`]'s drop), and [`Connections::flush`] waits for it explicitly.

use super::crypto::{self, StoreKey};
use super::schema;
use super::write::WriteTx;
use crate::error::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Reader connections kept open between reads.
pub(crate) const IDLE_READERS: usize = 2;

/// How long a connection waits for another process's lock before reporting it busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A write queued until the writer is free; kept (and tried again) while it fails. Each runs
/// in its own transaction.
pub(crate) type Deferred = Box<dyn Fn(&WriteTx<'_>) -> Result<()> + Send + Sync>;

/// The writer, the idle readers, and what each new reader needs.
pub(crate) struct Connections {
    path: PathBuf,
    key: Option<StoreKey>,
    cache_mib: u32,
    writer: Mutex<Connection>,
    idle: Mutex<Vec<Connection>>,
    deferred: Mutex<Vec<Deferred>>,
}

impl Connections {
    /// Opens the writer (creating the file, switching it to WAL, migrating its schema).
    pub(crate) fn open(path: &Path, key: Option<&StoreKey>, cache_mib: u32) -> Result<Self> {
        let mut writer = Connection::open(path)?;
        configure(&writer, key, cache_mib)
            .map_err(|e| crypto::classify_open_error(e, key.is_some()))?;
        // Owner-only before SQLite creates the -wal/-shm files, which copy the store's mode.
        crate::private_files::restrict_store(path)?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| crypto::classify_open_error(e, key.is_some()))?;
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        schema::migrate(&mut writer).map_err(|e| crypto::classify_open_error(e, key.is_some()))?;
        Ok(Connections {
            path: path.to_path_buf(),
            key: key.cloned(),
            cache_mib,
            writer: Mutex::new(writer),
            idle: Mutex::new(Vec::new()),
            deferred: Mutex::new(Vec::new()),
        })
    }

    /// The writer, once the current holder lets go.
    pub(crate) fn writer(&self) -> Writer<'_> {
        Writer {
            connections: self,
            conn: lock(&self.writer),
            run_queue_on_drop: true,
        }
    }

    /// The writer if no one holds it now.
    fn try_writer(&self) -> Option<Writer<'_>> {
        let conn = match self.writer.try_lock() {
            Ok(conn) => conn,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(Writer {
            connections: self,
            conn,
            run_queue_on_drop: false,
        })
    }

    /// A reader connection, from the pool or newly opened.
    pub(crate) fn reader(&self) -> Result<Reader<'_>> {
        let pooled = lock(&self.idle).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&conn, self.key.as_ref(), self.cache_mib)?;
                // A reader never writes, whatever a caller's SQL says.
                conn.pragma_update(None, "query_only", "ON")?;
                conn
            }
        };
        Ok(Reader {
            connections: self,
            conn: Some(conn),
        })
    }

    /// Runs `write` now if the writer is free (and no other process holds the file's write
    /// lock); otherwise queues it for whoever holds the writer next. Errors other than
    /// "busy" are returned.
    pub(crate) fn write_soon(&self, write: Deferred) -> Result<()> {
        if let Some(writer) = self.try_writer() {
            // Another process's import must not hold this call up either: no busy wait.
            writer.busy_timeout(Duration::ZERO)?;
            let result = run_one(&writer, &write);
            writer.busy_timeout(BUSY_TIMEOUT)?;
            match result {
                Err(Error::Storage(e)) if is_busy(e.sqlite()) => {}
                other => return other,
            }
        }
        lock(&self.deferred).push(write);
        Ok(())
    }

    /// Waits for the writer and runs every queued write; `wait` bounds how long it waits for
    /// another process's lock. Returns how many are still queued because that lock stayed
    /// taken; other errors are returned (and the writes stay queued).
    pub(crate) fn flush(&self, wait: Duration) -> Result<usize> {
        let mut writer = self.writer();
        writer.run_queue_on_drop = false;
        writer.busy_timeout(wait)?;
        let ran = writer.run_deferred();
        writer.busy_timeout(BUSY_TIMEOUT)?;
        match ran {
            Ok(()) => Ok(0),
            Err(Error::Storage(e)) if is_busy(e.sqlite()) => Ok(lock(&self.deferred).len()),
            Err(e) => Err(e),
        }
    }

    /// Closes every idle reader, so the writer is the file's only connection (a rekey needs
    /// that). Readers checked out now are closed when they come back.
    pub(crate) fn close_readers(&self) {
        lock(&self.idle).clear();
    }

    /// Replaces the key new readers are opened with (after a rekey).
    pub(crate) fn set_key(&mut self, key: &StoreKey) {
        self.key = Some(key.clone());
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        // Last chance for queued access-log entries (waiting up to the busy timeout for
        // another process); an error has no one to go to. Callers that must know use `flush`.
        let mut writer = self.writer();
        writer.run_queue_on_drop = false;
        let _ = writer.run_deferred();
    }
}

/// The writer connection, held exclusively; queued writes run when it is let go.
pub(crate) struct Writer<'c> {
    connections: &'c Connections,
    conn: MutexGuard<'c, Connection>,
    /// False where the caller runs the queue itself (and has just seen it fail).
    run_queue_on_drop: bool,
}

impl Writer<'_> {
    /// Runs the queued writes in order; stops at the first failure, which stays queued.
    fn run_deferred(&self) -> Result<()> {
        let mut queue = lock(&self.connections.deferred);
        while let Some(write) = queue.first() {
            run_one(&self.conn, write)?;
            drop(queue.remove(0));
        }
        Ok(())
    }
}

impl Deref for Writer<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.run_queue_on_drop && self.conn.is_autocommit() {
            // Failures stay queued for the next holder, or for `flush`.
            let _ = self.run_deferred();
        }
    }
}

/// A reader connection on loan from the pool; goes back when dropped.
pub(crate) struct Reader<'c> {
    connections: &'c Connections,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Only `drop` takes the connection out.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if !conn.is_autocommit() {
            return; // a read transaction left open: close the connection, never reuse it
        }
        let mut idle = lock(&self.connections.idle);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Runs one deferred write in its own transaction.
fn run_one(conn: &Connection, write: &Deferred) -> Result<()> {
    let tx = WriteTx::begin(conn)?;
    write(&tx)?;
    tx.commit()
}

/// Keys (when encrypted) and tunes a new connection.
fn configure(conn: &Connection, key: Option<&StoreKey>, cache_mib: u32) -> Result<()> {
    if let Some(key) = key {
        crypto::unlock(conn, key)?;
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -(i64::from(cache_mib.max(1)) * 1024))?;
    Ok(())
}

/// True for SQLite's "another connection holds the lock" errors.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// A mutex's guard, recovered if a thread panicked while holding it: SQLite transactions
/// keep the file consistent, so the connection stays usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
