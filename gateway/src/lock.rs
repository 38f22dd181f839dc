//! "This wasn't me": the single-use link in every notice that locks the
//! account's resets.
//!
//! A notice (after a reset, after a factor change) carries
//! `{server.public_url}/lock?t=TOKEN`. The token is sealed by the server key
//! (XChaCha20-Poly1305, its own context): the account, the time it was made
//! and a random nonce, so it can neither be forged nor read, and it names no
//! account in the clear. It is good for `reset.lock_link_ttl` and once: its
//! nonce is marked used in the ephemeral store (kept as long as the token
//! could be valid) after the lock took effect, so a failure part way leaves
//! the link usable for another try.
//!
//! Following the link shows a page with one button (GET changes nothing: mail
//! scanners open links); pressing it ([`redeem`])
//! - locks the account's resets in the durable store: from then on a reset of
//!   that account gets the decoy treatment of an unknown name (it looks the
//!   same, and can never succeed), a reset already verified cannot complete,
//!   and enrolment sign-in is refused, until an operator unlocks it
//!   (`resetgate users unlock NAME`);
//! - ends every enrolment session of the account (the grant the new password
//!   gave here; a directory session elsewhere is the directory's to revoke);
//! - audits `account.locked` and raises the SOC's `account.locked` event in
//!   the same commit.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::http::error::ApiResult;
use crate::signals::context::Context;
use crate::store::ephemeral::keys;
use crate::webhooks::ocsf::{Lock, LockReason};
use crate::webhooks::{Event, alerts};

/// The reason stored with a lock the owner asked for.
pub const REPORTED_BY_OWNER: &str = "reported_by_owner";

/// The sealing context of lock tokens.
const CONTEXT: &[u8] = b"lock-link";

#[derive(Serialize, Deserialize)]
struct Claims {
    /// The account.
    a: String,
    /// Made at, unix seconds.
    iat: i64,
    /// Single-use nonce.
    n: String,
}

/// A new lock token for `account`.
pub fn issue(s: &AppState, account: &AccountName) -> String {
    let claims = Claims {
        a: account.to_string(),
        iat: s.now(),
        n: crate::crypto::random_token(),
    };
    let plain = serde_json::to_vec(&claims).expect("claims serialise");
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        s.key.seal(&plain, CONTEXT),
    )
}

/// The link to put in a notice.
pub fn link(s: &AppState, token: &str) -> String {
    format!(
        "{}/lock?t={token}",
        s.config.server.public_url.as_str().trim_end_matches('/')
    )
}

/// A new lock link for `account`.
pub fn new_link(s: &AppState, account: &AccountName) -> String {
    link(s, &issue(s, account))
}

/// What following a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The account's resets are locked (now, or already before).
    Locked(AccountName),
    /// This link was used before.
    AlreadyUsed,
    /// Not a link of ours, or too old.
    Invalid,
}

fn open(s: &AppState, token: &str) -> Option<Claims> {
    let sealed =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token).ok()?;
    let plain = s.key.open(&sealed, CONTEXT)?;
    serde_json::from_slice(&plain).ok()
}

/// Whether `token` is a valid, unexpired lock token (nothing is changed).
pub fn check(s: &AppState, token: &str) -> bool {
    valid(s, token).is_some()
}

fn valid(s: &AppState, token: &str) -> Option<(Claims, AccountName)> {
    let claims = open(s, token)?;
    let ttl = i64::try_from(s.config.reset.lock_link_ttl.as_secs()).unwrap_or(i64::MAX);
    let age = s.now() - claims.iat;
    // A token from a little in the future: clocks of two nodes may differ.
    if !(-300..=ttl).contains(&age) {
        return None;
    }
    let name = AccountName::parse(&claims.a).ok()?;
    Some((claims, name))
}

/// Use `token`: lock the account's resets, end its sessions, audit and alert.
pub async fn redeem(s: &AppState, token: &str, origin: &Context) -> ApiResult<Redeemed> {
    let Some((claims, name)) = valid(s, token) else {
        return Ok(Redeemed::Invalid);
    };
    // Used before? (Marked only after everything below succeeded, so a
    // failure part way leaves the link usable for another try.)
    let used = keys::lock_link(&claims.n);
    if s.ephemeral.get(&used).await?.is_some() {
        return Ok(Redeemed::AlreadyUsed);
    }
    let at = s.clock.now();
    // Idempotent steps first: the lock (the first lock's time and reason
    // stay), the sessions, the audit record with the SOC's event.
    let newly = s
        .durable
        .lock_account(name.as_str(), crate::time::unix(at), REPORTED_BY_OWNER)
        .await?;
    crate::session::revoke_all(s, &name).await?;
    let alert = s.webhooks.message(&Event::AccountLocked(Lock {
        user: name.clone(),
        reason: LockReason::ReportedByOwner,
        source: Some(alerts::source(origin)),
        time: at,
    }));
    s.audit
        .record(
            AuditEvent::new(
                at,
                "account.locked",
                name.as_str(),
                json!({
                    "reason": REPORTED_BY_OWNER,
                    "already_locked": !newly,
                    "address": origin.ip,
                }),
            )
            .with_alert(alert),
        )
        .await?;
    // Two presses at once both lock (harmless); only one marks the link.
    s.ephemeral
        .put_new(&used, b"used", s.config.reset.lock_link_ttl)
        .await?;
    tracing::warn!(account = %name, "the owner reported a change that was not theirs: resets locked");
    Ok(Redeemed::Locked(name))
}
