//! [`AdminStore`] on `SQLite`.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::durable::DurableError;
use crate::store::durable::admins::{AdminRecord, AdminStore};

#[async_trait]
impl AdminStore for SqliteStore {
    async fn create_admin(&self, a: &AdminRecord) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query(
            "INSERT INTO admins (username, password_hash, totp_secret, disabled, created_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&a.username)
        .bind(&a.password_hash)
        .bind(&a.totp_secret)
        .bind(a.disabled)
        .bind(a.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_admin_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done = sqlx::query("UPDATE admins SET disabled = ? WHERE username = ?")
            .bind(disabled)
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_admin_webauthn(
        &self,
        username: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done =
            sqlx::query("UPDATE admins SET webauthn = ? WHERE username = ? AND webauthn IS ?")
                .bind(new)
                .bind(username)
                .bind(expected)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn admin(&self, username: &str) -> Result<Option<AdminRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT username, password_hash, totp_secret, disabled, created_at, webauthn
             FROM admins WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }
}
