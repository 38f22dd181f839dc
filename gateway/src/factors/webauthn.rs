//! WebAuthn: passkeys and security keys (webauthn-rs), the phishing-resistant
//! factor a high-risk reset can demand.
//!
//! The relying party is `server.public_url`: its host is the RP id and its
//! origin the only origin accepted (`http://localhost:…` works for
//! development, as browsers treat localhost as a secure context).
//!
//! Ceremony state (the challenge and what it allows) lives in the ephemeral
//! store under a short TTL, so a ceremony begun on one node finishes on
//! another, and it is *taken* when the answer arrives: each challenge is
//! answered at most once, so a replayed assertion finds nothing to match.
//! Credentials are stored sealed (AEAD under the server key) in the factor
//! record; the signature counter is kept and a counter that does not move
//! forward is refused as a possible clone (W3C WebAuthn §7.2 step 21).
//!
//! Decoys: an unknown account's reset gets request options for credentials
//! derived from a keyed MAC of the name — stable per name, the same shape as a
//! real one — built by the same library call, and its verification runs the
//! same check against them, which cannot succeed.

use std::time::Duration;

use axum::http::StatusCode;
use risk::Factor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    CredentialID, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, WebauthnError,
};

use crate::account::AccountName;
use crate::app::AppState;
use crate::crypto::ServerKey;
use crate::factors::enrol;
use crate::http::error::{ApiError, ApiResult};
use crate::notify::{self, Notice};
use crate::store::durable::FactorRecord;
use crate::store::ephemeral::keys;

/// How long the browser has to answer a ceremony.
pub const CEREMONY_TTL: Duration = Duration::from_mins(5);
/// The hint shown for a WebAuthn option (the same for every account).
pub const HINT: &str = "passkey or security key";
/// Longest accepted credential name.
const MAX_NAME: usize = 64;

/// The relying party for `public_url`.
pub fn relying_party(public_url: &url::Url) -> anyhow::Result<Webauthn> {
    let host = public_url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("server.public_url has no host"))?;
    let origin = url::Url::parse(&public_url.origin().ascii_serialization())?;
    webauthn_rs::WebauthnBuilder::new(host, &origin)
        .map_err(|e| anyhow::anyhow!("server.public_url cannot be a WebAuthn origin: {e}"))?
        .rp_name("resetgate")
        .timeout(CEREMONY_TTL)
        .build()
        .map_err(|e| anyhow::anyhow!("WebAuthn: {e}"))
}

/// The sealing context of a stored credential: bound to its record id, so a
/// sealed credential cannot be moved to another record.
pub fn seal_context(id: &str) -> Vec<u8> {
    format!("webauthn:{id}").into_bytes()
}

/// A stored credential, opened.
struct Stored {
    id: String,
    sealed: Vec<u8>,
    passkey: Passkey,
}

/// The account's WebAuthn credentials among `ids` (all of them when `None`).
async fn stored(s: &AppState, account: &str, ids: Option<&[String]>) -> ApiResult<Vec<Stored>> {
    let records = s.durable.factors(account).await?;
    Ok(records
        .into_iter()
        .filter(|r| r.kind == Factor::Webauthn.as_str())
        .filter(|r| ids.is_none_or(|ids| ids.contains(&r.id)))
        .filter_map(|r| {
            let sealed = r.secret?;
            let Some(plain) = s.key.open(&sealed, &seal_context(&r.id)) else {
                tracing::error!(factor_id = %r.id, "cannot decrypt a WebAuthn credential: was the server key replaced?");
                return None;
            };
            let passkey = serde_json::from_slice(&plain).ok()?;
            Some(Stored {
                id: r.id,
                sealed,
                passkey,
            })
        })
        .collect())
}

/// A stable user handle per account: not the name, not reversible.
fn user_handle(key: &ServerKey, who: &AccountName) -> Uuid {
    let mac = key.mac(&[b"webauthn-user", who.as_str().as_bytes()]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&mac[..16]);
    Uuid::from_bytes(bytes)
}

#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    name: Option<String>,
    state: PasskeyRegistration,
}

fn clean_name(name: Option<String>) -> ApiResult<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "name must be at most {MAX_NAME} printable characters"
        )));
    }
    Ok(Some(name.to_owned()))
}

/// Begin adding a passkey or security key: the creation options for the
/// browser (`PublicKeyCredentialCreationOptions` as JSON). The account's
/// existing credentials are excluded, so the same authenticator is not added
/// twice.
pub async fn enrol_begin(
    s: &AppState,
    who: &AccountName,
    name: Option<String>,
) -> ApiResult<Value> {
    let name = clean_name(name)?;
    let existing: Vec<CredentialID> = stored(s, who.as_str(), None)
        .await?
        .iter()
        .map(|c| c.passkey.cred_id().clone())
        .collect();
    let (options, state) = s
        .webauthn
        .start_passkey_registration(
            user_handle(&s.key, who),
            who.as_str(),
            who.as_str(),
            Some(existing),
        )
        .map_err(ApiError::internal)?;
    let pending =
        serde_json::to_vec(&PendingRegistration { name, state }).map_err(ApiError::internal)?;
    s.ephemeral
        .put(
            &keys::enrolment("webauthn", who.as_str()),
            &pending,
            CEREMONY_TTL,
        )
        .await?;
    serde_json::to_value(options.public_key).map_err(ApiError::internal)
}

