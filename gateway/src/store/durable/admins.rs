//! Administrators (`crate::admin`): who may use `/v1/admin`.

use async_trait::async_trait;

use super::DurableError;

/// An administrator as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdminRecord {
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The TOTP seed, sealed with the server key.
    pub totp_secret: Vec<u8>,
    pub disabled: bool,
    pub created_at: i64,
    /// The administrator's passkeys (a JSON list), sealed; `None` when none.
    pub webauthn: Option<Vec<u8>>,
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Add an administrator; `Ok(false)` when the name is taken (nothing changes).
    async fn create_admin(&self, admin: &AdminRecord) -> Result<bool, DurableError>;
    async fn admin(&self, username: &str) -> Result<Option<AdminRecord>, DurableError>;
    /// Replace the sealed passkeys with `new` if they are still `expected`
    /// (compare-and-swap: a sign-in moving a signature counter and a new
    /// registration cannot overwrite each other); `Ok(false)` otherwise.
    async fn set_admin_webauthn(
        &self,
        username: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, DurableError>;
    /// Disable or enable an administrator; `Ok(false)` when there is none.
    async fn set_admin_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<bool, DurableError>;
}
