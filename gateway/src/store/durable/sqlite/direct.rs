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
//! group of statements in one transaction — for reads a single snapshot
//! ([`Direct::read`]), for writes one commit ([`Direct::write`]) — on the
//! calling thread unless `SQLite` would make it wait (or, for writes, a
//! password is being hashed), with statements prepared once per connection.
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

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::directory::hasher;
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

    /// A new connection, `setup` (how it waits for locks) before anything
    /// that may need one.
    fn open(
        &self,
        path: &Path,
        setup: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<Connection, DurableError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        setup(&conn)?;
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
                // No `journal_size_limit`: the log file, started again, is
                // written over in place, never cut back ([`checkpointer`]).
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
/// Each checkpoint syncs the log and the file, and an append's write into
/// the log's last page can wait for the log's sync (`bench/RESULTS.md`,
/// eighth look; the ninth timed those waits: 9 ms in 4 s at 8,000 starts/s).
/// Measured (with `fsync`, before the seventh look) with the
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
        self.writes.permits.acquire().await.map_err(|_| closed())
    }

    /// Run `read` in one read transaction, here on the calling (async)
    /// thread, and only if it would have to wait for a lock, again on a
    /// blocking thread that may wait.
    ///
    /// A start's reads (then ~25 statements on pages in memory, about 50 µs;
    /// now mostly one, `read_model.rs`) cost less than handing them to a
    /// blocking thread and back: run inline, the closed loop's peak rose by
    /// a sixth (`bench/RESULTS.md`, fourth look). What must not happen on an
    /// async worker is the busy handler's sleeping: with WAL readers do not
    /// wait for the writer, but another process can still hold the file (a
    /// recovery, an exclusive lock). So here the busy handler never waits:
    /// it notes that `SQLite` asked to, the read fails, and it runs again off
    /// the workers with the usual 5 s timeout. `read` is `Fn` for that: a
    /// failed read transaction has done nothing, so running it again is
    /// harmless.
    pub(super) async fn read<T, F>(self: &Arc<Self>, read: F) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, DurableError> + Send + 'static,
    {
        let _permit = self.reads.permits.acquire().await.map_err(|_| closed())?;
        if let Some(here) = self.here_unless_it_would_wait(&self.reads, &read) {
            return here;
        }
        tracing::debug!("a read found the database locked; trying again where it may wait");
        self.where_it_may_wait(|this| &this.reads, read).await
    }

    /// Run `write` in one `IMMEDIATE` transaction: it commits when `write`
    /// returns `Ok`, and rolls back otherwise. Once this process's turn is
    /// taken (awaited, not waited for on the thread), it runs here on the
    /// calling thread, and as in [`Self::read`], only if `SQLite` would make
    /// it wait for the file's lock (another process writing), again on a
    /// blocking thread that may wait; `write` is `Fn` for that. While
    /// passwords are being hashed ([`hasher::hashing`]) it runs on a
    /// blocking thread from the start.
    ///
    /// The writes here are the audit batches' commits: the pages they change
    /// written into the log without a sync (`synchronous = NORMAL`), tens of
    /// µs. Run on a blocking thread, each cost two thread wake-ups on top and
    /// a third to resume the writer task; inline, the closed loop's peak
    /// rose by a quarter and the CPU per start fell by 7 %
    /// (`bench/RESULTS.md`, tenth look). The price: a write into the log
    /// that waits for the disk (a page under writeback, at most 1.3 ms in
    /// the ninth look's trace) holds an async worker, not a blocking thread.
    /// Next to 50 completes, when argon2 has a core and the workers share
    /// the other, that price was higher than the hand-offs: `POST /v1/reset`'s
    /// p99 rose past twice its p99 alone in four runs of six, against none
    /// with every commit on a blocking thread (same look); so the commit
    /// leaves the workers while anything is hashing.
    pub(super) async fn write<T, F>(self: &Arc<Self>, write: F) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, DurableError> + Send + 'static,
    {
        let _permit = self.writes.permits.acquire().await.map_err(|_| closed())?;
        if !hasher::hashing()
            && let Some(here) = self.here_unless_it_would_wait(&self.writes, &write)
        {
            return here;
        }
        self.where_it_may_wait(|this| &this.writes, write).await
    }

    /// `work` in a session of `pool` on this thread, whose busy handler
    /// never waits; `None` when `SQLite` asked it to wait (the transaction
    /// then failed having done nothing).
    fn here_unless_it_would_wait<T>(
        &self,
        pool: &Pool,
        work: impl FnOnce(&Connection) -> Result<T, DurableError>,
    ) -> Option<Result<T, DurableError>> {
        WOULD_WAIT.set(false);
        let here = self.session(pool, |conn| conn.busy_handler(Some(would_wait)), work);
        (!WOULD_WAIT.replace(false)).then_some(here)
    }

    /// `work` in a session of the pool `pool` picks, on a blocking thread
    /// where it may wait for a lock (the 5 s busy timeout).
    async fn where_it_may_wait<T, F>(
        self: &Arc<Self>,
        pool: fn(&Self) -> &Pool,
        work: F,
    ) -> Result<T, DurableError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DurableError> + Send + 'static,
    {
        let this = Arc::clone(self);
        off_workers(move || this.session(pool(&this), |conn| conn.busy_timeout(BUSY_TIMEOUT), work))
            .await
    }

    /// `work` in one transaction on a connection of `pool` (an idle one, or
    /// a new one), after `setup` on it (how it waits for locks).
    fn session<T>(
        &self,
        pool: &Pool,
        setup: impl FnOnce(&Connection) -> rusqlite::Result<()>,
        work: impl FnOnce(&Connection) -> Result<T, DurableError>,
    ) -> Result<T, DurableError> {
        let conn = match pool.take() {
            Some(conn) => {
                setup(&conn)?;
                conn
            }
            None => pool.open(&self.path, setup)?,
        };
        let result = in_transaction(&conn, pool.begin(), work);
        // A connection whose transaction failed is dropped, not reused.
        if result.is_ok() {
            pool.give(conn);
        }
        result
    }
}

