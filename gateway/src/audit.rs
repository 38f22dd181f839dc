//! The audit log: an append-only, hash-chained record of every attempt, decision,
//! factor try, enrolment change and reset.
//!
//! Each record's `hash` is an HMAC-SHA-256, keyed by the server key, over the
//! previous record's hash and the record's own fields (each length-prefixed), so
//! changing any field, deleting a row or reordering rows breaks the chain at that
//! point; [`verify`] walks it. Because the chain is keyed, someone who can write
//! to the database but does not hold the server key cannot re-hash the records
//! after an edit. Truncating the tail cannot be seen from the chain alone:
//! `audit verify` prints the head hash so that it can be anchored elsewhere.
//!
//! Appends go through one writer task that commits whatever has queued up in one
//! transaction (group commit), after letting the requests already under way
//! queue theirs ([`gather`]): a burst of requests costs one commit, not one
//! each. Callers of [`AuditLog::record`] await the commit, so an acknowledged
//! record is durable. [`AuditLog::submit`] only queues while the writer is
//! busy: the one caller is a reset start whose flow dies with the process
//! (the in-memory store) and raises no alert, whose record then costs its
//! answer no wait for the disk;
//! the writer keeps such a record until it is committed (through failed
//! commits too, without appending again one that a commit reported as
//! failed had written: [`drop_landed`]), and commits in order, so any later
//! record of the same process that was awaited was committed after it
//! ([`AuditLog::submit`] says what that guarantees).
//! Several gateway processes sharing a database have a writer each: the store
//! appends a batch only right after the head it was chained on, and a writer
//! that lost the race re-chains its batch on the new head under the store's
//! append lock, so the log stays one chain and every writer gets its turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::crypto::ServerKey;
use crate::store::durable::{AuditRecord, AuditStore, DurableError, OutboxMessage};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Largest batch committed at once.
const MAX_BATCH: usize = 256;

/// Yields a batch waits at most for more records ([`gather`]).
const GATHER_YIELDS: usize = 4;

/// How long the writer waits before trying again to commit queued records
/// ([`AuditLog::submit`]) after a failed commit, if nothing new comes first.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// What a caller wants recorded; the writer assigns `seq` and the hashes.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: String,
    pub kind: &'static str,
    pub subject: String,
    /// The event's JSON, serialised once when the event is made.
    pub data: String,
    /// A webhook message committed with the record ([`AuditRecord::alert`]).
    pub alert: Option<OutboxMessage>,
}

impl AuditEvent {
    /// An event at `now` about `subject` (an account name, flow id, …).
    pub fn new(
        now: std::time::SystemTime,
        kind: &'static str,
        subject: impl Into<String>,
        data: impl Serialize,
    ) -> Self {
        Self {
            at: crate::time::rfc3339(now),
            kind,
            subject: subject.into(),
            // Straight to text: no `serde_json::Value` to build and drop.
            data: serde_json::to_string(&data).unwrap_or_else(|_| "null".to_owned()),
            alert: None,
        }
    }

    /// The same event, raising `alert` in the same transaction.
    #[must_use]
    pub fn with_alert(mut self, alert: Option<OutboxMessage>) -> Self {
        self.alert = alert;
        self
    }
}

type Reply = oneshot::Sender<Result<(), DurableError>>;

/// What the writer is handed.
#[derive(Debug)]
enum Entry {
    /// A record whose caller waits for its commit ([`AuditLog::record`]).
    Awaited(AuditEvent, Reply),
    /// A record already answered for ([`AuditLog::submit`]): kept until it
    /// is committed.
    Queued(AuditEvent),
    /// A record whose caller waits for its commit and which, should that
    /// commit fail, is kept as [`Entry::Queued`] ([`AuditLog::keep`]).
    Kept(AuditEvent, Reply),
    /// Answered once everything handed over before it has been committed, or
    /// has failed to ([`AuditLog::settled`]).
    Barrier(oneshot::Sender<()>),
}

impl Entry {
    fn event(&self) -> Option<&AuditEvent> {
        match self {
            Self::Awaited(event, _) | Self::Queued(event) | Self::Kept(event, _) => Some(event),
            Self::Barrier(_) => None,
        }
    }
}

/// Handle to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Entry>,
    alerts: Arc<Notify>,
    status: Arc<WriterStatus>,
}

/// What the writer tells [`AuditLog::submit`].
#[derive(Debug, Default)]
struct WriterStatus {
    /// The last commit failed (or, before one, looking in the log for what a
    /// failed commit wrote after all): [`AuditLog::submit`] then waits for
    /// its record's commit, so that a store that is down refuses what needs
    /// it.
    failing: AtomicBool,
    /// The writer has a batch in hand (gathering, waiting for the file's
    /// turn, committing): [`AuditLog::submit`] queues only then.
    busy: AtomicBool,
}

