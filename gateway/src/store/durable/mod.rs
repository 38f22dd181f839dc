//! The durable store: what must survive a restart (built-in directory accounts,
//! enrolled factors, account history, the audit chain).
//!
//! Narrow traits per capability ([`UserStore`], [`FactorStore`], [`AuditStore`],
//! [`HistoryStore`], [`OutboxStore`], [`LockStore`], [`AdminStore`], [`ApiKeyStore`],
//! [`PolicyStore`], [`LabelStore`]); [`Durable`] is all
//! of them. Two implementations serve:
//! [`SqliteStore`] (one node, a file) and [`PostgresStore`] (several nodes
//! sharing one database), both sqlx with embedded migrations of the same schema
//! (`gateway/migrations/{sqlite,postgres}`) and tested to answer alike.
//! [`MemoryDurable`] keeps the same in process memory, for replays of recorded
//! traffic only.
//!
//! Several writers may append to the audit chain (one per gateway process):
//! [`AuditStore::audit_append`] appends only right after the head it was
//! chained on, and says when another writer got there first, so that the
//! writer (`crate::audit`) re-chains on the new head instead of forking it.

/// `test` on each store, as `test::sqlite`, `test::memory`, `test::postgres`
/// (a private PostgreSQL): the store suites' one way to say "all three".
#[cfg(test)]
macro_rules! on_every_store {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                let store = $crate::store::durable::SqliteStore::open("sqlite::memory:")
                    .await
                    .unwrap();
                super::$test(&store).await;
            }

            #[tokio::test]
            async fn memory() {
                super::$test(&$crate::store::durable::MemoryDurable::new()).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$test(&$crate::store::durable::postgres_test_store().await).await;
            }
        }
    )*};
}

#[cfg(test)]
mod admin_data_tests;
pub mod admins;
pub mod api_keys;
mod history;
pub mod labels;
pub mod locks;
mod memory;
pub mod outbox;
pub mod policies;
mod postgres;
mod sqlite;

use async_trait::async_trait;

pub use admins::{AdminRecord, AdminStore};
pub use api_keys::{ApiKeyRecord, ApiKeyStore};
pub use labels::{LabelRecord, LabelStore};
pub use locks::{AccountLock, LockStore};
pub use memory::MemoryDurable;
pub use outbox::{OutboxMessage, OutboxStore};
pub use policies::{PolicyActivation, PolicyRole, PolicyStore, PolicyVersionRecord};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[cfg(test)]
pub(crate) use postgres::{
    test_database as postgres_test_database, test_store as postgres_test_store,
};

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

/// What a user lookup reads when the name is unknown. The SQL stores answer
/// every lookup with exactly one row — the user's, or this stand-in of the
/// same shape and about the same size (an argon2id PHC string is 97
/// characters) — so an unknown name costs the same query, row and decoding as
/// a known one and its reset start takes the same time (enumeration by
/// timing, `tests/tests/it/hardening.rs`). No user can be named "" (account
/// names are checked), so the stand-in is never taken for one.
pub struct StandIn {
    pub password_hash: &'static str,
    pub email: &'static str,
}

pub const STAND_IN: StandIn = StandIn {
    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c3RhbmQtaW4tc2FsdA$\
                    c3RhbmQtaW4taGFzaC1vZi10aGlydHktdHdvLWJ5dGVz",
    email: "stand-in@example.invalid",
};

