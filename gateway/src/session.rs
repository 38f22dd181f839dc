//! Sign-in for enrolment: the current password checked against the directory
//! gives a short-lived bearer token. Only its SHA-256 is stored.
//!
//! Failed sign-ins are limited per account and per client address within a
//! sliding window (NIST SP 800-63B-4 §3.2.2); the window slides, so a stranger
//! cannot keep the owner out for longer than the window.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto;
use crate::http::error::{ApiError, ApiResult};
use crate::signals::velocity;
use crate::store::ephemeral::keys;

/// Session lifetime.
pub const SESSION_TTL: Duration = Duration::from_mins(15);
const FAILURE_WINDOW: Duration = Duration::from_mins(15);
const MAX_FAILURES_PER_ACCOUNT: u64 = 10;
const MAX_FAILURES_PER_ADDRESS: u64 = 50;

/// Check the password; on success return a new session token.
pub async fn login(
    s: &AppState,
    raw_name: &str,
    password: &str,
    address: IpAddr,
) -> ApiResult<String> {
    let name = AccountName::parse(raw_name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if password.len() > crate::reset_core::MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid("password is too long"));
    }
    let now = s.clock.now();
    let store = s.ephemeral.as_ref();
    let addr = address.to_string();
    let by_account = velocity::bump(
        store,
        "login-fail",
        name.as_str(),
        FAILURE_WINDOW,
        false,
        now,
    )
    .await?;
    let by_address =
        velocity::bump(store, "login-fail-addr", &addr, FAILURE_WINDOW, false, now).await?;
    if by_account >= MAX_FAILURES_PER_ACCOUNT || by_address >= MAX_FAILURES_PER_ADDRESS {
        return Err(ApiError::too_many(
            "too_many_attempts",
            "too many failed sign-ins; wait and try again",
            FAILURE_WINDOW.as_secs(),
        ));
    }
    let password = crate::reset_core::password::normalize(password);
    if !s.directory.authenticate(&name, &password).await? {
        velocity::bump(
            store,
            "login-fail",
            name.as_str(),
            FAILURE_WINDOW,
            true,
            now,
        )
        .await?;
        velocity::bump(store, "login-fail-addr", &addr, FAILURE_WINDOW, true, now).await?;
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
    let token = crypto::random_token();
    s.ephemeral
        .put(
            &keys::session(&crypto::sha256_hex(token.as_bytes())),
            name.as_str().as_bytes(),
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

/// The account a bearer token belongs to.
pub async fn authenticate(s: &AppState, token: &str) -> ApiResult<AccountName> {
    if token.len() > 128 {
        return Err(ApiError::unauthenticated());
    }
    let key = keys::session(&crypto::sha256_hex(token.as_bytes()));
    let name = s
        .ephemeral
        .get(&key)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let name = String::from_utf8(name).map_err(ApiError::internal)?;
    AccountName::parse(&name).map_err(ApiError::internal)
}
