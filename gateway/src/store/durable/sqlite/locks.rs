//! [`LockStore`] on `SQLite`.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::durable::DurableError;
use crate::store::durable::locks::{AccountLock, LockStore};

#[async_trait]
impl LockStore for SqliteStore {
    async fn lock_account(
        &self,
        username: &str,
        at: i64,
        reason: &str,
    ) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query(
            "INSERT INTO account_locks (username, locked_at, reason) VALUES (?, ?, ?)
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(at)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn account_lock(&self, username: &str) -> Result<Option<AccountLock>, DurableError> {
        let username = username.to_owned();
        self.direct
            .read(move |tx| super::reads::lock(tx, &username))
            .await
    }

    async fn unlock_account(&self, username: &str) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query("DELETE FROM account_locks WHERE username = ?")
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
