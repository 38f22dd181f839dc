//! Direct connections to the database file for the reads of the reset path.
//!
//! sqlx runs each `SQLite` connection on a thread of its own and hands every
//! statement and every row across a channel, so each read costs two thread
//! wake-ups on top of `SQLite`'s own work. A reset start reads the user, the
//! factors, the lock and five history queries: under load those hand-offs,
//! not the queries, were most of the gateway's CPU (`bench/RESULTS.md`).
//! These connections (rusqlite, the same `SQLite` library sqlx links) run a
//! whole group of reads in one blocking task, inside one read transaction —
//! a single snapshot, one lock acquisition, statements prepared once per
//! connection.
//!
//! They only read (`PRAGMA query_only`). Writes stay on the sqlx pool and its
//! migrations own the schema; in WAL mode readers and the writer do not block
//! each other.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::store::durable::DurableError;

/// Reads running at once (and connections kept open): enough to keep two
/// cores busy while some reads wait on the disk, few enough to bound memory.
const READERS: usize = 4;

/// Pages of `SQLite`'s cache per connection, in KiB when negative.
const CACHE_KIB: i64 = -8192;

/// Bytes of the file mapped into memory per connection (reads then copy no
/// pages through `pread`); the file's size bounds what is actually mapped.
const MMAP_BYTES: i64 = 256 << 20;

impl From<rusqlite::Error> for DurableError {
    fn from(e: rusqlite::Error) -> Self {
        DurableError(format!("sqlite: {e}"))
    }
}

/// A bounded set of read connections to one database file.
#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: Semaphore::new(READERS),
        }
    }

    /// Run `read` on a connection inside one read transaction, off the async
    /// workers.
    pub(super) async fn read<T, F>(self: &Arc<Self>, read: F) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, DurableError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| DurableError("the database readers are closed".into()))?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = match this.take() {
                Some(conn) => conn,
                None => this.open()?,
            };
            let result = (|| {
                let tx = conn.transaction()?;
                let value = read(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            // A connection whose transaction failed is dropped, not reused.
            if result.is_ok() {
                this.give(conn);
            }
            result
        })
        .await
        .map_err(|e| DurableError(format!("a database read stopped: {e}")))?
    }

    fn take(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    }

    fn give(&self, conn: Connection) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < READERS {
            idle.push(conn);
        }
    }

    fn open(&self) -> Result<Connection, DurableError> {
        let conn = Connection::open_with_flags(
            &self.path,
            // Read-write, made read-only by `query_only`: a read-only handle
            // on a WAL database needs its shared-memory file to exist already.
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.pragma_update(None, "query_only", true)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }
}
