//! `/reset/code` and `/reset/verify`: the code and passkey pages and their
//! answers; `/reset/webauthn/options`, the JSON the passkey script asks for.
//! Once the last factor passes, the reset token goes into the `rg_reset`
//! cookie (`Path=/reset`): a bearer secret, never put in the page.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use risk::Factor;
use serde::Deserialize;
use serde_json::{Value, json};

use super::cookie::{self, RESET};
use super::csrf::{CsrfHeader, CsrfToken, Posted};
use super::problem::Problem;
use super::reset::{self, flow_id};
use super::views::{self, Alerts};
use crate::app::AppState;
use crate::flow::service::{self, Challenged, Verified};
use crate::http::error::ApiError;

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    alerts: Alerts,
    csrf: String,
    factor: &'static str,
    /// A code that was sent (SMS, e-mail): the page offers a new one.
    resend: bool,
    instructions: String,
}

#[derive(Template)]
#[template(path = "webauthn.html")]
struct WebauthnPage {
    alerts: Alerts,
    csrf: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeQuery {
    factor: String,
}

/// `GET /reset/code?factor=…`.
pub async fn code_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Query(query): Query<CodeQuery>,
) -> Response {
    let Ok(factor) = query.factor.parse::<Factor>() else {
        return views::redirect("/reset");
    };
    let page = factor_page(
        &s,
        &headers,
        &token,
        factor,
        Alerts::default(),
        StatusCode::OK,
    )
    .await;
    token.attach(page)
}

/// The page for entering `factor`, or the flow's state page when the flow
/// cannot take it now.
async fn factor_page(
    s: &AppState,
    headers: &HeaderMap,
    token: &CsrfToken,
    factor: Factor,
    alerts: Alerts,
    status: StatusCode,
) -> Response {
    let flow = match reset::load(s, headers).await {
        None => return views::redirect("/"),
        Some(Err(page)) => return page,
        Some(Ok(flow)) => flow,
    };
    let Ok(option) = flow.check_factor(factor, s.now()) else {
        return views::redirect("/reset");
    };
    let csrf = token.field.clone();
    let instructions = match factor {
        Factor::Webauthn => return views::page(status, &WebauthnPage { alerts, csrf }),
        Factor::Sms => format!(
            "We texted a 6-digit code to {}. It works for {} minutes.",
            option.hint,
            s.config.reset.code_ttl.as_secs().div_ceil(60)
        ),
        Factor::Email => format!(
            "We sent a code to {}. Enter the 6 digits from the e-mail; they work for {} minutes.",
            option.hint,
            s.config.reset.code_ttl.as_secs().div_ceil(60)
        ),
        Factor::Totp => {
            "Open your authenticator app and enter the 6-digit code it shows for this account."
                .into()
        }
    };
    let page = CodePage {
        alerts,
        csrf,
        factor: factor.as_str(),
        resend: matches!(factor, Factor::Sms | Factor::Email),
        instructions,
    };
    views::page(status, &page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct VerifyForm {
    factor: String,
    code: String,
    credential: String,
}

/// `POST /reset/verify`: a code, or a passkey's answer.
pub async fn verify(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<VerifyForm>,
) -> Response {
    let Some(id) = flow_id(&s, &headers) else {
        return views::redirect("/");
    };
    let Ok(factor) = form.factor.parse::<Factor>() else {
        return views::redirect("/reset");
    };
    let again = |message: String, status| {
        factor_page(&s, &headers, &token, factor, Alerts::error(message), status)
    };
    let result = if factor == Factor::Webauthn {
        let Ok(credential) = serde_json::from_str::<Value>(&form.credential) else {
            let text = "Your passkey didn't answer. Try again, or choose another way.";
            return again(text.into(), StatusCode::BAD_REQUEST).await;
        };
        service::verify_webauthn(&s, id, &credential).await
    } else {
        // People type codes with spaces ("123 456"); the service checks the rest.
        let code: String = form.code.split_whitespace().collect();
        service::verify(&s, id, factor, &code).await
    };
    match result {
        Ok(Verified::Remaining(_)) => views::redirect("/reset?done=step"),
        Ok(Verified::Done { reset_token }) => {
            let max_age = s.config.reset.flow_ttl.as_secs();
            let cookie = RESET.set(&reset_token, Some(max_age), cookie::secure(&s));
            views::with_cookies(views::redirect("/reset"), [cookie])
        }
        Err(e) => {
            let problem = Problem::of(e).await;
            if let Some(page) = problem.ending(&s.config.reset.help_desk) {
                return page;
            }
            let message = match (problem.code, problem.attempts_left) {
                ("invalid_code", Some(left)) if factor == Factor::Webauthn => {
                    format!("That passkey didn't work. {}", views::tries_left(left))
                }
                ("invalid_code", Some(left)) => {
                    format!("That code isn't right. {}", views::tries_left(left))
                }
                ("invalid_request", _) if factor == Factor::Webauthn => {
                    "Your passkey's answer couldn't be read. Try again.".into()
                }
                ("invalid_request", _) => "Enter the 6-digit code.".into(),
                _ => return problem.page(&s.config.reset.help_desk),
            };
            again(message, StatusCode::BAD_REQUEST).await
        }
    }
}

/// `POST /reset/webauthn/options` (`X-CSRF-Token`): `{"public_key": …}`, the
/// request options for `navigator.credentials.get`.
pub async fn webauthn_options(
    State(s): State<AppState>,
    headers: HeaderMap,
    _: CsrfHeader,
) -> Response {
    let Some(id) = flow_id(&s, &headers) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "flow_not_found",
            "no reset in progress",
        )
        .into_response();
    };
    match service::challenge(&s, id, Factor::Webauthn).await {
        Ok(Challenged::Webauthn { public_key }) => {
            Json(json!({ "public_key": public_key })).into_response()
        }
        Ok(_) => {
            ApiError::internal("a WebAuthn challenge answered without options").into_response()
        }
        Err(e) => e.into_response(),
    }
}
