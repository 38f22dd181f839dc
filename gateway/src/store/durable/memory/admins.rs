//! [`AdminStore`] in memory, as `SQLite`'s `admins`.

use std::collections::hash_map::Entry;

use async_trait::async_trait;

use super::{MemoryDurable, lock};
use crate::store::durable::DurableError;
use crate::store::durable::admins::{AdminRecord, AdminStore};

#[async_trait]
impl AdminStore for MemoryDurable {
    async fn create_admin(&self, admin: &AdminRecord) -> Result<bool, DurableError> {
        Ok(match lock(&self.admins).entry(admin.username.clone()) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                slot.insert(admin.clone());
                true
            }
        })
    }

    async fn set_admin_disabled(
        &self,
        username: &str,
        disabled: bool,
    ) -> Result<bool, DurableError> {
        Ok(match lock(&self.admins).get_mut(username) {
            Some(admin) => {
                admin.disabled = disabled;
                true
            }
            None => false,
        })
    }

    async fn set_admin_webauthn(
        &self,
        username: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, DurableError> {
        Ok(match lock(&self.admins).get_mut(username) {
            Some(admin) if admin.webauthn.as_deref() == expected => {
                admin.webauthn = Some(new.to_vec());
                true
            }
            _ => false,
        })
    }

    async fn admin(&self, username: &str) -> Result<Option<AdminRecord>, DurableError> {
        Ok(lock(&self.admins).get(username).cloned())
    }
}
