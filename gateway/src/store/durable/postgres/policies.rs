//! [`PolicyStore`] on `PostgreSQL`.

use async_trait::async_trait;

use super::{PostgresStore, bounded};
use crate::store::durable::DurableError;
use crate::store::durable::policies::{
    PolicyActivation, PolicyRole, PolicyStore, PolicyVersionRecord,
};
use crate::store::durable::sqlite::policies::{check_activation, unknown_version};

#[async_trait]
impl PolicyStore for PostgresStore {
    async fn add_policy_version(
        &self,
        version: &str,
        text: &str,
        author: &str,
        comment: &str,
        at: i64,
    ) -> Result<i64, DurableError> {
        bounded(async {
            // The unique `version` decides between two nodes: the second
            // insert waits for the first to commit and does nothing; its
            // SELECT, a statement of its own, then sees the first's row.
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO policy_versions (version, text, author, comment, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING RETURNING id",
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
            sqlx::query_scalar("SELECT id FROM policy_versions WHERE version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| DurableError(format!("policy version {version:?} vanished")))
        })
        .await
    }

    async fn policy_version(&self, id: i64) -> Result<Option<PolicyVersionRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT id, version, text, author, comment, created_at
                 FROM policy_versions WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
        })
        .await
    }

    async fn policy_versions(&self, limit: i64) -> Result<Vec<PolicyVersionRecord>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT id, version, text, author, comment, created_at
                 FROM policy_versions ORDER BY id DESC LIMIT $1",
            )
            // As in SQLite, a negative limit is none.
            .bind((limit >= 0).then_some(limit))
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn activate_policy(
        &self,
        role: PolicyRole,
        version_id: Option<i64>,
        by: &str,
        at: i64,
    ) -> Result<i64, DurableError> {
        check_activation(role, version_id)?;
        bounded(async {
            // Inserted only when the version exists (the foreign key would
            // refuse it too, with a less telling error).
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO policy_activations (role, version_id, activated_by, activated_at)
                 SELECT $1, $2::BIGINT, $3, $4
                 WHERE $2::BIGINT IS NULL
                    OR EXISTS (SELECT 1 FROM policy_versions WHERE id = $2::BIGINT)
                 RETURNING id",
            )
            .bind(role.as_str())
            .bind(version_id)
            .bind(by)
            .bind(at)
            .fetch_optional(&self.pool)
            .await?;
            id.ok_or_else(|| unknown_version(version_id))
        })
        .await
    }

    async fn policy_activation(
        &self,
        role: PolicyRole,
    ) -> Result<Option<PolicyActivation>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT id, role, version_id, activated_by, activated_at FROM policy_activations
                 WHERE role = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(role.as_str())
            .fetch_optional(&self.pool)
            .await?)
        })
        .await
    }

    async fn policy_activations(&self, limit: i64) -> Result<Vec<PolicyActivation>, DurableError> {
        bounded(async {
            Ok(sqlx::query_as(
                "SELECT id, role, version_id, activated_by, activated_at FROM policy_activations
                 ORDER BY id DESC LIMIT $1",
            )
            .bind((limit >= 0).then_some(limit))
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, DurableError> {
        bounded(async {
            Ok(
                sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }

    async fn set_setting(&self, key: &str, value: &str) -> Result<(), DurableError> {
        bounded(async {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }
}
