//! A small JSON client for the gateway's HTTP API.
//!
//! Every call returns a [`Resp`] (status and parsed body) instead of failing on a
//! non-2xx status, because many tests are about the error responses. A body that is
//! not JSON is kept as a JSON string so assertion messages still show it.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// How long one request may take before the test fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client bound to one gateway's base URL.
#[derive(Clone, Debug)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

/// A response: HTTP status, JSON body and what was asked (for messages).
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub request: String,
}

impl Api {
    /// A client for `base` (e.g. `http://127.0.0.1:41234`). Proxies from the
    /// environment are ignored: the gateway is always local.
    pub fn new(base: impl Into<String>) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a reqwest client builds");
        Self {
            client,
            base: base.into(),
        }
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
            .timeout(timeout)
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(self.url(path)), format!("GET {path}"))
            .await
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

    async fn send(&self, request: reqwest::RequestBuilder, what: String) -> Resp {
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{what} on {} failed: {err}", self.base));
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .unwrap_or_else(|err| panic!("{what}: reading the body failed: {err}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
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
