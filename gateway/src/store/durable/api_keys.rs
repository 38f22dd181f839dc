//! API keys (`crate::api_keys`): machine clients of `/v1/admin` and
//! `/v1/risk/evaluate`. Only a key's SHA-256 is stored (a key is 256 random
//! bits, so a fast hash is enough: there is nothing to guess).

use async_trait::async_trait;

use super::DurableError;

/// An API key as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRecord {
    /// A ULID, shown to administrators and used to revoke.
    pub id: String,
    /// What the key is for, as its maker named it.
    pub name: String,
    /// Hex SHA-256 of the whole key; unique.
    pub key_hash: String,
    /// Space-separated scopes: `evaluate`, `read`, `admin`.
    pub scopes: String,
    /// The administrator who made it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; a revoked key is refused.
    pub revoked_at: Option<i64>,
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Store a new key; `Ok(false)` when its id or hash is taken (nothing changes).
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<bool, DurableError>;
    /// The key whose hash is `key_hash`, revoked or not.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, DurableError>;
    /// Every key, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, DurableError>;
    /// Mark key `id` revoked at `at`; `Ok(false)` when there is no such key or
    /// it was revoked already (the first time stays).
    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, DurableError>;
}
