//! [`OutboxStore`] on `SQLite`. Every write takes the database's write lock
//! first (`BEGIN IMMEDIATE`, or a single statement), so a claim and a report
//! can never interleave with another node's on the same file.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::durable::DurableError;
use crate::store::durable::outbox::{
    AttemptRecord, Claimed, DEAD, DeliveryRecord, EndpointRecord, GONE, OutboxStore, Outcome,
    PENDING, RouteFn, SOURCE_CONFIG, after,
};

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, url, events, min_level, source, secrets, enabled, disabled_reason,
                    disabled_at, created_at
             FROM webhook_endpoints ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn insert_endpoint(&self, e: &EndpointRecord) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, events, min_level, source, secrets, enabled,
                                            disabled_reason, disabled_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(&e.events)
        .bind(&e.min_level)
        .bind(&e.source)
        .bind(&e.secrets)
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.disabled_at)
        .bind(e.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_endpoint(&self, e: &EndpointRecord) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, events, min_level, source, secrets, enabled,
                                            disabled_reason, disabled_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET
                 disabled_reason = CASE WHEN webhook_endpoints.url = excluded.url
                     THEN webhook_endpoints.disabled_reason ELSE NULL END,
                 disabled_at = CASE WHEN webhook_endpoints.url = excluded.url
                     THEN webhook_endpoints.disabled_at ELSE NULL END,
                 url = excluded.url, events = excluded.events, min_level = excluded.min_level,
                 source = excluded.source, secrets = excluded.secrets, enabled = excluded.enabled",
        )
        .bind(&e.id)
        .bind(&e.url)
        .bind(&e.events)
        .bind(&e.min_level)
        .bind(&e.source)
        .bind(&e.secrets)
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.disabled_at)
        .bind(e.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn retire_config_endpoints(&self, ids: &[String]) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        let ids = serde_json::to_string(ids).map_err(|e| DurableError(e.to_string()))?;
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0
             WHERE source = ? AND id NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(SOURCE_CONFIG)
        .bind(ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN (
                 SELECT id FROM webhook_deliveries WHERE endpoint_id = ?)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn enable_endpoint(&self, id: &str) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET disabled_reason = NULL, disabled_at = NULL WHERE id = ?",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn disable_endpoint(&self, id: &str, reason: &str, at: i64) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET disabled_reason = ?, disabled_at = ? WHERE id = ?",
        )
        .bind(reason)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn route(
        &self,
        route: &RouteFn<'_>,
        now: i64,
        due: i64,
        limit: i64,
    ) -> Result<usize, DurableError> {
        let _turn = self.turn().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let messages: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, kind, level FROM webhook_messages WHERE routed = 0
             ORDER BY created_at, id LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        for (id, kind, level) in &messages {
            for endpoint in route(kind, level.as_deref()) {
                sqlx::query(
                    "INSERT INTO webhook_deliveries
                         (message_id, endpoint_id, state, next_at, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(endpoint)
                .bind(PENDING)
                .bind(due)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE webhook_messages SET routed = 1 WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(messages.len())
    }

    async fn claim(
        &self,
        endpoint: &str,
        now: i64,
        until: i64,
        lease: &str,
        limit: i64,
    ) -> Result<Vec<Claimed>, DurableError> {
        let _turn = self.turn().await?;
        let mut claimed: Vec<Claimed> = sqlx::query_as(
            "UPDATE webhook_deliveries SET lease_until = ?, lease = ?
             WHERE id IN (
                 SELECT id FROM webhook_deliveries
                 WHERE endpoint_id = ? AND state = ? AND next_at <= ? AND lease_until <= ?
                   AND EXISTS (SELECT 1 FROM webhook_endpoints e
                               WHERE e.id = endpoint_id AND e.enabled AND e.disabled_at IS NULL)
                 ORDER BY next_at, id LIMIT ?)
             RETURNING id, message_id, attempts,
                 (SELECT body FROM webhook_messages m
                  WHERE m.id = webhook_deliveries.message_id) AS body",
        )
        .bind(until)
        .bind(lease)
        .bind(endpoint)
        .bind(PENDING)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    async fn finish(
        &self,
        delivery: i64,
        lease: &str,
        attempt: &AttemptRecord,
        outcome: Outcome,
    ) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let (state, next_at) = after(outcome, attempt.at);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE webhook_deliveries
             SET state = ?, attempts = attempts + 1, next_at = ?, lease_until = 0, lease = NULL,
                 last_status = ?, last_error = ?, updated_at = ?
             WHERE id = ? AND lease = ?",
        )
        .bind(state)
        .bind(next_at)
        .bind(attempt.status)
        .bind(&attempt.error)
        .bind(attempt.at)
        .bind(delivery)
        .bind(lease)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, at, status, latency_ms, error)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(delivery)
        .bind(attempt.at)
        .bind(attempt.status)
        .bind(attempt.latency_ms)
        .bind(&attempt.error)
        .execute(&mut *tx)
        .await?;
        if outcome == Outcome::Gone {
            sqlx::query(
                "UPDATE webhook_endpoints SET disabled_reason = ?, disabled_at = ?
                 WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = ?)",
            )
            .bind(GONE)
            .bind(attempt.at)
            .bind(delivery)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn deliveries(
        &self,
        endpoint: &str,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT d.id, d.message_id, d.endpoint_id, m.kind, d.state, d.attempts, d.next_at,
                    d.last_status, d.last_error, d.created_at, d.updated_at
             FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
             WHERE d.endpoint_id = ? AND (? IS NULL OR d.state = ?)
             ORDER BY d.id DESC LIMIT ?",
        )
        .bind(endpoint)
        .bind(state)
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn attempts(&self, delivery: i64) -> Result<Vec<AttemptRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT at, status, latency_ms, error FROM webhook_attempts
             WHERE delivery_id = ? ORDER BY id",
        )
        .bind(delivery)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn redeliver(
        &self,
        endpoint: &str,
        ids: Option<&[i64]>,
        now: i64,
    ) -> Result<u64, DurableError> {
        let _turn = self.turn().await?;
        let ids = ids
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DurableError(e.to_string()))?;
        // A delivery being sent right now (leased) is left to finish.
        Ok(sqlx::query(
            "UPDATE webhook_deliveries
             SET state = ?, attempts = 0, next_at = ?, lease_until = 0, lease = NULL, updated_at = ?
             WHERE endpoint_id = ? AND lease_until <= ?
               AND (CASE WHEN ? IS NULL THEN state = ?
                         ELSE id IN (SELECT value FROM json_each(?)) END)",
        )
        .bind(PENDING)
        .bind(now)
        .bind(now)
        .bind(endpoint)
        .bind(now)
        .bind(&ids)
        .bind(DEAD)
        .bind(&ids)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn purge(&self, before: i64) -> Result<u64, DurableError> {
        let _turn = self.turn().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN (
                 SELECT id FROM webhook_deliveries WHERE state <> ? AND updated_at < ?)",
        )
        .bind(PENDING)
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let removed =
            sqlx::query("DELETE FROM webhook_deliveries WHERE state <> ? AND updated_at < ?")
                .bind(PENDING)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query(
            "DELETE FROM webhook_messages WHERE routed = 1 AND created_at < ?
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                               WHERE d.message_id = webhook_messages.id)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn backlog(&self) -> Result<i64, DurableError> {
        Ok(sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM webhook_deliveries d
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id
                     WHERE d.state = ? AND e.enabled AND e.disabled_at IS NULL)
                  + (SELECT COUNT(*) FROM webhook_messages WHERE routed = 0)",
        )
        .bind(PENDING)
        .fetch_one(&self.pool)
        .await?)
    }
}
