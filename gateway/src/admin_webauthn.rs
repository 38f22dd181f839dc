//! Passkeys as an administrator's second factor, beside the TOTP code of
//! `admin create` (NIST SP 800-63B-4: a phishing-resistant authenticator for
//! the people who can change the policy).
//!
//! ```text
//!   signed in (password + code) ─► POST /v1/admin/webauthn ─► …/finish ─► passkey stored
//!   POST /v1/admin/login {username, password}            (no code)
//!     ├─ password right, passkeys registered ─► {status: "webauthn_required", challenge_id, public_key}
//!     │     └─ POST /v1/admin/login/webauthn {challenge_id, credential} ─► {token}
//!     └─ anything else ─► the same 401 as every refusal
//! ```
//!
//! The passkeys are a JSON list sealed with the server key in the admin's
//! row, changed only by compare-and-swap (a sign-in advancing a signature
//! counter and a registration cannot lose each other's write). Ceremony
//! state lives in the ephemeral store for [`CEREMONY_TTL`] and is *taken*
//! when the answer arrives, so each challenge is answered once. A counter
//! that does not move forward is refused as a possible clone.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};

use crate::account::AccountName;
use crate::app::AppState;
use crate::factors::webauthn::CEREMONY_TTL;
use crate::http::error::{ApiError, ApiResult};
use crate::store::durable::AdminRecord;
use crate::store::ephemeral::keys;

/// At most this many passkeys per administrator.
const MAX_PASSKEYS: usize = 10;

fn seal_context(admin: &str) -> Vec<u8> {
    format!("admin-webauthn:{admin}").into_bytes()
}

/// Compare-and-swap retries before giving up (each loses only to another
/// writer's success).
const CAS_TRIES: usize = 5;

/// The passkeys of `record`.
fn opened(s: &AppState, record: &AdminRecord) -> ApiResult<Vec<Passkey>> {
    let Some(sealed) = &record.webauthn else {
        return Ok(Vec::new());
    };
    let plain = s
        .key
        .open(sealed, &seal_context(&record.username))
        .ok_or_else(|| {
            ApiError::internal(
                "an administrator's passkeys do not open: was the server key replaced?",
            )
        })?;
    serde_json::from_slice(&plain).map_err(ApiError::internal)
}

/// The administrator's passkeys and the sealed bytes they came from; an
/// error when there is no such administrator.
async fn passkeys(s: &AppState, admin: &str) -> ApiResult<(Vec<Passkey>, Option<Vec<u8>>)> {
    let record = s
        .durable
        .admin(admin)
        .await?
        .ok_or_else(|| ApiError::internal(format!("no administrator {admin}")))?;
    Ok((opened(s, &record)?, record.webauthn))
}

fn busy() -> ApiError {
    ApiError::unavailable("an administrator's passkeys kept changing under a compare-and-swap")
}

async fn save(
    s: &AppState,
    admin: &str,
    expected: Option<&[u8]>,
    list: &[Passkey],
) -> ApiResult<bool> {
    let plain = serde_json::to_vec(list).map_err(ApiError::internal)?;
    let sealed = s.key.seal(&plain, &seal_context(admin));
    Ok(s.durable
        .set_admin_webauthn(admin, expected, &sealed)
        .await?)
}

fn user_handle(s: &AppState, admin: &str) -> Uuid {
    let mac = s.key.mac(&[b"admin-webauthn-user", admin.as_bytes()]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&mac[..16]);
    Uuid::from_bytes(bytes)
}

/// Begin registering a passkey for the signed-in `admin`: creation options.
pub async fn register_begin(s: &AppState, admin: &AccountName) -> ApiResult<Value> {
    let (list, _) = passkeys(s, admin.as_str()).await?;
    if list.len() >= MAX_PASSKEYS {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "too_many_passkeys",
            format!("an administrator may have at most {MAX_PASSKEYS} passkeys"),
        ));
    }
    let exclude = list.iter().map(|p| p.cred_id().clone()).collect();
    let label = format!("admin-{admin}");
    let (options, state) = s
        .webauthn
        .start_passkey_registration(
            user_handle(s, admin.as_str()),
            &label,
            &label,
            Some(exclude),
        )
        .map_err(ApiError::internal)?;
    let pending = serde_json::to_vec(&state).map_err(ApiError::internal)?;
    s.ephemeral
        .put(
            &keys::admin_passkey_registration(admin.as_str()),
            &pending,
            CEREMONY_TTL,
        )
        .await?;
    serde_json::to_value(options.public_key).map_err(ApiError::internal)
}

