//! Operations endpoints: liveness, readiness, the API description, and the
//! demo's dev outbox.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::error::ApiError;
use crate::app::AppState;

#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations")]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when both stores answer, 503 naming the one that does not.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations")]
pub async fn readyz(State(s): State<AppState>) -> Response {
    let ephemeral = s.ephemeral.ping().await.is_ok();
    let durable = s.durable.ping().await.is_ok();
    let status = if ephemeral && durable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok| if ok { "ok" } else { "unavailable" };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "checks": {"ephemeral": word(ephemeral), "durable": word(durable)},
    });
    (status, Json(body)).into_response()
}

/// Prometheus metrics (`crate::metrics`), text exposition format 0.0.4.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations")]
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

/// The API description (`super::openapi::document`): request schemas
/// derived from the code, the rest written by hand and checked against the
/// routes by the router tests.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations"
)]
pub async fn openapi() -> impl IntoResponse {
    axum::Json(super::openapi::document())
}

/// The dev outbox (demo only): messages the `log` SMS provider kept.
#[utoipa::path(get, path = "/dev/outbox", operation_id = "devOutbox", tag = "dev")]
pub async fn outbox(State(s): State<AppState>) -> Response {
    let Some(outbox) = &s.outbox else {
        return not_found().await.into_response();
    };
    let mut rows = String::new();
    for m in outbox.list() {
        let (at, to, text) = (esc(&m.at), esc(&m.to), esc(&m.message));
        let _ = write!(rows, "<tr><td>{at}</td><td>{to}</td><td>{text}</td></tr>");
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>resetgate dev outbox</title></head>\
         <body><h1>Dev outbox</h1><p>Messages the <code>log</code> SMS provider would have sent (demo mode only). Newest first; reload to refresh.</p>\
         <table><thead><tr><th>At</th><th>To</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table></body></html>"
    ))
    .into_response()
}

/// The dev outbox as JSON (demo only).
#[utoipa::path(
    get,
    path = "/dev/outbox.json",
    operation_id = "devOutboxJson",
    tag = "dev"
)]
pub async fn outbox_json(State(s): State<AppState>) -> Response {
    match &s.outbox {
        Some(outbox) => Json(json!({"messages": outbox.list()})).into_response(),
        None => not_found().await.into_response(),
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}
