//! A JSON body extractor whose rejections speak the API's error format:
//! 415 `unsupported_media_type`, 400 `invalid_json`, 400 `invalid_request`
//! (unknown field, wrong type, missing field), 413 `payload_too_large`.
//!
//! JSON has one number type: an integer field takes `7.0` as `7` (JSON
//! Schema calls `7.0` an integer too). serde refuses a float for an integer,
//! so a body refused for its data is read once more with every integral
//! float made an integer; only if that reads is it accepted.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;

/// `Json<T>` with our rejections.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = read(req, state).await?;
        parse(&bytes).map(Body)
    }
}

/// [`Body`] for requests whose every field may be left out: an empty body
/// (with or without a content type) reads as `T::default()`.
pub struct OptionalBody<T>(pub T);

impl<S, T> FromRequest<S> for OptionalBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = json_content_type(req.headers());
        let bytes = read(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        parse(&bytes).map(OptionalBody)
    }
}

/// The body's bytes, within the route's size limit.
async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            payload_too_large()
        } else {
            ApiError::bad_request("invalid_request", rejection.body_text())
        }
    })
}

fn parse<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(rejection @ JsonRejection::JsonDataError(_)) => with_integral_floats_as_integers(bytes)
            .map(|Body(value)| value)
            .ok_or_else(|| map(&rejection)),
        Err(rejection) => Err(map(&rejection)),
    }
}

/// `application/json` or `application/<anything>+json`, as axum's `Json`.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application") && (subtype == "json" || subtype.ends_with("+json"))
}

/// The body read again with `7.0` as `7`, if it has such numbers and then reads.
fn with_integral_floats_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<Body<T>> {
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    if !integral_floats_to_integers(&mut value) {
        return None;
    }
    T::deserialize(value).ok().map(Body)
}

/// Makes every float without a fraction (within ±2^53, exact in an f64) an
/// integer; whether there was one.
fn integral_floats_to_integers(value: &mut Value) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= EXACT {
                // Exact: |f| <= 2^53 and integral.
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *value = Value::from(i);
                true
            } else {
                false
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, v| integral_floats_to_integers(v) | any),
        Value::Object(fields) => fields
            .values_mut()
            .fold(false, |any, v| integral_floats_to_integers(v) | any),
        _ => false,
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as Content-Type: application/json",
    )
}

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the body is too large",
    )
}

/// A page size of a list: `default` when absent, else 1 to `max`, or 400
/// `invalid_request` (the range the document gives).
pub fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(format!("limit: 1 to {max}"))),
    }
}

fn map(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("invalid_json", "the body is not valid JSON")
        }
        JsonRejection::JsonDataError(e) => ApiError::invalid(e.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        other => ApiError::bad_request("invalid_request", other.body_text()),
    }
}

/// `Query<T>` with the API's rejection: 400 `invalid_request` naming the problem.
pub struct Params<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Params(value))
            .map_err(|rejection| ApiError::invalid(rejection.body_text()))
    }
}

/// `Path<T>` with the API's rejection: 400 `invalid_request` (e.g. an id
/// that is not a number).
pub struct PathParam<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for PathParam<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathParam(value))
            .map_err(|rejection| ApiError::invalid(rejection.body_text()))
    }
}
