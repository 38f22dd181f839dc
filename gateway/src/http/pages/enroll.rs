//! `/enroll`: sign in with the current password (the session token lives in
//! the `rg_session` cookie), see the ways to verify it's you, remove one,
//! sign out. Adding is [`super::enroll_add`].

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::cookie::{self, SESSION};
use super::csrf::{CsrfToken, Posted};
use super::problem::Problem;
use super::views::{self, Alerts, retry_sentence};
use crate::account::AccountName;
use crate::app::AppState;
use crate::factors::enrol::{self, FactorView};
use crate::http::client::Client;
use crate::session;

/// The signed-in account: `Ok(None)` without a valid session, `Err` with a
/// page when the session store fails.
pub async fn who(s: &AppState, headers: &HeaderMap) -> Result<Option<AccountName>, Response> {
    let Some(token) = SESSION.get(headers, cookie::secure(s)) else {
        return Ok(None);
    };
    match session::authenticate(s, token).await {
        Ok(name) => Ok(Some(name)),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(None),
        Err(e) => Err(Problem::of(e).await.page(&s.config.reset.help_desk)),
    }
}

/// Where an enrolment POST without a session goes.
pub fn session_ended() -> Response {
    views::redirect("/enroll?done=session_ended")
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    alerts: Alerts,
    csrf: String,
    username: String,
}

#[derive(Template)]
#[template(path = "enroll.html")]
pub struct EnrollPage {
    pub alerts: Alerts,
    pub csrf: String,
    pub account: String,
    pub factors: Vec<Row>,
    /// What was typed in the add forms, kept across an error.
    pub phone: String,
    pub webauthn_name: String,
    /// The field an error is about (autofocused, described by `#error`).
    pub focus: &'static str,
}

/// One factor in the list.
pub struct Row {
    factor: String,
    id: String,
    label: String,
    added_at: String,
    added: String,
    last_used: Option<(String, String)>,
    cooling_until: Option<String>,
    provisioned: bool,
}

impl From<FactorView> for Row {
    fn from(f: FactorView) -> Self {
        Row {
            added: readable(&f.created_at),
            last_used: f.last_used_at.map(|at| {
                let text = readable(&at);
                (at, text)
            }),
            cooling_until: (f.status == "cooling_off").then(|| readable(&f.usable_for_reset_from)),
            provisioned: f.provisioned,
            added_at: f.created_at,
            factor: f.factor,
            id: f.id,
            label: f.label,
        }
    }
}