/// Finish adding: check the browser's answer against the pending ceremony
/// (taken, so it is answered once) and store the credential. Returns its id.
pub async fn enrol_finish(
    s: &AppState,
    who: &AccountName,
    credential: Value,
    name: Option<String>,
    origin: &crate::signals::context::Context,
) -> ApiResult<String> {
    let name = clean_name(name)?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential)
        .map_err(|_| ApiError::invalid("credential is not a WebAuthn registration response"))?;
    let raw = s
        .ephemeral
        .take(&keys::enrolment("webauthn", who.as_str()))
        .await?
        .ok_or_else(no_pending)?;
    let pending: PendingRegistration = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    let passkey = s
        .webauthn
        .finish_passkey_registration(&credential, &pending.state)
        .map_err(|e| {
            tracing::info!(error = %e, "WebAuthn registration refused");
            ApiError::bad_request(
                "invalid_credential",
                "the authenticator's answer could not be verified; try again",
            )
        })?;
    // A credential id belongs to one account only (webauthn-rs asks callers to
    // check); within the account the exclude list already prevented a repeat.
    if stored(s, who.as_str(), None)
        .await?
        .iter()
        .any(|c| c.passkey.cred_id() == passkey.cred_id())
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_enrolled",
            "this authenticator is already registered",
        ));
    }
    let id = ulid::Ulid::new().to_string();
    let plain = serde_json::to_vec(&passkey).map_err(ApiError::internal)?;
    let count = stored(s, who.as_str(), None).await?.len();
    let label = name
        .or(pending.name)
        .unwrap_or_else(|| format!("Passkey {}", count + 1));
    let record = FactorRecord {
        id: id.clone(),
        username: who.to_string(),
        kind: Factor::Webauthn.as_str().to_owned(),
        label,
        secret: Some(s.key.seal(&plain, &seal_context(&id))),
        phone: None,
        provisioned: false,
        created_at: s.now(),
        last_used_at: None,
    };
    s.durable.add_factor(&record).await?;
    notify::send(s, who, Notice::FactorAdded, &[], None, origin).await;
    enrol::changed(s, who, "added", &id, Some(Factor::Webauthn), origin).await?;
    Ok(id)
}

/// The ceremony state of a reset's WebAuthn challenge.
#[derive(Serialize, Deserialize)]
struct PendingAssertion {
    state: PasskeyAuthentication,
}

/// Begin the reset factor: request options for the option's credentials
/// (decoy credentials for a decoy flow). The state is kept under the flow id.
pub async fn reset_challenge(
    s: &AppState,
    flow_id: &str,
    account: &str,
    decoy: bool,
    ids: &[String],
    ttl: Duration,
) -> ApiResult<Value> {
    // Read for decoys too (it finds nothing), so both paths cost the same.
    let mut passkeys: Vec<Passkey> = stored(s, account, Some(ids))
        .await?
        .into_iter()
        .map(|c| c.passkey)
        .collect();
    if decoy {
        passkeys = decoy_passkeys(&s.key, account);
    }
    let (options, state) = s
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(ApiError::internal)?;
    let pending = serde_json::to_vec(&PendingAssertion { state }).map_err(ApiError::internal)?;
    s.ephemeral
        .put(
            &keys::webauthn_assertion(flow_id),
            &pending,
            ttl.min(CEREMONY_TTL),
        )
        .await?;
    serde_json::to_value(options.public_key).map_err(ApiError::internal)
}

/// What checking an assertion found.
pub enum Assertion {
    /// Valid, from this factor record.
    Valid { factor_id: String },
    /// Not valid (wrong credential, bad signature, replay, clone, decoy).
    Invalid,
}

