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
use axum::routing::{delete, get, post};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

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
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// `/v1/admin…` (administrators sign in with a password and a TOTP code).
fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/login", post(admin::login))
        .route("/v1/admin/logout", post(admin::logout))
        .route("/v1/admin/login/webauthn", post(admin::login_passkey))
        .route("/v1/admin/webauthn", post(admin::passkey_begin))
        .route("/v1/admin/webauthn/finish", post(admin::passkey_finish))
        .route(
            "/v1/admin/webhooks",
            get(admin::list_webhooks).post(admin::create_webhook),
        )
        .route("/v1/admin/webhooks/{id}", delete(admin::delete_webhook))
        .route("/v1/admin/webhooks/{id}/deliveries", get(admin::deliveries))
        .route("/v1/admin/webhooks/{id}/redeliver", post(admin::redeliver))
        .route(
            "/v1/admin/webhooks/{id}/enable",
            post(admin::enable_webhook),
        )
        .merge(policy_routes())
        .route("/v1/admin/decisions", get(admin_data::decisions))
        .route("/v1/admin/decisions/{id}/label", post(admin_data::label))
        .route("/v1/admin/users", post(admin_data::create_user))
        .route("/v1/admin/audit", get(admin_data::audit_log))
        .route("/v1/admin/audit/verify", get(admin_data::audit_verify))
        .route(
            "/v1/admin/api-keys",
            get(admin_data::list_keys).post(admin_data::create_key),
        )
        .route("/v1/admin/api-keys/{id}", delete(admin_data::revoke_key))
}

/// `/v1/admin/policy…`: policy files are larger than other bodies.
fn policy_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/admin/policy",
            get(admin_data::policy).put(admin_data::put_policy),
        )
        .route("/v1/admin/policy/validate", post(admin_data::validate))
        .route("/v1/admin/policy/diff", post(admin_data::diff))
        .route(
            "/v1/admin/policy/versions",
            get(admin_data::versions).post(admin_data::add_version),
        )
        .route("/v1/admin/policy/versions/{id}", get(admin_data::version))
        .route(
            "/v1/admin/policy/versions/{id}/activate",
            post(admin_data::activate),
        )
        .route(
            "/v1/admin/policy/shadow",
            get(admin_data::shadow)
                .put(admin_data::put_shadow)
                .delete(admin_data::delete_shadow),
        )
        .route("/v1/admin/simulate", post(admin_data::simulate))
        .route_layer(DefaultBodyLimit::max(
            2 * crate::policies::MAX_POLICY_BYTES + 16 * 1024,
        ))
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
    let api = Router::new()
        .route("/v1/reset", post(reset::start))
        .route("/v1/reset/{flow_id}", get(reset::status))
        .route("/v1/reset/{flow_id}/challenge", post(reset::challenge))
        .route("/v1/reset/{flow_id}/verify", post(reset::verify))
        .route("/v1/reset/{flow_id}/complete", post(reset::complete))
        .route("/v1/login", post(enroll::login))
        .route("/v1/me/factors", get(enroll::list))
        .route("/v1/me/factors/{id}", delete(enroll::remove))
        .route("/v1/me/factors/totp", post(enroll::totp_begin))
        .route("/v1/me/factors/totp/verify", post(enroll::totp_finish))
        .route("/v1/me/factors/sms", post(enroll::sms_begin))
        .route("/v1/me/factors/sms/verify", post(enroll::sms_finish))
        .route("/v1/me/factors/webauthn", post(enroll::webauthn_begin))
        .route(
            "/v1/me/factors/webauthn/finish",
            post(enroll::webauthn_finish),
        )
        .route("/v1/risk/evaluate", post(risk::evaluate))
        .merge(admin_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            limits::per_address,
        ));
    let html = page_routes(&state);
    let security = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    Router::new()
        .merge(api)
        .merge(html)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/openapi.json", get(ops::openapi))
        .route("/metrics", get(ops::metrics))
        .route("/dev/outbox", get(ops::outbox))
        .route("/dev/outbox.json", get(ops::outbox_json))
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