/// How long a connection off the async workers waits for a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

thread_local! {
    /// Set by [`would_wait`]: `SQLite` asked a read on this thread to wait.
    static WOULD_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// The busy handler of a read on an async worker: never wait, only say that
/// `SQLite` asked to.
fn would_wait(_tries: i32) -> bool {
    WOULD_WAIT.set(true);
    false
}

/// `work` on a blocking thread, where it may wait.
async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DurableError> + Send + 'static,
) -> Result<T, DurableError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DurableError(format!("a database task stopped: {e}")))?
}

fn closed() -> DurableError {
    DurableError("the database connections are closed".into())
}

/// Frames in the write-ahead log (4 KiB pages) past which the checkpointer
/// starts it again from the beginning: 16 MiB.
const RESTART_FRAMES: i64 = 4096;

/// How long a restart waits for the reads still in the log to end. Reads of
/// a start take microseconds; one that takes longer (a long admin query, a
/// process elsewhere) makes the restart give up and try at the next turn.
const RESTART_WAIT: Duration = Duration::from_millis(20);

/// Copy the write-ahead log into the database every [`CHECKPOINT_EVERY`]
/// while the store lives, a little at a time. An append's commit would
/// otherwise run the checkpoint (`SQLite` does it in the commit that crosses
/// 1,000 pages), copying and syncing megabytes while every reset start of its
/// batch waits: the tail of the start's latency. `PASSIVE` never waits for
/// readers or the writer; what it cannot copy yet, the next one does.
///
/// But under a steady load a `PASSIVE` checkpoint never catches up with the
/// writer, and `SQLite` starts the log again from its beginning only when one
/// has: the log grew for as long as the load lasted (154 MB in a minute of
/// reset starts, `bench/RESULTS.md`, sixth look), and the file stayed that
/// size afterwards. So once the log is past [`RESTART_FRAMES`], the
/// checkpointer takes the writers' turn (this process's commits wait on it,
/// not on `SQLite`'s lock), copies the rest and restarts the log
/// (`RESTART`, waiting at most [`RESTART_WAIT`] for reads still in it).
/// The writer then writes the log over from its beginning, so the file stays
/// a little past [`RESTART_FRAMES`] frames.
///
/// The file is not cut back after a restart (`journal_size_limit`): `SQLite`
/// cuts it in the first commit after the restart, and that truncate (freeing
/// some 12 MiB of blocks on ext4) held that commit, and every reset start
/// waiting on it, for 8 to 16 ms at each restart
/// (`bench/scripts/wal_stall.py`; without the cut, 5 to 7 ms at most and
/// rarely over 5). Written over in place, the restart costs the commits only
/// the checkpoint's last syncs (`bench/RESULTS.md`, seventh look).
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
            .and_then(|c| {
                // Only `RESTART` waits (`PASSIVE` never does).
                c.busy_timeout(RESTART_WAIT)?;
                Ok(c)
            })
            .ok();
        }
        let Some(c) = &conn else { continue };
        if let Err(e) = checkpoint(&direct, c) {
            tracing::debug!(error = %e, "SQLite checkpoint");
            conn = None;
        }
    }
}

