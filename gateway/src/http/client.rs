//! The [`Client`] extractor: the client address (see `client_addr`), its user
//! agent, and its device cookie — verified, or a new one to set.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;

use super::client_addr::ClientAddr;
use super::error::ApiError;
use crate::app::AppState;
use crate::signals::device;

/// Who is calling, as far as the request tells.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    /// The device id: from a valid cookie, or freshly issued.
    pub device_id: String,
    /// A valid device cookie was presented.
    pub had_cookie: bool,
    /// The cookie value to set when the device id is new.
    pub new_cookie: Option<String>,
}

impl Client {
    /// `Set-Cookie` headers to add to the response (none when the cookie was valid).
    pub fn set_cookie(&self, state: &AppState) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = &self.new_cookie {
            let secure = state.config.server.public_url.scheme() == "https";
            headers.insert(header::SET_COOKIE, device::set_cookie(value, secure));
        }
        headers
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ClientAddr(ip) = ClientAddr::from_request_parts(parts, state).await?;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned);
        let secure = state.config.server.public_url.scheme() == "https";
        let (device_id, had_cookie, new_cookie) =
            if let Some(id) = device::read(&parts.headers, &state.key, secure) {
                (id, true, None)
            } else {
                let (id, value) = device::issue(&state.key);
                (id, false, Some(value))
            };
        Ok(Client {
            ip,
            user_agent,
            device_id,
            had_cookie,
            new_cookie,
        })
    }
}
