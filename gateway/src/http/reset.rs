//! `/v1/reset…`: start, challenge, verify, complete, status. Extract, call, map.

use axum::Json;
use axum::extract::State;
use risk::Factor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use axum::http::HeaderMap;

use super::client::Client;
use super::error::{ApiError, ApiResult};
use super::json::{Body, PathParam};
use crate::app::AppState;
use crate::flow::Flow;
use crate::flow::service::{self, Challenged, Verified};
use crate::reset_core;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    #[schema(schema_with = crate::http::openapi::username)]
    username: String,
}

#[derive(Serialize)]
pub struct OptionView {
    factor: Factor,
    hint: String,
}

#[derive(Serialize)]
pub struct StartResponse {
    flow_id: String,
    status: &'static str,
    factors_required: u8,
    options: Vec<OptionView>,
    expires_in: i64,
}

fn options(flow: &Flow) -> Vec<OptionView> {
    flow.options
        .iter()
        .map(|o| OptionView {
            factor: o.factor,
            hint: o.hint.clone(),
        })
        .collect()
}

#[utoipa::path(post, path = "/v1/reset", operation_id = "startReset", tag = "reset")]
pub async fn start(
    State(s): State<AppState>,
    client: Client,
    Body(req): Body<StartRequest>,
) -> ApiResult<(HeaderMap, Json<StartResponse>)> {
    let flow = service::start(&s, &req.username, &client).await?;
    let now = s.now();
    let body = StartResponse {
        status: flow.status(now),
        factors_required: flow.required,
        options: options(&flow),
        expires_in: flow.expires_at - now,
        flow_id: flow.id,
    };
    Ok((client.set_cookie(&s), Json(body)))
}

#[utoipa::path(
    get,
    path = "/v1/reset/{flow_id}",
    operation_id = "getResetStatus",
    tag = "reset"
)]
pub async fn status(
    State(s): State<AppState>,
    PathParam(flow_id): PathParam<String>,
) -> ApiResult<Json<Value>> {
    let (flow, _) = service::load(&s, &flow_id).await?;
    let now = s.now();
    Ok(Json(json!({
        "flow_id": flow.id,
        "status": flow.status(now),
        "factors_required": flow.required,
        "factors_remaining": flow.remaining(),
        "factors_passed": flow.passed,
        "options": options(&flow),
        "expires_in": (flow.expires_at - now).max(0),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    factor: Factor,
}

#[utoipa::path(
    post,
    path = "/v1/reset/{flow_id}/challenge",
    operation_id = "challengeFactor",
    tag = "reset"
)]
pub async fn challenge(
    State(s): State<AppState>,
    PathParam(flow_id): PathParam<String>,
    Body(req): Body<ChallengeRequest>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        match service::challenge(&s, &flow_id, req.factor).await? {
            Challenged::Sent { expires_in } => {
                json!({"status": "sent", "factor": req.factor, "expires_in": expires_in})
            }
            Challenged::NoChallengeNeeded => json!({"status": "ready", "factor": req.factor}),
            Challenged::Webauthn { public_key } => {
                json!({"status": "ready", "factor": req.factor, "public_key": public_key})
            }
        },
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    factor: Factor,
    code: Option<String>,
    credential: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/reset/{flow_id}/verify",
    operation_id = "verifyFactor",
    tag = "reset"
)]
pub async fn verify(
    State(s): State<AppState>,
    PathParam(flow_id): PathParam<String>,
    Body(req): Body<VerifyRequest>,
) -> ApiResult<Json<Value>> {
    let verified = match (req.factor, req.code, req.credential) {
        (Factor::Webauthn, None, Some(credential)) => {
            service::verify_webauthn(&s, &flow_id, &credential).await?
        }
        (Factor::Webauthn, _, _) => {
            return Err(ApiError::invalid(
                "send {\"factor\": \"webauthn\", \"credential\"}",
            ));
        }
        (factor, Some(code), None) => service::verify(&s, &flow_id, factor, &code).await?,
        _ => return Err(ApiError::invalid("send {\"factor\", \"code\"}")),
    };
    Ok(Json(match verified {
        Verified::Remaining(n) => json!({"status": "challenge", "factors_remaining": n}),
        Verified::Done { reset_token } => {
            json!({"status": "verified", "reset_token": reset_token})
        }
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// From the last verify; more than 128 characters is 400 `invalid_token`.
    reset_token: String,
    /// At most 4096 bytes (else 400 `invalid_request`); then checked against the password policy (422).
    #[schema(format = Password)]
    new_password: String,
}

#[utoipa::path(
    post,
    path = "/v1/reset/{flow_id}/complete",
    operation_id = "completeReset",
    tag = "reset"
)]
pub async fn complete(
    State(s): State<AppState>,
    PathParam(flow_id): PathParam<String>,
    Body(req): Body<CompleteRequest>,
) -> ApiResult<Json<Value>> {
    if req.reset_token.len() > 128 {
        return Err(ApiError::bad_request(
            "invalid_token",
            "the reset token is not valid",
        ));
    }
    reset_core::complete(&s, &flow_id, &req.reset_token, &req.new_password).await?;
    Ok(Json(json!({"status": "done"})))
}