impl AuditLog {
    /// Start the writer over `store`.
    pub fn spawn(store: Arc<dyn AuditStore>, key: ServerKey) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let alerts = Arc::new(Notify::new());
        let status = Arc::new(WriterStatus::default());
        tokio::spawn(writer(store, key, rx, alerts.clone(), status.clone()));
        Self { tx, alerts, status }
    }

    /// Notified after a commit that queued webhook messages: the dispatcher
    /// waits on it to send at once rather than at its next poll.
    pub fn alerts(&self) -> Arc<Notify> {
        self.alerts.clone()
    }

    /// Append one record and wait until it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), DurableError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Entry::Awaited(event, reply))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Append one record that must not be lost, about something that cannot
    /// be undone (a password already changed): waits for the commit like
    /// [`Self::record`], and when that fails the record stays with the
    /// writer, which commits it once the store is back (while this process
    /// lives; never twice: [`drop_landed`]). An error therefore says the
    /// record is not committed *yet*.
    pub async fn keep(&self, event: AuditEvent) -> Result<(), DurableError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send(Entry::Kept(event, reply))
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    /// Append one record without waiting for its commit when the writer is
    /// busy with a batch (under load, or while a checkpoint holds the file);
    /// when it is idle, or while commits fail, the same as [`Self::record`]
    /// (a commit then costs its caller some 100 µs, and a failure is heard).
    /// An idle gateway therefore answers a start after its record is in the
    /// file, as before, and readers in other processes (`audit export`)
    /// find it there.
    ///
    /// For a record whose loss could matter only together with the process:
    /// a reset start's, when its flow lives in this process's memory (the
    /// in-memory store) and it raises no alert (`bench/RESULTS.md`, twelfth
    /// look). The writer keeps it through failed commits until one succeeds,
    /// and commits records in the order they came, so it is lost only if the
    /// process ends first, and then the flow it started is gone as well. Any
    /// record this process commits after it (the flow's next audited step,
    /// awaited) is committed with it or after it. A graceful shutdown waits
    /// for it ([`Self::settled`]).
    pub async fn submit(&self, event: AuditEvent) -> Result<(), DurableError> {
        if self.status.failing.load(Ordering::Relaxed) || !self.status.busy.load(Ordering::Relaxed)
        {
            return self.record(event).await;
        }
        self.tx
            .send(Entry::Queued(event))
            .await
            .map_err(|_| stopped())
    }

    /// Wait until every record handed over before this call has been
    /// committed, or its commit has failed: readers of the log (the admin
    /// API) see what this process has answered for, and a stopping node
    /// leaves nothing queued.
    pub async fn settled(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Entry::Barrier(reply)).await.is_ok() {
            let _ = done.await;
        }
    }
}

fn stopped() -> DurableError {
    DurableError("audit writer stopped".into())
}

