//! `/admin`: the administrators' console, server-rendered like the other
//! pages (no script, no CDN). Sign-in is the admin API's (`crate::admin`:
//! password and TOTP code); the bearer token lives in the `rg_admin` cookie
//! (`HttpOnly`, `SameSite=Strict`, path `/admin`). The overview draws the
//! recent decisions (`crate::console`); the policy page is an editor over
//! `crate::policies` (check with the line of a problem, save and make live,
//! make an earlier version live). Every form carries the CSRF token.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::cookie::{self, ADMIN};
use super::csrf::{CsrfToken, Posted};
use super::enroll::Empty;
use super::problem::Problem;
use super::views::{self, Alerts, retry_sentence};
use crate::account::AccountName;
use crate::app::AppState;
use crate::console::{self, Overview};
use crate::http::client::Client;
use crate::policies::{self, VersionView};
use crate::store::durable::PolicyRole;

/// The signed-in administrator: `Ok(None)` without a valid sign-in.
async fn who(s: &AppState, headers: &HeaderMap) -> Result<Option<AccountName>, Response> {
    let Some(token) = ADMIN.get(headers, cookie::secure(s)) else {
        return Ok(None);
    };
    match crate::admin::authenticate(s, token).await {
        Ok(name) => Ok(Some(name)),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(None),
        Err(e) => Err(Problem::of(e).await.page(&s.config.reset.help_desk)),
    }
}

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage {
    alerts: Alerts,
    csrf: String,
    admin: String,
    username: String,
}

fn login_page(token: &CsrfToken, alerts: Alerts, username: String, status: StatusCode) -> Response {
    views::page(
        status,
        &LoginPage {
            alerts,
            csrf: token.field.clone(),
            admin: String::new(),
            username,
        },
    )
}

