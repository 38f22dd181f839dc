//! [`ApiKeyStore`] in memory, as `SQLite`'s `api_keys`.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{MemoryDurable, lock};
use crate::store::durable::DurableError;
use crate::store::durable::api_keys::{ApiKeyRecord, ApiKeyStore};

/// The `api_keys` table.
#[derive(Debug, Default)]
pub(super) struct ApiKeys {
    /// The rows by id.
    by_id: HashMap<String, ApiKeyRecord>,
    /// The `UNIQUE` `key_hash` → the row's id.
    by_hash: HashMap<String, String>,
}

#[async_trait]
impl ApiKeyStore for MemoryDurable {
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<bool, DurableError> {
        let mut keys = lock(&self.api_keys);
        if keys.by_id.contains_key(&key.id) || keys.by_hash.contains_key(&key.key_hash) {
            return Ok(false);
        }
        keys.by_hash.insert(key.key_hash.clone(), key.id.clone());
        keys.by_id.insert(key.id.clone(), key.clone());
        Ok(true)
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, DurableError> {
        let keys = lock(&self.api_keys);
        Ok(keys
            .by_hash
            .get(key_hash)
            .and_then(|id| keys.by_id.get(id))
            .cloned())
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, DurableError> {
        let mut all: Vec<_> = lock(&self.api_keys).by_id.values().cloned().collect();
        // `ORDER BY created_at, id`: ids compare bytewise, as `SQLite`'s BINARY.
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(all)
    }

    async fn revoke_api_key(&self, id: &str, at: i64) -> Result<bool, DurableError> {
        Ok(match lock(&self.api_keys).by_id.get_mut(id) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(at);
                true
            }
            _ => false,
        })
    }
}
