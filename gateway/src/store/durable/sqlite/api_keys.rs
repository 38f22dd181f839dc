//! [`ApiKeyStore`] on `SQLite`.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::durable::DurableError;
use crate::store::durable::api_keys::{ApiKeyRecord, ApiKeyStore};

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, k: &ApiKeyRecord) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        // No conflict target: a taken id and a taken hash are both refused.
        let done = sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, scopes, created_by, created_at, revoked_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&k.id)
        .bind(&k.name)
        .bind(&k.key_hash)
        .bind(&k.scopes)
        .bind(&k.created_by)
        .bind(k.created_at)
        .bind(k.revoked_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, name, key_hash, scopes, created_by, created_at, revoked_at
             FROM api_keys WHERE key_hash = ?",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, name, key_hash, scopes, created_by, created_at, revoked_at
             FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, DurableError> {
        let _turn = self.turn().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}
