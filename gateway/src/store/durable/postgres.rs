//! `PostgreSQL` implementation of the durable traits (sqlx, embedded migrations
//! from `gateway/migrations/postgres`), for several gateway nodes sharing one
//! database.
//!
//! It answers exactly as [`super::SqliteStore`] does (the tests in
//! `memory/tests.rs` replay the same operations into both and compare): the
//! same orderings (text that is ordered by is `COLLATE "C"`, bytewise as
//! `SQLite`'s BINARY), the same trimming of password history, the same
//! conflict rules, a NaN stored as NULL. The usual-place groups, which `SQLite`
//! keys on its own `printf('%.1f')` rounding, are keyed here on a `place_key`
//! column that the gateway fills with the same text when it records an event.
//!
//! What changes with several nodes:
//! - Migrations run at [`PostgresStore::open`] under sqlx's advisory lock, so
//!   nodes starting together migrate once.
//! - Audit appends check the head in the same transaction and insert with
//!   `ON CONFLICT (seq) DO NOTHING`: of two nodes chaining onto the same head
//!   one wins, the other is told (`Ok(false)`) and re-chains under a table
//!   lock that keeps the others out meanwhile (`audit_append_exclusive`).
//! - A password change locks the account's row first, so concurrent changes
//!   of one account queue up rather than interleave.
//! - Feature counts are bumped in one statement in a fixed order, so two
//!   successes sharing global rows cannot deadlock.
//!
//! A dead or unreachable server makes calls fail within seconds rather than
//! hang: a connection is waited for at most [`ACQUIRE_TIMEOUT`] (connecting
//! included), the server cancels a statement after [`STATEMENT_TIMEOUT`], and
//! every call gives up after [`CALL_TIMEOUT`] (a server that stopped
//! answering without closing the connection). The pool checks a connection
//! before lending it, so after a restart the same store carries on.

mod admins;
mod api_keys;
mod labels;
mod locks;
mod outbox;
mod policies;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _, PgPool};

use super::history::{self, LastRow, MAX_PLACES};
use super::memory::{place_group, real};
use super::{
    AuditRecord, AuditStore, ChainFn, Durable, DurableError, FactorRecord, FactorStore,
    HistoryRecord, HistoryStore, Place, SuccessEvent, UserRecord, UserStore,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Longest wait for a pooled connection, opening one included.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// The server's `statement_timeout` for the store's sessions.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest any one call may take, whatever the server or network does.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per node.
const MAX_CONNECTIONS: u32 = 16;

/// A `PostgreSQL` database, shared by any number of gateway nodes.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect (`postgres://…` or `postgresql://…`, libpq's URL parameters)
    /// and migrate.
    pub async fn open(url: &str) -> Result<Self, DurableError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DurableError(
                "a PostgreSQL URL starts with postgres:// or postgresql://".to_owned(),
            ));
        }
        let options = PgConnectOptions::from_str(url)?
            .application_name("resetgate")
            .options([
                (
                    "statement_timeout",
                    format!("{}ms", STATEMENT_TIMEOUT.as_millis()),
                ),
                // A transaction left open by a client that went away does not
                // hold its locks for long.
                (
                    "idle_in_transaction_session_timeout",
                    format!("{}ms", 2 * CALL_TIMEOUT.as_millis()),
                ),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Some(Duration::from_mins(10)))
            .max_lifetime(Some(Duration::from_hours(1)))
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        // sqlx's migrator holds an advisory lock while it works: nodes that
        // start together apply each migration once. On a connection of its own
        // without the statement timeout, so that a node waiting for another's
        // migration, or a long migration, is not cancelled; the connection is
        // closed afterwards rather than returned to the pool untimed.
        let mut migrating = PgConnectOptions::from_str(url)?
            .application_name("resetgate-migrate")
            .connect()
            .await?;
        let migrated = MIGRATOR.run(&mut migrating).await;
        let _ = migrating.close().await;
        migrated.map_err(|e| DurableError(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    /// The pool, for tests that inspect or tamper with rows.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Run one store call, failing after [`CALL_TIMEOUT`].
async fn bounded<T>(
    call: impl Future<Output = Result<T, DurableError>>,
) -> Result<T, DurableError> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(DurableError(format!(
                "PostgreSQL did not answer within {} s",
                CALL_TIMEOUT.as_secs()
            )))
        })
}

