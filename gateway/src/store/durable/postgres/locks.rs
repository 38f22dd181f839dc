//! [`LockStore`] on `PostgreSQL`.

use async_trait::async_trait;

use super::{PostgresStore, bounded};
use crate::store::durable::DurableError;
use crate::store::durable::locks::{AccountLock, LockStore};

#[async_trait]
impl LockStore for PostgresStore {
    async fn lock_account(
        &self,
        username: &str,
        at: i64,
        reason: &str,
    ) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query(
                "INSERT INTO account_locks (username, locked_at, reason) VALUES ($1, $2, $3)
                 ON CONFLICT (username) DO NOTHING",
            )
            .bind(username)
            .bind(at)
            .bind(reason)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn account_lock(&self, username: &str) -> Result<Option<AccountLock>, DurableError> {
        bounded(async {
            Ok(
                sqlx::query_as("SELECT locked_at, reason FROM account_locks WHERE username = $1")
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }

    async fn unlock_account(&self, username: &str) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query("DELETE FROM account_locks WHERE username = $1")
                .bind(username)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }
}
