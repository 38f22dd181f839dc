//! The built-in directory: accounts in the durable store, argon2id hashes, and a
//! password history of configurable depth.

use std::sync::Arc;

use async_trait::async_trait;

use super::hasher::Hasher;
use super::{Account, Directory, DirectoryError};
use crate::account::AccountName;
use crate::store::durable::{Durable, UserRecord};
use crate::time::Clock;

pub struct Builtin {
    store: Arc<dyn Durable>,
    hasher: Hasher,
    history: usize,
    clock: Arc<dyn Clock>,
}

impl Builtin {
    pub fn new(
        store: Arc<dyn Durable>,
        hasher: Hasher,
        history: usize,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            hasher,
            history,
            clock,
        }
    }
}

/// The built-in directory's account for its user row.
pub fn account_of(name: &AccountName, row: UserRecord) -> Account {
    Account {
        name: name.clone(),
        email: row.email,
        // Its phones are factor records (`users import`).
        mobile: None,
        enabled: !row.disabled,
    }
}

#[async_trait]
impl Directory for Builtin {
    fn accounts_in_store(&self) -> bool {
        true
    }

    async fn lookup(&self, name: &AccountName) -> Result<Option<Account>, DirectoryError> {
        Ok(self
            .store
            .user(name.as_str())
            .await?
            .map(|row| account_of(name, row)))
    }

    async fn authenticate(
        &self,
        name: &AccountName,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        let user = self.store.user(name.as_str()).await?;
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        let ok = self.hasher.verify(password, phc).await;
        Ok(ok && user.is_some_and(|u| !u.disabled))
    }

    async fn reused(&self, name: &AccountName, password: &str) -> Result<bool, DirectoryError> {
        let hashes = self
            .store
            .password_hashes(name.as_str(), self.history)
            .await?;
        Ok(self.hasher.matches_any(password, hashes).await)
    }

    async fn set_password(&self, name: &AccountName, password: &str) -> Result<(), DirectoryError> {
        // An account disabled after its reset was verified is not reset (as
        // the LDAP directory refuses a locked entry).
        if self
            .store
            .user(name.as_str())
            .await?
            .is_none_or(|user| user.disabled)
        {
            return Err(DirectoryError::Disabled);
        }
        let hash = self.hasher.hash(password).await;
        let now = crate::time::unix(self.clock.now());
        self.store
            .change_password(name.as_str(), &hash, now, self.history)
            .await?;
        Ok(())
    }
}
