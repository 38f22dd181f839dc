//! The durable store: what must survive a restart (built-in directory accounts,
//! enrolled factors, the audit chain).
//!
//! Narrow traits per capability ([`UserStore`], [`FactorStore`], [`AuditStore`]);
//! [`Durable`] is all of them. `SQLite` is the implementation today (sqlx, embedded
//! migrations); `PostgreSQL` will implement the same traits.

mod sqlite;

use async_trait::async_trait;

pub use sqlite::SqliteStore;

/// The durable store failed (unreachable, I/O, constraint). Callers fail closed.
#[derive(Debug, thiserror::Error)]
#[error("durable store: {0}")]
pub struct DurableError(pub String);

impl From<sqlx::Error> for DurableError {
    fn from(e: sqlx::Error) -> Self {
        DurableError(e.to_string())
    }
}

/// A built-in directory account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub password_changed_at: i64,
}

/// An enrolled factor. `secret` is sealed; `phone` is E.164.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FactorRecord {
    pub id: String,
    pub username: String,
    pub kind: String,
    pub label: String,
    pub secret: Option<Vec<u8>>,
    pub phone: Option<String>,
    pub provisioned: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub subject: String,
    pub data: String,
    pub prev_hash: String,
    pub hash: String,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn user(&self, username: &str) -> Result<Option<UserRecord>, DurableError>;
    /// Insert the account unless it exists; true when created.
    async fn create_user(&self, user: &UserRecord) -> Result<bool, DurableError>;
    /// The current hash followed by up to `depth` earlier ones, newest first.
    async fn password_hashes(
        &self,
        username: &str,
        depth: usize,
    ) -> Result<Vec<String>, DurableError>;
    /// Make `new_hash` current, push the old one into history, keep `depth` entries.
    async fn change_password(
        &self,
        username: &str,
        new_hash: &str,
        now: i64,
        depth: usize,
    ) -> Result<(), DurableError>;
}

#[async_trait]
pub trait FactorStore: Send + Sync {
    async fn factors(&self, username: &str) -> Result<Vec<FactorRecord>, DurableError>;
    async fn add_factor(&self, factor: &FactorRecord) -> Result<(), DurableError>;
    /// Delete one of the account's factors; false when it had no such factor.
    async fn delete_factor(&self, username: &str, id: &str) -> Result<bool, DurableError>;
    async fn touch_factor(&self, id: &str, now: i64) -> Result<(), DurableError>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The last record's sequence number and hash.
    async fn audit_head(&self) -> Result<Option<(i64, String)>, DurableError>;
    /// Append records in one transaction (group commit).
    async fn audit_append(&self, records: &[AuditRecord]) -> Result<(), DurableError>;
    /// Records with `seq > after`, in order, at most `limit`.
    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, DurableError>;
}

#[async_trait]
pub trait Durable: UserStore + FactorStore + AuditStore {
    async fn ping(&self) -> Result<(), DurableError>;
}