/// Finish registering: the browser's answer against the pending ceremony
/// (taken); the passkey joins the list. Adding a second factor asks for the
/// current one again (a fresh TOTP `code`, ASVS 5.0 V6: re-authenticate
/// before changing authenticators), so a stolen session cannot plant a
/// lasting factor. Audited. Returns how many there are.
pub async fn register_finish(
    s: &AppState,
    admin: &AccountName,
    credential: Value,
    code: &str,
) -> ApiResult<usize> {
    if !crate::admin::fresh_code(s, admin, code).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "invalid_code",
            "a current, unused code of your authenticator app is required",
        ));
    }
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential)
        .map_err(|_| ApiError::invalid("credential is not a WebAuthn registration response"))?;
    let raw = s
        .ephemeral
        .take(&keys::admin_passkey_registration(admin.as_str()))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "no_pending_enrolment",
                "no passkey registration is waiting; start again",
            )
        })?;
    let state: PasskeyRegistration = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    let passkey = s
        .webauthn
        .finish_passkey_registration(&credential, &state)
        .map_err(|e| {
            tracing::info!(error = %e, "administrator passkey registration refused");
            ApiError::bad_request(
                "invalid_credential",
                "the authenticator's answer could not be verified; try again",
            )
        })?;
    for _ in 0..CAS_TRIES {
        let (mut list, sealed) = passkeys(s, admin.as_str()).await?;
        if list.iter().any(|p| p.cred_id() == passkey.cred_id()) {
            return Ok(list.len());
        }
        if list.len() >= MAX_PASSKEYS {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "too_many_passkeys",
                format!("an administrator may have at most {MAX_PASSKEYS} passkeys"),
            ));
        }
        // On record before it takes effect.
        crate::admin::audit(
            s,
            s.clock.now(),
            "admin.passkey_added",
            admin,
            json!({"credential_id": base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                passkey.cred_id().as_ref() as &[u8],
            )}),
        )
        .await?;
        list.push(passkey.clone());
        if save(s, admin.as_str(), sealed.as_deref(), &list).await? {
            return Ok(list.len());
        }
    }
    Err(busy())
}

/// Remove every passkey of `admin` (a lost or stolen authenticator); the
/// TOTP code stays. How many there were.
pub async fn remove_all(
    s: &dyn crate::store::durable::Durable,
    key: &crate::crypto::ServerKey,
    admin: &str,
) -> anyhow::Result<usize> {
    for _ in 0..CAS_TRIES {
        let record = s
            .admin(admin)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no administrator named {admin}"))?;
        let Some(sealed) = &record.webauthn else {
            return Ok(0);
        };
        let count = key
            .open(sealed, &seal_context(admin))
            .and_then(|plain| serde_json::from_slice::<Vec<Passkey>>(&plain).ok())
            .map_or(0, |list| list.len());
        let empty = key.seal(b"[]", &seal_context(admin));
        if s.set_admin_webauthn(admin, Some(sealed), &empty).await? {
            return Ok(count);
        }
    }
    anyhow::bail!("the passkeys of {admin} kept changing; try again")
}

#[derive(Serialize, Deserialize)]
struct PendingLogin {
    admin: String,
    /// A challenge that can be answered (the password was right); a decoy's
    /// is refused whatever comes back.
    real: bool,
    state: PasskeyAuthentication,
}

