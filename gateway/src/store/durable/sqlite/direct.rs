//! Direct connections to the database file for the reset path's reads and
//! the audit log's appends.
//!
//! sqlx runs each `SQLite` connection on a thread of its own and hands every
//! statement and every row across a channel, so each statement costs two
//! thread wake-ups on top of `SQLite`'s own work. A reset start reads the
//! user, the factors, the lock and five history queries, and its audit record
//! is inserted with the rest of its batch: under load those hand-offs, not the
//! queries, were most of the gateway's CPU (`bench/RESULTS.md`). These
//! connections (rusqlite, the same `SQLite` library sqlx links) run a whole
//! group of statements in one blocking task and one transaction — for reads a
//! single snapshot, for writes one commit — with statements prepared once per
//! connection.
//!
//! The sqlx pool keeps everything else, and its migrations own the schema. In
//! WAL mode readers and the writer do not block each other. Writers take
//! turns: every write of this process, on the direct writer or on the pool,
//! holds the one [`Direct::turn`] first, so they queue here and not on
//! `SQLite`'s lock. A connection that finds the lock taken backs off in the
//! busy handler's sleeps (1, 2, 5, 10 ms…): two writers of one process
//! meeting there cost the reset starts of an audit batch 10 ms and more while
//! completes were writing passwords (`bench/RESULTS.md`, hashing isolation).
//! Another process on the same file still meets this one on the lock.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::store::durable::DurableError;

/// Reads running at once (and read connections kept open): enough to keep
/// two cores busy while some reads wait on the disk, few enough to bound
/// memory.
const READERS: usize = 4;

/// Pages of `SQLite`'s cache per connection, in KiB when negative.
const CACHE_KIB: i64 = -8192;

impl From<rusqlite::Error> for DurableError {
    fn from(e: rusqlite::Error) -> Self {
        DurableError(format!("sqlite: {e}"))
    }
}

/// Read or write: how a pool's connections are set up and their
/// transactions begun.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `BEGIN` (a snapshot at the first read) on `query_only` connections.
    Read,
    /// `BEGIN IMMEDIATE`: the write lock first, so that what the transaction
    /// reads (the audit head) cannot change before it writes.
    Write,
}

#[derive(Debug)]
struct Pool {
    kind: Kind,
    size: usize,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Pool {
    fn new(kind: Kind, size: usize) -> Self {
        Self {
            kind,
            size,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
        }
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
        if idle.len() < self.size {
            idle.push(conn);
        }
    }

    fn open(&self, path: &Path) -> Result<Connection, DurableError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)?;
        match self.kind {
            // Read-write, made read-only by `query_only`: a read-only handle on
            // a WAL database needs its shared-memory file to exist already.
            Kind::Read => conn.pragma_update(None, "query_only", true)?,
            // As the pool's connections are set up.
            Kind::Write => {
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.pragma_update(None, "foreign_keys", true)?;
                // Checkpoints are the checkpointer's (below), not the commit's.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            }
        }
        // Plans do not depend on bound values. Without this, binding a value
        // the planner looked at (a `LIMIT ?`, and every parameter once
        // `ANALYZE` has run: the bundled `SQLite` has STAT4) expires the
        // statement, and each use parsed and planned its SQL again.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn begin(&self) -> &'static str {
        match self.kind {
            Kind::Read => "BEGIN",
            Kind::Write => "BEGIN IMMEDIATE",
        }
    }
}

/// The direct connections to one database file.
#[derive(Debug)]
pub(super) struct Direct {
    path: PathBuf,
    reads: Pool,
    /// One writer, whose one permit is also the pool's writes' turn.
    writes: Pool,
}

/// How often the checkpointer copies the write-ahead log into the database.
/// Each checkpoint ends with an `fsync`, and on ext4 the appends' writes wait
/// for it: the stall grows with what the checkpoint copied. Measured with the
/// open loop at 2,000 starts/s: p99 62.6 ms every 2 s, 14–32 ms every 500 ms,
/// 1.9 ms every 100 ms (1.4 ms every 25 ms). An idle checkpoint costs
/// microseconds.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

impl Direct {
    /// The connections to `path`, and a checkpointer thread that lives as long
    /// as they do.
    pub(super) fn new(path: PathBuf) -> Arc<Self> {
        let direct = Arc::new(Self {
            path,
            reads: Pool::new(Kind::Read, READERS),
            writes: Pool::new(Kind::Write, 1),
        });
        let weak = Arc::downgrade(&direct);
        let spawned = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpointer(&weak));
        if let Err(e) = spawned {
            // The pool's connections still checkpoint when the log grows.
            tracing::warn!(error = %e, "no SQLite checkpointer thread");
        }
        direct
    }

    /// A turn at writing to the file: held across each write of the sqlx
    /// pool (a statement or a transaction), as the direct writer holds it
    /// across its transactions.
    pub(super) async fn turn(&self) -> Result<SemaphorePermit<'_>, DurableError> {
        self.writes
            .permits
            .acquire()
            .await
            .map_err(|_| DurableError("the database connections are closed".into()))
    }

    /// Run `read` in one read transaction, off the async workers.
    pub(super) async fn read<T, F>(self: &Arc<Self>, read: F) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DurableError> + Send + 'static,
    {
        self.run(|d| &d.reads, read).await
    }

    /// Run `write` in one `IMMEDIATE` transaction, off the async workers: it
    /// commits when `write` returns `Ok`, and rolls back otherwise.
    pub(super) async fn write<T, F>(self: &Arc<Self>, write: F) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DurableError> + Send + 'static,
    {
        self.run(|d| &d.writes, write).await
    }

    async fn run<T, F>(
        self: &Arc<Self>,
        pool: fn(&Self) -> &Pool,
        work: F,
    ) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DurableError> + Send + 'static,
    {
        let _permit = pool(self)
            .permits
            .acquire()
            .await
            .map_err(|_| DurableError("the database connections are closed".into()))?;
        let this = Arc::clone(self);
        let task = move || {
            let pool = pool(&this);
            let conn = match pool.take() {
                Some(conn) => conn,
                None => pool.open(&this.path)?,
            };
            let result = in_transaction(&conn, pool.begin(), work);
            // A connection whose transaction failed is dropped, not reused.
            if result.is_ok() {
                pool.give(conn);
            }
            result
        };
        tokio::task::spawn_blocking(task)
            .await
            .map_err(|e| DurableError(format!("a database task stopped: {e}")))?
    }
}

/// Copy the write-ahead log into the database every [`CHECKPOINT_EVERY`]
/// while the store lives, a little at a time. An append's commit would
/// otherwise run the checkpoint (`SQLite` does it in the commit that crosses
/// 1,000 pages), copying and syncing megabytes while every reset start of its
/// batch waits: the tail of the start's latency. `PASSIVE` never waits for
/// readers or the writer; what it cannot copy yet, the next one does.
fn checkpointer(direct: &std::sync::Weak<Direct>) {
    let mut conn: Option<Connection> = None;
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(direct) = direct.upgrade() else {
            return;
        };
        if conn.is_none() {
            conn = Connection::open_with_flags(
                &direct.path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok();
        }
        let Some(c) = &conn else { continue };
        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "SQLite checkpoint");
            conn = None;
        }
    }
}

fn in_transaction<T>(
    conn: &Connection,
    begin: &str,
    work: impl FnOnce(&Connection) -> Result<T, DurableError>,
) -> Result<T, DurableError> {
    conn.prepare_cached(begin)?.execute([])?;
    match work(conn) {
        Ok(value) => {
            conn.prepare_cached("COMMIT")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            // The connection is dropped after a failure, which rolls back
            // whatever this could not.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