/// The user of a lookup row, or `None` for [`STAND_IN`].
fn real_user(row: UserRecord) -> Option<UserRecord> {
    (!row.username.is_empty()).then_some(row)
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
    /// The webhook message this record's event raises, inserted in the same
    /// transaction as the record, so an alert is queued exactly when its
    /// event is on record. Not part of the hash (it is derived from the
    /// event, and delivered or not, it says nothing more about it).
    #[sqlx(skip)]
    #[serde(skip)]
    pub alert: Option<OutboxMessage>,
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
    /// Append records in one transaction (group commit), if they continue the
    /// chain: their sequence numbers are consecutive (else an error, nothing
    /// written) and the first is the head's plus one (1 on an empty log).
    ///
    /// `Ok(false)` — nothing written — when the first number is not the next
    /// one: another writer appended since this one read the head (a lost race;
    /// re-read the head and chain again). An empty batch is `Ok(true)`.
    async fn audit_append(&self, records: &[AuditRecord]) -> Result<bool, DurableError>;
    /// Append the records `chain` makes from the head (`None` on an empty log)
    /// while no one else can append: the head cannot move between reading it
    /// and appending, so this never loses a race (other appenders wait). The
    /// records must start right after that head. Returns the new head (the
    /// old one when `chain` made nothing).
    ///
    /// For a writer that lost a race with [`Self::audit_append`]: the lock
    /// makes sure it gets its turn instead of losing again and again.
    async fn audit_append_exclusive(
        &self,
        chain: std::sync::Arc<ChainFn<'static>>,
    ) -> Result<Option<AuditHead>, DurableError>;
    /// Records with `seq > after`, in order, at most `limit`.
    async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, DurableError>;
    /// Records newest first: of `kind` (any when `None`), with `seq < before`
    /// (from the head when `None`), written at or after `since` (RFC 3339 UTC,
    /// compared as text; no bound when `None`), at most `limit`.
    async fn audit_recent(
        &self,
        kind: Option<&str>,
        before: Option<i64>,
        since: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, DurableError>;
    /// The record numbered `seq`.
    async fn audit_record(&self, seq: i64) -> Result<Option<AuditRecord>, DurableError>;
}

/// The last audit record's sequence number and hash.
pub type AuditHead = (i64, String);

/// Makes the records of a batch from the head (sequence number and hash) of
/// the log; see [`AuditStore::audit_append_exclusive`].
pub type ChainFn<'a> = dyn Fn(Option<AuditHead>) -> Vec<AuditRecord> + Send + Sync + 'a;

/// The records `chain` makes from `head`, checked to continue it, and the new
/// head; for [`AuditStore::audit_append_exclusive`].
fn chain_on(
    chain: &ChainFn<'_>,
    head: Option<AuditHead>,
) -> Result<(Vec<AuditRecord>, Option<AuditHead>), DurableError> {
    let head_seq = head.as_ref().map(|(seq, _)| *seq);
    let records = chain(head.clone());
    if let Some(first) = batch_start(&records)?
        && !continues(head.clone(), &records[0])
    {
        return Err(DurableError(format!(
            "audit batch starts at {first}, not after the head {head_seq:?}"
        )));
    }
    let new_head = match records.last() {
        Some(last) => Some((last.seq, last.hash.clone())),
        None => head,
    };
    Ok((records, new_head))
}

/// The first sequence number of a batch for [`AuditStore::audit_append`]
/// (`None` when empty), after checking that the numbers are consecutive.
fn batch_start(records: &[AuditRecord]) -> Result<Option<i64>, DurableError> {
    let Some(first) = records.first() else {
        return Ok(None);
    };
    let consecutive = records
        .iter()
        .zip(0_i64..)
        .all(|(r, i)| first.seq.checked_add(i) == Some(r.seq));
    if consecutive {
        Ok(Some(first.seq))
    } else {
        Err(DurableError(
            "audit batch: sequence numbers are not consecutive".to_owned(),
        ))
    }
}

/// Whether a batch whose first record is `first` continues a log whose head
/// is `head` (`seq`, `hash`): the next number *and* chained on the head's hash,
/// so a head that changed under the same number (a restored backup, a failover
/// to a replica that missed the last commits) is a lost race, re-chained under
/// the lock, and never a silent fork.
fn continues(head: Option<(i64, String)>, first: &AuditRecord) -> bool {
    match head {
        None => first.seq == 1,
        Some((seq, hash)) => seq.checked_add(1) == Some(first.seq) && hash == first.prev_hash,
    }
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

/// What one reset attempt reads of an account ([`Durable::attempt`]).
#[derive(Debug, Clone)]
pub struct AttemptQuery {
    pub username: String,
    /// The attempt's values of the history model's levels.
    pub current: Vec<(&'static str, Option<String>)>,
    /// The device cookie presented, when it is to be checked for a binding.
    pub device_id: Option<String>,
    /// Read the user row too (the built-in directory's accounts are rows here).
    pub with_user: bool,
}

/// The answers to an [`AttemptQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReads {
    /// `None` for an unknown name, and when the row was not asked for.
    pub user: Option<UserRecord>,
    pub factors: Vec<FactorRecord>,
    pub history: HistoryRecord,
    pub lock: Option<AccountLock>,
}

#[async_trait]
pub trait Durable:
    UserStore
    + FactorStore
    + AuditStore
    + HistoryStore
    + OutboxStore
    + LockStore
    + AdminStore
    + ApiKeyStore
    + PolicyStore
    + LabelStore
{
    async fn ping(&self) -> Result<(), DurableError>;

    /// Every durable read of one reset attempt. This default runs them
    /// concurrently; `SQLite` runs them in one transaction on one connection.
    async fn attempt(&self, request: AttemptQuery) -> Result<AttemptReads, DurableError> {
        let name = request.username.as_str();
        let (user, factors, history, lock) = tokio::try_join!(
            async {
                if request.with_user {
                    self.user(name).await
                } else {
                    Ok(None)
                }
            },
            self.factors(name),
            self.history(name, &request.current, request.device_id.as_deref()),
            self.account_lock(name),
        )?;
        Ok(AttemptReads {
            user,
            factors,
            history,
            lock,
        })
    }
}
