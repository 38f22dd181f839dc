//! The one error type of the HTTP API.
//!
//! The body is always `{"error": "<snake_case_code>", "message": "<human text>"}`
//! plus, for some codes, extra fields (`attempts_left`, `reasons`). Internal
//! causes (store errors and the like) are logged here and never sent: the client
//! sees a generic message with the status.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::flow::FlowError;
use crate::store::durable::DurableError;
use crate::store::ephemeral::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    extra: Map<String, Value>,
    retry_after: Option<u64>,
    internal: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Map::new(),
            retry_after: None,
            internal: None,
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 `invalid_request`: the body is well-formed JSON but not acceptable.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::bad_request("invalid_request", message)
    }

    /// 429 with `Retry-After`.
    pub fn too_many(
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
        retry_after: u64,
    ) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        e.retry_after = Some(retry_after.max(1));
        e
    }

    /// 401 for a missing, expired or unknown session.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first: Authorization: Bearer <token from POST /v1/login>",
        )
    }

    /// 503 `store_unavailable`, logging the cause.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the service is temporarily unavailable; try again shortly",
        );
        e.internal = Some(cause.to_string());
        e.retry_after = Some(5);
        e
    }

    /// 500, logging the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side",
        );
        e.internal = Some(cause.to_string());
        e
    }

    /// The `reasons` extra field, if any (for auditing a refusal).
    pub fn reasons(&self) -> Option<&Value> {
        self.extra.get("reasons")
    }

    /// Add an extra field to the body.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_owned(), value.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.internal {
            tracing::error!(code = self.code, status = self.status.as_u16(), cause = %cause, "request failed");
        }
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message.into_owned()));
        body.extend(self.extra);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::unavailable(e)
    }
}

impl From<DurableError> for ApiError {
    fn from(e: DurableError) -> Self {
        Self::unavailable(e)
    }
}

impl From<crate::directory::DirectoryError> for ApiError {
    fn from(e: crate::directory::DirectoryError) -> Self {
        match e {
            crate::directory::DirectoryError::Disabled => FlowError::Denied.into(),
            other => Self::unavailable(other),
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        use StatusCode as S;
        let (status, code, message) = match e {
            FlowError::Expired => (
                S::GONE,
                "flow_expired",
                "this reset has expired; start again",
            ),
            FlowError::Locked => (
                S::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many wrong codes or refused passwords for this reset; start again later",
            ),
            FlowError::Denied => (
                S::FORBIDDEN,
                "reset_denied",
                "this reset cannot continue online; please contact the help desk",
            ),
            FlowError::FactorNotOffered => (
                S::BAD_REQUEST,
                "factor_not_offered",
                "that factor is not one of this reset's options",
            ),
            FlowError::AlreadyPassed => (
                S::CONFLICT,
                "factor_already_passed",
                "that factor was already verified",
            ),
            FlowError::NotChallenging => (
                S::CONFLICT,
                "already_verified",
                "this reset is already verified",
            ),
            FlowError::NotVerified => (
                S::CONFLICT,
                "not_verified",
                "pass the required factors before setting a password",
            ),
            FlowError::TokenUsed => (
                S::CONFLICT,
                "token_used",
                "this reset token was already used",
            ),
            FlowError::Superseded => (
                S::CONFLICT,
                "flow_superseded",
                "the password was reset by another reset since this one started; start again",
            ),
            FlowError::NotStrongEnough => (
                S::BAD_REQUEST,
                "factor_not_sufficient",
                "this reset needs a stronger factor (an authenticator app or security key) as well",
            ),
            FlowError::TooManySends => (
                S::TOO_MANY_REQUESTS,
                "too_many_sends",
                "no more codes can be sent for this reset; start again later",
            ),
        };
        let mut error = Self::new(status, code, message);
        if status == S::TOO_MANY_REQUESTS {
            error.retry_after = Some(60);
        }
        error
    }
}
