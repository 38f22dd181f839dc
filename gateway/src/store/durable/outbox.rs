//! The webhook outbox as stored: endpoints, messages (written with their audit
//! record, see [`AuditRecord::alert`](super::AuditRecord)), deliveries (one per
//! message and endpoint) and the attempts of each delivery.
//!
//! The store does not decide: the dispatcher (`crate::webhooks::dispatch`)
//! says which endpoints a message goes to ([`OutboxStore::route`] with a
//! [`RouteFn`]), when a failed delivery is due again and when it is exhausted
//! ([`Outcome`]). The store makes each of those one transaction, and hands a
//! due delivery to one node at a time: [`OutboxStore::claim`] leases it until
//! a time, and only the holder of that lease can report on it
//! ([`OutboxStore::finish`]). A node that dies holding a lease delays the
//! delivery until the lease runs out; then any node sends it again, under the
//! same `webhook-id`.
//!
//! All times are unix milliseconds.

use async_trait::async_trait;

use super::DurableError;

/// One event to deliver, as written with its audit record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxMessage {
    /// `msg_` + ULID: the `webhook-id` of every attempt.
    pub id: String,
    /// The event type (`risk.high`, …).
    pub kind: String,
    /// The assessment's level (`low` … `deny`), if the event has one.
    pub level: Option<String>,
    pub created_at: i64,
    /// The exact body every attempt sends.
    pub body: String,
}

/// Where an endpoint's settings come from.
pub const SOURCE_CONFIG: &str = "config";
/// An endpoint added through the admin API.
pub const SOURCE_API: &str = "api";

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndpointRecord {
    pub id: String,
    pub url: String,
    /// JSON array of subscriptions (`["*"]`, `["risk.high", …]`).
    pub events: String,
    pub min_level: String,
    /// [`SOURCE_CONFIG`] or [`SOURCE_API`].
    pub source: String,
    /// Sealed signing secrets (API endpoints); `None` for config endpoints,
    /// whose secrets stay in the config.
    pub secrets: Option<Vec<u8>>,
    /// The operator's switch.
    pub enabled: bool,
    /// Set when the receiver said it is gone (410): no new deliveries and no
    /// attempts until an operator changes the URL or enables it again.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

impl EndpointRecord {
    /// Whether deliveries go out to it.
    pub fn active(&self) -> bool {
        self.enabled && self.disabled_at.is_none()
    }
}

/// A delivery leased to this node for one attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub message_id: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub body: String,
}

/// One attempt's result, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct AttemptRecord {
    pub at: i64,
    /// The receiver's HTTP status; `None` when no response came back.
    pub status: Option<i64>,
    pub latency_ms: i64,
    /// Why it failed, if it did (never a secret).
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (2xx).
    Delivered,
    /// Try again at this time.
    Retry { at: i64 },
    /// No attempt left: kept as a dead letter, until redelivered.
    Dead,
    /// The receiver is gone (410): the endpoint is disabled and the delivery
    /// waits, pending, for it to come back.
    Gone,
}

/// States of a delivery.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const DEAD: &str = "dead";

/// A delivery's state and due time after an attempt at `at` with `outcome`.
pub(crate) fn after(outcome: Outcome, at: i64) -> (&'static str, i64) {
    match outcome {
        Outcome::Delivered => (DELIVERED, at),
        Outcome::Retry { at: next } => (PENDING, next),
        Outcome::Dead => (DEAD, at),
        Outcome::Gone => (PENDING, at),
    }
}

/// The reason an endpoint is disabled after a 410.
pub(crate) const GONE: &str = "the receiver answered 410 Gone";

/// A delivery as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: i64,
    pub message_id: String,
    pub endpoint_id: String,
    /// The message's event type.
    pub kind: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which endpoints want a message: `(kind, level)` → endpoint ids.
