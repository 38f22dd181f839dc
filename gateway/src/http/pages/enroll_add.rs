//! Adding a way to verify it's you from `/enroll`: an authenticator app (QR
//! code and key, then a code) or a phone (a texted code). Passkeys are
//! [`super::enroll_passkey`].

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;

use super::csrf::{CsrfToken, Posted};
use super::enroll::{Empty, list_error, session_ended, who};
use super::problem::Problem;
use super::views::{self, Alerts, retry_sentence};
use crate::account::AccountName;
use crate::app::AppState;
use crate::factors::{enrol, sms};

/// The signed-in account, or the response to give instead.
pub async fn signed_in(s: &AppState, headers: &HeaderMap) -> Result<AccountName, Response> {
    match who(s, headers).await {
        Ok(Some(name)) => Ok(name),
        Ok(None) => Err(session_ended()),
        Err(page) => Err(page),
    }
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct TotpPage {
    alerts: Alerts,
    csrf: String,
    /// The QR code and key; `None` when asking for the code again.
    setup: Option<TotpSetup>,
}

struct TotpSetup {
    /// Markup we checked (see [`qr_markup`]).
    qr: String,
    /// The base32 key in groups of four.
    secret: String,
}

/// `POST /enroll/totp`: a new key, its QR code and the code form.
pub async fn totp_begin(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(Empty {}): Posted<Empty>,
) -> Response {
    let name = match signed_in(&s, &headers).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    match enrol::totp_begin(&s, &name).await {
        Ok(start) => {
            let secret = start
                .secret
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let page = TotpPage {
                alerts: Alerts::default(),
                csrf: token.field.clone(),
                setup: Some(TotpSetup {
                    qr: qr_markup(&start.qr_svg),
                    secret,
                }),
            };
            views::page(StatusCode::OK, &page)
        }
        Err(e) => Problem::of(e).await.page(&s.config.reset.help_desk),
    }
}

/// The QR code's SVG as markup safe to inline under the pages' CSP: from
/// `<svg` on (no XML prolog), when it holds no script, event handler, link,
/// style or foreign object; otherwise an `<img>` of it, where no SVG can run
/// anything.
fn qr_markup(svg: &str) -> String {
    let body = svg.find("<svg").map_or("", |at| &svg[at..]);
    let lower = body.to_ascii_lowercase();
    let risky = ["<script", "style", "href", "<foreignobject", "<!"];
    let handler = lower.match_indices("on").any(|(at, _)| {
        at > 0
            && matches!(
                lower.as_bytes()[at - 1],
                b' ' | b'\n' | b'\t' | b'\r' | b'/'
            )
    });
    if !body.is_empty() && !handler && !risky.iter().any(|r| lower.contains(r)) {
        return body.to_owned();
    }
    format!(
        "<img src=\"data:image/svg+xml;base64,{}\" alt=\"\" width=\"200\" height=\"200\">",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

/// `POST /enroll/totp/verify`.
pub async fn totp_finish(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<CodeForm>,
) -> Response {
    let name = match signed_in(&s, &headers).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let code: String = form.code.split_whitespace().collect();
    let Err(e) = enrol::totp_finish(
        &s,
        &name,
        &code,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await
    else {
        return views::redirect("/enroll?done=totp");
    };
    let problem = Problem::of(e).await;
    let error = match problem.code {
        "invalid_code" => {
            "That code isn't right. Check that your phone's clock is right, then enter the newest code."
        }
        "invalid_request" => "Enter the 6-digit code.",
        "no_pending_enrolment" => {
            let error = "The setup timed out; start again.";
            return list_error(
                &s,
                &name,
                &token.field,
                (StatusCode::CONFLICT, error, ""),
                ("", ""),
            )
            .await;
        }
        _ => return problem.page(&s.config.reset.help_desk),
    };
    let page = TotpPage {
        alerts: Alerts::error(error),
        csrf: token.field.clone(),
        setup: None,
    };
    views::page(StatusCode::BAD_REQUEST, &page)
}

#[derive(Template)]
#[template(path = "sms_verify.html")]
struct SmsPage {
    alerts: Alerts,
    csrf: String,
    help: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PhoneForm {
    phone: String,
}

/// `POST /enroll/sms`: text a code to the number, then the code form.
pub async fn sms_begin(
    State(s): State<AppState>,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<PhoneForm>,
) -> Response {
    let name = match signed_in(&s, &headers).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    // People write numbers with spaces, dashes and brackets; the service
    // checks what is left is E.164.
    let phone: String = form
        .phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    match enrol::sms_begin(&s, &name, &phone).await {
        Ok(expires_in) => {
            let page = SmsPage {
                alerts: Alerts::default(),
                csrf: token.field.clone(),
                help: format!(
                    "We texted a 6-digit code to {}. It works for {} minutes.",
                    sms::mask(&phone),
                    expires_in.div_ceil(60)
                ),
            };
            views::page(StatusCode::OK, &page)
        }
        Err(e) => {
            let problem = Problem::of(e).await;
            let (status, error) = match problem.code {
                "invalid_request" => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Enter the number with its country code, e.g. +44 7700 900123.".to_owned(),
                ),
                "too_many_sends" => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many codes were sent. {}",
                        retry_sentence(problem.retry_after.unwrap_or(3600))
                    ),
                ),
                _ => return problem.page(&s.config.reset.help_desk),
            };
            let typed = (form.phone.as_str(), "");
            list_error(
                &s,
                &name,
                &token.field,
                (status, &error, "sms-phone"),
                typed,
            )
            .await
        }
    }
}

/// `POST /enroll/sms/verify`.
pub async fn sms_finish(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<CodeForm>,
) -> Response {
    let name = match signed_in(&s, &headers).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let code: String = form.code.split_whitespace().collect();
    let Err(e) = enrol::sms_finish(
        &s,
        &name,
        &code,
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await
    else {
        return views::redirect("/enroll?done=sms");
    };
    let problem = Problem::of(e).await;
    let error = match (problem.code, problem.attempts_left) {
        ("invalid_code", Some(left)) => {
            format!("That code isn't right. {}", views::tries_left(left))
        }
        ("invalid_request", _) => "Enter the 6-digit code.".into(),
        ("too_many_attempts" | "no_pending_enrolment", _) => {
            let error = if problem.code == "too_many_attempts" {
                "Too many wrong codes; add the phone again."
            } else {
                "The code timed out; add the phone again."
            };
            let status = problem.status;
            return list_error(
                &s,
                &name,
                &token.field,
                (status, error, "sms-phone"),
                ("", ""),
            )
            .await;
        }
        _ => return problem.page(&s.config.reset.help_desk),
    };
    let page = SmsPage {
        alerts: Alerts::error(error),
        csrf: token.field.clone(),
        help: "Enter the 6-digit code we texted you.".into(),
    };
    views::page(StatusCode::BAD_REQUEST, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_totp_qr_code_is_inlined_and_inert() {
        let svg =
            crate::factors::totp::qr_svg("otpauth://totp/resetgate:ann?secret=JBSWY3DPEHPK3PXP");
        let markup = qr_markup(&svg);
        assert!(
            markup.starts_with("<svg") && !markup.contains("style"),
            "{markup}"
        );
        let hostile = "<svg><script>alert(1)</script></svg>";
        assert!(qr_markup(hostile).starts_with("<img src=\"data:image/svg+xml;base64,"));
        assert!(qr_markup("<svg onload=\"x()\"></svg>").starts_with("<img"));
    }
}