/// A passkey challenge for `admin` (`record`): for the administrator's own
/// passkeys when `real`, else for decoy credentials derived from the name,
/// with the same shape, cost and answer, which nothing can answer.
pub async fn login_challenge(
    s: &AppState,
    admin: &AccountName,
    record: Option<&AdminRecord>,
    real: bool,
) -> ApiResult<Value> {
    let mut list = match record {
        Some(record) if real => opened(s, record)?,
        _ => Vec::new(),
    };
    let real = real && !list.is_empty();
    if !real {
        list = crate::factors::webauthn::decoy_passkeys(&s.key, &format!("admin:{admin}"));
    }
    let (options, state) = s
        .webauthn
        .start_passkey_authentication(&list)
        .map_err(ApiError::internal)?;
    let challenge_id = crate::crypto::random_token();
    let pending = serde_json::to_vec(&PendingLogin {
        admin: admin.to_string(),
        real,
        state,
    })
    .map_err(ApiError::internal)?;
    s.ephemeral
        .put(
            &keys::admin_passkey_login(&digest(&challenge_id)),
            &pending,
            CEREMONY_TTL,
        )
        .await?;
    Ok(json!({
        "status": "webauthn_required",
        "challenge_id": challenge_id,
        "public_key": options.public_key,
        "expires_in": CEREMONY_TTL.as_secs(),
    }))
}

/// The challenge id is a bearer secret for a few minutes: only its digest
/// names the stored ceremony.
fn digest(challenge_id: &str) -> String {
    crate::crypto::sha256_hex(challenge_id.as_bytes())
}

/// What an answer to a sign-in challenge was worth.
pub enum Verified {
    /// Signed in as this administrator.
    Admin(AccountName),
    /// Refused: the administrator of a real challenge (`None` for an
    /// unknown, expired, answered or decoy one) and why.
    Refused {
        admin: Option<AccountName>,
        reason: &'static str,
    },
}

fn refused(admin: Option<AccountName>, reason: &'static str) -> Verified {
    Verified::Refused { admin, reason }
}

/// Check the answer to a sign-in challenge. The challenge is taken first
/// (answered once); a valid answer must move a counting authenticator's
/// signature counter past the stored one (else: a possible clone), which is
/// then stored by compare-and-swap.
pub async fn login_verify(
    s: &AppState,
    challenge_id: &str,
    credential: &Value,
) -> ApiResult<Verified> {
    if challenge_id.is_empty() || challenge_id.len() > 128 {
        return Ok(refused(None, "no_challenge"));
    }
    let credential: PublicKeyCredential = serde_json::from_value(credential.clone())
        .map_err(|_| ApiError::invalid("credential is not a WebAuthn assertion"))?;
    let Some(raw) = s
        .ephemeral
        .take(&keys::admin_passkey_login(&digest(challenge_id)))
        .await?
    else {
        return Ok(refused(None, "no_challenge"));
    };
    let pending: PendingLogin = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    if !pending.real {
        return Ok(refused(None, "decoy_challenge"));
    }
    let admin = AccountName::parse(&pending.admin).map_err(ApiError::internal)?;
    let result = match s
        .webauthn
        .finish_passkey_authentication(&credential, &pending.state)
    {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(error = %e, admin = %admin, "administrator passkey assertion refused");
            return Ok(refused(Some(admin), "passkey"));
        }
    };
    for _ in 0..CAS_TRIES {
        let (mut list, sealed) = passkeys(s, admin.as_str()).await?;
        let Some(used) = list.iter_mut().find(|p| p.cred_id() == result.cred_id()) else {
            return Ok(refused(Some(admin), "passkey_removed"));
        };
        match used.update_credential(&result) {
            Some(true) => {}
            // Not past the stored counter (another sign-in moved it on since
            // this challenge was issued): a clone, or a replayed answer.
            _ if result.counter() != 0 => {
                tracing::warn!(admin = %admin, "administrator passkey counter did not move forward: possible cloned authenticator");
                return Ok(refused(Some(admin), "counter"));
            }
            _ => return Ok(Verified::Admin(admin)),
        }
        if save(s, admin.as_str(), sealed.as_deref(), &list).await? {
            return Ok(Verified::Admin(admin));
        }
    }
    Err(busy())
}
