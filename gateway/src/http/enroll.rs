//! `/v1/login` and `/v1/me/factors…`: enrolment by a signed-in person.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::Client;
use super::error::{ApiError, ApiResult};
use super::json::{Body, OptionalBody, PathParam};
use crate::account::AccountName;
use crate::app::AppState;
use crate::factors::{enrol, webauthn};
use crate::session;

/// The signed-in account, from `Authorization: Bearer <token>`.
pub struct Session(pub AccountName);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = super::bearer(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        Ok(Session(session::authenticate(state, token).await?))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(schema_with = crate::http::openapi::username)]
    username: String,
    /// At most 4096 bytes.
    #[schema(format = Password, max_length = 4096)]
    password: String,
}

#[utoipa::path(post, path = "/v1/login", operation_id = "login", tag = "enrolment")]
pub async fn login(
    State(s): State<AppState>,
    client: Client,
    Body(req): Body<LoginRequest>,
) -> ApiResult<(HeaderMap, Json<Value>)> {
    let token = session::login(&s, &req.username, &req.password, &client).await?;
    let body = json!({"token": token, "expires_in": session::SESSION_TTL.as_secs()});
    Ok((client.set_cookie(&s), Json(body)))
}

#[utoipa::path(
    get,
    path = "/v1/me/factors",
    operation_id = "listFactors",
    tag = "enrolment"
)]
pub async fn list(State(s): State<AppState>, Session(who): Session) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"factors": enrol::list(&s, &who).await?})))
}

#[utoipa::path(
    delete,
    path = "/v1/me/factors/{id}",
    operation_id = "deleteFactor",
    tag = "enrolment"
)]
pub async fn remove(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    Session(who): Session,
    PathParam(id): PathParam<String>,
) -> ApiResult<StatusCode> {
    enrol::remove(
        &s,
        &who,
        &id,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/me/factors/totp",
    operation_id = "beginTotp",
    tag = "enrolment"
)]
pub async fn totp_begin(
    State(s): State<AppState>,
    Session(who): Session,
) -> ApiResult<Json<enrol::TotpStart>> {
    Ok(Json(enrol::totp_begin(&s, &who).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// 6 to 10 ASCII digits; anything else is 400 `invalid_request`.
    #[schema(pattern = "^[0-9]{6,10}$")]
    code: String,
}

#[utoipa::path(
    post,
    path = "/v1/me/factors/totp/verify",
    operation_id = "finishTotp",
    tag = "enrolment"
)]
pub async fn totp_finish(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    Session(who): Session,
    Body(req): Body<CodeRequest>,
) -> ApiResult<Json<Value>> {
    let id = enrol::totp_finish(
        &s,
        &who,
        &req.code,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "factor": "totp", "status": "active"}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    /// E.164, e.g. `+15550100001`.
    #[schema(pattern = "^\\+[1-9][0-9]{7,14}$")]
    phone: String,
}

#[utoipa::path(
    post,
    path = "/v1/me/factors/sms",
    operation_id = "beginSms",
    tag = "enrolment"
)]
pub async fn sms_begin(
    State(s): State<AppState>,
    Session(who): Session,
    Body(req): Body<PhoneRequest>,
) -> ApiResult<Json<Value>> {
    let expires_in = enrol::sms_begin(&s, &who, &req.phone).await?;
    Ok(Json(json!({"status": "sent", "expires_in": expires_in})))
}

#[utoipa::path(
    post,
    path = "/v1/me/factors/sms/verify",
    operation_id = "finishSms",
    tag = "enrolment"
)]
pub async fn sms_finish(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    Session(who): Session,
    Body(req): Body<CodeRequest>,
) -> ApiResult<Json<Value>> {
    let id = enrol::sms_finish(
        &s,
        &who,
        &req.code,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await?;
    Ok(Json(json!({"id": id, "factor": "sms", "status": "active"})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebauthnBeginRequest {
    name: Option<String>,
}

/// `POST /v1/me/factors/webauthn`: the body (`{"name"}`) is optional.
#[utoipa::path(
    post,
    path = "/v1/me/factors/webauthn",
    operation_id = "beginWebauthn",
    tag = "enrolment"
)]
pub async fn webauthn_begin(
    State(s): State<AppState>,
    Session(who): Session,
    OptionalBody(req): OptionalBody<WebauthnBeginRequest>,
) -> ApiResult<Json<Value>> {
    let public_key = webauthn::enrol_begin(&s, &who, req.name).await?;
    Ok(Json(json!({"public_key": public_key})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebauthnFinishRequest {
    credential: Value,
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/me/factors/webauthn/finish",
    operation_id = "finishWebauthn",
    tag = "enrolment"
)]
pub async fn webauthn_finish(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    Session(who): Session,
    Body(req): Body<WebauthnFinishRequest>,
) -> ApiResult<Json<Value>> {
    let id = webauthn::enrol_finish(
        &s,
        &who,
        req.credential,
        req.name,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "factor": "webauthn", "status": "active"}),
    ))
}
