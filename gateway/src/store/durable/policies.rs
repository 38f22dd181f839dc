//! Risk policy versions (`crate::policies`): every policy that was uploaded
//! or read from `risk.policy`, with author and time, and the activations that
//! made one of them live (or the shadow candidate). The live policy of every
//! node is the version of the latest `live` activation.

use async_trait::async_trait;

use super::DurableError;

/// One stored policy version.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyVersionRecord {
    /// Increasing from 1.
    pub id: i64,
    /// The policy's version string (declared version and content hash).
    pub version: String,
    /// The policy file, as uploaded.
    pub text: String,
    /// Who stored it: an administrator, `key:NAME`, or `file` / `bundled`.
    pub author: String,
    pub comment: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// What an activation sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRole {
    /// The policy that decides.
    Live,
    /// The candidate evaluated beside the live one, deciding nothing.
    Shadow,
}

impl PolicyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyRole::Live => "live",
            PolicyRole::Shadow => "shadow",
        }
    }
}

/// One activation: `version_id` became the policy of `role` (`None`: the
/// shadow was turned off).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyActivation {
    /// Increasing: the latest activation of a role is the one in force.
    pub id: i64,
    pub role: String,
    pub version_id: Option<i64>,
    pub activated_by: String,
    /// Unix seconds.
    pub activated_at: i64,
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Store a policy version and return its id; when a version with the
    /// same `version` string (hence the same content) exists, nothing is
    /// stored and its id is returned.
    async fn add_policy_version(
        &self,
        version: &str,
        text: &str,
        author: &str,
        comment: &str,
        at: i64,
    ) -> Result<i64, DurableError>;
    async fn policy_version(&self, id: i64) -> Result<Option<PolicyVersionRecord>, DurableError>;
    /// The newest `limit` versions, newest first.
    async fn policy_versions(&self, limit: i64) -> Result<Vec<PolicyVersionRecord>, DurableError>;
    /// Record an activation of `role`; its id. `version_id` must name a stored
    /// version (or be `None` for the shadow); an unknown id is an error.
    async fn activate_policy(
        &self,
        role: PolicyRole,
        version_id: Option<i64>,
        by: &str,
        at: i64,
    ) -> Result<i64, DurableError>;
    /// The latest activation of `role`, if any.
    async fn policy_activation(
        &self,
        role: PolicyRole,
    ) -> Result<Option<PolicyActivation>, DurableError>;
    /// The newest `limit` activations of every role, newest first.
    async fn policy_activations(&self, limit: i64) -> Result<Vec<PolicyActivation>, DurableError>;
    /// A small setting shared by the nodes (e.g. which `risk.policy` file
    /// version was last imported).
    async fn setting(&self, key: &str) -> Result<Option<String>, DurableError>;
    async fn set_setting(&self, key: &str, value: &str) -> Result<(), DurableError>;
}
