//! Administrators: the people and tools allowed to use `/v1/admin`.
//!
//! An administrator is made on the command line (`resetgate admin create
//! NAME`, the password read from standard input) and gets a TOTP secret there,
//! once: sign-in (`POST /v1/admin/login`) needs the password **and** a current
//! code (NIST SP 800-63B-4 AAL2), and a code is accepted once (its time step
//! is remembered). Every refusal is the same 401, whatever failed; the audit
//! log says which (an unknown name is recorded as a keyed hash: people type
//! passwords into name fields). Attempts are limited per administrator and
//! address, and per address, in a sliding window, counted before anything is
//! checked (per administrator alone would let a stranger lock one out; the
//! TOTP code keeps guessing across addresses hopeless). A sign-in gives a
//! bearer token for [`SESSION_TTL`]; only its SHA-256 is stored. Every
//! sign-in, refusal and administrative change is audited with who did it.

use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto::{self, ServerKey};
use crate::factors::totp;
use crate::http::client::Client;
use crate::http::client_addr::bucket;
use crate::http::error::{ApiError, ApiResult};
use crate::reset_core::password::PasswordPolicy;
use crate::signals::velocity;
use crate::store::durable::{AdminRecord, Durable};
use crate::store::ephemeral::keys;

/// How long an administrator's sign-in lasts.
pub const SESSION_TTL: Duration = Duration::from_mins(30);
const ATTEMPT_WINDOW: Duration = Duration::from_mins(15);
/// Per administrator and address (IPv6: /64).
const MAX_ATTEMPTS_PER_ADMIN: u64 = 10;
const MAX_ATTEMPTS_PER_ADDRESS: u64 = 50;

/// The sealing context of an administrator's TOTP seed.
fn seal_context(name: &str) -> Vec<u8> {
    [b"admin-totp:".as_slice(), name.as_bytes()].concat()
}

/// What `admin create` shows, once.
pub struct Created {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    pub otpauth_uri: String,
}

/// Create administrator `name` with `password` (checked against the password
/// rules first). Fails when the name is taken.
pub async fn create(
    store: &dyn Durable,
    key: &ServerKey,
    passwords: &PasswordPolicy,
    name: &AccountName,
    password: &str,
    now: SystemTime,
) -> anyhow::Result<Created> {
    if name.as_str().contains(':') {
        // `key:NAME` is how API keys appear in the audit log.
        anyhow::bail!("an administrator's name cannot contain ':'");
    }
    let password = crate::reset_core::password::normalize(password);
    let refused: Vec<&str> = passwords
        .check(&password, name.as_str(), &["resetgate", "admin"])
        .iter()
        .map(|r| r.code())
        .collect();
    if !refused.is_empty() {
        anyhow::bail!("choose another password: {}", refused.join(", "));
    }
    let seed = totp::new_seed();
    let hash = {
        let password = zeroize::Zeroizing::new(password.clone());
        tokio::task::spawn_blocking(move || crate::directory::hasher::hash_blocking(&password))
            .await?
    };
    let record = AdminRecord {
        username: name.to_string(),
        password_hash: hash,
        totp_secret: key.seal(&seed, &seal_context(name.as_str())),
        disabled: false,
        created_at: crate::time::unix(now),
        webauthn: None,
    };
    if !store.create_admin(&record).await? {
        anyhow::bail!("an administrator named {name} already exists");
    }
    Ok(Created {
        secret: totp::base32(&seed),
        otpauth_uri: totp::otpauth_uri(&seed, &format!("admin-{name}")),
    })
}

#[derive(Serialize, Deserialize)]
struct Stored {
    admin: String,
    issued_at: i64,
}

fn refused() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the name, password or code is not right",
    )
}

/// The 401 of an admin route without a valid sign-in.
pub fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "administrators sign in first: Authorization: Bearer <token from POST /v1/admin/login>",
    )
}

/// What a sign-in gave.
pub enum Login {
    /// Signed in: the bearer token.
    Token(String),
    /// The password was right and no code was sent, and the administrator
    /// has passkeys: the challenge to answer (`crate::admin_webauthn`).
    Passkey(serde_json::Value),
}

