//! [`PolicyStore`] in memory, as `SQLite`'s `policy_versions`,
//! `policy_activations` and `settings`.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::{MemoryDurable, lock};
use crate::store::durable::DurableError;
use crate::store::durable::policies::{
    PolicyActivation, PolicyRole, PolicyStore, PolicyVersionRecord,
};
use crate::store::durable::sqlite::policies::{check_activation, unknown_version};

/// The policy tables and the settings.
#[derive(Debug, Default)]
pub(super) struct Policies {
    /// `policy_versions` by id.
    versions: BTreeMap<i64, PolicyVersionRecord>,
    /// The `UNIQUE` version string → its row's id.
    by_version: HashMap<String, i64>,
    /// The last version id given out (`sqlite_sequence`): AUTOINCREMENT
    /// spends one on the row an `ON CONFLICT DO NOTHING` skips too.
    last_version: i64,
    /// `policy_activations` in id order (1, 2, …: an activation refused
    /// inserts no row and spends no id).
    activations: Vec<PolicyActivation>,
    /// `settings`: key → value.
    settings: HashMap<String, String>,
}

/// A `LIMIT`: a negative one is none.
fn rows(limit: i64) -> usize {
    usize::try_from(limit).unwrap_or(usize::MAX)
}

#[async_trait]
impl PolicyStore for MemoryDurable {
    async fn add_policy_version(
        &self,
        version: &str,
        text: &str,
        author: &str,
        comment: &str,
        at: i64,
    ) -> Result<i64, DurableError> {
        let mut policies = lock(&self.policies);
        policies.last_version += 1;
        if let Some(id) = policies.by_version.get(version) {
            return Ok(*id);
        }
        let id = policies.last_version;
        policies.by_version.insert(version.to_owned(), id);
        policies.versions.insert(
            id,
            PolicyVersionRecord {
                id,
                version: version.to_owned(),
                text: text.to_owned(),
                author: author.to_owned(),
                comment: comment.to_owned(),
                created_at: at,
            },
        );
        Ok(id)
    }

    async fn policy_version(&self, id: i64) -> Result<Option<PolicyVersionRecord>, DurableError> {
        Ok(lock(&self.policies).versions.get(&id).cloned())
    }

    async fn policy_versions(&self, limit: i64) -> Result<Vec<PolicyVersionRecord>, DurableError> {
        Ok(lock(&self.policies)
            .versions
            .values()
            .rev()
            .take(rows(limit))
            .cloned()
            .collect())
    }

    async fn activate_policy(
        &self,
        role: PolicyRole,
        version_id: Option<i64>,
        by: &str,
        at: i64,
    ) -> Result<i64, DurableError> {
        check_activation(role, version_id)?;
        let mut policies = lock(&self.policies);
        if version_id.is_some_and(|id| !policies.versions.contains_key(&id)) {
            return Err(unknown_version(version_id));
        }
        let id = policies.activations.last().map_or(1, |a| a.id + 1);
        policies.activations.push(PolicyActivation {
            id,
            role: role.as_str().to_owned(),
            version_id,
            activated_by: by.to_owned(),
            activated_at: at,
        });
        Ok(id)
    }

    async fn policy_activation(
        &self,
        role: PolicyRole,
    ) -> Result<Option<PolicyActivation>, DurableError> {
        Ok(lock(&self.policies)
            .activations
            .iter()
            .rev()
            .find(|a| a.role == role.as_str())
            .cloned())
    }

    async fn policy_activations(&self, limit: i64) -> Result<Vec<PolicyActivation>, DurableError> {
        Ok(lock(&self.policies)
            .activations
            .iter()
            .rev()
            .take(rows(limit))
            .cloned()
            .collect())
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, DurableError> {
        Ok(lock(&self.policies).settings.get(key).cloned())
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), DurableError> {
        lock(&self.policies)
            .settings
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}
