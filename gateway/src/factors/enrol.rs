//! Enrolment by a signed-in person: list, add (TOTP, SMS; each proven with a
//! code before it is stored) and remove factors. Every change is audited and
//! starts the factor's cool-off (`reset.factor_cooloff`).

use std::str::FromStr as _;
use std::time::Duration;

use axum::http::StatusCode;
use risk::Factor;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{sms, totp, usable};
use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto;
use crate::http::error::{ApiError, ApiResult};
use crate::notify::{self, Notice};
use crate::signals::context::Context;
use crate::signals::velocity;
use crate::store::durable::FactorRecord;
use crate::store::ephemeral::keys;
use crate::webhooks::ocsf::FactorChange;
use crate::webhooks::{Event, alerts};

/// How long a started enrolment waits for its code.
const PENDING_TTL: Duration = Duration::from_mins(10);
/// Wrong codes allowed per pending enrolment.
const MAX_TRIES: u8 = 5;
/// SMS enrolment codes per account per hour.
const MAX_SMS_SENDS_PER_HOUR: u64 = 5;

/// A factor as the person sees it.
#[derive(Debug, Serialize)]
pub struct FactorView {
    pub id: String,
    pub factor: String,
    pub label: String,
    pub status: &'static str,
    pub provisioned: bool,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// When it may authorise a reset (after the cool-off).
    pub usable_for_reset_from: String,
}

/// What `POST /v1/me/factors/totp` returns.
#[derive(Debug, Serialize)]
pub struct TotpStart {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[derive(Serialize, Deserialize)]
struct PendingTotp {
    sealed_seed: String,
}

#[derive(Serialize, Deserialize)]
struct PendingSms {
    phone: String,
    mac: String,
    tries: u8,
    expires_at: i64,
}

pub async fn list(s: &AppState, who: &AccountName) -> ApiResult<Vec<FactorView>> {
    let cooloff = s.config.reset.factor_cooloff;
    let records = s.durable.factors(who.as_str()).await?;
    Ok(records
        .into_iter()
        .map(|r| {
            let from = if r.provisioned {
                r.created_at
            } else {
                r.created_at + secs(cooloff)
            };
            FactorView {
                label: r.label.clone(),
                status: if usable(&r, s.now(), cooloff) {
                    "active"
                } else {
                    "cooling_off"
                },
                provisioned: r.provisioned,
                created_at: rfc(r.created_at),
                last_used_at: r.last_used_at.map(rfc),
                usable_for_reset_from: rfc(from),
                factor: r.kind,
                id: r.id,
            }
        })
        .collect())
}

/// `origin`: the context of the request, for the owner's notice.
pub async fn remove(s: &AppState, who: &AccountName, id: &str, origin: &Context) -> ApiResult<()> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "factor_not_found", "no such factor");
    let records = s.durable.factors(who.as_str()).await?;
    let record = records.iter().find(|r| r.id == id).ok_or_else(not_found)?;
    if record.provisioned {
        // Set by an administrator; a password-only session must not strip it.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "factor_provisioned",
            "this factor was set up by your administrator; ask the help desk to change it",
        ));
    }
    if !s.durable.delete_factor(who.as_str(), id).await? {
        return Err(not_found());
    }
    let removed_phone: Vec<String> = record.phone.iter().cloned().collect();
    notify::send(s, who, Notice::FactorRemoved, &removed_phone, None, origin).await;
    changed(
        s,
        who,
        "removed",
        id,
        Factor::from_str(&record.kind).ok(),
        origin,
    )
    .await
}

pub async fn totp_begin(s: &AppState, who: &AccountName) -> ApiResult<TotpStart> {
    let seed = totp::new_seed();
    let context = pending_context("totp", who);
    let pending = PendingTotp {
        sealed_seed: totp::encode(&s.key.seal(&seed, &context)),
    };
    put_json(s, &keys::enrolment("totp", who.as_str()), &pending).await?;
    let uri = totp::otpauth_uri(&seed, who.as_str());
    Ok(TotpStart {
        secret: totp::base32(&seed),
        qr_svg: totp::qr_svg(&uri),
        otpauth_uri: uri,
    })
}