/// One turn of the checkpointer ([`checkpointer`]).
fn checkpoint(direct: &Direct, conn: &Connection) -> rusqlite::Result<()> {
    // (busy, frames in the log, frames copied)
    let log: i64 = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?;
    if log < RESTART_FRAMES {
        return Ok(());
    }
    // The semaphore is tokio's, which needs no runtime to wait on.
    let Ok(_turn) = futures::executor::block_on(direct.writes.permits.acquire()) else {
        return Ok(());
    };
    conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in WAL mode with a row in `t`, and no connection left open.
    fn database(dir: &Path) -> PathBuf {
        let path = dir.join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (7);",
        )
        .unwrap();
        path
    }

    fn read_x(conn: &Connection) -> Result<i64, DurableError> {
        Ok(conn.query_row("SELECT x FROM t", [], |row| row.get(0))?)
    }

    /// What a read or a write answers: `t`'s value, and the thread it ran on.
    type Ran = Result<(i64, std::thread::ThreadId), DurableError>;

    async fn read_here(direct: Arc<Direct>) -> Ran {
        direct
            .read(|conn| Ok((read_x(conn)?, std::thread::current().id())))
            .await
    }

    /// Adds one to `t`'s value.
    async fn write_here(direct: Arc<Direct>) -> Ran {
        direct
            .write(|conn| {
                conn.execute("UPDATE t SET x = x + 1", [])?;
                Ok((read_x(conn)?, std::thread::current().id()))
            })
            .await
    }

    /// Reads and writes run on the thread that asked for them: a write is
    /// an audit batch's commit, tens of µs that a hand-off to a blocking
    /// thread and back cost more than (`bench/RESULTS.md`, tenth look).
    #[tokio::test(flavor = "current_thread")]
    async fn reads_and_writes_run_on_the_calling_thread() {
        let dir = tempfile::tempdir().unwrap();
        let direct = Direct::new(database(dir.path()));
        let here = std::thread::current().id();
        assert_eq!(read_here(direct.clone()).await.unwrap(), (7, here));
        assert_eq!(write_here(direct.clone()).await.unwrap(), (8, here));
        assert_eq!(read_here(direct).await.unwrap(), (8, here));
    }

    /// While a password is being hashed, a write (an audit commit) runs on
    /// a blocking thread: argon2 has a core then, and a commit that waits
    /// for the disk must not hold a worker too (`bench/RESULTS.md`, tenth
    /// and eleventh looks). Reads stay here; once the hash is done, writes
    /// come back.
    #[tokio::test(flavor = "current_thread")]
    async fn writes_leave_the_workers_while_a_password_is_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let direct = Direct::new(database(dir.path()));
        let here = std::thread::current().id();
        let hasher = hasher::Hasher::with_concurrency(1);
        let (release, held) = std::sync::mpsc::channel::<()>();
        let hashing = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run(move || held.recv().is_ok()).await }
        });
        while !hasher::hashing() {
            tokio::task::yield_now().await;
        }

        let (x, there) = write_here(direct.clone()).await.unwrap();
        assert_eq!(x, 8);
        assert_ne!(there, here, "the write ran off the async thread");
        assert_eq!(read_here(direct.clone()).await.unwrap(), (8, here));

        release.send(()).unwrap();
        assert!(hashing.await.unwrap());
        assert!(!hasher::hashing());
        assert_eq!(write_here(direct).await.unwrap(), (9, here));
    }

    /// A read or a write that meets a lock waits for it off the async
    /// threads. Another connection holds the whole file (an exclusive lock,
    /// kept, as another process could): on a one-thread runtime, timers
    /// still fire while the operation waits, and it answers, from another
    /// thread, once the lock is gone. The next one runs here again.
    async fn meets_a_lock_and_waits_off_the_async_thread<F>(op: impl Fn(Arc<Direct>) -> F, x: i64)
    where
        F: Future<Output = Ran> + Send + 'static,
    {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;")
            .unwrap();
        let direct = Direct::new(path);
        let here = std::thread::current().id();
        let waiting = tokio::spawn(op(direct.clone()));
        // This thread is free while the operation waits: timers fire. (One
        // that waited here would have blocked it until the busy timeout, 5 s,
        // and then failed: it would be finished.)
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!waiting.is_finished(), "it waits for the lock");

        drop(holder);
        let (value, there) = waiting.await.unwrap().unwrap();
        assert_eq!(value, x);
        assert_ne!(there, here, "the waiting one ran off the async thread");
        let (_, again) = op(direct).await.unwrap();
        assert_eq!(again, here);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_that_meets_a_lock_waits_off_the_async_thread() {
        meets_a_lock_and_waits_off_the_async_thread(read_here, 7).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_that_meets_a_lock_waits_off_the_async_thread() {
        meets_a_lock_and_waits_off_the_async_thread(write_here, 8).await;
    }

    /// `SQLite` is built to sync with `fdatasync` (`.cargo/config.toml`):
    /// its default, `fsync`, also writes the file's times at every sync,
    /// and the reset starts' tail was longer with it (`bench/RESULTS.md`,
    /// seventh look). The build of `libsqlite3-sys` reads the same variable
    /// (`cargo:rerun-if-env-changed`), so this guards the setting.
    #[test]
    fn sqlite_is_built_to_sync_data_only() {
        let flags = option_env!("LIBSQLITE3_FLAGS").unwrap_or_default();
        assert!(
            flags.split_whitespace().any(|f| f == "-DHAVE_FDATASYNC=1"),
            "LIBSQLITE3_FLAGS = {flags:?}"
        );
    }

    /// `SQLite` is built without the two locks that every connection of the
    /// process would share (`.cargo/config.toml`): `libsqlite3-sys` turns on
    /// `SQLITE_ENABLE_MEMORY_MANAGEMENT`, which puts all connections' page
    /// caches behind one mutex taken at every page fetched, and the memory
    /// statistics take another at every allocation. Readers on the async
    /// workers, the writer and the checkpointer met on them (`bench/RESULTS.md`,
    /// ninth look). Read from the library linked, not from the build's
    /// environment.
    #[test]
    fn sqlite_is_built_without_process_wide_locks() {
        let conn = Connection::open_in_memory().unwrap();
        let mut options = conn.prepare("PRAGMA compile_options").unwrap();
        let options: Vec<String> = options
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }

    /// Under writes without a pause, a `PASSIVE` checkpoint never catches up
    /// and `SQLite` never starts the log again by itself; the checkpointer
    /// does, once the log is past [`RESTART_FRAMES`], so the file stays
    /// under twice that. 3,000 commits of a 16 KiB row each write some
    /// 15,000 frames (60 MB); without the restart the file passes 32 MiB.
    /// The commits come at most two a millisecond (some 850 frames between
    /// two turns of the checkpointer), so that the bound holds on a machine
    /// of any speed: unpaced, a fast one wrote 9,000 frames before the
    /// checkpointer's turn came. The file is written over in place, never
    /// cut back (a truncate in the commit after each restart): its size never
    /// falls.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_started_again_under_writes_without_a_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = database(dir.path());
        let direct = Direct::new(path.clone());
        let row = vec![7_u8; 16 * 1024];
        let mut sizes = Vec::new();
        for i in 0..3000 {
            let row = row.clone();
            direct
                .write(move |conn| {
                    conn.execute("INSERT INTO t VALUES (?1)", [&row])?;
                    Ok(())
                })
                .await
                .unwrap();
            if i % 2 == 1 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if i % 100 == 0 {
                let wal = std::fs::metadata(dir.path().join("t.db-wal")).unwrap();
                sizes.push(wal.len());
            }
        }
        let rows = direct
            .read(|conn| {
                Ok(conn.query_row("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(rows, 3001);
        let frame = 4096 + 24;
        let largest = sizes.iter().max().copied().unwrap_or(0);
        assert!(
            largest < u64::try_from(2 * RESTART_FRAMES * frame).unwrap(),
            "the log reached {largest} bytes"
        );
        assert!(
            sizes.windows(2).all(|w| w[1] >= w[0]),
            "the log file was cut back: {sizes:?}"
        );
    }
}
