//! The admin API's operations on endpoints and deliveries
//! (`/v1/admin/webhooks…`). Handlers extract and map; the rules are here.
//!
//! An endpoint added here lives in the durable store with its secrets sealed
//! by the server key; every node's dispatcher picks it up within a second.
//! Its secret is shown once, in the answer to its creation (one is generated
//! when none is given). Endpoints of `[[webhooks]]` are listed too but belong
//! to the configuration: they cannot be deleted here. Every change is audited
//! with the administrator who made it.

use std::time::SystemTime;

use axum::http::StatusCode;
use risk::Level;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::outbox::seal_secrets;
use super::sign::WebhookSecret;
use super::{Subscription, target};
use crate::account::AccountName;
use crate::admin;
use crate::app::AppState;
use crate::http::error::{ApiError, ApiResult};
use crate::store::durable::outbox::{
    AttemptRecord, DEAD, DELIVERED, DeliveryRecord, EndpointRecord, PENDING, SOURCE_API,
    SOURCE_CONFIG,
};
use crate::time::{rfc3339, unix_millis};

/// `POST /v1/admin/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// 1–64 of `A-Z a-z 0-9 _ . -`; `wh_<ULID>` when absent.
    pub id: Option<String>,
    pub url: String,
    /// `whsec_…`; generated when absent.
    pub secret: Option<String>,
    /// Event types or `"*"`; `["*"]` when absent.
    pub events: Option<Vec<String>>,
    /// `low` (default) … `deny`.
    pub min_level: Option<String>,
}

/// An endpoint as the admin API shows it (never its secrets).
#[derive(Debug, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub events: serde_json::Value,
    pub min_level: String,
    /// `config` or `api`.
    pub source: String,
    pub enabled: bool,
    /// Why deliveries are stopped (the receiver answered 410), if they are.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub created_at: String,
}

impl From<&EndpointRecord> for EndpointView {
    fn from(r: &EndpointRecord) -> Self {
        Self {
            id: r.id.clone(),
            url: shown(&r.url),
            events: serde_json::from_str(&r.events).unwrap_or(serde_json::Value::Null),
            min_level: r.min_level.clone(),
            source: r.source.clone(),
            enabled: r.enabled,
            disabled_reason: r.disabled_reason.clone(),
            disabled_at: r.disabled_at.map(millis_rfc3339),
            created_at: millis_rfc3339(r.created_at),
        }
    }
}

/// A delivery with its attempts.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    /// The `webhook-id` of every attempt.
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `dead`.
    pub state: String,
    pub attempts: i64,
    /// When a pending delivery is due.
    pub next_attempt_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub history: Vec<AttemptView>,
}

/// One attempt: when, the receiver's status (none when it did not answer),
/// how long it took, and why it failed.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub at: String,
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(a: AttemptRecord) -> Self {
        Self {
            at: millis_rfc3339(a.at),
            status: a.status,
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

fn millis_rfc3339(ms: i64) -> String {
    let at =
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    rfc3339(at)
}

/// A URL as shown and audited: without its user-info, query and fragment (a
/// receiver may take a token there), marked when it had one.
pub fn shown(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            let had = parsed.query().is_some()
                || parsed.fragment().is_some()
                || !parsed.username().is_empty()
                || parsed.password().is_some();
            parsed.set_query(None);
            parsed.set_fragment(None);
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let mut text = parsed.to_string();
            if had {
                text.push_str("?…");
            }
            text
        }
        Err(_) => "(unreadable URL)".to_owned(),
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "webhook_not_found",
        "no webhook endpoint has this id",
    )
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Add an endpoint; its view and its secret (shown this once).
pub async fn create(
    s: &AppState,
    by: &AccountName,
    req: NewEndpoint,
) -> ApiResult<(EndpointView, String)> {
    let id = req
        .id
        .unwrap_or_else(|| format!("wh_{}", ulid::Ulid::new()));
    if !valid_id(&id) {
        return Err(ApiError::invalid(
            "id must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '-'",
        ));
    }
    let url = Url::parse(&req.url).map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    target::check_url(&url, s.config.webhook_delivery.allow_private_targets)
        .map_err(|e| ApiError::invalid(format!("url: {e}")))?;
    let secret = match &req.secret {
        Some(text) => {
            WebhookSecret::parse(text).map_err(|e| ApiError::invalid(format!("secret: {e}")))?
        }
        None => WebhookSecret::generate(&mut rand::rng()),
    };
    let events: Vec<Subscription> = req
        .events
        .unwrap_or_else(|| vec!["*".into()])
        .iter()
        .map(|e| e.parse())
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::invalid(format!("events: {e}")))?;
    if events.is_empty() {
        return Err(ApiError::invalid(
            "events: list at least one type, or \"*\"",
        ));
    }
    let min_level: Level = req
        .min_level
        .as_deref()
        .unwrap_or("low")
        .parse()
        .map_err(|e| ApiError::invalid(format!("min_level: {e}")))?;
    let exists = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "webhook_exists",
            "an endpoint with this id exists",
        )
    };
    if s.durable.endpoints().await?.iter().any(|e| e.id == id) {
        return Err(exists());
    }
    let now = s.clock.now();
    let record = EndpointRecord {
        id: id.clone(),
        url: url.to_string(),
        events: serde_json::to_string(&events).map_err(ApiError::internal)?,
        min_level: min_level.as_str().to_owned(),
        source: SOURCE_API.to_owned(),
        secrets: Some(seal_secrets(&s.key, &id, std::slice::from_ref(&secret))),
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        created_at: unix_millis(now),
    };
    // One insert decides between two admins adding the same id at once.
    if !s.durable.insert_endpoint(&record).await? {
        return Err(exists());
    }
    // The endpoint exists from here and its secret is shown only in this
    // answer: the answer must not turn into a failure (the record is kept
    // through failed commits), nor wait on the cache's refresh failing.
    admin::audit_kept(
        s,
        now,
        "admin.webhook_created",
        by,
        json!({"id": id, "url": shown(&record.url), "events": events, "min_level": min_level}),
    )
    .await;
    if let Err(e) = s.webhooks.refresh(s.durable.as_ref()).await {
        tracing::warn!(error = %e, "endpoint added; the endpoint cache is refreshed at its next poll");
    }
    Ok((EndpointView::from(&record), secret.expose()))
}