/// Check password and code; a new session token on success. Without a code,
/// an administrator with passkeys gets a passkey challenge instead.
pub async fn login(
    s: &AppState,
    raw_name: &str,
    password: &str,
    code: &str,
    client: &Client,
) -> ApiResult<Login> {
    let name = AccountName::parse(raw_name).map_err(|e| ApiError::invalid(e.to_string()))?;
    if password.len() > crate::reset_core::MAX_PASSWORD_BYTES || code.len() > 16 {
        return Err(ApiError::invalid("password or code is too long"));
    }
    let now = s.clock.now();
    let address = client.ip.to_string();
    let from = bucket(client.ip).to_string();
    let (by_admin, by_address) = velocity::admin_login_attempt(
        s.ephemeral.as_ref(),
        &format!("{name}@{from}"),
        &from,
        ATTEMPT_WINDOW,
        now,
    )
    .await?;
    if by_admin > MAX_ATTEMPTS_PER_ADMIN || by_address > MAX_ATTEMPTS_PER_ADDRESS {
        return Err(ApiError::too_many(
            "too_many_attempts",
            "too many sign-in attempts; wait and try again",
            ATTEMPT_WINDOW.as_secs(),
        ));
    }
    let record = s.durable.admin(name.as_str()).await?;
    let password = crate::reset_core::password::normalize(password);
    // The hash is checked for unknown names too (against a dummy), so the
    // time taken does not tell whether the name exists.
    let password_ok = s
        .hasher
        .verify(&password, record.as_ref().map(|r| r.password_hash.clone()))
        .await;
    let step = record.as_ref().and_then(|r| {
        let seed = s.key.open(&r.totp_secret, &seal_context(&r.username))?;
        totp::check(
            &seed,
            code.trim(),
            u64::try_from(crate::time::unix(now)).ok()?,
        )
    });
    if code.trim().is_empty() {
        return passkey_step(s, &name, record.as_ref(), password_ok, &address, now).await;
    }
    let why = match (&record, password_ok, step) {
        (None, ..) => Some("unknown_admin"),
        (Some(r), ..) if r.disabled => Some("disabled"),
        (_, false, _) => Some("password"),
        (_, true, None) => Some("code"),
        (_, true, Some(step)) => {
            // A code is good once: its step must move the admin's marker on.
            let fresh = s
                .ephemeral
                .advance(&keys::admin_totp_step(name.as_str()), step, SESSION_TTL)
                .await?;
            (!fresh).then_some("code_reused")
        }
    };
    if let Some(why) = why {
        audit(
            s,
            now,
            "admin.login_failed",
            &audit_subject(s, &name, Some(why))?,
            json!({"address": address, "reason": why}),
        )
        .await?;
        return Err(refused());
    }
    Ok(Login::Token(
        start_session(s, &name, now, json!({"address": address, "factor": "totp"})).await?,
    ))
}

/// A sign-in without a code: every name and password gets a passkey
/// challenge of the same shape (a decoy one, which nothing can answer,
/// unless the password is right and the administrator is enabled and has
/// passkeys), so the answer never tells whether the password was right.
/// What failed is audited here; the answer is judged at
/// `POST /v1/admin/login/webauthn`.
async fn passkey_step(
    s: &AppState,
    name: &AccountName,
    record: Option<&AdminRecord>,
    password_ok: bool,
    address: &str,
    now: SystemTime,
) -> ApiResult<Login> {
    let why = match record {
        None => Some("unknown_admin"),
        Some(r) if r.disabled => Some("disabled"),
        Some(_) if !password_ok => Some("password"),
        Some(r) if r.webauthn.is_none() => Some("no_passkey"),
        Some(_) => None,
    };
    let (kind, data) = match why {
        Some(why) => (
            "admin.login_failed",
            json!({"address": address, "reason": why}),
        ),
        None => (
            "admin.login_challenged",
            json!({"address": address, "factor": "webauthn"}),
        ),
    };
    audit(s, now, kind, &audit_subject(s, name, why)?, data).await?;
    let challenge = crate::admin_webauthn::login_challenge(s, name, record, why.is_none()).await?;
    Ok(Login::Passkey(challenge))
}

/// The audit subject for a sign-in by `name`: an unknown name as a keyed
/// hash (people type passwords into name fields).
fn audit_subject(s: &AppState, name: &AccountName, why: Option<&str>) -> ApiResult<AccountName> {
    if why == Some("unknown_admin") {
        let mac = s.key.mac(&[b"unknown-admin", name.as_str().as_bytes()]);
        AccountName::parse(&format!("unknown-{}", &hex::encode(mac)[..16]))
            .map_err(ApiError::internal)
    } else {
        Ok(name.clone())
    }
}

/// A new session for `name` (both factors passed), audited as `admin.login`.
async fn start_session(
    s: &AppState,
    name: &AccountName,
    now: SystemTime,
    audit_data: serde_json::Value,
) -> ApiResult<String> {
    let token = crypto::random_token();
    let stored = Stored {
        admin: name.to_string(),
        issued_at: crate::time::unix_millis(now),
    };
    s.ephemeral
        .put(
            &keys::admin_session(&crypto::sha256_hex(token.as_bytes())),
            &serde_json::to_vec(&stored).map_err(ApiError::internal)?,
            SESSION_TTL,
        )
        .await?;
    audit(s, now, "admin.login", name, audit_data).await?;
    Ok(token)
}

