//! [`OutboxStore`] on `PostgreSQL`, for several nodes sharing the outbox:
//! routing and claiming lock the rows they take with `FOR UPDATE SKIP LOCKED`,
//! so nodes working at once take disjoint sets instead of waiting for each
//! other, and a report only lands for the holder of the lease.

use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

use super::{PostgresStore, bounded};
use crate::store::durable::DurableError;
use crate::store::durable::outbox::{
    AttemptRecord, Claimed, DEAD, DeliveryRecord, EndpointRecord, GONE, OutboxMessage, OutboxStore,
    Outcome, PENDING, RouteFn, SOURCE_CONFIG, after,
};

/// Queue the messages of an audit batch in its transaction.
pub(super) async fn insert_messages(
    tx: &mut Transaction<'_, Postgres>,
    messages: &[&OutboxMessage],
) -> Result<(), DurableError> {
    if messages.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&OutboxMessage) -> &str| messages.iter().map(|m| f(m)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO webhook_messages (id, kind, level, created_at, body)
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[])",
    )
    .bind(column(|m| &m.id))
    .bind(column(|m| &m.kind))
    .bind(messages.iter().map(|m| m.level.clone()).collect::<Vec<_>>())
    .bind(messages.iter().map(|m| m.created_at).collect::<Vec<_>>())
    .bind(column(|m| &m.body))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT id, url, events, min_level, source, secrets, enabled, disabled_reason,
                        disabled_at, created_at
                 FROM webhook_endpoints ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn insert_endpoint(&self, e: &EndpointRecord) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query(
                "INSERT INTO webhook_endpoints (id, url, events, min_level, source, secrets,
                                                enabled, disabled_reason, disabled_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
        })
        .await
    }

    async fn put_endpoint(&self, e: &EndpointRecord) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, url, events, min_level, source, secrets,
                                                enabled, disabled_reason, disabled_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (id) DO UPDATE SET
                     disabled_reason = CASE WHEN webhook_endpoints.url = excluded.url
                         THEN webhook_endpoints.disabled_reason ELSE NULL END,
                     disabled_at = CASE WHEN webhook_endpoints.url = excluded.url
                         THEN webhook_endpoints.disabled_at ELSE NULL END,
                     url = excluded.url, events = excluded.events,
                     min_level = excluded.min_level, source = excluded.source,
                     secrets = excluded.secrets, enabled = excluded.enabled",
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
        })
        .await
    }

    async fn retire_config_endpoints(&self, ids: &[String]) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query(
                "UPDATE webhook_endpoints SET enabled = FALSE
                 WHERE source = $1 AND id <> ALL($2::TEXT[])",
            )
            .bind(SOURCE_CONFIG)
            .bind(ids)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, DurableError> {
        bounded(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "DELETE FROM webhook_attempts WHERE delivery_id IN (
                     SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn enable_endpoint(&self, id: &str) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query(
                "UPDATE webhook_endpoints SET disabled_reason = NULL, disabled_at = NULL
                 WHERE id = $1",
            )
            .bind(id)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn disable_endpoint(&self, id: &str, reason: &str, at: i64) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query(
                "UPDATE webhook_endpoints SET disabled_reason = $1, disabled_at = $2 WHERE id = $3",
            )
            .bind(reason)
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn route(
        &self,
        route: &RouteFn<'_>,
        now: i64,
        due: i64,
        limit: i64,
    ) -> Result<usize, DurableError> {
        bounded(async {
            let mut tx = self.pool.begin().await?;
            let messages: Vec<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT id, kind, level FROM webhook_messages WHERE NOT routed
                 ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
            )
            // As in SQLite, a negative limit is none (`LIMIT NULL`).
            .bind((limit >= 0).then_some(limit))
            .fetch_all(&mut *tx)
            .await?;
            let mut message_ids = Vec::new();
            let mut endpoint_ids = Vec::new();
            for (id, kind, level) in &messages {
                for endpoint in route(kind, level.as_deref()) {
                    message_ids.push(id.clone());
                    endpoint_ids.push(endpoint);
                }
            }
            sqlx::query(
                "INSERT INTO webhook_deliveries
                     (message_id, endpoint_id, state, next_at, created_at, updated_at)
                 SELECT m, e, $3, $4, $5, $5 FROM UNNEST($1::TEXT[], $2::TEXT[]) AS t(m, e)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&message_ids)
            .bind(&endpoint_ids)
            .bind(PENDING)
            .bind(due)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let routed: Vec<&str> = messages.iter().map(|(id, _, _)| id.as_str()).collect();
            sqlx::query("UPDATE webhook_messages SET routed = TRUE WHERE id = ANY($1::TEXT[])")
                .bind(&routed)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(messages.len())
        })
        .await
    }

    async fn claim(
        &self,
        endpoint: &str,
        now: i64,
        until: i64,
        lease: &str,
        limit: i64,
    ) -> Result<Vec<Claimed>, DurableError> {
        bounded(async {
            let mut claimed: Vec<Claimed> = sqlx::query_as(
                "WITH due AS (
                     SELECT id FROM webhook_deliveries
                     WHERE endpoint_id = $3 AND state = $4 AND next_at <= $5 AND lease_until <= $5
                       AND EXISTS (SELECT 1 FROM webhook_endpoints e
                                   WHERE e.id = endpoint_id AND e.enabled
                                     AND e.disabled_at IS NULL)
                     ORDER BY next_at, id LIMIT $6
                     FOR UPDATE SKIP LOCKED)
                 UPDATE webhook_deliveries d SET lease_until = $1, lease = $2
                 FROM due, webhook_messages m
                 WHERE d.id = due.id AND m.id = d.message_id
                 RETURNING d.id, d.message_id, d.attempts, m.body",
            )
            .bind(until)
            .bind(lease)
            .bind(endpoint)
            .bind(PENDING)
            .bind(now)
            .bind((limit >= 0).then_some(limit))
            .fetch_all(&self.pool)
            .await?;
            claimed.sort_by_key(|c| c.id);
            Ok(claimed)
        })
        .await
    }

    async fn finish(
        &self,
        delivery: i64,
        lease: &str,
        attempt: &AttemptRecord,
        outcome: Outcome,
    ) -> Result<bool, DurableError> {
        let (state, next_at) = after(outcome, attempt.at);
        bounded(async {
            let mut tx = self.pool.begin().await?;
            let endpoint: Option<String> = sqlx::query_scalar(
                "UPDATE webhook_deliveries
                 SET state = $1, attempts = attempts + 1, next_at = $2, lease_until = 0,
                     lease = NULL, last_status = $3, last_error = $4, updated_at = $5
                 WHERE id = $6 AND lease = $7
                 RETURNING endpoint_id",
            )
            .bind(state)
            .bind(next_at)
            .bind(attempt.status)
            .bind(&attempt.error)
            .bind(attempt.at)
            .bind(delivery)
            .bind(lease)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(endpoint) = endpoint else {
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, at, status, latency_ms, error)
                 VALUES ($1, $2, $3, $4, $5)",
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
                    "UPDATE webhook_endpoints SET disabled_reason = $1, disabled_at = $2
                     WHERE id = $3",
                )
                .bind(GONE)
                .bind(attempt.at)
                .bind(&endpoint)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn deliveries(
        &self,
        endpoint: &str,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT d.id, d.message_id, d.endpoint_id, m.kind, d.state, d.attempts,
                        d.next_at, d.last_status, d.last_error, d.created_at, d.updated_at
                 FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
                 WHERE d.endpoint_id = $1 AND ($2::TEXT IS NULL OR d.state = $2)
                 ORDER BY d.id DESC LIMIT $3",
            )
            .bind(endpoint)
            .bind(state)
            .bind((limit >= 0).then_some(limit))
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn attempts(&self, delivery: i64) -> Result<Vec<AttemptRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT at, status, latency_ms, error FROM webhook_attempts
                 WHERE delivery_id = $1 ORDER BY id",
            )
            .bind(delivery)
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn redeliver(
        &self,
        endpoint: &str,
        ids: Option<&[i64]>,
        now: i64,
    ) -> Result<u64, DurableError> {
        bounded(async {
            // A delivery being sent right now (leased) is left to finish.
            Ok(sqlx::query(
                "UPDATE webhook_deliveries
                 SET state = $1, attempts = 0, next_at = $2, lease_until = 0, lease = NULL,
                     updated_at = $2
                 WHERE endpoint_id = $3 AND lease_until <= $2
                   AND (CASE WHEN $4::BIGINT[] IS NULL THEN state = $5 ELSE id = ANY($4) END)",
            )
            .bind(PENDING)
            .bind(now)
            .bind(endpoint)
            .bind(ids)
            .bind(DEAD)
            .execute(&self.pool)
            .await?
            .rows_affected())
        })
        .await
    }

    async fn purge(&self, before: i64) -> Result<u64, DurableError> {
        bounded(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "DELETE FROM webhook_attempts WHERE delivery_id IN (
                     SELECT id FROM webhook_deliveries WHERE state <> $1 AND updated_at < $2)",
            )
            .bind(PENDING)
            .bind(before)
            .execute(&mut *tx)
            .await?;
            let removed =
                sqlx::query("DELETE FROM webhook_deliveries WHERE state <> $1 AND updated_at < $2")
                    .bind(PENDING)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query(
                "DELETE FROM webhook_messages m WHERE routed AND created_at < $1
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = m.id)",
            )
            .bind(before)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(removed)
        })
        .await
    }

    async fn backlog(&self) -> Result<i64, DurableError> {
        bounded(async {
            Ok(sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM webhook_deliveries d
                         JOIN webhook_endpoints e ON e.id = d.endpoint_id
                         WHERE d.state = $1 AND e.enabled AND e.disabled_at IS NULL)
                      + (SELECT COUNT(*) FROM webhook_messages WHERE NOT routed)",
            )
            .bind(PENDING)
            .fetch_one(&self.pool)
            .await?)
        })
        .await
    }
}
