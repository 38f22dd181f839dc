//! SOC alert webhooks: signed (Standard Webhooks) deliveries whose body carries an
//! OCSF 1.7.0 event and the risk assessment behind it (DESIGN.md, "Contract: SOC
//! webhooks").
//!
//! # Layout
//!
//! - this module: the event type names ([`EventType`]), subscription matching
//!   ([`Subscription`], `"*"` = every type) and the body ([`Envelope`]:
//!   `{"type", "timestamp", "data"}`).
//! - [`sign`]: `whsec_` secrets, the `webhook-id`/`-timestamp`/`-signature`
//!   headers, and verification for receivers and tests.
//! - [`ocsf`]: the OCSF events in `data`, built from typed, non-secret inputs only.
//! - [`target`]: the SSRF guard: which URLs may be configured, and the checked
//!   addresses an attempt may connect to (resolved once, pinned, no redirects).
//! - [`outbox`]: events become outbox messages (id, body) committed with their
//!   audit record; the endpoints as this node knows them ([`outbox::Webhooks`]).
//! - [`alerts`]: the helpers the auditing call sites use (an attempt's source,
//!   the once-per-burst spray report).
//! - [`manage`]: the admin API's operations (endpoints added, listed,
//!   deleted, re-enabled after a 410; deliveries listed and redelivered).
//! - [`dispatch`]: the per-node task that routes, leases, signs and sends, and
//!   judges each answer (retry schedule, `Retry-After`, 410, dead letters).
//!
//! The rows themselves (endpoints, messages, deliveries, attempts) are the
//! durable store's: `crate::store::durable::outbox`.

pub mod alerts;
pub mod dispatch;
pub mod manage;
pub mod ocsf;
pub mod outbox;
pub mod sign;
pub mod target;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use ocsf::{Event, Producer};

/// What happened, as named in the body's `type` and in subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// An attempt scored `high`: it was stepped up.
    #[serde(rename = "risk.high")]
    RiskHigh,
    /// An attempt was refused (level `deny`, a hard limit, or factors it cannot meet).
    #[serde(rename = "reset.denied")]
    ResetDenied,
    /// A password was reset.
    #[serde(rename = "reset.completed")]
    ResetCompleted,
    /// A factor was added or removed.
    #[serde(rename = "factor.changed")]
    FactorChanged,
    /// One address tried resets for many accounts.
    #[serde(rename = "attack.spray_detected")]
    SprayDetected,
    /// An account was locked.
    #[serde(rename = "account.locked")]
    AccountLocked,
}

impl EventType {
    /// Every type.
    pub const ALL: [Self; 6] = [
        Self::RiskHigh,
        Self::ResetDenied,
        Self::ResetCompleted,
        Self::FactorChanged,
        Self::SprayDetected,
        Self::AccountLocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RiskHigh => "risk.high",
            Self::ResetDenied => "reset.denied",
            Self::ResetCompleted => "reset.completed",
            Self::FactorChanged => "factor.changed",
            Self::SprayDetected => "attack.spray_detected",
            Self::AccountLocked => "account.locked",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown webhook event type {name:?}; expected \"*\" or one of: {}",
    known()
)]
pub struct UnknownEventType {
    pub name: String,
}

fn known() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| UnknownEventType { name: name.into() })
    }
}

/// One entry of an endpoint's `events` list: `"*"` or a type name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Subscription {
    All,
    Only(EventType),
}

impl Subscription {
    pub fn matches(self, event: EventType) -> bool {
        match self {
            Self::All => true,
            Self::Only(wanted) => wanted == event,
        }
    }

    /// Whether an endpoint subscribed to `list` wants `event` (an empty list
    /// wants nothing).
    pub fn any_matches(list: &[Subscription], event: EventType) -> bool {
        list.iter().any(|s| s.matches(event))
    }
}

impl FromStr for Subscription {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == "*" {
            Ok(Self::All)
        } else {
            name.parse().map(Self::Only)
        }
    }
}

impl TryFrom<String> for Subscription {
    type Error = UnknownEventType;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

impl From<Subscription> for String {
    fn from(s: Subscription) -> String {
        s.to_string()
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Only(t) => f.write_str(t.as_str()),
        }
    }
}

/// The body of a delivery: `{"type", "timestamp", "data"}`, the Standard Webhooks
/// payload shape. `timestamp` is when the event happened (RFC 3339, UTC), not
/// when this attempt was sent (that is the `webhook-timestamp` header); `data` is
/// the OCSF event ([`ocsf`] says where the assessment goes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub timestamp: String,
    pub data: serde_json::Value,
}

impl Envelope {
    /// The envelope of `event`.
    pub fn new(event: &Event, producer: &Producer) -> Self {
        Self {
            kind: event.event_type(),
            timestamp: crate::time::rfc3339(event.time()),
            data: event.to_ocsf(producer),
        }
    }

    /// The exact bytes to sign and send (and to store in the outbox: a retry
    /// must send the same bytes).
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a JSON value always serialises")
    }
}

#[cfg(test)]
mod tests;
