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
use crate::store::ephemeral::keys;

/// At most this many passkeys per administrator.
const MAX_PASSKEYS: usize = 10;

fn seal_context(admin: &str) -> Vec<u8> {
    format!("admin-webauthn:{admin}").into_bytes()
}

/// The administrator's passkeys and the sealed bytes they came from.
async fn passkeys(s: &AppState, admin: &str) -> ApiResult<(Vec<Passkey>, Option<Vec<u8>>)> {
    let Some(record) = s.durable.admin(admin).await? else {
        return Ok((Vec::new(), None));
    };
    let Some(sealed) = record.webauthn else {
        return Ok((Vec::new(), None));
    };
    let plain = s.key.open(&sealed, &seal_context(admin)).ok_or_else(|| {
        ApiError::internal("an administrator's passkeys do not open: was the server key replaced?")
    })?;
    let list = serde_json::from_slice(&plain).map_err(ApiError::internal)?;
    Ok((list, Some(sealed)))
}

/// Whether `admin` has a passkey.
pub async fn has_passkey(s: &AppState, admin: &str) -> ApiResult<bool> {
    Ok(!passkeys(s, admin).await?.0.is_empty())
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
        return Err(ApiError::invalid(format!(
            "an administrator may have at most {MAX_PASSKEYS} passkeys"
        )));
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
/// (taken); the passkey joins the list. Audited. Returns how many there are.
pub async fn register_finish(
    s: &AppState,
    admin: &AccountName,
    credential: Value,
) -> ApiResult<usize> {
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
    loop {
        let (mut list, sealed) = passkeys(s, admin.as_str()).await?;
        if list.iter().any(|p| p.cred_id() == passkey.cred_id()) {
            return Ok(list.len());
        }
        list.push(passkey.clone());
        if save(s, admin.as_str(), sealed.as_deref(), &list).await? {
            return Ok(list.len());
        }
    }
}

#[derive(Serialize, Deserialize)]
struct PendingLogin {
    admin: String,
    state: PasskeyAuthentication,
}

/// The password was right and `admin` has passkeys: a challenge to answer.
pub async fn login_challenge(s: &AppState, admin: &AccountName) -> ApiResult<Value> {
    let (list, _) = passkeys(s, admin.as_str()).await?;
    let (options, state) = s
        .webauthn
        .start_passkey_authentication(&list)
        .map_err(ApiError::internal)?;
    let challenge_id = crate::crypto::random_token();
    let pending = serde_json::to_vec(&PendingLogin {
        admin: admin.to_string(),
        state,
    })
    .map_err(ApiError::internal)?;
    s.ephemeral
        .put(
            &keys::admin_passkey_login(&crypto_id(&challenge_id)),
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
fn crypto_id(challenge_id: &str) -> String {
    crate::crypto::sha256_hex(challenge_id.as_bytes())
}

/// Check the answer to a sign-in challenge: the administrator it signs in,
/// or `None` (no such live challenge, a wrong or replayed answer, a cloned
/// authenticator). The signature counter is advanced by compare-and-swap.
pub async fn login_verify(
    s: &AppState,
    challenge_id: &str,
    credential: &Value,
) -> ApiResult<Option<AccountName>> {
    if challenge_id.is_empty() || challenge_id.len() > 128 {
        return Ok(None);
    }
    let credential: PublicKeyCredential = serde_json::from_value(credential.clone())
        .map_err(|_| ApiError::invalid("credential is not a WebAuthn assertion"))?;
    let Some(raw) = s
        .ephemeral
        .take(&keys::admin_passkey_login(&crypto_id(challenge_id)))
        .await?
    else {
        return Ok(None);
    };
    let pending: PendingLogin = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    let result = match s
        .webauthn
        .finish_passkey_authentication(&credential, &pending.state)
    {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(error = %e, admin = %pending.admin, "administrator passkey assertion refused");
            return Ok(None);
        }
    };
    let admin = AccountName::parse(&pending.admin).map_err(ApiError::internal)?;
    loop {
        let (mut list, sealed) = passkeys(s, admin.as_str()).await?;
        let Some(used) = list.iter_mut().find(|p| p.cred_id() == result.cred_id()) else {
            return Ok(None);
        };
        if used.update_credential(&result) != Some(true) {
            // The counter did not move: nothing to store.
            return Ok(Some(admin));
        }
        if save(s, admin.as_str(), sealed.as_deref(), &list).await? {
            return Ok(Some(admin));
        }
    }
}