pub type RouteFn<'a> = dyn Fn(&str, Option<&str>) -> Vec<String> + Send + Sync + 'a;

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Every endpoint, by id.
    async fn endpoints(&self) -> Result<Vec<EndpointRecord>, DurableError>;
    /// Insert or replace an endpoint's settings. A `disabled_*` already stored
    /// is kept when the URL is unchanged (a receiver that said it is gone
    /// stays off across restarts) and cleared when the URL changes.
    async fn put_endpoint(&self, endpoint: &EndpointRecord) -> Result<(), DurableError>;
    /// Add an endpoint under an id not in use: `Ok(false)`, and nothing
    /// changed, when one exists (two admins adding one id at once: one wins).
    async fn insert_endpoint(&self, endpoint: &EndpointRecord) -> Result<bool, DurableError>;
    /// Mark every [`SOURCE_CONFIG`] endpoint not in `ids` as not enabled (it
    /// left the configuration); its deliveries stay visible.
    async fn retire_config_endpoints(&self, ids: &[String]) -> Result<(), DurableError>;
    /// Remove an endpoint with its deliveries and their attempts, in one
    /// transaction (an endpoint added later under the same id inherits
    /// nothing meant for this one); `Ok(false)` when there is none.
    async fn delete_endpoint(&self, id: &str) -> Result<bool, DurableError>;
    /// Clear a 410's disabling; `Ok(false)` when there is no such endpoint.
    async fn enable_endpoint(&self, id: &str) -> Result<bool, DurableError>;
    /// Disable an endpoint because its receiver said it is gone.
    async fn disable_endpoint(&self, id: &str, reason: &str, at: i64) -> Result<(), DurableError>;
    /// Create the deliveries of up to `limit` unrouted messages (the oldest
    /// first), due at `due`, and mark the messages routed, in one transaction.
    /// Two nodes routing at once create each delivery once. Returns how many
    /// messages were routed.
    async fn route(
        &self,
        route: &RouteFn<'_>,
        now: i64,
        due: i64,
        limit: i64,
    ) -> Result<usize, DurableError>;
    /// Lease up to `limit` pending deliveries of `endpoint` that are due at
    /// `now` and not leased, oldest due first, to `lease` until `until`;
    /// none while the endpoint is not active (or does not exist).
    async fn claim(
        &self,
        endpoint: &str,
        now: i64,
        until: i64,
        lease: &str,
        limit: i64,
    ) -> Result<Vec<Claimed>, DurableError>;
    /// Record an attempt of a delivery leased as `lease` and apply its
    /// outcome, in one transaction. `Ok(false)` (nothing written) when the
    /// lease is no longer this one's (it ran out and another node took it).
    async fn finish(
        &self,
        delivery: i64,
        lease: &str,
        attempt: &AttemptRecord,
        outcome: Outcome,
    ) -> Result<bool, DurableError>;
    /// An endpoint's deliveries, newest first, at most `limit`, optionally
    /// only those in `state`.
    async fn deliveries(
        &self,
        endpoint: &str,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, DurableError>;
    /// A delivery's attempts, oldest first.
    async fn attempts(&self, delivery: i64) -> Result<Vec<AttemptRecord>, DurableError>;
    /// Send again, from the start of the schedule: the endpoint's deliveries
    /// with these ids, or all its dead ones when `ids` is `None`. Returns how
    /// many were queued.
    async fn redeliver(
        &self,
        endpoint: &str,
        ids: Option<&[i64]>,
        now: i64,
    ) -> Result<u64, DurableError>;
    /// Retention: remove delivered and dead deliveries last changed before
    /// `before`, with their attempts, then the routed messages made before
    /// `before` that no delivery refers to any more. Pending ones stay.
    /// Returns how many deliveries were removed.
    async fn purge(&self, before: i64) -> Result<u64, DurableError>;
    /// Pending deliveries of active endpoints, and messages not routed yet.
    async fn backlog(&self) -> Result<i64, DurableError>;
}

#[cfg(test)]
mod tests;
