//! The pages' static files, compiled in and served at `/static/{file}` with
//! their content type and a one-hour public cache (the global layer adds
//! `no-store` only where no `Cache-Control` is set). No CDN: the CSP allows
//! scripts and styles from this origin only.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::http::ops;

const CSS: &str = include_str!("../../../static/app.css");
const WEBAUTHN_JS: &str = include_str!("../../../static/webauthn.js");

/// `GET /static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "webauthn.js" => (WEBAUTHN_JS, "text/javascript; charset=utf-8"),
        _ => return ops::not_found().await.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