async fn writer(
    store: Arc<dyn AuditStore>,
    key: ServerKey,
    mut rx: mpsc::Receiver<Entry>,
    alerts: Arc<Notify>,
    status: Arc<WriterStatus>,
) {
    let mut head: Option<(i64, String)> = None;
    // Between turns, only queued records that a failed commit left.
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // After a commit failed once its append had been tried: the head it was
    // chained on. Its records may be in the log all the same (the answer
    // to `COMMIT` lost, or a call that timed out after sending it).
    let mut unsure: Option<i64> = None;
    loop {
        if batch.is_empty() {
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        } else {
            // Try again with whatever comes meanwhile, or alone after a pause.
            let room = MAX_BATCH.saturating_sub(batch.len()).max(1);
            let came = tokio::time::timeout(RETRY_AFTER, rx.recv_many(&mut batch, room)).await;
            if came == Ok(0) {
                // Every handle is gone: nothing will come, so only the pause.
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
        status.busy.store(true, Ordering::Relaxed);
        gather(&mut rx, &mut batch).await;
        let result = match drop_landed(store.as_ref(), &mut unsure, &mut batch).await {
            Ok(checked) => {
                if checked {
                    // The store answered: what follows may be answered at once.
                    status.failing.store(false, Ordering::Relaxed);
                }
                commit_batch(
                    store.as_ref(),
                    &key,
                    &mut head,
                    &mut unsure,
                    &batch,
                    &status,
                )
                .await
            }
            Err(e) => {
                status.failing.store(true, Ordering::Relaxed);
                Err(e)
            }
        };
        if result.is_ok()
            && batch
                .iter()
                .filter_map(Entry::event)
                .any(|event| event.alert.is_some())
        {
            alerts.notify_one();
        }
        batch = answer(batch, &result);
        status.busy.store(false, Ordering::Relaxed);
    }
}

/// Commit the batch's records, if it has any; after a failure that may hide
/// a commit, note the head it was chained on in `unsure` ([`drop_landed`]).
async fn commit_batch(
    store: &dyn AuditStore,
    key: &ServerKey,
    head: &mut Option<(i64, String)>,
    unsure: &mut Option<i64>,
    batch: &[Entry],
    status: &WriterStatus,
) -> Result<(), DurableError> {
    let events: Vec<&AuditEvent> = batch.iter().filter_map(Entry::event).collect();
    if events.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut sent_after = None;
    let result = commit(store, key, head, &events, &mut sent_after).await;
    crate::metrics::store_call("durable", "audit_commit", started.elapsed());
    status.failing.store(result.is_err(), Ordering::Relaxed);
    if result.is_err() {
        *unsure = sent_after;
    }
    result
}

/// Tell the batch's callers how its commit went; what is left, the queued
/// records of a failed commit, is tried again.
fn answer(batch: Vec<Entry>, result: &Result<(), DurableError>) -> Vec<Entry> {
    let mut kept = Vec::new();
    for entry in batch {
        match entry {
            Entry::Awaited(_, reply) => {
                let _ = reply.send(
                    result
                        .as_ref()
                        .copied()
                        .map_err(|e| DurableError(e.0.clone())),
                );
            }
            Entry::Kept(event, reply) => {
                let _ = reply.send(
                    result
                        .as_ref()
                        .copied()
                        .map_err(|e| DurableError(e.0.clone())),
                );
                if result.is_err() {
                    kept.push(Entry::Queued(event));
                }
            }
            Entry::Queued(_) if result.is_err() => kept.push(entry),
            Entry::Queued(_) => {}
            Entry::Barrier(reply) => {
                let _ = reply.send(());
            }
        }
    }
    if let Err(e) = result
        && !kept.is_empty()
    {
        tracing::error!(error = %e, queued = kept.len(), "audit records not committed yet; trying again");
    }
    kept
}

/// Before queued records that a failed commit left are tried again: drop
/// those that are in the log already, because that commit was written after
/// all (`unsure`: the head it was chained on). First wait for it, should it
/// still be under way in the database (a call that timed out after sending
/// `COMMIT`): taking the store's append lock with nothing to append waits
/// for every append in progress. Its records are then in the log after that
/// head or not at all (a commit is all or nothing), with other writers'
/// records perhaps before or after them; a queued record is recognised by its
/// time, kind, subject and data (a reset start's data carries its flow's id,
/// so two are never alike). Awaited records were answered with the failure,
/// so they are not tried again either way.
///
/// `Ok(true)` when it looked (the store answered), `Ok(false)` when there was
/// nothing to look for.
async fn drop_landed(
    store: &dyn AuditStore,
    unsure: &mut Option<i64>,
    batch: &mut Vec<Entry>,
) -> Result<bool, DurableError> {
    let Some(after) = *unsure else {
        return Ok(false);
    };
    if !batch.iter().any(|entry| matches!(entry, Entry::Queued(_))) {
        *unsure = None;
        return Ok(false);
    }
    store
        .audit_append_exclusive(Arc::new(|_| Vec::new()))
        .await?;
    // Which entries of the batch are in the log; looked for until none is left.
    let mut landed = vec![false; batch.len()];
    let mut left = batch
        .iter()
        .filter(|entry| matches!(entry, Entry::Queued(_)))
        .count();
    let mut from = after;
    while left > 0 {
        let page = store.audit_page(from, 1000).await?;
        let Some(last) = page.last() else {
            break;
        };
        from = last.seq;
        for r in &page {
            let found = batch.iter().zip(&landed).position(|(entry, &done)| {
                !done
                    && matches!(entry, Entry::Queued(e)
                        if e.at == r.at && e.kind == r.kind && e.subject == r.subject && e.data == r.data)
            });
            if let Some(i) = found {
                landed[i] = true;
                left -= 1;
            }
        }
    }
    *unsure = None;
    let dropped = landed.iter().filter(|&&done| done).count();
    if dropped > 0 {
        tracing::warn!(
            records = dropped,
            "queued audit records were committed by a commit that reported a failure; not appended again"
        );
        let mut done = landed.into_iter();
        batch.retain(|_| !done.next().unwrap_or(false));
    }
    Ok(true)
}

/// Let the requests already under way reach the log before it commits.
///
/// A commit costs about the same whatever its size: a lock, the pages it
/// changes written to the database's log, and the writer task's wake-up
/// (for `SQLite`, while passwords are being hashed, also a hand-off to a
/// blocking thread and back). Committing as soon as anything had queued
/// made batches of one to four: at 3,500 reset starts a second `SQLite`
/// committed some 2,700 times a second, a fifth of the gateway's CPU
/// (`bench/RESULTS.md`, sixth look). So the writer first yields: the tasks already ready run (tokio
/// resumes a yielded task after those and after polling for I/O), and the
/// requests among them queue their records. While a yield brings more, it
/// yields again, [`GATHER_YIELDS`] times at most; when one brings none, it
/// commits. Under a closed loop batches grew from about 4 records to about
/// 20; at an open 3,500 a second, where requests come one at a time, only to
/// about 2. There is no timer: a record that comes alone waits
/// microseconds, not a tick.
async fn gather(rx: &mut mpsc::Receiver<Entry>, batch: &mut Vec<Entry>) {
    for _ in 0..GATHER_YIELDS {
        if batch.len() >= MAX_BATCH {
            return;
        }
        tokio::task::yield_now().await;
        let before = batch.len();
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        if batch.len() == before {
            return;
        }
    }
}

/// Chain `batch` onto the head and commit it. On failure the head is forgotten
/// and re-read next time: the batch may or may not have been written.
///
/// Several processes may append to one store (gateway nodes sharing a
/// database), each with its own writer and cached head. The batch is first
/// chained on the cached head and appended optimistically, which costs no
/// lock and no read while this writer is the only one appending. When another
/// writer appended since (the store writes nothing and says so), the batch is
/// chained again under the store's append lock on the head as it then is:
/// that cannot lose, so a busy writer elsewhere cannot starve this one.
///
/// `sent_after` is set to the head's number before an append is tried: from
/// then on a failure may hide a commit that happened ([`drop_landed`]).
async fn commit(
    store: &dyn AuditStore,
    key: &ServerKey,
    head: &mut Option<(i64, String)>,
    events: &[&AuditEvent],
    sent_after: &mut Option<i64>,
) -> Result<(), DurableError> {
    let known = match head.take() {
        Some(h) => Some(h),
        None => store.audit_head().await?,
    };
    *sent_after = Some(known.as_ref().map_or(0, |(seq, _)| *seq));
    let records = chain_batch(key, known, events);
    if store.audit_append(&records).await? {
        *head = records.last().map(|r| (r.seq, r.hash.clone()));
        return Ok(());
    }
    tracing::debug!("the audit chain moved on under this writer; re-chaining under the lock");
    // The store may run `chain` on another thread: it gets its own copies.
    let (key, events) = (
        key.clone(),
        events.iter().copied().cloned().collect::<Vec<_>>(),
    );
    *head = store
        .audit_append_exclusive(Arc::new(move |head| {
            chain_batch(&key, head, &events.iter().collect::<Vec<_>>())
        }))
        .await?;
    Ok(())
}

/// Records for `events`, chained on `head` (`None`: the empty log).
fn chain_batch(
    key: &ServerKey,
    head: Option<(i64, String)>,
    events: &[&AuditEvent],
) -> Vec<AuditRecord> {
    let (mut seq, mut prev) = head.unwrap_or_else(|| (0, GENESIS.to_owned()));
    let mut records = Vec::with_capacity(events.len());
    for event in events {
        seq += 1;
        let record = chain(key, seq, &prev, event);
        prev.clone_from(&record.hash);
        records.push(record);
    }
    records
}

fn chain(key: &ServerKey, seq: i64, prev: &str, event: &AuditEvent) -> AuditRecord {
    let hash = record_hash(
        key,
        seq,
        &event.at,
        event.kind,
        &event.subject,
        &event.data,
        prev,
    );
    AuditRecord {
        seq,
        at: event.at.clone(),
        kind: event.kind.to_owned(),
        subject: event.subject.clone(),
        data: event.data.clone(),
        prev_hash: prev.to_owned(),
        hash,
        alert: event.alert.clone(),
    }
}

fn record_hash(
    key: &ServerKey,
    seq: i64,
    at: &str,
    kind: &str,
    subject: &str,
    data: &str,
    prev: &str,
) -> String {
    let seq = seq.to_string();
    let parts: [&[u8]; 7] = [
        b"audit-chain/v1",
        prev.as_bytes(),
        seq.as_bytes(),
        at.as_bytes(),
        kind.as_bytes(),
        subject.as_bytes(),
        data.as_bytes(),
    ];
    hex::encode(key.mac(&parts))
}

/// Call `f` on every record, in order, paging through the store.
pub async fn for_each<E: From<DurableError>>(
    store: &dyn AuditStore,
    mut f: impl FnMut(AuditRecord) -> Result<(), E>,
) -> Result<(), E> {
    let mut after = 0;
    loop {
        let page = store.audit_page(after, 1000).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.seq;
        for record in page {
            f(record)?;
        }
    }
}

/// A record as `audit export` writes it: `data` as JSON, not as text.
pub fn exported(r: AuditRecord) -> serde_json::Value {
    let data = serde_json::from_str(&r.data).unwrap_or(serde_json::Value::String(r.data));
    serde_json::json!({
        "seq": r.seq, "at": r.at, "kind": r.kind, "subject": r.subject,
        "data": data, "prev_hash": r.prev_hash, "hash": r.hash,
    })
}

/// The outcome of [`verify`].
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every record links to the one before: `count` records, last hash `head`.
    Intact { count: u64, head: String },
    /// The chain breaks at `seq`: `problem` says how.
    Broken { seq: i64, problem: String },
}

/// Walk the whole chain from the start.
pub async fn verify(store: &dyn AuditStore, key: &ServerKey) -> Result<Verdict, DurableError> {
    let (mut expected_seq, mut prev, mut count) = (1_i64, GENESIS.to_owned(), 0_u64);
    loop {
        let page = store.audit_page(expected_seq - 1, 1000).await?;
        if page.is_empty() {
            return Ok(Verdict::Intact { count, head: prev });
        }
        for r in page {
            if let Some(problem) = check(key, &r, expected_seq, &prev) {
                return Ok(Verdict::Broken {
                    seq: r.seq,
                    problem,
                });
            }
            prev = r.hash;
            expected_seq += 1;
            count += 1;
        }
    }
}

fn check(key: &ServerKey, r: &AuditRecord, expected_seq: i64, prev: &str) -> Option<String> {
    if r.seq != expected_seq {
        return Some(format!(
            "records {expected_seq}..{} are missing (deleted)",
            r.seq - 1
        ));
    }
    if r.prev_hash != prev {
        return Some("prev_hash does not match the previous record (reordered or replaced)".into());
    }
    let recomputed = record_hash(
        key,
        r.seq,
        &r.at,
        &r.kind,
        &r.subject,
        &r.data,
        &r.prev_hash,
    );
    (recomputed != r.hash).then(|| "contents changed after it was written (hash mismatch)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::{MemoryDurable, PostgresStore, SqliteStore, postgres_test_store};
    use std::time::SystemTime;

    fn key() -> ServerKey {
        ServerKey::from_master(&[9; 32])
    }

    /// The stores the chain is tested on, with a way to tamper with rows.
    #[derive(Clone)]
    enum Store {
        Sqlite(SqliteStore),
        Postgres(PostgresStore),
    }

    impl Store {
        async fn sqlite() -> Self {
            Self::Sqlite(SqliteStore::open("sqlite::memory:").await.unwrap())
        }

        async fn postgres() -> Self {
            Self::Postgres(postgres_test_store().await)
        }

        fn audit(&self) -> Arc<dyn AuditStore> {
            match self {
                Self::Sqlite(s) => Arc::new(s.clone()),
                Self::Postgres(s) => Arc::new(s.clone()),
            }
        }

        async fn execute(&self, sql: &'static str) {
            match self {
                Self::Sqlite(s) => drop(sqlx::query(sql).execute(s.pool()).await.unwrap()),
                Self::Postgres(s) => drop(sqlx::query(sql).execute(s.pool()).await.unwrap()),
            }
        }
    }

    /// Append `n` events through one writer over `store`, in waves of `wave`
    /// concurrent events (each wave makes at least one batch).
    async fn append_waves(store: Arc<dyn AuditStore>, n: usize, wave: usize, tag: &str) {
        let log = AuditLog::spawn(store, key());
        for start in (0..n).step_by(wave) {
            let mut waits = Vec::new();
            for i in start..n.min(start + wave) {
                let log = log.clone();
                let subject = format!("{tag}{i}");
                waits.push(tokio::spawn(async move {
                    log.record(AuditEvent::new(
                        SystemTime::UNIX_EPOCH,
                        "test.event",
                        subject,
                        serde_json::json!({"i": i}),
                    ))
                    .await
                }));
            }
            for w in waits {
                w.await.unwrap().unwrap();
            }
        }
    }

    /// Append `n` events concurrently through one writer over `store`.
    async fn append(store: Arc<dyn AuditStore>, n: usize, tag: &str) {
        append_waves(store, n, n, tag).await;
    }

    async fn intact(store: &dyn AuditStore) -> u64 {
        match verify(store, &key()).await.unwrap() {
            Verdict::Intact { count, .. } => count,
            broken @ Verdict::Broken { .. } => panic!("{broken:?}"),
        }
    }

    async fn concurrent_appends_form_one_chain(store: Store) {
        append(store.audit(), 50, "s").await;
        assert_eq!(intact(store.audit().as_ref()).await, 50);
    }

    #[tokio::test]
    async fn concurrent_appends_form_one_chain_sqlite() {
        concurrent_appends_form_one_chain(Store::sqlite().await).await;
    }

    #[tokio::test]
    async fn concurrent_appends_form_one_chain_postgres() {
        concurrent_appends_form_one_chain(Store::postgres().await).await;
    }

    async fn altered_and_deleted_rows_are_found(fresh: impl AsyncFn() -> Store) {
        let store = fresh().await;
        append(store.audit(), 5, "s").await;
        store
            .execute("UPDATE audit_log SET data = '{\"i\":99}' WHERE seq = 3")
            .await;
        assert!(matches!(
            verify(store.audit().as_ref(), &key()).await.unwrap(),
            Verdict::Broken { seq: 3, .. }
        ));

        let store = fresh().await;
        append(store.audit(), 5, "s").await;
        store.execute("DELETE FROM audit_log WHERE seq = 2").await;
        assert!(matches!(
            verify(store.audit().as_ref(), &key()).await.unwrap(),
            Verdict::Broken { seq: 3, .. }
        ));
    }

    #[tokio::test]
    async fn altered_and_deleted_rows_are_found_sqlite() {
        altered_and_deleted_rows_are_found(Store::sqlite).await;
    }

    #[tokio::test]
    async fn altered_and_deleted_rows_are_found_postgres() {
        altered_and_deleted_rows_are_found(Store::postgres).await;
    }

    /// Two writers (two gateway processes, each with its own connections and
    /// cached head) appending to one log at once: one chain of every record.
    /// Waves of 5 make many small batches, so the writers collide often.
    async fn two_writers_form_one_chain(a: Arc<dyn AuditStore>, b: Arc<dyn AuditStore>) {
        tokio::join!(
            append_waves(a.clone(), 200, 5, "a"),
            append_waves(b, 200, 5, "b")
        );
        assert_eq!(intact(a.as_ref()).await, 400);
        let mut subjects = subjects(a.as_ref()).await;
        subjects.sort();
        subjects.dedup();
        assert_eq!(subjects.len(), 400, "every event once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_writers_form_one_chain_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.db").display());
        let a = SqliteStore::open(&url).await.unwrap();
        let b = SqliteStore::open(&url).await.unwrap();
        two_writers_form_one_chain(Arc::new(a), Arc::new(b)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_writers_form_one_chain_postgres() {
        let url = crate::store::durable::postgres_test_database().await;
        let a = PostgresStore::open(&url).await.unwrap();
        let b = PostgresStore::open(&url).await.unwrap();
        two_writers_form_one_chain(Arc::new(a), Arc::new(b)).await;
    }

    /// A store that always reports a lost race on the optimistic path: the
    /// writer re-chains under the lock, on the head it finds there.
    #[tokio::test]
    async fn a_lost_race_rechains_under_the_lock() {
        let store = Arc::new(Watched::new(true));
        let log = AuditLog::spawn(store.clone(), key());
        for i in 0..3 {
            let event = AuditEvent::new(SystemTime::UNIX_EPOCH, "test.event", format!("s{i}"), ());
            log.record(event).await.unwrap();
        }
        assert_eq!(intact(store.as_ref()).await, 3 + 3);
    }

    /// Records of requests under way together are committed together: the
    /// writer lets the tasks that are ready queue theirs before it commits.
    /// Here each request, once it has queued its record, makes the next one
    /// ready (as a request's response readies the next on a busy server);
    /// committing each arrival at once took a commit per record.
    #[tokio::test]
    async fn records_under_way_together_share_a_commit() {
        let store = Arc::new(Watched::new(false));
        let log = AuditLog::spawn(store.clone(), key());
        let (start, first) = tokio::sync::oneshot::channel::<()>();
        let (mut previous, mut waits) = (Some(first), Vec::new());
        for _ in 0..32 {
            let (done, next) = tokio::sync::oneshot::channel::<()>();
            let (log, turn) = (log.clone(), previous.replace(next));
            waits.push(tokio::spawn(async move {
                let _ = turn.expect("every request has a turn").await;
                let event = AuditEvent::new(SystemTime::UNIX_EPOCH, "test.event", "s", ());
                let mut recorded = std::pin::pin!(log.record(event));
                // Polled once, the record is queued; then the next is ready.
                assert!(futures::poll!(recorded.as_mut()).is_pending());
                let _ = done.send(());
                recorded.await
            }));
        }
        // All are waiting for their turn, none is ready: the first goes.
        tokio::task::yield_now().await;
        let _ = start.send(());
        for w in waits {
            w.await.unwrap().unwrap();
        }
        assert_eq!(intact(store.as_ref()).await, 32);
        let commits = store.appends.load(std::sync::atomic::Ordering::Relaxed);
        assert!(commits <= 2, "{commits} commits for 32 records");
    }

    fn event(subject: &str) -> AuditEvent {
        AuditEvent::new(SystemTime::UNIX_EPOCH, "test.event", subject, ())
    }

    /// The subjects in the log, in order.
    async fn subjects(store: &dyn AuditStore) -> Vec<String> {
        let mut subjects = Vec::new();
        for_each(store, |r| {
            subjects.push(r.subject);
            Ok::<_, DurableError>(())
        })
        .await
        .unwrap();
        subjects
    }

    /// The subjects in the log once `record` of `subject` has been handed
    /// to the writer and is held in the store's append (the writer busy).
    async fn held_record(
        log: &AuditLog,
        store: &Arc<Watched>,
        subject: &str,
    ) -> tokio::task::JoinHandle<Result<(), DurableError>> {
        store.gate.send_replace(false);
        let (log, subject) = (log.clone(), subject.to_owned());
        let first = tokio::spawn(async move { log.record(event(&subject)).await });
        while !store.held.load(Ordering::Relaxed) {
            tokio::task::yield_now().await;
        }
        first
    }

    /// Submitted while the writer is busy, a record is answered at once and
    /// committed in order with the awaited ones; submitted while it is idle,
    /// it is in the log when `submit` returns.
    #[tokio::test]
    async fn submitted_records_are_answered_at_once_only_while_the_writer_is_busy() {
        let store = Arc::new(Watched::new(false));
        let log = AuditLog::spawn(store.clone(), key());
        log.submit(event("idle")).await.unwrap();
        assert_eq!(subjects(store.as_ref()).await, ["idle"]);

        let first = held_record(&log, &store, "r1").await;
        for q in ["q2", "q3"] {
            tokio::time::timeout(Duration::from_secs(1), log.submit(event(q)))
                .await
                .expect("answered while the commit before it is held")
                .unwrap();
        }
        assert_eq!(subjects(store.as_ref()).await, ["idle"]);
        store.gate.send_replace(true);
        first.await.unwrap().unwrap();
        log.record(event("r4")).await.unwrap();
        assert_eq!(
            subjects(store.as_ref()).await,
            ["idle", "r1", "q2", "q3", "r4"]
        );
        assert_eq!(intact(store.as_ref()).await, 5);
    }

    /// A kept record whose commit failed is committed once the store is
    /// back, once, and its caller heard of the failure.
    #[tokio::test]
    async fn a_kept_record_outlives_its_failed_commit() {
        let store = Arc::new(Watched::new(false));
        let log = AuditLog::spawn(store.clone(), key());
        store.down.store(true, Ordering::Relaxed);
        assert!(log.keep(event("changed")).await.is_err());
        assert!(log.record(event("awaited")).await.is_err());
        assert!(subjects(store.as_ref()).await.is_empty());
        store.down.store(false, Ordering::Relaxed);
        tokio::time::sleep(RETRY_AFTER * 3).await;
        assert_eq!(subjects(store.as_ref()).await, ["changed"]);
        log.record(event("after")).await.unwrap();
        assert_eq!(subjects(store.as_ref()).await, ["changed", "after"]);
        assert_eq!(intact(store.as_ref()).await, 2);
    }

    /// While the store is down, a submitted record that was answered for is
    /// kept and committed, first, once the store is back; and once a commit
    /// has failed, submitting waits for the commit and reports the failure,
    /// so a store that is down refuses reset starts as before.
    #[tokio::test]
    async fn a_submitted_record_outlives_failed_commits_and_then_submit_waits() {
        let store = Arc::new(Watched::new(false));
        let log = AuditLog::spawn(store.clone(), key());
        let first = held_record(&log, &store, "r1").await;
        store.down.store(true, Ordering::Relaxed);
        log.submit(event("answered")).await.unwrap();
        store.gate.send_replace(true);
        assert!(first.await.unwrap().is_err());
        let refused = log.submit(event("refused")).await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(subjects(store.as_ref()).await.is_empty());

        store.down.store(false, Ordering::Relaxed);
        // Tried again alone after a pause, with nothing else coming.
        tokio::time::sleep(RETRY_AFTER * 3).await;
        assert_eq!(subjects(store.as_ref()).await, ["answered"]);
        log.submit(event("after")).await.unwrap();
        assert_eq!(subjects(store.as_ref()).await, ["answered", "after"]);
        assert_eq!(intact(store.as_ref()).await, 2);
    }

    /// A commit that was written but answered with a failure (the
    /// connection lost in `COMMIT`) leaves its queued records in the log
    /// once: the writer finds them there before trying them again, and
    /// appends only what is new, here behind another writer's record.
    #[tokio::test]
    async fn queued_records_of_a_commit_that_failed_after_writing_are_not_appended_twice() {
        let store = Arc::new(Watched::new(false));
        let log = AuditLog::spawn(store.clone(), key());
        log.record(event("before")).await.unwrap();
        let first = held_record(&log, &store, "r1").await;
        for q in ["q2", "q3"] {
            log.submit(event(q)).await.unwrap();
        }
        // Appends so far: "before", then "r1" (held); the next is q2 and q3.
        let next = store.appends.load(Ordering::Relaxed) + 2;
        store.lose_answer_of.store(next, Ordering::Relaxed);
        store.gate.send_replace(true);
        first.await.unwrap().unwrap();
        while store.appends.load(Ordering::Relaxed) < next {
            tokio::task::yield_now().await;
        }
        // Another writer appends meanwhile.
        let other = event("other");
        store
            .inner
            .audit_append_exclusive(Arc::new(move |head| chain_batch(&key(), head, &[&other])))
            .await
            .unwrap();
        log.record(event("r4")).await.unwrap();
        assert_eq!(
            subjects(store.as_ref()).await,
            ["before", "r1", "q2", "q3", "other", "r4"]
        );
        assert_eq!(intact(store.as_ref()).await, 6);
    }

    /// A commit that failed on this side but is still under way in
    /// `PostgreSQL` (a call that timed out after sending `COMMIT`): the writer
    /// waits for it before looking, and then finds its record.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_still_under_way_is_waited_for_before_looking_postgres() {
        let url = crate::store::durable::postgres_test_database().await;
        let store = Arc::new(PostgresStore::open(&url).await.unwrap());
        let late = event("late");
        let record = chain_batch(&key(), None, &[&late]).remove(0);
        let mut tx = store.pool().begin().await.unwrap();
        sqlx::query(
            "INSERT INTO audit_log (seq, at, kind, subject, data, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(record.seq)
        .bind(&record.at)
        .bind(&record.kind)
        .bind(&record.subject)
        .bind(&record.data)
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .execute(&mut *tx)
        .await
        .unwrap();
        let looking = {
            let store = store.clone();
            tokio::spawn(async move {
                let mut batch = vec![Entry::Queued(late), Entry::Queued(event("new"))];
                let mut unsure = Some(0);
                let looked = drop_landed(store.as_ref(), &mut unsure, &mut batch).await;
                (looked, unsure, batch)
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !looking.is_finished(),
            "looked before the append under way had ended"
        );
        tx.commit().await.unwrap();
        let (looked, unsure, batch) = looking.await.unwrap();
        assert!(looked.unwrap());
        assert_eq!(unsure, None);
        let left: Vec<&str> = batch
            .iter()
            .filter_map(Entry::event)
            .map(|e| e.subject.as_str())
            .collect();
        assert_eq!(left, ["new"]);
    }

    /// The memory store, counting the optimistic appends; when `racing`,
    /// another writer appends one record before each, which therefore loses;
    /// while `down`, every call fails; while `gate` is closed, appends wait
    /// (`held` says one is waiting); the append numbered `lose_answer_of`
    /// (from 1) is written and then answered with a failure.
    struct Watched {
        inner: MemoryDurable,
        racing: bool,
        appends: std::sync::atomic::AtomicUsize,
        down: AtomicBool,
        gate: tokio::sync::watch::Sender<bool>,
        held: AtomicBool,
        lose_answer_of: std::sync::atomic::AtomicUsize,
    }

    impl Watched {
        fn new(racing: bool) -> Self {
            Self {
                inner: MemoryDurable::new(),
                racing,
                appends: std::sync::atomic::AtomicUsize::new(0),
                down: AtomicBool::new(false),
                gate: tokio::sync::watch::Sender::new(true),
                held: AtomicBool::new(false),
                lose_answer_of: std::sync::atomic::AtomicUsize::new(0),
            }
        }

        fn up(&self) -> Result<(), DurableError> {
            if self.down.load(Ordering::Relaxed) {
                Err(DurableError("the test store is down".into()))
            } else {
                Ok(())
            }
        }
    }

    #[async_trait::async_trait]
    impl AuditStore for Watched {
        async fn audit_head(&self) -> Result<Option<(i64, String)>, DurableError> {
            self.up()?;
            self.inner.audit_head().await
        }
        async fn audit_append(&self, records: &[AuditRecord]) -> Result<bool, DurableError> {
            let mut gate = self.gate.subscribe();
            self.held.store(true, Ordering::Relaxed);
            let _ = gate.wait_for(|open| *open).await;
            self.held.store(false, Ordering::Relaxed);
            self.up()?;
            let number = self
                .appends
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if number == self.lose_answer_of.load(Ordering::Relaxed) {
                self.inner.audit_append(records).await?;
                return Err(DurableError("the answer to COMMIT was lost".into()));
            }
            if self.racing {
                let other = AuditEvent::new(SystemTime::UNIX_EPOCH, "other.writer", "x", ());
                self.inner
                    .audit_append_exclusive(Arc::new(move |head| {
                        chain_batch(&key(), head, &[&other])
                    }))
                    .await?;
            }
            self.inner.audit_append(records).await
        }
        async fn audit_append_exclusive(
            &self,
            chain: std::sync::Arc<crate::store::durable::ChainFn<'static>>,
        ) -> Result<Option<(i64, String)>, DurableError> {
            self.up()?;
            self.inner.audit_append_exclusive(chain).await
        }
        async fn audit_page(
            &self,
            after: i64,
            limit: i64,
        ) -> Result<Vec<AuditRecord>, DurableError> {
            self.inner.audit_page(after, limit).await
        }
        async fn audit_recent(
            &self,
            kind: Option<&str>,
            before: Option<i64>,
            since: Option<&str>,
            limit: i64,
        ) -> Result<Vec<AuditRecord>, DurableError> {
            self.inner.audit_recent(kind, before, since, limit).await
        }
        async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, DurableError> {
            self.inner.audit_record(seq).await
        }
    }
}
