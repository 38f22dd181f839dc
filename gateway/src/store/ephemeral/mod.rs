//! The ephemeral store: short-lived shared state with TTLs (flows, pending
//! enrolments, sessions, counters, TOTP last-used steps).
//!
//! Every method is one atomic operation that a networked store serves in one
//! round trip (a Redis command or Lua script): [`MemoryStore`] for a single
//! node, [`RedisStore`] (Redis or Redis Cluster) for several; both pass the
//! same conformance suite (`conformance.rs`). Values are opaque bytes;
//! callers serialise. Time comes in as an argument where the operation depends on
//! it, so the memory implementation is deterministic under test.

#[cfg(test)]
mod conformance;
mod memory;
mod redis;

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

pub use memory::{DEFAULT_LIMIT_BYTES, MemoryStore};
pub use redis::RedisStore;

/// The store could not answer; callers fail closed (503 `store_unavailable`).
#[derive(Debug, thiserror::Error)]
#[error("ephemeral store unavailable: {0}")]
pub struct StoreError(pub String);

/// One sliding-window counter in a [`Ephemeral::windows`] call.
///
/// Without a `member` the window counts events. With one it counts distinct
/// members seen within the window (recording refreshes the member's time): the
/// distinct accounts tried from one address is a spray signal. (In Redis both
/// are one sorted set: member = a unique id or the given member, score = time.)
#[derive(Debug, Clone, Copy)]
pub struct WindowOp<'a> {
    pub key: &'a str,
    pub window: Duration,
    /// Record an event now before counting (false: only count).
    pub record: bool,
    /// Count distinct members instead of events.
    pub member: Option<&'a str>,
}

impl<'a> WindowOp<'a> {
    /// Record an event and count events.
    pub fn hit(key: &'a str, window: Duration) -> Self {
        Self {
            key,
            window,
            record: true,
            member: None,
        }
    }

    /// Count events without recording.
    pub fn peek(key: &'a str, window: Duration) -> Self {
        Self {
            key,
            window,
            record: false,
            member: None,
        }
    }

    /// Count distinct members without recording.
    pub fn peek_distinct(key: &'a str, window: Duration) -> Self {
        Self {
            key,
            window,
            record: false,
            member: Some(""),
        }
    }

    /// Record `member` and count distinct members.
    pub fn distinct(key: &'a str, window: Duration, member: &'a str) -> Self {
        Self {
            key,
            window,
            record: true,
            member: Some(member),
        }
    }
}

#[async_trait]
pub trait Ephemeral: Send + Sync + 'static {
    /// Set `key` to `value` for `ttl`, replacing what was there.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;

    /// The live value of `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Set `key` only if it does not exist; true when this call created it.
    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError>;

    /// Replace the value only if it still equals `expected`, with a fresh `ttl`.
    /// The building block of every state transition (optimistic concurrency):
    /// of two racing writers exactly one succeeds.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Remove `key` and return what it held (single-use values).
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Sliding-window counters: for each op, optionally record an event at `now`,
    /// then count the events within `window` before `now`. All ops are applied
    /// atomically, in one round trip.
    async fn windows(&self, ops: &[WindowOp<'_>], now: SystemTime) -> Result<Vec<u64>, StoreError>;

    /// Raise a monotonic marker: store `value` and return true if it is greater
    /// than the stored one (or none is stored); otherwise leave it and return false.
    /// Used for "each TOTP step is accepted once".
    async fn advance(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError>;

    /// Is the store reachable?
    async fn ping(&self) -> Result<(), StoreError>;

    /// Is the store so full that new reset flows should be turned away, so
    /// that the flows already started can finish? (The in-memory store near its
    /// budget; Redis manages its own memory.)
    fn crowded(&self) -> bool {
        false
    }

    /// Does what the store holds end with this process (the in-memory store),
    /// rather than outlive it for the other nodes (Redis)?
    fn dies_with_the_process(&self) -> bool {
        false
    }
}

/// Key prefixes, in one place so that no two features collide.
pub mod keys {
    pub fn flow(id: &str) -> String {
        format!("flow:{id}")
    }
    pub fn session(token_hash: &str) -> String {
        format!("session:{token_hash}")
    }
    pub fn admin_session(token_hash: &str) -> String {
        format!("admin-session:{token_hash}")
    }
    pub fn admin_totp_step(admin: &str) -> String {
        format!("admin-totp-step:{admin}")
    }
    /// An administrator's passkey registration in progress.
    pub fn admin_passkey_registration(admin: &str) -> String {
        format!("admin-passkey-reg:{admin}")
    }
    /// An administrator's sign-in waiting for a passkey's answer.
    pub fn admin_passkey_login(challenge_id: &str) -> String {
        format!("admin-passkey-login:{challenge_id}")
    }
    pub fn enrolment(kind: &str, account: &str) -> String {
        format!("enrol:{kind}:{account}")
    }
    /// Held by the one reset of the account changing its password now.
    pub fn completing(account: &str) -> String {
        format!("completing:{account}")
    }
    pub fn password_changed(account: &str) -> String {
        format!("pw-changed:{account}")
    }
    pub fn webauthn_assertion(flow_id: &str) -> String {
        format!("webauthn-assert:{flow_id}")
    }
    pub fn totp_step(account: &str) -> String {
        format!("totp-step:{account}")
    }
    /// Set when a "this wasn't me" link's nonce was used.
    pub fn lock_link(nonce: &str) -> String {
        format!("lock-link:{nonce}")
    }
    /// Set while a spray from this address (or IPv6 /64) is being reported.
    pub fn spray(bucket: &str) -> String {
        format!("spray:{bucket}")
    }
    pub fn count(what: &str, subject: &str, window: &str) -> String {
        format!("count:{what}:{window}:{subject}")
    }
}
