//! [`AdminStore`] on `PostgreSQL`.

use async_trait::async_trait;

use super::{PostgresStore, bounded};
use crate::store::durable::DurableError;
use crate::store::durable::admins::{AdminRecord, AdminStore};

#[async_trait]
impl AdminStore for PostgresStore {
    async fn create_admin(&self, a: &AdminRecord) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query(
                "INSERT INTO admins (username, password_hash, totp_secret, disabled, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
            )
            .bind(&a.username)
            .bind(&a.password_hash)
            .bind(&a.totp_secret)
            .bind(a.disabled)
            .bind(a.created_at)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn set_admin_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query("UPDATE admins SET disabled = $1 WHERE username = $2")
                .bind(disabled)
                .bind(username)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn set_admin_webauthn(
        &self,
        username: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, DurableError> {
        bounded(async {
            let done = sqlx::query(
                "UPDATE admins SET webauthn = $1
                 WHERE username = $2 AND webauthn IS NOT DISTINCT FROM $3",
            )
            .bind(new)
            .bind(username)
            .bind(expected)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn admin(&self, username: &str) -> Result<Option<AdminRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT username, password_hash, totp_secret, disabled, created_at, webauthn
                 FROM admins WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await
    }
}