/// `2026-11-26T09:42:00Z` → `2026-11-26 09:42 UTC`.
fn readable(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

impl EnrollPage {
    /// The list page for `who`, with nothing typed.
    pub async fn of(
        s: &AppState,
        who: &AccountName,
        csrf: &str,
        alerts: Alerts,
    ) -> Result<Self, Response> {
        let factors = match enrol::list(s, who).await {
            Ok(list) => list.into_iter().map(Row::from).collect(),
            Err(e) => return Err(Problem::of(e).await.page(&s.config.reset.help_desk)),
        };
        Ok(EnrollPage {
            alerts,
            csrf: csrf.to_owned(),
            account: who.to_string(),
            factors,
            phone: String::new(),
            webauthn_name: String::new(),
            focus: "",
        })
    }
}

/// The list page with an error about `focus`, keeping what was typed.
pub async fn list_error(
    s: &AppState,
    who: &AccountName,
    csrf: &str,
    (status, error, focus): (StatusCode, &str, &'static str),
    (phone, webauthn_name): (&str, &str),
) -> Response {
    match EnrollPage::of(s, who, csrf, Alerts::error(error)).await {
        Ok(page) => {
            let page = EnrollPage {
                phone: phone.to_owned(),
                webauthn_name: webauthn_name.to_owned(),
                focus,
                ..page
            };
            views::page(status, &page)
        }
        Err(page) => page,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

/// Fixed notices a redirect may ask for (never echoed text).
fn notice(key: &str) -> Option<&'static str> {
    Some(match key {
        "totp" => "Authenticator app added.",
        "sms" => "Phone added.",
        "webauthn" => "Passkey added.",
        "removed" => "Removed.",
        "signed_out" => "You're signed out.",
        "session_ended" => "Your session ended; sign in again.",
        _ => return None,
    })
}

/// `GET /enroll`: the list when signed in, else the sign-in form.
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Query(query): Query<DoneQuery>,
) -> Response {
    let alerts = Alerts::notice(notice(&query.done));
    let page = match who(&s, &headers).await {
        Err(page) => page,
        Ok(None) => login_page(&token, alerts, String::new(), StatusCode::OK),
        Ok(Some(name)) => match EnrollPage::of(&s, &name, &token.field, alerts).await {
            Ok(page) => views::page(StatusCode::OK, &page),
            Err(page) => page,
        },
    };
    token.attach(page)
}

fn login_page(token: &CsrfToken, alerts: Alerts, username: String, status: StatusCode) -> Response {
    let page = LoginPage {
        alerts,
        csrf: token.field.clone(),
        username,
    };
    views::page(status, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /enroll/login`.
pub async fn login(
    State(s): State<AppState>,
    client: Client,
    token: CsrfToken,
    Posted(form): Posted<LoginForm>,
) -> Response {
    let again = |status, error: String| {
        login_page(&token, Alerts::error(error), form.username.clone(), status)
    };
    if form.username.trim().is_empty() || form.password.is_empty() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your username and password.".into(),
        );
    }
    match session::login(&s, &form.username, &form.password, &client).await {
        Ok(session_token) => {
            let ttl = session::SESSION_TTL.as_secs();
            let mut cookies = vec![SESSION.set(&session_token, Some(ttl), cookie::secure(&s))];
            cookies.extend(client.set_cookie(&s).values().cloned());
            views::with_cookies(views::redirect("/enroll"), cookies)
        }
        Err(e) => {
            let problem = Problem::of(e).await;
            match problem.code {
                // A malformed name cannot exist: the same neutral answer.
                "invalid_credentials" | "invalid_request" => again(
                    StatusCode::UNAUTHORIZED,
                    "Username or password is wrong.".into(),
                ),
                "too_many_attempts" => again(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many sign-in attempts. {}",
                        retry_sentence(problem.retry_after.unwrap_or(900))
                    ),
                ),
                _ => problem.page(&s.config.reset.help_desk),
            }
        }
    }
}

/// A form with no fields of its own (only `csrf`).
#[derive(Deserialize, Default)]
pub struct Empty {}

/// `POST /enroll/logout`.
pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    Posted(Empty {}): Posted<Empty>,
) -> Response {
    if let Some(token) = SESSION.get(&headers, cookie::secure(&s))
        && let Err(e) = session::logout(&s, token).await
    {
        return Problem::of(e).await.page(&s.config.reset.help_desk);
    }
    views::with_cookies(
        views::redirect("/enroll?done=signed_out"),
        [SESSION.clear(cookie::secure(&s))],
    )
}

/// `POST /enroll/factors/{id}/remove`.
pub async fn remove(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    headers: HeaderMap,
    token: CsrfToken,
    Path(id): Path<String>,
    Posted(Empty {}): Posted<Empty>,
) -> Response {
    let name = match who(&s, &headers).await {
        Ok(Some(name)) => name,
        Ok(None) => return session_ended(),
        Err(page) => return page,
    };
    let Err(e) = enrol::remove(
        &s,
        &name,
        &id,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await
    else {
        return views::redirect("/enroll?done=removed");
    };
    let problem = Problem::of(e).await;
    let error = match problem.code {
        "factor_provisioned" => {
            "That one was set up by your administrator; ask the help desk to change it."
        }
        "factor_not_found" => "That one no longer exists.",
        _ => return problem.page(&s.config.reset.help_desk),
    };
    list_error(
        &s,
        &name,
        &token.field,
        (problem.status, error, ""),
        ("", ""),
    )
    .await
}