/// The answer to a passkey challenge of [`login`]: a session token, or the
/// same 401 as every refusal (audited).
pub async fn login_passkey(
    s: &AppState,
    challenge_id: &str,
    credential: &serde_json::Value,
    client: &Client,
) -> ApiResult<String> {
    let now = s.clock.now();
    let address = client.ip.to_string();
    let name = match crate::admin_webauthn::login_verify(s, challenge_id, credential).await? {
        crate::admin_webauthn::Verified::Admin(name) => name,
        crate::admin_webauthn::Verified::Refused { admin, reason } => {
            let subject = match admin {
                Some(admin) => admin,
                None => AccountName::parse("admin:unknown").map_err(ApiError::internal)?,
            };
            audit(
                s,
                now,
                "admin.login_failed",
                &subject,
                json!({"address": address, "reason": reason}),
            )
            .await?;
            return Err(refused());
        }
    };
    // Disabled while the challenge was open: no session.
    if s.durable
        .admin(name.as_str())
        .await?
        .is_none_or(|r| r.disabled)
    {
        audit(
            s,
            now,
            "admin.login_failed",
            &name,
            json!({"address": address, "reason": "disabled"}),
        )
        .await?;
        return Err(refused());
    }
    start_session(
        s,
        &name,
        now,
        json!({"address": address, "factor": "webauthn"}),
    )
    .await
}

/// Whether `code` is a current TOTP code of `admin` not used before (its
/// step is then spent): the re-authentication asked before a second factor
/// is added.
pub async fn fresh_code(s: &AppState, admin: &AccountName, code: &str) -> ApiResult<bool> {
    if code.len() > 16 {
        return Ok(false);
    }
    let Some(record) = s.durable.admin(admin.as_str()).await? else {
        return Ok(false);
    };
    let now = u64::try_from(s.now()).unwrap_or(0);
    let step = s
        .key
        .open(&record.totp_secret, &seal_context(&record.username))
        .and_then(|seed| totp::check(&seed, code.trim(), now));
    match step {
        Some(step) => Ok(s
            .ephemeral
            .advance(&keys::admin_totp_step(admin.as_str()), step, SESSION_TTL)
            .await?),
        None => Ok(false),
    }
}

/// The administrator a bearer token belongs to.
pub async fn authenticate(s: &AppState, token: &str) -> ApiResult<AccountName> {
    if token.is_empty() || token.len() > 128 {
        return Err(unauthenticated());
    }
    let key = keys::admin_session(&crypto::sha256_hex(token.as_bytes()));
    let bytes = s.ephemeral.get(&key).await?.ok_or_else(unauthenticated)?;
    let stored: Stored = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    // Disabled since signing in: the session ends.
    match s.durable.admin(&stored.admin).await? {
        Some(record) if !record.disabled => {}
        _ => {
            s.ephemeral.delete(&key).await?;
            return Err(unauthenticated());
        }
    }
    AccountName::parse(&stored.admin).map_err(ApiError::internal)
}

/// End the session of `token` (signed in as `admin`).
pub async fn logout(s: &AppState, admin: &AccountName, token: &str) -> ApiResult<()> {
    s.ephemeral
        .delete(&keys::admin_session(&crypto::sha256_hex(token.as_bytes())))
        .await?;
    audit(s, s.clock.now(), "admin.logout", admin, json!({})).await
}

/// Audit an administrative action by `admin` (the record's subject).
/// [`audit`] for a change already made that the answer must report (a
/// secret shown once): the record is kept through failed commits
/// ([`crate::audit::AuditLog::keep`]) and a failure is logged, not answered.
pub async fn audit_kept(
    s: &AppState,
    at: SystemTime,
    kind: &'static str,
    admin: &AccountName,
    data: serde_json::Value,
) {
    let event = AuditEvent::new(at, kind, admin.as_str(), data);
    if let Err(e) = s.audit.keep(event).await {
        tracing::error!(error = %e, kind, "admin change made; its audit record is not committed yet, the writer keeps trying");
    }
}

pub async fn audit(
    s: &AppState,
    at: SystemTime,
    kind: &'static str,
    admin: &AccountName,
    data: serde_json::Value,
) -> ApiResult<()> {
    Ok(s.audit
        .record(AuditEvent::new(at, kind, admin.as_str(), data))
        .await?)
}
