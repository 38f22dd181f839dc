//! `/v1/admin…`: administrator sign-in, who may call what (the [`Admin`],
//! [`Reader`] and [`Person`] extractors: a signed-in administrator may do
//! everything; an API key what its scopes allow), and the SOC webhook
//! endpoints. Handlers extract, call `crate::admin` / `crate::webhooks::manage`,
//! and map; the policy, decision, audit and key routes are in `admin_data.rs`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::Client;
use super::error::{ApiError, ApiResult};
use super::json::{Body, OptionalBody, Params, PathParam};
use crate::account::AccountName;
use crate::admin;
use crate::api_keys::{self, Scope};
use crate::app::AppState;
use crate::webhooks::manage::{self, NewEndpoint};

/// Who called an admin route: a signed-in administrator (every scope), or
/// an API key with its scopes (audited as `key:NAME`).
struct Caller {
    name: AccountName,
    /// `None`: a person's sign-in.
    key_scopes: Option<Vec<Scope>>,
}

async fn caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let caller = authenticated(parts, state).await?;
    // What this node has answered for is in the log before an administrator
    // reads it (reset starts answered before their commit: `AuditLog::submit`).
    state.audit.settled().await;
    Ok(caller)
}

async fn authenticated(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let token = super::bearer(&parts.headers).ok_or_else(admin::unauthenticated)?;
    if token.starts_with(api_keys::PREFIX) {
        let (name, scopes) = api_keys::authenticate(state.durable.as_ref(), token).await?;
        Ok(Caller {
            name,
            key_scopes: Some(scopes),
        })
    } else {
        Ok(Caller {
            name: admin::authenticate(state, token).await?,
            key_scopes: None,
        })
    }
}

fn needs(caller: Caller, scope: Scope) -> Result<AccountName, ApiError> {
    match &caller.key_scopes {
        Some(scopes) if !scopes.iter().any(|s| s.allows(scope)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this API key does not have the {} scope", scope.as_str()),
        )),
        _ => Ok(caller.name),
    }
}

/// An administrator or an API key with the `admin` scope: may change things.
pub struct Admin(pub AccountName);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Admin(needs(caller(parts, state).await?, Scope::Admin)?))
    }
}

/// An administrator or an API key with the `read` (or `admin`) scope.
pub struct Reader(pub AccountName);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Reader(needs(caller(parts, state).await?, Scope::Read)?))
    }
}

/// A signed-in administrator, never an API key (signing out, managing keys).
pub struct Person(pub AccountName);

impl FromRequestParts<AppState> for Person {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = caller(parts, state).await?;
        if caller.key_scopes.is_some() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "person_required",
                "only a signed-in administrator may do this, not an API key",
            ));
        }
        Ok(Person(caller.name))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminLoginRequest)]
pub struct LoginRequest {
    #[schema(schema_with = crate::http::openapi::username)]
    username: String,
    /// At most 4096 bytes.
    #[schema(format = Password, max_length = 4096)]
    password: String,
    /// The current code of the administrator's authenticator app; left out
    /// by an administrator who answers a passkey challenge instead.
    #[serde(default)]
    #[schema(pattern = "^[0-9]{0,16}$")]
    code: String,
}

#[utoipa::path(
    post,
    path = "/v1/admin/login",
    operation_id = "adminLogin",
    tag = "admin"
)]
pub async fn login(
    State(s): State<AppState>,
    client: Client,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<Value>> {
    match admin::login(&s, &req.username, &req.password, &req.code, &client).await? {
        admin::Login::Token(token) => Ok(Json(
            json!({"token": token, "expires_in": admin::SESSION_TTL.as_secs()}),
        )),
        admin::Login::Passkey(challenge) => Ok(Json(challenge)),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminPasskeyLoginRequest)]
pub struct PasskeyLoginRequest {
    /// From the challenge of `POST /v1/admin/login`.
    challenge_id: String,
    #[schema(schema_with = crate::http::openapi::webauthn_assertion)]
    credential: Value,
}

/// `POST /v1/admin/login/webauthn`: the answer to a passkey challenge.
#[utoipa::path(
    post,
    path = "/v1/admin/login/webauthn",
    operation_id = "adminLoginPasskey",
    tag = "admin"
)]
pub async fn login_passkey(
    State(s): State<AppState>,
    client: Client,
    Body(req): Body<PasskeyLoginRequest>,
) -> ApiResult<Json<Value>> {
    let token = admin::login_passkey(&s, &req.challenge_id, &req.credential, &client).await?;
    Ok(Json(
        json!({"token": token, "expires_in": admin::SESSION_TTL.as_secs()}),
    ))
}

