//! The durable store: what must survive a restart (built-in directory accounts,
//! enrolled factors, the audit chain).
//!
//! Narrow traits per capability ([`UserStore`], [`FactorStore`], [`AuditStore`]);
//! [`Durable`] is all of them. `SQLite` is the implementation today (sqlx, embedded
//! migrations); `PostgreSQL` will implement the same traits. [`MemoryDurable`]
//! keeps them in process memory, for replays of recorded traffic only.

mod history;
mod memory;
mod sqlite;

use async_trait::async_trait;

pub use memory::MemoryDurable;
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
    /// Replace a factor's sealed secret only if it is still `expected` (a
    /// WebAuthn credential's signature counter moving on); true when replaced.
    async fn update_factor_secret(
        &self,
        id: &str,
        expected: &[u8],
        new: &[u8],
    ) -> Result<bool, DurableError>;
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

/// A successful reset or sign-in, with the context it came from.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SuccessEvent {
    pub username: String,
    /// `reset` or `login`.
    pub kind: String,
    pub at: i64,
    pub ip: Option<String>,
    pub asn: Option<i64>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub accuracy_km: Option<f64>,
    pub ua: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub class: Option<String>,
    pub device_id: Option<String>,
}

impl SuccessEvent {
    /// The hierarchy values this event contributes, by level name.
    pub fn features(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("ip", self.ip.clone()),
            ("asn", self.asn.map(|a| a.to_string())),
            ("country", self.country.clone()),
            ("ua", self.ua.clone()),
            ("browser", self.browser.clone()),
            ("os", self.os.clone()),
            ("class", self.class.clone()),
        ]
    }
}

/// A place: latitude, longitude, accuracy radius in km.
pub type Place = (f64, f64, f64);

/// What the durable store knows of an account's past, for one attempt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryRecord {
    /// Successful events on record.
    pub events: u32,
    /// Distinct values the account has succeeded with: (level, value) for the
    /// levels `country`, `asn`, `browser`.
    pub known: Vec<(String, String)>,
    /// One place per distinct city, most recent first, at most 10.
    pub places: Vec<Place>,
    /// The latest success: when, and where if known.
    pub last: Option<(i64, Option<Place>)>,
    /// For each (level, current value): (account count, global count); and the
    /// totals under level `*`.
    pub counts: Vec<LevelCount>,
    /// The presented device cookie is bound to this account.
    pub device_known: bool,
}

/// Counts for one hierarchy level and the current attempt's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelCount {
    pub level: String,
    /// The attempt has a value at this level (a lookup miss has none).
    pub present: bool,
    pub account: u32,
    pub global: u32,
}

#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Record a success: the event, its feature counts (account and global),
    /// and the device binding — in one transaction.
    async fn record_success(&self, event: &SuccessEvent) -> Result<(), DurableError>;
    /// The account's history as it bears on an attempt with `current` values.
    async fn history(
        &self,
        username: &str,
        current: &[(&'static str, Option<String>)],
        device_id: Option<&str>,
    ) -> Result<HistoryRecord, DurableError>;
}

#[async_trait]
pub trait Durable: UserStore + FactorStore + AuditStore + HistoryStore {
    async fn ping(&self) -> Result<(), DurableError>;
}
