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
//! transaction (group commit): callers await the commit, so an acknowledged
//! record is durable, and a burst of requests costs one fsync, not one each.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::crypto::ServerKey;
use crate::store::durable::{AuditRecord, AuditStore, DurableError};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Largest batch committed at once.
const MAX_BATCH: usize = 256;

/// What a caller wants recorded; the writer assigns `seq` and the hashes.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub at: String,
    pub kind: &'static str,
    pub subject: String,
    pub data: serde_json::Value,
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
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
    }
}

type Reply = oneshot::Sender<Result<(), DurableError>>;

/// Handle to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<(AuditEvent, Reply)>,
}

impl AuditLog {
    /// Start the writer over `store`.
    pub fn spawn(store: Arc<dyn AuditStore>, key: ServerKey) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(store, key, rx));
        Self { tx }
    }

    /// Append one record and wait until it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), DurableError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| DurableError("audit writer stopped".into()))?;
        done.await
            .map_err(|_| DurableError("audit writer stopped".into()))?
    }
}

async fn writer(
    store: Arc<dyn AuditStore>,
    key: ServerKey,
    mut rx: mpsc::Receiver<(AuditEvent, Reply)>,
) {
    let mut head: Option<(i64, String)> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = commit(store.as_ref(), &key, &mut head, &batch).await;
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(
                result
                    .as_ref()
                    .copied()
                    .map_err(|e| DurableError(e.0.clone())),
            );
        }
    }
}

/// Chain `batch` onto the head and commit it. On failure the head is forgotten
/// and re-read next time, since nothing of the batch was written.
async fn commit(
    store: &dyn AuditStore,
    key: &ServerKey,
    head: &mut Option<(i64, String)>,
    batch: &[(AuditEvent, Reply)],
) -> Result<(), DurableError> {
    let (mut seq, mut prev) = match head.take() {
        Some(h) => h,
        None => store
            .audit_head()
            .await?
            .unwrap_or_else(|| (0, GENESIS.to_owned())),
    };
    let mut records = Vec::with_capacity(batch.len());
    for (event, _) in batch {
        seq += 1;
        let record = chain(key, seq, &prev, event);
        prev.clone_from(&record.hash);
        records.push(record);
    }
    store.audit_append(&records).await?;
    *head = Some((seq, prev));
    Ok(())
}

fn chain(key: &ServerKey, seq: i64, prev: &str, event: &AuditEvent) -> AuditRecord {
    let data = event.data.to_string();
    let hash = record_hash(key, seq, &event.at, event.kind, &event.subject, &data, prev);
    AuditRecord {
        seq,
        at: event.at.clone(),
        kind: event.kind.to_owned(),
        subject: event.subject.clone(),
        data,
        prev_hash: prev.to_owned(),
        hash,
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
    use crate::store::durable::SqliteStore;
    use std::time::SystemTime;

    fn key() -> ServerKey {
        ServerKey::from_master(&[9; 32])
    }

    async fn store_with(n: usize) -> SqliteStore {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let log = AuditLog::spawn(Arc::new(store.clone()), key());
        let mut waits = Vec::new();
        for i in 0..n {
            let log = log.clone();
            waits.push(tokio::spawn(async move {
                log.record(AuditEvent::new(
                    SystemTime::UNIX_EPOCH,
                    "test.event",
                    format!("s{i}"),
                    serde_json::json!({"i": i}),
                ))
                .await
            }));
        }
        for w in waits {
            w.await.unwrap().unwrap();
        }
        store
    }

    #[tokio::test]
    async fn concurrent_appends_form_one_chain() {
        let store = store_with(50).await;
        match verify(&store, &key()).await.unwrap() {
            Verdict::Intact { count, .. } => assert_eq!(count, 50),
            broken @ Verdict::Broken { .. } => panic!("{broken:?}"),
        }
    }

    #[tokio::test]
    async fn altered_and_deleted_rows_are_found() {
        let store = store_with(5).await;
        sqlx::query("UPDATE audit_log SET data = '{\"i\":99}' WHERE seq = 3")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(
            verify(&store, &key()).await.unwrap(),
            Verdict::Broken { seq: 3, .. }
        ));

        let store = store_with(5).await;
        sqlx::query("DELETE FROM audit_log WHERE seq = 2")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(
            verify(&store, &key()).await.unwrap(),
            Verdict::Broken { seq: 3, .. }
        ));
    }
}
