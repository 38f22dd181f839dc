//! CSRF defence for the pages: the signed double-submit cookie of the OWASP
//! CSRF Prevention Cheat Sheet, plus an `Origin` check.
//!
//! A GET page gets (or reuses) the `rg_csrf` cookie, a random value; its forms
//! carry the hidden field `csrf` = hex HMAC of that value under the server key.
//! A POST is accepted only when the field matches the cookie (constant time)
//! and, when the browser sent an `Origin`, it is `server.public_url`'s origin
//! or `null`. (`null` must pass: under the pages' `Referrer-Policy:
//! no-referrer` Chromium sends `Origin: null` on our own form posts. It is
//! also what sandboxed frames send, which is why the token, not the origin,
//! is the defence; the origin check only turns away named foreign sites.)
//! Only our server can make a field for a cookie value, and a page elsewhere
//! can neither read our cookie nor (over https, with the `__Host-` prefix)
//! plant one. The pages' state cookies are `SameSite=Strict` on top.
//! The JSON helpers the page scripts call send the field in `X-CSRF-Token`.

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::cookie::{self, CSRF};
use super::views::{self, Message};
use crate::app::AppState;
use crate::crypto;
use crate::http::error::ApiError;

/// The form field for this request's CSRF cookie; a new cookie when it had none.
pub struct CsrfToken {
    pub field: String,
    new_cookie: Option<HeaderValue>,
}

impl CsrfToken {
    /// `response` with the cookie set, when it is new.
    pub fn attach(&self, response: Response) -> Response {
        views::with_cookies(response, self.new_cookie.clone())
    }
}

impl FromRequestParts<AppState> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let secure = cookie::secure(s);
        let existing = CSRF.get(&parts.headers, secure).filter(|v| well_formed(v));
        let token = if let Some(value) = existing {
            CsrfToken {
                field: field_for(s, value),
                new_cookie: None,
            }
        } else {
            let value = crypto::random_token();
            CsrfToken {
                field: field_for(s, &value),
                new_cookie: Some(CSRF.set(&value, None, secure)),
            }
        };
        Ok(token)
    }
}

/// A random token as `crypto::random_token` makes them: 43 base64url characters.
fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn field_for(s: &AppState, cookie_value: &str) -> String {
    hex::encode(s.key.mac(&[b"csrf", cookie_value.as_bytes()]))
}

/// No `Origin`, `null` (see the module doc), or ours.
fn origin_ok(s: &AppState, headers: &HeaderMap) -> bool {
    headers.get(header::ORIGIN).is_none_or(|origin| {
        origin.as_bytes() == b"null"
            || origin.as_bytes()
                == s.config
                    .server
                    .public_url
                    .origin()
                    .ascii_serialization()
                    .as_bytes()
    })
}

/// The submitted token matches this request's cookie.
fn token_ok(s: &AppState, headers: &HeaderMap, submitted: &str) -> bool {
    CSRF.get(headers, cookie::secure(s))
        .filter(|v| well_formed(v))
        .is_some_and(|value| crypto::ct_eq(field_for(s, value).as_bytes(), submitted.as_bytes()))
}

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

/// A checked `application/x-www-form-urlencoded` form. Its fields should all
/// default, so a missing one is the handler's to explain, not a rejection.
/// Refusals are pages: 403 "This form expired" (nothing is changed), 400 for a
/// body that is not a form.
pub struct Posted<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &AppState) -> Result<Self, Response> {
        let forbidden = || views::page(StatusCode::FORBIDDEN, &Message::form_expired());
        if !origin_ok(s, req.headers()) {
            return Err(forbidden());
        }
        let headers = req.headers().clone();
        let Ok(Form(form)) = Form::<WithCsrf<T>>::from_request(req, s).await else {
            return Err(views::page(StatusCode::BAD_REQUEST, &Message::bad_form()));
        };
        if !token_ok(s, &headers, &form.csrf) {
            return Err(forbidden());
        }
        Ok(Posted(form.fields))
    }
}

/// The check for the JSON helpers: `X-CSRF-Token` and `Origin`; refusals are
/// JSON (403 `csrf_failed`), since a script reads them.
pub struct CsrfHeader;

impl FromRequestParts<AppState> for CsrfHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let submitted = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if origin_ok(s, &parts.headers) && token_ok(s, &parts.headers, submitted) {
            Ok(CsrfHeader)
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                "This form expired; reload the page and try again.",
            ))
        }
    }
}