/// One webhook endpoint's health.
struct Endpoint {
    id: String,
    url: String,
    state: String,
    pending: usize,
    dead: usize,
    last_delivered: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct OverviewPage {
    alerts: Alerts,
    csrf: String,
    admin: String,
    o: Overview,
    max_scanned: usize,
    levels_svg: String,
    scores_svg: String,
    legend: Vec<(&'static str, String)>,
    webhooks: Vec<Endpoint>,
    shadow: String,
}

/// `GET /admin`: the overview when signed in, else the sign-in form.
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Query(q): Query<DoneQuery>,
) -> Response {
    let notice = match q.done.as_str() {
        "labelled" => Some("Label saved."),
        _ => None,
    };
    let page = match who(&s, &headers).await {
        Err(page) => page,
        Ok(None) => login_page(&token, Alerts::default(), String::new(), StatusCode::OK),
        Ok(Some(name)) => match overview(&s, &name, &token.field).await {
            Ok(mut page) => {
                page.alerts = Alerts::notice(notice);
                views::page(StatusCode::OK, &page)
            }
            Err(e) => Problem::of(e).await.page(&s.config.reset.help_desk),
        },
    };
    token.attach(page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LabelForm {
    label: String,
}

/// `POST /admin/decisions/{id}/label`: an analyst's verdict on a decision.
pub async fn label(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(seq): Path<i64>,
    Posted(form): Posted<LabelForm>,
) -> Response {
    let name = match who(&s, &headers).await {
        Ok(Some(name)) => name,
        Ok(None) => return views::redirect("/admin"),
        Err(page) => return page,
    };
    let label = match form.label.as_str() {
        "attack" => crate::decisions::Label::Attack,
        "legitimate" => crate::decisions::Label::Legitimate,
        _ => {
            return Problem::of(crate::http::error::ApiError::invalid(
                "label: attack or legitimate",
            ))
            .await
            .page(&s.config.reset.help_desk);
        }
    };
    match crate::decisions::label(&s, &name, seq, label, Some("from the console")).await {
        Ok(_) => views::redirect("/admin?done=labelled"),
        Err(e) => Problem::of(e).await.page(&s.config.reset.help_desk),
    }
}

async fn overview(
    s: &AppState,
    name: &AccountName,
    csrf: &str,
) -> crate::http::error::ApiResult<OverviewPage> {
    let o = console::overview(s.durable.as_ref(), s.clock.now(), 24).await?;
    let mut webhooks = Vec::new();
    for e in crate::webhooks::manage::list(s).await? {
        let count = async |state| -> crate::http::error::ApiResult<usize> {
            Ok(s.durable.deliveries(&e.id, Some(state), 500).await?.len())
        };
        let last = s.durable.deliveries(&e.id, Some("delivered"), 1).await?;
        webhooks.push(Endpoint {
            pending: count("pending").await?,
            dead: count("dead").await?,
            last_delivered: last.first().map_or_else(
                || "never".to_owned(),
                |d| {
                    crate::time::rfc3339(
                        std::time::SystemTime::UNIX_EPOCH
                            + std::time::Duration::from_millis(
                                u64::try_from(d.updated_at).unwrap_or(0),
                            ),
                    )
                },
            ),
            state: if e.enabled {
                "delivering".to_owned()
            } else {
                format!(
                    "stopped: {}",
                    e.disabled_reason.as_deref().unwrap_or("disabled")
                )
            },
            id: e.id,
            url: e.url,
        });
    }
    let shadow = match s.policies.shadow() {
        None => "No shadow policy is set.".to_owned(),
        Some(shadow) => {
            let disagreeing = count_disagreements(s).await?;
            format!(
                "Version {} ({}) is evaluated beside the live one: {disagreeing} decisions since it was set were decided otherwise (counted up to 500).",
                shadow.version_id,
                shadow.policy.version()
            )
        }
    };
    Ok(OverviewPage {
        alerts: Alerts::default(),
        csrf: csrf.to_owned(),
        admin: name.to_string(),
        levels_svg: console::levels_chart(&o),
        scores_svg: console::score_chart(&o),
        legend: ["low", "medium", "high", "refused"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| (name, console::colour(i)))
            .collect(),
        max_scanned: console::MAX_SCANNED,
        o,
        webhooks,
        shadow,
    })
}

/// Decisions the shadow disagreed with since it was set (up to 500).
async fn count_disagreements(s: &AppState) -> crate::http::error::ApiResult<usize> {
    let Some(activation) = s.durable.policy_activation(PolicyRole::Shadow).await? else {
        return Ok(0);
    };
    let since = crate::time::rfc3339(crate::time::from_unix(activation.activated_at));
    let list = crate::decisions::list(
        s.durable.as_ref(),
        &crate::decisions::Query {
            since: Some(since),
            shadow_disagrees: Some(true),
            limit: Some(500),
            ..crate::decisions::Query::default()
        },
    )
    .await?;
    Ok(list.decisions.len())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    code: String,
}

/// `POST /admin/login`.
pub async fn login(
    State(s): State<AppState>,
    client: Client,
    token: CsrfToken,
    Posted(form): Posted<LoginForm>,
) -> Response {
    let again = |status, error: String| {
        login_page(&token, Alerts::error(error), form.username.clone(), status)
    };
    if form.username.trim().is_empty() || form.password.is_empty() || form.code.is_empty() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your name, password and code.".into(),
        );
    }
    match crate::admin::login(&s, &form.username, &form.password, &form.code, &client).await {
        // Passkey sign-in is the API's (the console has no script); with a
        // code given it is never asked for.
        Ok(crate::admin::Login::Passkey(_)) => again(
            StatusCode::UNAUTHORIZED,
            "The name, password or code is not right.".into(),
        ),
        Ok(crate::admin::Login::Token(bearer)) => views::with_cookies(
            views::redirect("/admin"),
            [ADMIN.set(
                &bearer,
                Some(crate::admin::SESSION_TTL.as_secs()),
                cookie::secure(&s),
            )],
        ),
        Err(e) => {
            let problem = Problem::of(e).await;
            match problem.code {
                "invalid_credentials" | "invalid_request" => again(
                    StatusCode::UNAUTHORIZED,
                    "The name, password or code is not right.".into(),
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

/// `POST /admin/logout`.
pub async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    Posted(Empty {}): Posted<Empty>,
) -> Response {
    if let Some(bearer) = ADMIN.get(&headers, cookie::secure(&s))
        && let Ok(name) = crate::admin::authenticate(&s, bearer).await
        && let Err(e) = crate::admin::logout(&s, &name, bearer).await
    {
        return Problem::of(e).await.page(&s.config.reset.help_desk);
    }
    views::with_cookies(views::redirect("/admin"), [ADMIN.clear(cookie::secure(&s))])
}

#[derive(Template)]
#[template(path = "admin_policy.html")]
struct PolicyPage {
    alerts: Alerts,
    csrf: String,
    admin: String,
    live_version: String,
    live_id: i64,
    live_author: String,
    text: String,
    comment: String,
    error_line: Option<usize>,
    error_text: String,
    versions: Vec<VersionView>,
}

impl PolicyPage {
    /// The editor with `text` (the live policy's when `None`).
    async fn of(
        s: &AppState,
        admin: &AccountName,
        csrf: &str,
        alerts: Alerts,
        typed: Option<(String, String)>,
    ) -> crate::http::error::ApiResult<Self> {
        let live = policies::live(s.durable.as_ref()).await?;
        let versions = policies::versions(s.durable.as_ref(), 50).await?;
        let (text, comment) =
            typed.unwrap_or_else(|| (live.text.clone().unwrap_or_default(), String::new()));
        Ok(PolicyPage {
            alerts,
            csrf: csrf.to_owned(),
            admin: admin.to_string(),
            live_version: live.version,
            live_id: live.id,
            live_author: live.author,
            text,
            comment,
            error_line: None,
            error_text: String::new(),
            versions,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DoneQuery {
    done: String,
}

/// `GET /admin/policy`: the editor with the live policy and the versions.
pub async fn policy(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Query(q): Query<DoneQuery>,
) -> Response {
    let notice = match q.done.as_str() {
        "activated" => Some("The policy is live."),
        _ => None,
    };
    let page = match who(&s, &headers).await {
        Err(page) => page,
        Ok(None) => views::redirect("/admin"),
        Ok(Some(name)) => {
            match PolicyPage::of(&s, &name, &token.field, Alerts::notice(notice), None).await {
                Ok(page) => views::page(StatusCode::OK, &page),
                Err(e) => Problem::of(e).await.page(&s.config.reset.help_desk),
            }
        }
    };
    token.attach(page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PolicyForm {
    text: String,
    comment: String,
}

/// `POST /admin/policy/check`: validate what was typed, change nothing.
pub async fn check(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<PolicyForm>,
) -> Response {
    edit(&s, &headers, &token, form, false).await
}

/// `POST /admin/policy`: validate, store and make live.
pub async fn save(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<PolicyForm>,
) -> Response {
    edit(&s, &headers, &token, form, true).await
}

async fn edit(
    s: &AppState,
    headers: &HeaderMap,
    token: &CsrfToken,
    form: PolicyForm,
    activate: bool,
) -> Response {
    let name = match who(s, headers).await {
        Ok(Some(name)) => name,
        Ok(None) => return views::redirect("/admin"),
        Err(page) => return page,
    };
    // Browsers send textarea lines with CR LF.
    let text = form.text.replace("\r\n", "\n");
    let outcome = if activate {
        policies::upload(s, &name, &text, &form.comment, true, "console")
            .await
            .map(Some)
    } else {
        policies::validate(&text).map(|_| None)
    };
    let (status, alerts, line) = match outcome {
        Ok(Some(_)) => return views::redirect("/admin/policy?done=activated"),
        Ok(None) => (
            StatusCode::OK,
            Alerts::notice(Some("The policy is valid. Nothing was saved.")),
            None,
        ),
        Err(e)
            if matches!(
                e.code,
                "invalid_policy" | "policy_too_large" | "policy_conflict" | "invalid_request"
            ) =>
        {
            let line = e.message.split(':').next().and_then(|l| l.parse().ok());
            (e.status, Alerts::error(e.message.into_owned()), line)
        }
        Err(e) => return Problem::of(e).await.page(&s.config.reset.help_desk),
    };
    let typed = Some((text.clone(), form.comment.clone()));
    match PolicyPage::of(s, &name, &token.field, alerts, typed).await {
        Ok(mut page) => {
            page.error_line = line;
            line.and_then(|l: usize| text.lines().nth(l.saturating_sub(1)))
                .unwrap_or_default()
                .clone_into(&mut page.error_text);
            views::page(status, &page)
        }
        Err(e) => Problem::of(e).await.page(&s.config.reset.help_desk),
    }
}

/// `POST /admin/policy/versions/{id}/activate`: make a stored version live.
pub async fn activate(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Posted(Empty {}): Posted<Empty>,
) -> Response {
    let name = match who(&s, &headers).await {
        Ok(Some(name)) => name,
        Ok(None) => return views::redirect("/admin"),
        Err(page) => return page,
    };
    let result = policies::set(&s, PolicyRole::Live, Some(id), &name, "console").await;
    match result {
        Ok(_) => views::redirect("/admin/policy?done=activated"),
        Err(e) => Problem::of(e).await.page(&s.config.reset.help_desk),
    }
}
