//! [`AuditStore`] on `SQLite`: appends on the direct writer (one commit per
//! batch, on the audit writer task's thread, or a blocking thread while
//! passwords are being hashed, `direct.rs`), reads on the pool.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _};

use super::SqliteStore;
use crate::store::durable::{
    AuditHead, AuditRecord, AuditStore, ChainFn, DurableError, batch_start, chain_on, continues,
};

fn head(conn: &Connection) -> Result<Option<AuditHead>, DurableError> {
    Ok(conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// The records, each after the webhook message it raises.
fn insert(conn: &Connection, records: &[AuditRecord]) -> Result<(), DurableError> {
    let mut message = conn.prepare_cached(
        "INSERT INTO webhook_messages (id, kind, level, created_at, body) VALUES (?, ?, ?, ?, ?)",
    )?;
    let mut record = conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, kind, subject, data, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )?;
    for r in records {
        if let Some(m) = &r.alert {
            message.execute(rusqlite::params![
                m.id,
                m.kind,
                m.level,
                m.created_at,
                m.body
            ])?;
        }
        record.execute(rusqlite::params![
            r.seq,
            r.at,
            r.kind,
            r.subject,
            r.data,
            r.prev_hash,
            r.hash
        ])?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit_head(&self) -> Result<Option<(i64, String)>, DurableError> {
        Ok(
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn audit_append(&self, records: &[AuditRecord]) -> Result<bool, DurableError> {
        if batch_start(records)?.is_none() {
            return Ok(true);
        }
        let records = records.to_vec();
        // IMMEDIATE: the write lock is taken before the head is read, so that
        // no other connection (another process on the same file) appends
        // between the check and the inserts; waiting for it is the busy timeout.
        self.direct
            .write(move |conn| {
                if !continues(head(conn)?, &records[0]) {
                    return Ok(false);
                }
                insert(conn, &records)?;
                Ok(true)
            })
            .await
    }

    async fn audit_append_exclusive(
        &self,
        chain: Arc<ChainFn<'static>>,
    ) -> Result<Option<(i64, String)>, DurableError> {
        // The write lock, taken first, is the exclusion.
        self.direct
            .write(move |conn| {
                let (records, head) = chain_on(chain.as_ref(), head(conn)?)?;
                insert(conn, &records)?;
                Ok(head)
            })
            .await
    }

    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, DurableError> {
        Ok(sqlx::query_as::<_, AuditRecord>(
            "SELECT seq, at, kind, subject, data, prev_hash, hash FROM audit_log
             WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn audit_recent(
        &self,
        kind: Option<&str>,
        before: Option<i64>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, DurableError> {
        // Only the bounds given are in the statement, so that a kind's records
        // are read from the `audit_log_by_kind` index, newest first.
        let mut query = sqlx::QueryBuilder::new(
            "SELECT seq, at, kind, subject, data, prev_hash, hash FROM audit_log WHERE TRUE",
        );
        if let Some(kind) = kind {
            query.push(" AND kind = ").push_bind(kind);
        }
        if let Some(before) = before {
            query.push(" AND seq < ").push_bind(before);
        }
        if let Some(since) = since {
            query.push(" AND at >= ").push_bind(since);
        }
        query.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        Ok(query
            .build_query_as::<AuditRecord>()
            .fetch_all(&self.pool)
            .await?)
    }

    async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, DurableError> {
        Ok(sqlx::query_as::<_, AuditRecord>(
            "SELECT seq, at, kind, subject, data, prev_hash, hash FROM audit_log WHERE seq = ?",
        )
        .bind(seq)
        .fetch_optional(&self.pool)
        .await?)
    }
}