/// Check a reset's assertion. The pending challenge is taken first, so an
/// answer is checked at most once. A valid assertion advances the stored
/// signature counter with a compare-and-swap on the sealed record; a counter
/// that did not move forward is refused (cloned authenticator).
pub async fn reset_verify(
    s: &AppState,
    flow_id: &str,
    account: &str,
    decoy: bool,
    ids: &[String],
    credential: &Value,
) -> ApiResult<Assertion> {
    let credential: PublicKeyCredential = serde_json::from_value(credential.clone())
        .map_err(|_| ApiError::invalid("credential is not a WebAuthn assertion"))?;
    let Some(raw) = s.ephemeral.take(&keys::webauthn_assertion(flow_id)).await? else {
        // No live challenge: never issued, expired, or already answered (replay).
        return Ok(Assertion::Invalid);
    };
    let pending: PendingAssertion = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    let creds = stored(s, account, Some(ids)).await?;
    let result = match s
        .webauthn
        .finish_passkey_authentication(&credential, &pending.state)
    {
        Ok(result) => result,
        Err(e) => {
            if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                tracing::warn!(
                    account,
                    "WebAuthn signature counter went backwards: possible cloned authenticator"
                );
            } else {
                tracing::info!(error = %e, "WebAuthn assertion refused");
            }
            return Ok(Assertion::Invalid);
        }
    };
    if decoy {
        return Ok(Assertion::Invalid);
    }
    let Some(mut used) = creds
        .into_iter()
        .find(|c| c.passkey.cred_id() == result.cred_id())
    else {
        return Ok(Assertion::Invalid);
    };
    if used.passkey.update_credential(&result) == Some(true) {
        let plain = serde_json::to_vec(&used.passkey).map_err(ApiError::internal)?;
        let sealed = s.key.seal(&plain, &seal_context(&used.id));
        // Two assertions racing with the same counter: one wins, the other
        // is treated as what it looks like.
        if !s
            .durable
            .update_factor_secret(&used.id, &used.sealed, &sealed)
            .await?
        {
            tracing::warn!(account, "WebAuthn credential changed during verification");
            return Ok(Assertion::Invalid);
        }
    }
    Ok(Assertion::Valid {
        factor_id: std::mem::take(&mut used.id),
    })
}

/// One to three credentials per unknown name, from a keyed MAC: their ids
/// are as long as common platform authenticators' (16 or 32 bytes) and the
/// public keys are points nobody holds a private key for.
pub(crate) fn decoy_passkeys(key: &ServerKey, account: &str) -> Vec<Passkey> {
    let seed = key.mac(&[b"decoy-webauthn", account.as_bytes()]);
    let count = 1 + usize::from(seed[0] % 3);
    (0..count)
        .filter_map(|i| {
            let index = [u8::try_from(i).unwrap_or(0)];
            let id = key.mac(&[b"decoy-webauthn-id", account.as_bytes(), &index]);
            let len = if seed[1 + i].is_multiple_of(2) {
                16
            } else {
                32
            };
            decoy_passkey(&id[..len])
        })
        .collect()
}

/// A `Passkey` with the given credential id, in webauthn-rs's serialised
/// form. The key is the P-256 generator point: valid, and useless to anyone.
fn decoy_passkey(cred_id: &[u8]) -> Option<Passkey> {
    use base64::Engine as _;
    const GX: [u8; 32] = [
        0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
        0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
        0xc2, 0x96,
    ];
    const GY: [u8; 32] = [
        0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
        0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf,
        0x51, 0xf5,
    ];
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cred_id);
    let value = json!({"cred": {
        "cred_id": id,
        "cred": {"type_": "ES256", "key": {"EC_EC2": {"curve": "SECP256R1", "x": GX, "y": GY}}},
        "counter": 0,
        "transports": null,
        "user_verified": true,
        "backup_eligible": false,
        "backup_state": false,
        "registration_policy": "required",
        "extensions": {
            "cred_protect": "Ignored",
            "hmac_create_secret": "NotRequested",
            "appid": "NotRequested",
            "cred_props": "Ignored"
        },
        "attestation": {"data": "None", "metadata": "None"},
        "attestation_format": "none"
    }});
    match serde_json::from_value(value) {
        Ok(passkey) => Some(passkey),
        Err(e) => {
            tracing::error!(error = %e, "cannot build a decoy WebAuthn credential");
            None
        }
    }
}

fn no_pending() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_pending_enrolment",
        "start the enrolment first (or it expired)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoys_are_stable_and_well_formed() {
        let key = ServerKey::from_master(&[5; 32]);
        let a = decoy_passkeys(&key, "nobody");
        assert!(!a.is_empty() && a.len() <= 3);
        let b = decoy_passkeys(&key, "nobody");
        let ids = |v: &[Passkey]| v.iter().map(|p| p.cred_id().clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&decoy_passkeys(&key, "somebody")));
        for p in &a {
            assert!(matches!(p.cred_id().len(), 16 | 32));
        }
    }

    #[test]
    fn relying_party_from_public_url() {
        let rp = relying_party(&url::Url::parse("http://localhost:8080").unwrap()).unwrap();
        let key = ServerKey::from_master(&[5; 32]);
        let (options, _) = rp
            .start_passkey_authentication(&decoy_passkeys(&key, "x"))
            .unwrap();
        assert_eq!(options.public_key.rp_id, "localhost");
        assert!(relying_party(&url::Url::parse("https://sspr.example.com/").unwrap()).is_ok());
    }
}
