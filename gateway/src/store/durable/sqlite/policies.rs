//! [`PolicyStore`] on `SQLite`.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::durable::DurableError;
use crate::store::durable::policies::{
    PolicyActivation, PolicyRole, PolicyStore, PolicyVersionRecord,
};

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn add_policy_version(
        &self,
        version: &str,
        text: &str,
        author: &str,
        comment: &str,
        at: i64,
    ) -> Result<i64, DurableError> {
        let _turn = self.turn().await?;
        // The unique `version` decides between two writers: the one whose
        // insert is refused reads the other's row (committed before its own
        // insert could run: writes to the file are serialized).
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO policy_versions (version, text, author, comment, created_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING RETURNING id",
        )
        .bind(version)
        .bind(text)
        .bind(author)
        .bind(comment)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(id) = inserted {
            return Ok(id);
        }
        sqlx::query_scalar("SELECT id FROM policy_versions WHERE version = ?")
            .bind(version)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DurableError(format!("policy version {version:?} vanished")))
    }

    async fn policy_version(&self, id: i64) -> Result<Option<PolicyVersionRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, version, text, author, comment, created_at
             FROM policy_versions WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn policy_versions(&self, limit: i64) -> Result<Vec<PolicyVersionRecord>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, version, text, author, comment, created_at
             FROM policy_versions ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn activate_policy(
        &self,
        role: PolicyRole,
        version_id: Option<i64>,
        by: &str,
        at: i64,
    ) -> Result<i64, DurableError> {
        let _turn = self.turn().await?;
        check_activation(role, version_id)?;
        // Inserted only when the version exists (the foreign key would refuse
        // it too, with a less telling error).
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO policy_activations (role, version_id, activated_by, activated_at)
             SELECT ?1, ?2, ?3, ?4
             WHERE ?2 IS NULL OR EXISTS (SELECT 1 FROM policy_versions WHERE id = ?2)
             RETURNING id",
        )
        .bind(role.as_str())
        .bind(version_id)
        .bind(by)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        id.ok_or_else(|| unknown_version(version_id))
    }

    async fn policy_activation(
        &self,
        role: PolicyRole,
    ) -> Result<Option<PolicyActivation>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, role, version_id, activated_by, activated_at FROM policy_activations
             WHERE role = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(role.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn policy_activations(&self, limit: i64) -> Result<Vec<PolicyActivation>, DurableError> {
        Ok(sqlx::query_as(
            "SELECT id, role, version_id, activated_by, activated_at FROM policy_activations
             ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, DurableError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), DurableError> {
        let _turn = self.turn().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Refuse an activation that cannot be right whatever is stored: only the
/// shadow can be turned off (`None`); the live policy always names a version.
pub(in crate::store::durable) fn check_activation(
    role: PolicyRole,
    version_id: Option<i64>,
) -> Result<(), DurableError> {
    if role == PolicyRole::Live && version_id.is_none() {
        return Err(DurableError(
            "policy activation: the live policy names a version".to_owned(),
        ));
    }
    Ok(())
}

/// The error of an activation naming a version that is not stored.
pub(in crate::store::durable) fn unknown_version(version_id: Option<i64>) -> DurableError {
    DurableError(match version_id {
        Some(id) => format!("policy activation: no policy version {id}"),
        None => "policy activation refused".to_owned(),
    })
}
