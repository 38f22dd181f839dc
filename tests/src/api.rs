//! A small JSON client for the gateway's HTTP API.
//!
//! Every call returns a [`Resp`] (status, parsed body and the `Set-Cookie` headers)
//! instead of failing on a non-2xx status, because many tests are about the error
//! responses. A body that is not JSON is kept as a JSON string so assertion messages
//! still show it.
//!
//! An [`Api`] can stand for one particular client: [`Api::forwarded_for`] (the
//! address a trusted proxy reports in `X-Forwarded-For`), [`Api::user_agent`] and
//! [`Api::cookie`] add headers to every request it sends. Cookies are never kept
//! automatically: a test takes them from [`Resp::cookie`] and sends them on
//! explicitly, so what a client presents is always visible in the test.

use std::fmt;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

/// How long one request may take before the test fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client bound to one gateway's base URL.
#[derive(Clone, Debug)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    /// Sent with every request (see [`Api::with_header`]).
    headers: HeaderMap,
}

/// A response: HTTP status, JSON body, `Set-Cookie` headers and what was asked
/// (for messages).
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    /// Every `Set-Cookie` header, as sent.
    pub set_cookies: Vec<String>,
    pub request: String,
}

/// The User-Agent every client sends unless a test sets another.
pub const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

impl Api {
    /// A client for `base` (e.g. `http://127.0.0.1:41234`). Proxies from the
    /// environment are ignored: the gateway is always local.
    pub fn new(base: impl Into<String>) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a reqwest client builds");
        // A person's browser sends a User-Agent; the gateway counts a missing
        // one as automation. Tests that study the UA set their own.
        Self {
            client,
            base: base.into(),
            headers: HeaderMap::new(),
        }
        .user_agent(DEFAULT_USER_AGENT)
    }

    /// This client, sending `name: value` with every request (replacing an earlier
    /// value of `name`). Panics on a header name or value HTTP does not allow.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|err| panic!("{name:?} is not a header name: {err}"));
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|err| panic!("{value:?} is not a header value: {err}"));
        self.headers.insert(name, value);
        self
    }

    /// A client behind a proxy: `X-Forwarded-For: <ip>`. The gateway believes it
    /// only when the TCP peer (here always loopback) is in `server.trusted_proxies`.
    #[must_use]
    pub fn forwarded_for(self, ip: &str) -> Self {
        self.with_header("x-forwarded-for", ip)
    }

    /// `User-Agent: <user_agent>` (replacing [`DEFAULT_USER_AGENT`]).
    #[must_use]
    pub fn user_agent(self, user_agent: &str) -> Self {
        self.with_header(header::USER_AGENT.as_str(), user_agent)
    }

    /// `Cookie: <name>=<value>` (one cookie; a later call replaces it).
    #[must_use]
    pub fn cookie(self, name: &str, value: &str) -> Self {
        self.with_header(header::COOKIE.as_str(), &format!("{name}={value}"))
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The HTTP status of `GET path`, or `None` when the connection fails; used to
    /// poll readiness while the server is still starting.
    pub async fn probe(&self, path: &str, timeout: Duration) -> Option<u16> {
        let response = self
            .client
            .get(self.url(path))
            .headers(self.headers.clone())
            .timeout(timeout)
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }

    pub async fn get(&self, path: &str) -> Resp {
        let request = self.client.get(self.url(path));
        self.send(request, format!("GET {path}")).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        let request = self.client.post(self.url(path)).json(body);
        self.send(request, format!("POST {path}")).await
    }

    pub async fn get_auth(&self, path: &str, bearer: &str) -> Resp {
        let request = self.client.get(self.url(path)).bearer_auth(bearer);
        self.send(request, format!("GET {path} (signed in)")).await
    }

    pub async fn post_auth(&self, path: &str, bearer: &str, body: &Value) -> Resp {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(bearer)
            .json(body);
        self.send(request, format!("POST {path} (signed in)")).await
    }

    pub async fn put_auth(&self, path: &str, bearer: &str, body: &Value) -> Resp {
        let request = self
            .client
            .put(self.url(path))
            .bearer_auth(bearer)
            .json(body);
        self.send(request, format!("PUT {path} (signed in)")).await
    }

    pub async fn delete_auth(&self, path: &str, bearer: &str) -> Resp {
        let request = self.client.delete(self.url(path)).bearer_auth(bearer);
        self.send(request, format!("DELETE {path} (signed in)"))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: String) -> Resp {
        let response = request
            .headers(self.headers.clone())
            .send()
            .await
            .unwrap_or_else(|err| panic!("{what} on {} failed: {err}", self.base));
        let status = response.status().as_u16();
        let set_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        let text = response
            .text()
            .await
            .unwrap_or_else(|err| panic!("{what}: reading the body failed: {err}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            set_cookies,
            request: what,
        }
    }
}

impl Resp {
    /// The body, after asserting the status.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self}: expected HTTP {status}");
        self.body
    }

    /// The body, after asserting `200 OK`.
    pub fn ok(self) -> Value {
        self.expect(200)
    }

    /// The `error` code of an error body.
    pub fn error(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }

    /// The whole `Set-Cookie` header that sets cookie `name` (value and attributes).
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .map(String::as_str)
            .find(|header| cookie_pair(header).is_some_and(|(n, _)| n == name))
    }

    /// The value this response sets cookie `name` to.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.set_cookie(name)
            .and_then(cookie_pair)
            .map(|(_, value)| value)
    }

    /// Asserts an error response with this status and `error` code.
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self}: expected HTTP {status} {code}");
        assert_eq!(self.error(), Some(code), "{self}: expected error {code:?}");
    }
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> HTTP {} {}", self.request, self.status, self.body)
    }
}

/// The `name=value` pair a `Set-Cookie` header starts with.
fn cookie_pair(header: &str) -> Option<(&str, &str)> {
    let pair = header.split(';').next()?;
    let (name, value) = pair.split_once('=')?;
    Some((name.trim(), value.trim()))
}

/// `value[key]` as a string; panics naming the key and showing the value.
pub fn field_str<'a>(value: &'a Value, key: &str) -> &'a str {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected a string {key:?} in {value}"))
}

/// `value[key]` as an unsigned number; panics naming the key and showing the value.
pub fn field_u64(value: &Value, key: &str) -> u64 {
    value
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("expected a non-negative integer {key:?} in {value}"))
}

/// The sorted keys of a JSON object (empty for anything else).
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let resp = Resp {
            status: 200,
            body: Value::Null,
            set_cookies: vec![
                "other=1; Path=/".to_owned(),
                "rg_device=abc.def; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax".to_owned(),
            ],
            request: "POST /v1/reset".to_owned(),
        };
        assert_eq!(resp.cookie("rg_device"), Some("abc.def"));
        assert_eq!(resp.cookie("other"), Some("1"));
        assert_eq!(resp.cookie("rg"), None);
        assert!(resp.set_cookie("rg_device").unwrap().contains("HttpOnly"));
    }
}