pub async fn totp_finish(
    s: &AppState,
    who: &AccountName,
    code: &str,
    origin: &Context,
) -> ApiResult<String> {
    check_code_format(code)?;
    let key = keys::enrolment("totp", who.as_str());
    let pending: PendingTotp = get_json(s, &key).await?.ok_or_else(no_pending)?;
    let seed = totp::decode(&pending.sealed_seed)
        .and_then(|sealed| s.key.open(&sealed, &pending_context("totp", who)))
        .ok_or_else(no_pending)?;
    let now = u64::try_from(s.now()).unwrap_or(0);
    let fresh = match totp::check(&seed, code, now) {
        Some(step) => {
            s.ephemeral
                .advance(&keys::totp_step(who.as_str()), step, Duration::from_mins(5))
                .await?
        }
        None => false,
    };
    if !fresh {
        return Err(ApiError::bad_request(
            "invalid_code",
            "that code is not right; check the app's clock",
        ));
    }
    s.ephemeral.delete(&key).await?;
    let id = ulid::Ulid::new().to_string();
    let record = FactorRecord {
        secret: Some(s.key.seal(&seed, &totp::seal_context(&id))),
        phone: None,
        ..record(s, who, &id, Factor::Totp, "Authenticator app")
    };
    s.durable.add_factor(&record).await?;
    notify::send(s, who, Notice::FactorAdded, &[], None, origin).await;
    changed(s, who, "added", &id, Some(Factor::Totp), origin).await?;
    Ok(id)
}

pub async fn sms_begin(s: &AppState, who: &AccountName, phone: &str) -> ApiResult<u64> {
    if !sms::is_e164(phone) {
        return Err(ApiError::invalid(
            "phone must be in E.164 form, e.g. +15550100001",
        ));
    }
    let sent = velocity::bump(
        s.ephemeral.as_ref(),
        "enrol-sms",
        who.as_str(),
        Duration::from_hours(1),
        true,
        s.clock.now(),
    )
    .await?;
    if sent > MAX_SMS_SENDS_PER_HOUR {
        return Err(ApiError::too_many(
            "too_many_sends",
            "too many codes sent; try again later",
            3600,
        ));
    }
    let code = crypto::random_code(6);
    let pending = PendingSms {
        phone: phone.to_owned(),
        mac: enrol_mac(s, who, phone, &code),
        tries: 0,
        expires_at: s.now() + secs(PENDING_TTL),
    };
    put_json(s, &keys::enrolment("sms", who.as_str()), &pending).await?;
    s.sms
        .send(phone.to_owned(), sms::code_message(&code, PENDING_TTL));
    Ok(PENDING_TTL.as_secs())
}

pub async fn sms_finish(
    s: &AppState,
    who: &AccountName,
    code: &str,
    origin: &Context,
) -> ApiResult<String> {
    check_code_format(code)?;
    let key = keys::enrolment("sms", who.as_str());
    // An empty value is a finished enrolment (the compare-and-swap below
    // empties it rather than deleting it, as deletion cannot be conditional).
    let raw = s
        .ephemeral
        .get(&key)
        .await?
        .filter(|r| !r.is_empty())
        .ok_or_else(no_pending)?;
    let mut pending: PendingSms = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
    let right = crypto::ct_eq(
        pending.mac.as_bytes(),
        enrol_mac(s, who, &pending.phone, code).as_bytes(),
    );
    // Every outcome is a compare-and-swap on what was read, so parallel
    // guesses cannot share one try or both consume the code.
    if right {
        if !s
            .ephemeral
            .compare_and_swap(&key, &raw, b"", Duration::from_secs(1))
            .await?
        {
            return Err(busy());
        }
    } else {
        pending.tries += 1;
        let left = MAX_TRIES.saturating_sub(pending.tries);
        let ttl = Duration::from_secs(u64::try_from(pending.expires_at - s.now()).unwrap_or(1));
        let next = if left == 0 {
            Vec::new()
        } else {
            serde_json::to_vec(&pending).map_err(ApiError::internal)?
        };
        if !s.ephemeral.compare_and_swap(&key, &raw, &next, ttl).await? {
            return Err(busy());
        }
        if left == 0 {
            return Err(ApiError::too_many(
                "too_many_attempts",
                "too many wrong codes; start again",
                60,
            ));
        }
        return Err(
            ApiError::bad_request("invalid_code", "that code is not right")
                .with("attempts_left", left),
        );
    }
    let id = ulid::Ulid::new().to_string();
    let label = format!("SMS {}", sms::mask(&pending.phone));
    let record = FactorRecord {
        phone: Some(pending.phone),
        ..record(s, who, &id, Factor::Sms, &label)
    };
    s.durable.add_factor(&record).await?;
    let added = record.phone.as_deref();
    notify::send(s, who, Notice::FactorAdded, &[], added, origin).await;
    changed(s, who, "added", &id, Some(Factor::Sms), origin).await?;
    Ok(id)
}

