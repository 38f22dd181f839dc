//! `/lock?t=…`: the "this wasn't me" link of a notice (`crate::lock`). The GET
//! only shows a button (mail scanners open links; opening one changes
//! nothing); the POST locks. The token travels in the query string of the
//! link and in the form, never in a log: the request log records the path
//! only, and the page sends no referrer.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::csrf::{CsrfToken, Posted};
use super::problem::Problem;
use super::views::{self, Alerts, Message};
use crate::app::AppState;
use crate::http::client::Client;
use crate::lock::{self, Redeemed};

#[derive(Template)]
#[template(path = "lock.html")]
struct LockPage {
    alerts: Alerts,
    csrf: String,
    token: String,
    help_desk: String,
}

#[derive(Deserialize)]
pub struct LockQuery {
    #[serde(default)]
    t: String,
}

/// The form for the link's token (or why the link does not work).
pub async fn show(
    State(s): State<AppState>,
    csrf: CsrfToken,
    Query(query): Query<LockQuery>,
) -> Response {
    let page = if lock::check(&s, &query.t) {
        views::page(
            StatusCode::OK,
            &LockPage {
                alerts: Alerts::notice(None),
                csrf: csrf.field.clone(),
                token: query.t,
                help_desk: s.config.reset.help_desk.clone(),
            },
        )
    } else {
        views::page(StatusCode::NOT_FOUND, &invalid(&s.config.reset.help_desk))
    };
    csrf.attach(page)
}

#[derive(Deserialize)]
pub struct LockForm {
    #[serde(default)]
    t: String,
}

/// Lock the account's resets.
pub async fn submit(
    State(s): State<AppState>,
    client: Client,
    Posted(form): Posted<LockForm>,
) -> Response {
    let help_desk = &s.config.reset.help_desk;
    let origin = crate::signals::context::Context::of(&client, s.geo.as_ref());
    match lock::redeem(&s, &form.t, &origin).await {
        Ok(Redeemed::Locked(_)) => views::page(StatusCode::OK, &locked(help_desk)),
        Ok(Redeemed::AlreadyUsed) => views::page(StatusCode::GONE, &used(help_desk)),
        Ok(Redeemed::Invalid) => views::page(StatusCode::NOT_FOUND, &invalid(help_desk)),
        Err(e) => Problem::of(e).await.page(help_desk),
    }
}

fn locked(help_desk: &str) -> Message {
    Message {
        alerts: Alerts::notice(Some("Password resets of your account are locked.")),
        title: "Your account's password resets are locked",
        section: "locked",
        paragraphs: vec![
            "Nobody can reset your password here until the help desk unlocks it, and every \
             session that was set up with the new password has ended."
                .into(),
            "Contact the help desk now: they will check your account with you.".into(),
            help_desk.to_owned(),
        ],
        link: None,
    }
}

fn used(help_desk: &str) -> Message {
    Message {
        alerts: Alerts::error("This link was already used."),
        title: "This link was already used",
        section: "lock-used",
        paragraphs: vec![
            "Each link works once. If you used it, your account's password resets are locked."
                .into(),
            help_desk.to_owned(),
        ],
        link: None,
    }
}

fn invalid(help_desk: &str) -> Message {
    Message {
        alerts: Alerts::error("This link does not work."),
        title: "This link does not work",
        section: "lock-invalid",
        paragraphs: vec![
            "It may be incomplete or too old. Contact the help desk if something happened that \
             was not you."
                .into(),
            help_desk.to_owned(),
        ],
        link: None,
    }
}
