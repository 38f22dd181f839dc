//! The HTTP layer: routes, extractors, middleware. Handlers extract, call the
//! service and map; they hold no logic of their own.

pub mod admin;
pub mod admin_data;
pub mod client;
pub mod client_addr;
pub mod enroll;
pub mod error;
pub mod json;
pub mod limits;
pub mod openapi;
pub mod ops;
pub mod pages;
pub mod reset;
pub mod risk;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware;
use axum::routing::{get, post};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// Largest request body accepted (every API body is small).
pub const BODY_LIMIT: usize = 16 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy)]
struct MakeUlid;

impl MakeRequestId for MakeUlid {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&ulid::Ulid::new().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The token of an `Authorization: Bearer <token>` header, trimmed.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(str::trim)
}

/// `/v1/admin…` (administrators sign in with a password and a second factor).
fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin::login))
        .routes(routes!(admin::logout))
        .routes(routes!(admin::login_passkey))
        .routes(routes!(admin::passkey_begin))
        .routes(routes!(admin::passkey_finish))
        .routes(routes!(
            admin::list_webhooks,
            admin::create_webhook,
            admin::delete_webhook_by_query
        ))
        .routes(routes!(admin::delete_webhook))
        .routes(routes!(admin::deliveries))
        .routes(routes!(admin::redeliver))
        .routes(routes!(admin::enable_webhook))
        .merge(policy_routes())
        .routes(routes!(admin_data::decisions))
        .routes(routes!(admin_data::label))
        .routes(routes!(admin_data::create_user))
        .routes(routes!(admin_data::audit_log))
        .routes(routes!(admin_data::audit_verify))
        .routes(routes!(admin_data::list_keys, admin_data::create_key))
        .routes(routes!(admin_data::revoke_key))
}

/// `/v1/admin/policy…`: policy files are larger than other bodies.
fn policy_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin_data::policy, admin_data::put_policy))
        .routes(routes!(admin_data::validate))
        .routes(routes!(admin_data::diff))
        .routes(routes!(admin_data::versions, admin_data::add_version))
        .routes(routes!(admin_data::version))
        .routes(routes!(admin_data::activate))
        .routes(routes!(
            admin_data::shadow,
            admin_data::put_shadow,
            admin_data::delete_shadow
        ))
        .routes(routes!(admin_data::simulate))
        .route_layer(DefaultBodyLimit::max(
            2 * crate::policies::MAX_POLICY_BYTES + 16 * 1024,
        ))
}

/// The JSON API under `/v1`: each route and its operation in
/// `/openapi.json` are registered together (`#[utoipa::path]` on the handler,
/// `routes!` here), so the document's operations are the router's.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reset::start))
        .routes(routes!(reset::status))
        .routes(routes!(reset::challenge))
        .routes(routes!(reset::verify))
        .routes(routes!(reset::complete))
        .routes(routes!(enroll::login))
        .routes(routes!(enroll::list))
        .routes(routes!(enroll::remove))
        .routes(routes!(enroll::totp_begin))
        .routes(routes!(enroll::totp_finish))
        .routes(routes!(enroll::sms_begin))
        .routes(routes!(enroll::sms_finish))
        .routes(routes!(enroll::webauthn_begin))
        .routes(routes!(enroll::webauthn_finish))
        .routes(routes!(risk::evaluate))
        .merge(admin_routes())
}

/// Liveness, readiness, metrics, this document, the demo outbox (outside
/// the per-address limit).
fn ops_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::openapi))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::outbox))
        .routes(routes!(ops::outbox_json))
}

/// Every operation the router serves under `/v1` and for operations, as
/// `OpenAPI` paths (what `openapi::document` describes).
pub fn operations() -> utoipa::openapi::OpenApi {
    api_routes().merge(ops_routes()).split_for_parts().1
}

/// The pages (HTML; not in openapi.json): same per-address limit, their own
/// CSP. Static files are outside the limit (a page load fetches them).
fn page_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(pages::reset::start_page))
        .route("/reset", get(pages::reset::show).post(pages::reset::start))
        .route("/reset/challenge", post(pages::reset::choose))
        .route("/reset/code", get(pages::verify::code_page))
        .route("/reset/verify", post(pages::verify::verify))
        .route(
            "/reset/webauthn/options",
            post(pages::verify::webauthn_options),
        )
        .route("/reset/complete", post(pages::password::complete))
        .route("/reset/done", get(pages::password::done))
        .route("/lock", get(pages::lock::show).post(pages::lock::submit))
        .route("/enroll", get(pages::enroll::show))
        .route("/enroll/login", post(pages::enroll::login))
        .route("/enroll/logout", post(pages::enroll::logout))
        .route("/enroll/factors/{id}/remove", post(pages::enroll::remove))
        .route("/enroll/totp", post(pages::enroll_add::totp_begin))
        .route("/enroll/totp/verify", post(pages::enroll_add::totp_finish))
        .route("/enroll/sms", post(pages::enroll_add::sms_begin))
        .route("/enroll/sms/verify", post(pages::enroll_add::sms_finish))
        .route(
            "/enroll/webauthn/options",
            post(pages::enroll_passkey::webauthn_options),
        )
        .route(
            "/enroll/webauthn/finish",
            post(pages::enroll_passkey::webauthn_finish),
        )
        .route("/admin", get(pages::console::show))
        .route("/admin/login", post(pages::console::login))
        .route("/admin/logout", post(pages::console::logout))
        .merge(
            // A policy form carries the whole file (URL-encoded: up to three
            // bytes per byte).
            Router::new()
                .route(
                    "/admin/policy",
                    get(pages::console::policy).post(pages::console::save),
                )
                .route("/admin/policy/check", post(pages::console::check))
                .route_layer(DefaultBodyLimit::max(
                    3 * crate::policies::MAX_POLICY_BYTES + 16 * 1024,
                )),
        )
        .route("/admin/decisions/{id}/label", post(pages::console::label))
        .route(
            "/admin/policy/versions/{id}/activate",
            post(pages::console::activate),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::per_address,
        ))
        .route("/static/{file}", get(pages::assets::serve))
        .layer(pages::csp())
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    let (api, _) = api_routes()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::per_address,
        ))
        .split_for_parts();
    let (ops, _) = ops_routes().split_for_parts();
    let html = page_routes(&state);
    let security = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    Router::new()
        .merge(api)
        .merge(html)
        .merge(ops)
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(security(header::CACHE_CONTROL, "no-store"))
        .layer(security(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security(header::REFERRER_POLICY, "no-referrer"))
        .layer(security(header::X_FRAME_OPTIONS, "DENY"))
        .layer(security(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeUlid))
        .with_state(state)
}
