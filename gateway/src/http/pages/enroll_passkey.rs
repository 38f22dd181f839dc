//! Adding a passkey or security key from `/enroll`: the browser's ceremony,
//! driven by `static/webauthn.js`, between two calls of
//! `factors::webauthn` — the creation options (a JSON helper the script
//! calls with `X-CSRF-Token`) and the browser's answer (a form field).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::csrf::{CsrfHeader, CsrfToken, Posted};
use super::enroll::{list_error, who};
use super::enroll_add::signed_in;
use super::problem::Problem;
use super::views;
use crate::app::AppState;
use crate::factors::webauthn;
use crate::http::error::ApiError;
use crate::http::json::Body;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NameRequest {
    name: Option<String>,
}

fn name_of(name: Option<&str>) -> Option<String> {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

/// `POST /enroll/webauthn/options` (`X-CSRF-Token`, JSON `{"name"}`):
/// `{"public_key": …}`, the creation options for `navigator.credentials.create`.
pub async fn webauthn_options(
    State(s): State<AppState>,
    headers: HeaderMap,
    _: CsrfHeader,
    Body(request): Body<NameRequest>,
) -> Response {
    let name = match who(&s, &headers).await {
        Ok(Some(name)) => name,
        Ok(None) => return ApiError::unauthenticated().into_response(),
        Err(page) => return page,
    };
    match webauthn::enrol_begin(&s, &name, name_of(request.name.as_deref())).await {
        Ok(public_key) => Json(json!({ "public_key": public_key })).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WebauthnForm {
    name: String,
    credential: String,
}

/// `POST /enroll/webauthn/finish`: the browser's answer, as JSON in a field.
pub async fn webauthn_finish(
    State(s): State<AppState>,
    client: crate::http::client::Client,
    headers: HeaderMap,
    token: CsrfToken,
    Posted(form): Posted<WebauthnForm>,
) -> Response {
    let name = match signed_in(&s, &headers).await {
        Ok(name) => name,
        Err(page) => return page,
    };
    let typed = ("", form.name.as_str());
    let fail = |status, error: &'static str| {
        list_error(
            &s,
            &name,
            &token.field,
            (status, error, "webauthn-name"),
            typed,
        )
    };
    let Ok(credential) = serde_json::from_str::<Value>(&form.credential) else {
        let error = "Your browser didn't finish adding the passkey. Use the button to try again.";
        return fail(StatusCode::BAD_REQUEST, error).await;
    };
    let Err(e) = webauthn::enrol_finish(
        &s,
        &name,
        credential,
        name_of(Some(&form.name)),
        &crate::signals::context::Context::of(&client, s.geo.as_ref()),
    )
    .await
    else {
        return views::redirect("/enroll?done=webauthn");
    };
    let problem = Problem::of(e).await;
    let error = match problem.code {
        "invalid_request" => "Use a shorter name, with letters, digits and spaces.",
        "already_enrolled" => "That passkey or key is already added.",
        "no_pending_enrolment" => "Adding the passkey took too long. Try again.",
        "invalid_credential" => "The passkey's answer couldn't be checked. Try again.",
        _ => return problem.page(&s.config.reset.help_desk),
    };
    fail(problem.status, error).await
}