/// `POST /v1/admin/webauthn`: begin registering a passkey (signed in).
#[utoipa::path(
    post,
    path = "/v1/admin/webauthn",
    operation_id = "adminPasskeyBegin",
    tag = "admin"
)]
pub async fn passkey_begin(
    State(s): State<AppState>,
    Person(who): Person,
) -> ApiResult<Json<Value>> {
    let public_key = crate::admin_webauthn::register_begin(&s, &who).await?;
    Ok(Json(json!({"public_key": public_key})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdminPasskeyFinish)]
pub struct PasskeyFinishRequest {
    #[schema(schema_with = crate::http::openapi::webauthn_registration)]
    credential: Value,
    /// A current code of the administrator's authenticator app (adding a
    /// factor asks for the existing one again).
    code: String,
}

/// `POST /v1/admin/webauthn/finish`: store the passkey.
#[utoipa::path(
    post,
    path = "/v1/admin/webauthn/finish",
    operation_id = "adminPasskeyFinish",
    tag = "admin"
)]
pub async fn passkey_finish(
    State(s): State<AppState>,
    Person(who): Person,
    Body(req): Body<PasskeyFinishRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let count = crate::admin_webauthn::register_finish(&s, &who, req.credential, &req.code).await?;
    Ok((StatusCode::CREATED, Json(json!({"passkeys": count}))))
}

/// End this sign-in (the bearer token stops working).
#[utoipa::path(
    post,
    path = "/v1/admin/logout",
    operation_id = "adminLogout",
    tag = "admin"
)]
pub async fn logout(
    State(s): State<AppState>,
    Person(who): Person,
    headers: axum::http::HeaderMap,
) -> ApiResult<StatusCode> {
    let token = super::bearer(&headers).ok_or_else(admin::unauthenticated)?;
    admin::logout(&s, &who, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/admin/webhooks",
    operation_id = "createWebhook",
    tag = "admin"
)]
pub async fn create_webhook(
    State(s): State<AppState>,
    Admin(by): Admin,
    Body(req): Body<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (view, secret) = manage::create(&s, &by, req).await?;
    let mut body = serde_json::to_value(view).map_err(ApiError::internal)?;
    body["secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    get,
    path = "/v1/admin/webhooks",
    operation_id = "listWebhooks",
    tag = "admin"
)]
pub async fn list_webhooks(State(s): State<AppState>, Reader(_): Reader) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"webhooks": manage::list(&s).await?})))
}

#[utoipa::path(
    delete,
    path = "/v1/admin/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "admin"
)]
pub async fn delete_webhook(
    State(s): State<AppState>,
    Admin(by): Admin,
    PathParam(id): PathParam<String>,
) -> ApiResult<StatusCode> {
    manage::delete(&s, &by, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/admin/webhooks?id=…`: the contract's collection form of
/// [`delete_webhook`].
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookId {
    /// The endpoint's id.
    id: String,
}

#[utoipa::path(
    delete,
    path = "/v1/admin/webhooks",
    operation_id = "deleteWebhookById",
    tag = "admin",
    params(WebhookId)
)]
pub async fn delete_webhook_by_query(
    State(s): State<AppState>,
    Admin(by): Admin,
    Params(WebhookId { id }): Params<WebhookId>,
) -> ApiResult<StatusCode> {
    manage::delete(&s, &by, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/v1/admin/webhooks/{id}/enable",
    operation_id = "enableWebhook",
    tag = "admin"
)]
pub async fn enable_webhook(
    State(s): State<AppState>,
    Admin(by): Admin,
    PathParam(id): PathParam<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        serde_json::to_value(manage::enable(&s, &by, &id).await?).map_err(ApiError::internal)?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    state: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/v1/admin/webhooks/{id}/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "admin"
)]
pub async fn deliveries(
    State(s): State<AppState>,
    Reader(_): Reader,
    PathParam(id): PathParam<String>,
    Params(q): Params<DeliveriesQuery>,
) -> ApiResult<Json<Value>> {
    let list = manage::deliveries(&s, &id, q.state.as_deref(), q.limit).await?;
    Ok(Json(json!({"deliveries": list})))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverRequest {
    /// These deliveries (any state); every dead one when absent.
    #[schema(min_items = 1, max_items = 1000)]
    delivery_ids: Option<Vec<i64>>,
}

#[utoipa::path(
    post,
    path = "/v1/admin/webhooks/{id}/redeliver",
    operation_id = "redeliverWebhook",
    tag = "admin"
)]
pub async fn redeliver(
    State(s): State<AppState>,
    Admin(by): Admin,
    PathParam(id): PathParam<String>,
    OptionalBody(req): OptionalBody<RedeliverRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let queued = manage::redeliver(&s, &by, &id, req.delivery_ids).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"queued": queued}))))
}
