//! Locked accounts: whose resets the owner stopped with a "this wasn't me"
//! link (`crate::lock`), for accounts of any directory.

use async_trait::async_trait;

use super::DurableError;

/// An account's lock: when (unix seconds) and why.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountLock {
    pub locked_at: i64,
    pub reason: String,
}

#[async_trait]
pub trait LockStore: Send + Sync {
    /// Lock the account's resets. `Ok(false)` when it already was (the first
    /// lock's time and reason stay).
    async fn lock_account(
        &self,
        username: &str,
        at: i64,
        reason: &str,
    ) -> Result<bool, DurableError>;
    /// The account's lock, if it is locked.
    async fn account_lock(&self, username: &str) -> Result<Option<AccountLock>, DurableError>;
    /// Lift the lock. `Ok(false)` when there was none.
    async fn unlock_account(&self, username: &str) -> Result<bool, DurableError>;
}
