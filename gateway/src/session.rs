//! Sign-in for enrolment: the current password checked against the directory
//! gives a short-lived bearer token. Only its SHA-256 is stored.
//!
//! Sign-in attempts are limited per account and per client address within a
//! sliding window (NIST SP 800-63B-4 §3.2.2); the window slides, so a stranger
//! cannot keep the owner out for longer than the window.

use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto;
use crate::http::client::Client;
use crate::http::client_addr::bucket;
use crate::http::error::{ApiError, ApiResult};
use crate::signals::velocity;
use crate::store::ephemeral::keys;

/// Session lifetime.
pub const SESSION_TTL: Duration = Duration::from_mins(15);
const ATTEMPT_WINDOW: Duration = Duration::from_mins(15);
const MAX_ATTEMPTS_PER_ACCOUNT: u64 = 10;
const MAX_ATTEMPTS_PER_ADDRESS: u64 = 50;

/// A stored session: whose, and since when (to revoke on password change).
#[derive(Serialize, Deserialize)]
struct Stored {
    account: String,
    /// Unix milliseconds.
    issued_at: i64,
}

/// Check the password; on success return a new session token.
pub async fn login(
    s: &AppState,
    raw_name: &str,
    password: &str,
    client: &Client,
) -> ApiResult<String> {
    let address = client.ip;
    let name = AccountName::parse(raw_name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if password.len() > crate::reset_core::MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid("password is too long"));
    }
    let now = s.clock.now();
    let addr = address.to_string();
    // Counted before the password is checked: parallel guesses cannot all slip
    // under a limit read before any of them is recorded.
    let (by_account, by_address) = velocity::login_attempt(
        s.ephemeral.as_ref(),
        name.as_str(),
        &bucket(address).to_string(),
        ATTEMPT_WINDOW,
        now,
    )
    .await?;
    if by_account > MAX_ATTEMPTS_PER_ACCOUNT || by_address > MAX_ATTEMPTS_PER_ADDRESS {
        return Err(ApiError::too_many(
            "too_many_attempts",
            "too many sign-in attempts; wait and try again",
            ATTEMPT_WINDOW.as_secs(),
        ));
    }
    let password = crate::reset_core::password::normalize(password);
    if !s.directory.authenticate(&name, &password).await? {
        s.audit
            .record(AuditEvent::new(
                now,
                "login.failed",
                name.as_str(),
                json!({"address": addr}),
            ))
            .await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "the username or password is not right",
        ));
    }
    // The owner said a change was not theirs: whoever set the password they
    // reported does not get to manage the factors (told only after the
    // password was right, so it reveals nothing to a guesser).
    if s.durable.account_lock(name.as_str()).await?.is_some() {
        s.audit
            .record(AuditEvent::new(
                now,
                "login.refused_locked",
                name.as_str(),
                json!({"address": addr}),
            ))
            .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_locked",
            "this account is locked after its owner reported a change that was not theirs; \
             contact the help desk",
        ));
    }
    // A sign-in here is password-only, so it does not feed the account history
    // or bind the device: a stolen password must not be able to teach the risk
    // engine the attacker's country, network and browser before a reset.
    let token = crypto::random_token();
    let stored = Stored {
        account: name.to_string(),
        issued_at: crate::time::unix_millis(now),
    };
    s.ephemeral
        .put(
            &keys::session(&crypto::sha256_hex(token.as_bytes())),
            &serde_json::to_vec(&stored).map_err(ApiError::internal)?,
            SESSION_TTL,
        )
        .await?;
    s.audit
        .record(AuditEvent::new(
            now,
            "login.succeeded",
            name.as_str(),
            json!({"address": addr}),
        ))
        .await?;
    Ok(token)
}

/// The account a bearer token belongs to. Sessions issued before the
/// account's last password change are revoked.
pub async fn authenticate(s: &AppState, token: &str) -> ApiResult<AccountName> {
    if token.len() > 128 {
        return Err(ApiError::unauthenticated());
    }
    let key = keys::session(&crypto::sha256_hex(token.as_bytes()));
    let bytes = s
        .ephemeral
        .get(&key)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let stored: Stored = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    let changed = s
        .ephemeral
        .get(&keys::password_changed(&stored.account))
        .await?;
    let changed_at = changed
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.parse::<i64>().ok());
    if changed_at.is_some_and(|at| at >= stored.issued_at) {
        s.ephemeral.delete(&key).await?;
        return Err(ApiError::unauthenticated());
    }
    AccountName::parse(&stored.account).map_err(ApiError::internal)
}

/// Revoke every session of `account` issued up to now (after a reset). The
/// same mark ends the account's reset flows started before it
/// ([`password_changed_since`]), so it lasts as long as either can.
pub async fn revoke_all(s: &AppState, account: &AccountName) -> ApiResult<()> {
    let now = crate::time::unix_millis(s.clock.now()).to_string();
    let lasts = SESSION_TTL.max(s.config.reset.flow_ttl + Duration::from_mins(1));
    s.ephemeral
        .put(
            &keys::password_changed(account.as_str()),
            now.as_bytes(),
            lasts,
        )
        .await?;
    Ok(())
}

/// Was `account`'s password reset after the second `since` (unix seconds)
/// ended? A flow started then cannot complete: the owner's new password
/// must not be overwritten by an older flow verified meanwhile.
pub async fn password_changed_since(s: &AppState, account: &str, since: i64) -> ApiResult<bool> {
    let changed_at = s
        .ephemeral
        .get(&keys::password_changed(account))
        .await?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.parse::<i64>().ok());
    Ok(changed_at.is_some_and(|at_ms| at_ms >= (since + 1) * 1000))
}

/// End one session (sign-out): the token stops working at once, not when it
/// would have expired.
pub async fn logout(s: &AppState, token: &str) -> ApiResult<()> {
    if token.len() <= 128 {
        s.ephemeral
            .delete(&keys::session(&crypto::sha256_hex(token.as_bytes())))
            .await?;
    }
    Ok(())
}
