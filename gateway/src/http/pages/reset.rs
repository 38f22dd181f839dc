//! `/` and `/reset`: start a reset, show the flow where it stands, choose a
//! factor. The flow id travels in the `rg_flow` cookie only.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use risk::Factor;
use serde::Deserialize;

use super::cookie::{self, FLOW};
use super::csrf::{CsrfToken, Posted};
use super::password;
use super::problem::{self, Problem};
use super::views::{self, Alerts, Message};
use crate::app::AppState;
use crate::flow::service;
use crate::flow::{Flow, State as FlowState};
use crate::http::client::Client;

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    alerts: Alerts,
    csrf: String,
    username: String,
}

/// `GET /`.
pub async fn start_page(token: CsrfToken) -> Response {
    let page = StartPage {
        alerts: Alerts::default(),
        csrf: token.field.clone(),
        username: String::new(),
    };
    token.attach(views::page(StatusCode::OK, &page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    username: String,
}

/// `POST /reset`: start, keep the flow id in `rg_flow`, go to `GET /reset`.
pub async fn start(
    State(s): State<AppState>,
    client: Client,
    token: CsrfToken,
    Posted(form): Posted<StartForm>,
) -> Response {
    let again = |message: &str| {
        let page = StartPage {
            alerts: Alerts::error(message),
            csrf: token.field.clone(),
            username: form.username.clone(),
        };
        views::page(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    if form.username.trim().is_empty() {
        return again("Enter your username.");
    }
    match service::start(&s, &form.username, &client).await {
        Ok(flow) => {
            let max_age = u64::try_from(flow.expires_at - s.now()).unwrap_or(0);
            let mut cookies = vec![FLOW.set(&flow.id, Some(max_age), cookie::secure(&s))];
            cookies.extend(client.set_cookie(&s).values().cloned());
            views::with_cookies(views::redirect("/reset"), cookies)
        }
        Err(e) => {
            let problem = Problem::of(e).await;
            if problem.code == "invalid_request" {
                return again("Enter a valid username.");
            }
            problem.page(&s.config.reset.help_desk)
        }
    }
}

/// Fixed notices a redirect may ask for (never echoed text).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    done: String,
}

/// `GET /reset`: the page for where the flow stands.
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let notice = (query.done == "step").then_some("Step done. One more to go.");
    state_page(&s, &headers, &token, Alerts::notice(notice), StatusCode::OK).await
}

/// The flow's state page, with `alerts`; no flow cookie: back to `/`.
pub async fn state_page(
    s: &AppState,
    headers: &HeaderMap,
    token: &CsrfToken,
    alerts: Alerts,
    status: StatusCode,
) -> Response {
    let Some(flow) = load(s, headers).await else {
        return views::redirect("/");
    };
    let flow = match flow {
        Ok(flow) => flow,
        Err(page) => return page,
    };
    let now = s.now();
    let page = if flow.status(now) == "expired" {
        let expired = views::page(StatusCode::GONE, &Message::expired());
        views::with_cookies(expired, [FLOW.clear(cookie::secure(s))])
    } else {
        match flow.state {
            FlowState::Challenge => challenge_page(&flow, now, &token.field, alerts, status),
            FlowState::Verified | FlowState::Completing => {
                password::page(s, &token.field, alerts, Vec::new(), status)
            }
            FlowState::Done => password::done_page(),
            // The same statuses as when the step that ended the flow answered.
            FlowState::Denied => views::page(
                StatusCode::FORBIDDEN,
                &Message::refused(&s.config.reset.help_desk),
            ),
            FlowState::Locked => views::page(
                StatusCode::TOO_MANY_REQUESTS,
                &Message::too_many(false, None),
            ),
        }
    };
    token.attach(page)
}

/// The flow named by `rg_flow`: `None` without the cookie, a page for an
/// unknown or failing one.
pub async fn load(s: &AppState, headers: &HeaderMap) -> Option<Result<Flow, Response>> {
    let id = FLOW.get(headers, cookie::secure(s))?;
    Some(match service::load(s, id).await {
        Ok((flow, _)) => Ok(flow),
        Err(e) => Err(problem::page_for(s, e).await),
    })
}

/// The flow id from `rg_flow`.
pub fn flow_id<'a>(s: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    FLOW.get(headers, cookie::secure(s))
}

#[derive(Template)]
#[template(path = "challenge.html")]
struct ChallengePage {
    alerts: Alerts,
    csrf: String,
    remaining: u8,
    choices: Vec<Choice>,
}

struct Choice {
    factor: &'static str,
    label: String,
}

fn challenge_page(
    flow: &Flow,
    now: i64,
    csrf: &str,
    alerts: Alerts,
    status: StatusCode,
) -> Response {
    // The options the flow itself would accept now (not passed, strong
    // enough for the last step); the flow decides, the page only lists.
    let choices = flow
        .options
        .iter()
        .filter(|o| flow.check_factor(o.factor, now).is_ok())
        .map(|o| {
            let label = match o.factor {
                Factor::Sms => format!("Text a code to {}", o.hint),
                Factor::Email => format!("E-mail a code to {}", o.hint),
                Factor::Totp => "Use your authenticator app".into(),
                Factor::Webauthn => "Use your passkey or security key".into(),
            };
            Choice {
                factor: o.factor.as_str(),
                label,
            }
        })
        .collect();
    let page = ChallengePage {
        alerts,
        csrf: csrf.to_owned(),
        remaining: flow.remaining(),
        choices,
    };
    views::page(status, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChooseForm {
    factor: String,
}

/// `POST /reset/challenge`: send the SMS or e-mail code (or check the factor
/// may be used), then the code page.
pub async fn choose(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<ChooseForm>,
) -> Response {
    let Some(id) = flow_id(&s, &headers) else {
        return views::redirect("/");
    };
    let factor = match form.factor.parse::<Factor>() {
        Ok(Factor::Webauthn) => return views::redirect("/reset/code?factor=webauthn"),
        Ok(factor @ (Factor::Sms | Factor::Email | Factor::Totp)) => factor,
        _ => return views::redirect("/reset"),
    };
    match service::challenge(&s, id, factor).await {
        Ok(_) => views::redirect(&format!("/reset/code?factor={}", factor.as_str())),
        Err(e) => {
            let problem = Problem::of(e).await;
            // Out of codes for now: another way may still work.
            let (status, error) = if problem.code == "too_many_sends" {
                let wait = views::retry_sentence(problem.retry_after.unwrap_or(3600));
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "No more codes can be sent for now. Choose another way if you can. {wait}"
                    ),
                )
            } else if let Some(page) = problem.ending(&s.config.reset.help_desk) {
                return page;
            } else {
                let error = "That way can't be used for this step; choose another.";
                (StatusCode::BAD_REQUEST, error.to_owned())
            };
            state_page(&s, &headers, &token, Alerts::error(error), status).await
        }
    }
}
