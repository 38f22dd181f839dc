//! `/reset/complete` and `/reset/done`: the new password, checked by the
//! reset core (every rule, before anything is written), and the done page.
//! The reset token comes from the `rg_reset` cookie, never from the form.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::cookie::{self, FLOW, RESET};
use super::csrf::{CsrfToken, Posted};
use super::problem::Problem;
use super::reset::flow_id;
use super::views::{self, Alerts, Message};
use crate::app::AppState;
use crate::reset_core;
use crate::reset_core::password::Rejection;

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    alerts: Alerts,
    csrf: String,
    min: usize,
    max: usize,
    /// Why the last password was refused, as sentences.
    reasons: Vec<String>,
}

/// The new-password form.
pub fn page(
    s: &AppState,
    csrf: &str,
    alerts: Alerts,
    reasons: Vec<String>,
    status: StatusCode,
) -> Response {
    let page = PasswordPage {
        alerts,
        csrf: csrf.to_owned(),
        min: s.config.password.min_length,
        max: s.config.password.max_length,
        reasons,
    };
    views::page(status, &page)
}

#[derive(Template)]
#[template(path = "done.html")]
struct DonePage {
    alerts: Alerts,
}

/// The done page.
pub fn done_page() -> Response {
    views::page(
        StatusCode::OK,
        &DonePage {
            alerts: Alerts::default(),
        },
    )
}

/// `GET /reset/done`.
pub async fn done() -> Response {
    done_page()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    new_password: String,
    confirm_password: String,
}

/// `POST /reset/complete`.
pub async fn complete(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<PasswordForm>,
) -> Response {
    let Some(id) = flow_id(&s, &headers) else {
        return views::redirect("/");
    };
    let secure = cookie::secure(&s);
    let refuse = |error: &str, reasons| {
        page(
            &s,
            &token.field,
            Alerts::error(error),
            reasons,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if form.new_password != form.confirm_password {
        return refuse(
            "The two passwords differ. Type the same password twice.",
            Vec::new(),
        );
    }
    let reset_token = RESET.get(&headers, secure).unwrap_or_default();
    match reset_core::complete(&s, id, reset_token, &form.new_password).await {
        Ok(()) => views::with_cookies(
            views::redirect("/reset/done"),
            [FLOW.clear(secure), RESET.clear(secure)],
        ),
        Err(e) => {
            let problem = Problem::of(e).await;
            match problem.code {
                "password_rejected" => {
                    let reasons = problem.reasons.iter().map(|r| sentence(&s, r)).collect();
                    refuse("Choose another password.", reasons)
                }
                "invalid_request" => refuse("Choose a shorter password.", Vec::new()),
                // The token cookie is missing or stale (another browser,
                // cleared cookies): this reset cannot finish here.
                "invalid_token" => views::page(StatusCode::GONE, &Message::expired()),
                _ => problem.page(&s.config.reset.help_desk),
            }
        }
    }
}

/// A refusal reason as a sentence for the person choosing the password.
fn sentence(s: &AppState, code: &str) -> String {
    let p = &s.config.password;
    match code {
        "too_short" => format!("Use at least {} characters.", p.min_length),
        "too_long" => format!("Use at most {} characters.", p.max_length),
        "breached" => "This password has appeared in a data breach; choose another.".into(),
        "common" => "This is one of the most common passwords; choose another.".into(),
        "contains_username" => "Don't include your username.".into(),
        "context_word" => "Don't include the name of this service.".into(),
        "repetitive" => "Avoid repeated characters and simple sequences like 1234 or abcd.".into(),
        "reused" => "You used this password recently; choose one you haven't used before.".into(),
        "directory_policy" => {
            "Your organisation's directory refused this password; choose another.".into()
        }
        other => serde_json::from_value::<Rejection>(other.into())
            .map_or("Choose another password.", Rejection::message)
            .into(),
    }
}