/// Every endpoint, by id.
pub async fn list(s: &AppState) -> ApiResult<Vec<EndpointView>> {
    Ok(s.durable
        .endpoints()
        .await?
        .iter()
        .map(EndpointView::from)
        .collect())
}

async fn endpoint(s: &AppState, id: &str) -> ApiResult<EndpointRecord> {
    s.durable
        .endpoints()
        .await?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(not_found)
}

/// Remove an endpoint added through the API.
pub async fn delete(s: &AppState, by: &AccountName, id: &str) -> ApiResult<()> {
    let record = endpoint(s, id).await?;
    if record.source == SOURCE_CONFIG {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "webhook_in_config",
            "this endpoint is defined in [[webhooks]] of the configuration; remove it there",
        ));
    }
    if !s.durable.delete_endpoint(id).await? {
        return Err(not_found());
    }
    s.webhooks.refresh(s.durable.as_ref()).await?;
    admin::audit(
        s,
        s.clock.now(),
        "admin.webhook_deleted",
        by,
        json!({"id": id, "url": shown(&record.url)}),
    )
    .await
}

/// Deliver again to an endpoint a receiver had said was gone (410).
pub async fn enable(s: &AppState, by: &AccountName, id: &str) -> ApiResult<EndpointView> {
    if !s.durable.enable_endpoint(id).await? {
        return Err(not_found());
    }
    s.webhooks.refresh(s.durable.as_ref()).await?;
    s.webhooks.wake.notify_one();
    admin::audit(
        s,
        s.clock.now(),
        "admin.webhook_enabled",
        by,
        json!({"id": id}),
    )
    .await?;
    Ok(EndpointView::from(&endpoint(s, id).await?))
}

/// An endpoint's deliveries, newest first, with their attempts.
pub async fn deliveries(
    s: &AppState,
    id: &str,
    state: Option<&str>,
    limit: Option<i64>,
) -> ApiResult<Vec<DeliveryView>> {
    endpoint(s, id).await?;
    if let Some(state) = state
        && ![PENDING, DELIVERED, DEAD].contains(&state)
    {
        return Err(ApiError::invalid(
            "state must be pending, delivered or dead",
        ));
    }
    let limit = limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 500"));
    }
    let records = s.durable.deliveries(id, state, limit).await?;
    let mut views = Vec::with_capacity(records.len());
    for d in records {
        let history = s
            .durable
            .attempts(d.id)
            .await?
            .into_iter()
            .map(AttemptView::from)
            .collect();
        views.push(view(d, history));
    }
    Ok(views)
}

fn view(d: DeliveryRecord, history: Vec<AttemptView>) -> DeliveryView {
    DeliveryView {
        id: d.id,
        webhook_id: d.message_id,
        kind: d.kind,
        next_attempt_at: (d.state == PENDING).then(|| millis_rfc3339(d.next_at)),
        state: d.state,
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error,
        created_at: millis_rfc3339(d.created_at),
        updated_at: millis_rfc3339(d.updated_at),
        history,
    }
}

/// Send again from the start of the schedule: these deliveries, or every
/// dead one. How many were queued.
pub async fn redeliver(
    s: &AppState,
    by: &AccountName,
    id: &str,
    ids: Option<Vec<i64>>,
) -> ApiResult<u64> {
    endpoint(s, id).await?;
    if ids
        .as_ref()
        .is_some_and(|ids| ids.is_empty() || ids.len() > 1000)
    {
        return Err(ApiError::invalid(
            "delivery_ids: 1 to 1000 ids, or leave it out for every dead delivery",
        ));
    }
    let now = s.clock.now();
    let queued = s
        .durable
        .redeliver(id, ids.as_deref(), unix_millis(now))
        .await?;
    s.webhooks.wake.notify_one();
    admin::audit(
        s,
        now,
        "admin.webhook_redelivered",
        by,
        json!({"id": id, "delivery_ids": ids, "queued": queued}),
    )
    .await?;
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_shown_url_keeps_no_credentials_or_tokens() {
        assert_eq!(
            shown("https://soc.example/hook"),
            "https://soc.example/hook"
        );
        assert_eq!(
            shown("https://soc.example/hook?token=s3cret#x"),
            "https://soc.example/hook?…"
        );
        let with_user = shown("https://siem:s3cret@soc.example/hook");
        assert_eq!(with_user, "https://soc.example/hook?…");
        assert!(!with_user.contains("s3cret"));
    }
}
