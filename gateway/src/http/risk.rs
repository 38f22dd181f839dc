//! `POST /v1/risk/evaluate`: the assessment for a context, without a flow, for
//! an existing SSPR that wants resetgate's decision. Bearer API key with the
//! `evaluate` scope (`crate::api_keys`), or the one of
//! `risk.api_key`/`risk.api_key_file`; the velocity counters are read, not
//! incremented; the call is audited.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::Client;
use super::error::{ApiError, ApiResult};
use super::json::Body;
use crate::account::AccountName;
use crate::app::AppState;
use crate::audit::AuditEvent;
use crate::crypto;
use crate::flow::service;
use crate::signals::device;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    #[schema(schema_with = crate::http::openapi::username)]
    username: String,
    #[schema(schema_with = crate::http::openapi::ip_address)]
    ip: IpAddr,
    #[schema(max_length = 4096)]
    user_agent: Option<String>,
    /// The `rg_device` cookie value, if the caller relays it.
    device_cookie: Option<String>,
}

/// The caller of `POST /v1/risk/evaluate`, authorised before the body is
/// read (a request without a valid key is 401 whatever its body):
/// `key:NAME` for an API key, `risk.api_key` for the configured one.
pub struct Evaluator(String);

impl axum::extract::FromRequestParts<AppState> for Evaluator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        authorize(state, &parts.headers).await.map(Evaluator)
    }
}

/// Who asked: `key:NAME` for an API key, `risk.api_key` for the configured one.
async fn authorize(s: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    use secrecy::ExposeSecret as _;
    let presented = super::bearer(headers).unwrap_or_default();
    if presented.starts_with(crate::api_keys::PREFIX) {
        let (who, scopes) = crate::api_keys::authenticate(s.durable.as_ref(), presented).await?;
        if scopes.contains(&crate::api_keys::Scope::Evaluate) {
            return Ok(who.to_string());
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "this API key does not have the evaluate scope",
        ));
    }
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "an API key with the evaluate scope is required",
        )
    };
    let Some(expected) = &s.config.risk.api_key else {
        return Err(refused());
    };
    // Digests first, so the comparison is constant-time whatever the lengths.
    let (a, b) = (
        crypto::sha256_hex(presented.as_bytes()),
        crypto::sha256_hex(expected.expose_secret().as_bytes()),
    );
    if crypto::ct_eq(a.as_bytes(), b.as_bytes()) {
        Ok("risk.api_key".to_owned())
    } else {
        Err(refused())
    }
}

#[utoipa::path(
    post,
    path = "/v1/risk/evaluate",
    operation_id = "evaluateRisk",
    tag = "risk"
)]
pub async fn evaluate(
    State(s): State<AppState>,
    Evaluator(by): Evaluator,
    Body(req): Body<EvaluateRequest>,
) -> ApiResult<Json<Value>> {
    let name = AccountName::parse(&req.username).map_err(|e| ApiError::invalid(e.to_string()))?;
    if req.user_agent.as_ref().is_some_and(|ua| ua.len() > 4096) {
        return Err(ApiError::invalid("user_agent is too long"));
    }
    let device_id = req
        .device_cookie
        .as_deref()
        .and_then(|c| device::verify(c, &s.key));
    let client = Client {
        ip: req.ip.to_canonical(),
        user_agent: req.user_agent,
        had_cookie: device_id.is_some(),
        device_id: device_id.unwrap_or_default(),
        new_cookie: None,
    };
    let assessed = service::assess(&s, name, &client, false).await?;
    let a = &assessed.assessment;
    s.audit
        .record(AuditEvent::new(
            s.clock.now(),
            "risk.evaluated",
            assessed.name.as_str(),
            json!({"by": by, "address": req.ip.to_string(), "score": a.score.get(), "level": a.level,
                   "reasons": a.reasons, "policy_version": a.policy_version,
                   "model_version": a.model_version, "signals": assessed.signals}),
        ))
        .await?;
    Ok(Json(json!({
        "score": a.score.get(),
        "level": a.level,
        "factors_required": a.required.count,
        "allowed": a.required.allowed,
        "require_one_of": a.required.require_one_of,
        "reasons": a.reasons,
        "policy_version": a.policy_version,
        "model_version": a.model_version,
    })))
}