/// A depth or count as a `LIMIT`: `usize::MAX` and beyond is no limit in effect.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, DurableError> {
        bounded(async {
            // One row for every name (see `STAND_IN`): an unknown name costs what a known one does.
            let row = sqlx::query_as::<_, UserRecord>(
                "SELECT username, password_hash, email, disabled, created_at, password_changed_at
                 FROM (SELECT username, password_hash, email, disabled, created_at,
                              password_changed_at, 0 AS stand_in
                       FROM users WHERE username = $1
                       UNION ALL
                       SELECT '', $2, $3, TRUE, 0::BIGINT, 0::BIGINT, 1) AS candidates
                 ORDER BY stand_in LIMIT 1",
            )
            .bind(username)
            .bind(super::STAND_IN.password_hash)
            .bind(super::STAND_IN.email)
            .fetch_one(&self.pool)
            .await?;
            Ok(super::real_user(row))
        })
        .await
    }

    async fn create_user(&self, user: &UserRecord) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query(
                "INSERT INTO users (username, password_hash, email, disabled, created_at, password_changed_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
            )
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&user.email)
            .bind(user.disabled)
            .bind(user.created_at)
            .bind(user.password_changed_at)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn password_hashes(
        &self,
        username: &str,
        depth: usize,
    ) -> Result<Vec<String>, DurableError> {
        bounded(async {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT password_hash FROM (
                     SELECT password_hash, 1 AS rank, 0::BIGINT AS id FROM users WHERE username = $1
                     UNION ALL
                     (SELECT password_hash, 2 AS rank, id FROM password_history
                      WHERE username = $1 ORDER BY id DESC LIMIT $2)) AS hashes
                 ORDER BY rank, id DESC",
            )
            .bind(username)
            .bind(limit(depth))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows.into_iter().map(|(h,)| h).collect())
        })
        .await
    }

    async fn change_password(
        &self,
        username: &str,
        new_hash: &str,
        now: i64,
        depth: usize,
    ) -> Result<(), DurableError> {
        bounded(async {
            let mut tx = self.pool.begin().await?;
            // The row lock orders concurrent changes of the account: each
            // moves the hash the one before it set.
            let current: Option<String> = sqlx::query_scalar(
                "SELECT password_hash FROM users WHERE username = $1 FOR UPDATE",
            )
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(current) = current else {
                return Err(DurableError(format!("no such user {username:?}")));
            };
            sqlx::query(
                "INSERT INTO password_history (username, password_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(username)
            .bind(&current)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE username = $1",
            )
            .bind(username)
            .bind(new_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM password_history WHERE username = $1 AND id NOT IN
                     (SELECT id FROM password_history WHERE username = $1 ORDER BY id DESC LIMIT $2)",
            )
            .bind(username)
            .bind(limit(depth))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl FactorStore for PostgresStore {
    async fn factors(&self, username: &str) -> Result<Vec<FactorRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as::<_, FactorRecord>(
                "SELECT id, username, kind, label, secret, phone, provisioned, created_at, last_used_at
                 FROM factors WHERE username = $1 ORDER BY created_at, id",
            )
            .bind(username)
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn add_factor(&self, f: &FactorRecord) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query(
                "INSERT INTO factors (id, username, kind, label, secret, phone, provisioned, created_at, last_used_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&f.id)
            .bind(&f.username)
            .bind(&f.kind)
            .bind(&f.label)
            .bind(&f.secret)
            .bind(&f.phone)
            .bind(f.provisioned)
            .bind(f.created_at)
            .bind(f.last_used_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn delete_factor(&self, username: &str, id: &str) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query("DELETE FROM factors WHERE username = $1 AND id = $2")
                .bind(username)
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn touch_factor(&self, id: &str, now: i64) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query("UPDATE factors SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn update_factor_secret(
        &self,
        id: &str,
        expected: &[u8],
        new: &[u8],
    ) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query("UPDATE factors SET secret = $1 WHERE id = $2 AND secret = $3")
                .bind(new)
                .bind(id)
                .bind(expected)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn audit_head(&self) -> Result<Option<(i64, String)>, DurableError> {
        bounded(async {
            Ok(
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }

    async fn audit_append(&self, records: &[AuditRecord]) -> Result<bool, DurableError> {
        if super::batch_start(records)?.is_none() {
            return Ok(true);
        }
        bounded(async {
            let mut tx = self.pool.begin().await?;
            let head: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            if !super::continues(head, &records[0]) {
                tx.rollback().await?;
                return Ok(false);
            }
            // Another node that read the same head inserts the same numbers:
            // whoever commits second finds them taken (waiting for the first
            // to commit or roll back) and writes nothing.
            let inserted = insert_audit(&mut tx, records, " ON CONFLICT (seq) DO NOTHING").await?;
            if usize::try_from(inserted).ok() != Some(records.len()) {
                tx.rollback().await?;
                return Ok(false);
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn audit_append_exclusive(
        &self,
        chain: Arc<ChainFn<'static>>,
    ) -> Result<Option<(i64, String)>, DurableError> {
        bounded(async {
            let mut tx = self.pool.begin().await?;
            // Conflicts with itself and with the row lock every INSERT takes:
            // appenders queue here, in order, until this one commits.
            sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            let head = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            let (records, head) = super::chain_on(chain.as_ref(), head)?;
            insert_audit(&mut tx, &records, "").await?;
            tx.commit().await?;
            Ok(head)
        })
        .await
    }

    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as::<_, AuditRecord>(
                "SELECT seq, at, kind, subject, data, prev_hash, hash FROM audit_log
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            // As in SQLite, a negative limit is none (PostgreSQL refuses it;
            // `LIMIT NULL` is none).
            .bind((limit >= 0).then_some(limit))
            .fetch_all(&self.pool)
            .await?)
        })
        .await
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
            // Bytewise, as SQLite compares text (`at` has the database's collation).
            query.push(" AND at COLLATE \"C\" >= ").push_bind(since);
        }
        // As in SQLite, a negative limit is none.
        query
            .push(" ORDER BY seq DESC LIMIT ")
            .push_bind((limit >= 0).then_some(limit));
        bounded(async {
            Ok(query
                .build_query_as::<AuditRecord>()
                .fetch_all(&self.pool)
                .await?)
        })
        .await
    }

    async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as::<_, AuditRecord>(
                "SELECT seq, at, kind, subject, data, prev_hash, hash FROM audit_log WHERE seq = $1",
            )
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await
    }
}

/// Insert audit records in one statement, `conflict` appended to it; the
/// number of rows inserted.
async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    records: &[AuditRecord],
    conflict: &'static str,
) -> Result<u64, DurableError> {
    let column = |f: fn(&AuditRecord) -> &str| records.iter().map(f).collect::<Vec<_>>();
    let sql = format!(
        "INSERT INTO audit_log (seq, at, kind, subject, data, prev_hash, hash)
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[],
                              $5::TEXT[], $6::TEXT[], $7::TEXT[]){conflict}"
    );
    // Only the fixed `conflict` clause is joined in; every value is bound.
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(records.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(column(|r| &r.at))
        .bind(column(|r| &r.kind))
        .bind(column(|r| &r.subject))
        .bind(column(|r| &r.data))
        .bind(column(|r| &r.prev_hash))
        .bind(column(|r| &r.hash))
        .execute(&mut **tx)
        .await?;
    let alerts: Vec<_> = records.iter().filter_map(|r| r.alert.as_ref()).collect();
    outbox::insert_messages(tx, &alerts).await?;
    Ok(done.rows_affected())
}

#[async_trait]
impl HistoryStore for PostgresStore {
    async fn record_success(&self, e: &SuccessEvent) -> Result<(), DurableError> {
        // Every (scope, level, value) this event counts.
        let mut bumps: Vec<(&str, &str, String)> = Vec::with_capacity(16);
        let features = e.features();
        for scope in [e.username.as_str(), ""] {
            bumps.push((scope, "*", "*".to_owned()));
            for (level, value) in &features {
                if let Some(value) = value {
                    bumps.push((scope, level, value.clone()));
                }
            }
        }
        bounded(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO account_events (username, kind, at, ip, asn, country, city, lat, lon,
                                             accuracy_km, ua, browser, os, class, device_id, place_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(&e.username)
            .bind(&e.kind)
            .bind(e.at)
            .bind(&e.ip)
            .bind(e.asn)
            .bind(&e.country)
            .bind(&e.city)
            .bind(real(e.lat))
            .bind(real(e.lon))
            .bind(real(e.accuracy_km))
            .bind(&e.ua)
            .bind(&e.browser)
            .bind(&e.os)
            .bind(&e.class)
            .bind(&e.device_id)
            .bind(place_group(e))
            .execute(&mut *tx)
            .await?;
            // One statement; a row named twice (the account "" is the global
            // scope) is counted twice, as two upserts would.
            sqlx::query(
                "INSERT INTO feature_counts (scope, level, value, count)
                 SELECT scope, level, value, COUNT(*)
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS bump(scope, level, value)
                 GROUP BY scope, level, value
                 ORDER BY scope COLLATE \"C\", level COLLATE \"C\", value COLLATE \"C\"
                 ON CONFLICT (scope, level, value) DO UPDATE SET count = feature_counts.count + excluded.count",
            )
            .bind(bumps.iter().map(|b| b.0).collect::<Vec<_>>())
            .bind(bumps.iter().map(|b| b.1).collect::<Vec<_>>())
            .bind(bumps.iter().map(|b| b.2.as_str()).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
            if let Some(device) = &e.device_id {
                sqlx::query(
                    "INSERT INTO known_devices (username, device_id, first_seen, last_seen) VALUES ($1, $2, $3, $3)
                     ON CONFLICT (username, device_id) DO UPDATE SET last_seen = excluded.last_seen",
                )
                .bind(&e.username)
                .bind(device)
                .bind(e.at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn history(
        &self,
        username: &str,
        current: &[(&'static str, Option<String>)],
        device_id: Option<&str>,
    ) -> Result<HistoryRecord, DurableError> {
        let pool = &self.pool;
        // Independent reads: run them concurrently on the pool.
        let known = async {
            sqlx::query_as::<_, (String, String)>(
                "SELECT level, value FROM feature_counts
                 WHERE scope = $1 AND level IN ('country', 'asn', 'browser') ORDER BY level, value",
            )
            .bind(username)
            .fetch_all(pool)
            .await
        };
        let places = async {
            sqlx::query_as::<_, Place>(
                "SELECT lat, lon, COALESCE(accuracy_km, 0.0) FROM account_events WHERE id IN (
                     SELECT MAX(id) FROM account_events
                     WHERE username = $1 AND place_key IS NOT NULL
                     GROUP BY place_key)
                 ORDER BY id DESC LIMIT $2",
            )
            .bind(username)
            .bind(MAX_PLACES)
            .fetch_all(pool)
            .await
        };
        let last = async {
            sqlx::query_as::<_, LastRow>(
                "SELECT at, lat, lon, accuracy_km FROM account_events WHERE username = $1
                 ORDER BY at DESC, id DESC LIMIT 1",
            )
            .bind(username)
            .fetch_optional(pool)
            .await
        };
        let device = async {
            match device_id {
                Some(id) => {
                    sqlx::query_scalar::<_, bool>(
                        "SELECT EXISTS (SELECT 1 FROM known_devices WHERE username = $1 AND device_id = $2)",
                    )
                    .bind(username)
                    .bind(id)
                    .fetch_one(pool)
                    .await
                }
                None => Ok(false),
            }
        };
        let wanted = history::wanted(current);
        let counts = async {
            // A primary-key lookup per (scope, level, value), answered in the
            // order asked: the account's scope, then the global one.
            let (mut scopes, mut levels, mut values) = (Vec::new(), Vec::new(), Vec::new());
            for scope in [username, ""] {
                for (level, value) in &wanted {
                    scopes.push(scope);
                    levels.push(*level);
                    values.push(*value);
                }
            }
            sqlx::query_as::<_, (String, String, i64)>(
                "SELECT f.scope, f.level, f.count
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[]) WITH ORDINALITY AS w(scope, level, value, n)
                 JOIN feature_counts f ON f.scope = w.scope AND f.level = w.level AND f.value = w.value
                 ORDER BY w.n",
            )
            .bind(scopes)
            .bind(levels)
            .bind(values)
            .fetch_all(pool)
            .await
        };
        bounded(async {
            let (known, places, last, device_known, rows) =
                tokio::try_join!(known, places, last, device, counts)?;
            let counts = history::counts_from_rows(&rows, username, current);
            Ok(history::assemble(known, places, last, device_known, counts))
        })
        .await
    }
}

#[async_trait]
impl Durable for PostgresStore {
    async fn ping(&self) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }
}

/// A store over a new database of this test binary's `PostgreSQL` server
/// (started on first use, shut down when the process ends).
#[cfg(test)]
pub(crate) async fn test_store() -> PostgresStore {
    PostgresStore::open(&test_database().await).await.unwrap()
}

/// The URL of a new database of this test binary's `PostgreSQL` server.
#[cfg(test)]
pub(crate) async fn test_database() -> String {
    use resetgate_services::postgres::PostgresServer;
    static SERVER: std::sync::OnceLock<PostgresServer> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(|| SERVER.get_or_init(PostgresServer::start).fresh_database())
        .await
        .unwrap()
}

#[cfg(test)]
mod tests;
