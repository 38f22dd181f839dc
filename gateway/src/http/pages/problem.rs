//! What a page needs to know about a service error, and the pages for the
//! errors that end a reset (expired, too many tries, refused, unavailable).
//!
//! `ApiError` keeps its extra fields (`attempts_left`, `Retry-After`) for its
//! JSON body. A page reads them by turning the error into that response: this
//! also logs internal causes exactly as the API does, so a failure behind a
//! page is never silent.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::views::{self, Message};
use crate::app::AppState;
use crate::http::error::ApiError;

/// A service error, read.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub attempts_left: Option<u64>,
    pub retry_after: Option<u64>,
    pub reasons: Vec<String>,
}

impl Problem {
    pub async fn of(error: ApiError) -> Self {
        let (status, code) = (error.status, error.code);
        let response = error.into_response();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body: Value = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            status,
            code,
            attempts_left: body["attempts_left"].as_u64(),
            retry_after,
            reasons: body["reasons"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The page for an error that ends what the person was doing, or `None`
    /// when the handler should answer on its own page (a wrong code, a
    /// rejected password, …).
    pub fn ending(&self, help_desk: &str) -> Option<Response> {
        let (status, message) = match (self.status, self.code) {
            (StatusCode::NOT_FOUND, "flow_not_found") | (StatusCode::GONE, _) => {
                (StatusCode::GONE, Message::expired())
            }
            (StatusCode::TOO_MANY_REQUESTS, code) => (
                StatusCode::TOO_MANY_REQUESTS,
                Message::too_many(code == "too_many_sends", self.retry_after),
            ),
            (_, "reset_denied") => (StatusCode::FORBIDDEN, Message::refused(help_desk)),
            (s, _) if s.is_server_error() => (s, Message::unavailable()),
            // The flow moved on meanwhile (another tab, a double click): its
            // state page shows where it stands.
            (
                StatusCode::CONFLICT,
                "already_verified"
                | "factor_already_passed"
                | "not_verified"
                | "token_used"
                | "flow_busy",
            ) => return Some(views::redirect("/reset")),
            _ => return None,
        };
        Some(views::page(status, &message))
    }

    /// [`ending`](Self::ending), or a generic page with the error's status.
    pub fn page(&self, help_desk: &str) -> Response {
        self.ending(help_desk).unwrap_or_else(|| {
            let message = if self.status.is_server_error() {
                Message::unavailable()
            } else {
                Message::failed()
            };
            views::page(self.status, &message)
        })
    }
}

/// The page for a service error that ends the step.
pub async fn page_for(s: &AppState, error: ApiError) -> Response {
    Problem::of(error).await.page(&s.config.reset.help_desk)
}