fn record(s: &AppState, who: &AccountName, id: &str, kind: Factor, label: &str) -> FactorRecord {
    FactorRecord {
        id: id.to_owned(),
        username: who.to_string(),
        kind: kind.as_str().to_owned(),
        label: label.to_owned(),
        secret: None,
        phone: None,
        provisioned: false,
        created_at: s.now(),
        last_used_at: None,
    }
}

/// Audit a factor added or removed (and tell the SOC, in the same commit),
/// once the change is made; the record is kept through failed commits.
pub(crate) async fn changed(
    s: &AppState,
    who: &AccountName,
    change: &str,
    id: &str,
    factor: Option<Factor>,
    origin: &Context,
) -> ApiResult<()> {
    let at = s.clock.now();
    let data = json!({"change": change, "factor_id": id, "factor": factor});
    let alert = factor.and_then(|factor| {
        s.webhooks.message(&Event::FactorChanged(FactorChange {
            user: who.clone(),
            factor,
            enabled: change == "added",
            source: Some(alerts::source(origin)),
            time: at,
        }))
    });
    // Called once the change is made: it cannot be undone, so its record and
    // the SOC's event are kept by the writer through failed commits, and a
    // failure here is not the person's (a retry would find nothing to do).
    let event = AuditEvent::new(at, "factor.changed", who.as_str(), data).with_alert(alert);
    if let Err(e) = s.audit.keep(event).await {
        tracing::error!(error = %e, change, "factor changed but its audit record is not committed yet; the writer keeps trying");
    }
    Ok(())
}

fn check_code_format(code: &str) -> ApiResult<()> {
    if (6..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::invalid("code must be 6 to 10 digits"))
    }
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "enrolment_busy",
        "this enrolment changed meanwhile; try again",
    )
}

fn no_pending() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_pending_enrolment",
        "start the enrolment first (or it expired)",
    )
}

fn pending_context(kind: &str, who: &AccountName) -> Vec<u8> {
    format!("enrol-{kind}:{who}").into_bytes()
}

fn enrol_mac(s: &AppState, who: &AccountName, phone: &str, code: &str) -> String {
    hex::encode(s.key.mac(&[
        b"enrol-sms",
        who.as_str().as_bytes(),
        phone.as_bytes(),
        code.as_bytes(),
    ]))
}

async fn put_json<T: Serialize>(s: &AppState, key: &str, value: &T) -> ApiResult<()> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(s.ephemeral.put(key, &bytes, PENDING_TTL).await?)
}

async fn get_json<T: for<'de> Deserialize<'de>>(s: &AppState, key: &str) -> ApiResult<Option<T>> {
    match s.ephemeral.get(key).await? {
        Some(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).map_err(ApiError::internal)?,
        )),
        None => Ok(None),
    }
}

fn rfc(unix: i64) -> String {
    crate::time::rfc3339(crate::time::from_unix(unix))
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
