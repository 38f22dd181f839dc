//! [`LockStore`] in memory, as `SQLite`'s `account_locks`.

use std::collections::hash_map::Entry;

use async_trait::async_trait;

use super::{MemoryDurable, lock};
use crate::store::durable::DurableError;
use crate::store::durable::locks::{AccountLock, LockStore};

#[async_trait]
impl LockStore for MemoryDurable {
    async fn lock_account(
        &self,
        username: &str,
        at: i64,
        reason: &str,
    ) -> Result<bool, DurableError> {
        Ok(match lock(&self.locks).entry(username.to_owned()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(AccountLock {
                    locked_at: at,
                    reason: reason.to_owned(),
                });
                true
            }
        })
    }

    async fn account_lock(&self, username: &str) -> Result<Option<AccountLock>, DurableError> {
        Ok(lock(&self.locks).get(username).cloned())
    }

    async fn unlock_account(&self, username: &str) -> Result<bool, DurableError> {
        Ok(lock(&self.locks).remove(username).is_some())
    }
}
