//! A local SOC: the far end of `[[webhooks]] url`.
//!
//! An axum server on a fixed `127.0.0.1` port records every `POST /hook` in arrival
//! order (headers `webhook-id`, `webhook-timestamp`, `webhook-signature`, the raw body
//! and its JSON) and answers from a programmable plan ([`Reply`]): a FIFO queue
//! consumed one reply per request, then a default (`204 No Content` unless
//! [`WebhookReceiver::set_default`] says otherwise). That drives the gateway's retry
//! path: failures, `Retry-After`, `410 Gone`.
//!
//! The port is reserved before anything listens on it ([`WebhookReceiver::reserve`]),
//! so a gateway configured with [`WebhookReceiver::url`] first meets "connection
//! refused"; [`WebhookReceiver::listen`] starts serving later and
//! [`WebhookReceiver::stop`] refuses connections again. Records survive a stop.
//!
//! Signatures are checked by an implementation of Standard Webhooks of its own
//! (`hmac` + `sha2`, nothing from the gateway crate): secret `whsec_` + base64(key),
//! signed content `{id}.{timestamp}.{body}`, HMAC-SHA256, header a space-separated list
//! of `v1,<base64>`; a request is valid when any trusted secret verifies any entry.
//! The timestamp's age is not checked (`tests/webhooks/verify.py` does that with the
//! official library). Delivery is asynchronous (the gateway's outbox), hence the
//! awaiting with a timeout ([`WebhookReceiver::wait_accepted`]).

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::bail;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a test waits for webhook deliveries by default.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`WebhookReceiver::listen`] keeps trying to bind its port.
const BIND_RETRY: Duration = Duration::from_secs(5);

/// How long [`WebhookReceiver::stop`] waits for open connections to close.
const STOP_GRACE: Duration = Duration::from_secs(5);

type HmacSha256 = Hmac<Sha256>;

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// This status, empty body.
    Status(u16),
    /// This status with `Retry-After: <secs>`.
    RetryAfter { status: u16, secs: u64 },
    /// `410 Gone`: the endpoint asks to be disabled.
    Gone,
}

impl Reply {
    /// The status code the reply answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::Status(status) | Self::RetryAfter { status, .. } => status,
            Self::Gone => 410,
        }
    }

    fn check(self) -> Self {
        assert!(
            StatusCode::from_u16(self.status()).is_ok(),
            "{self:?}: not an HTTP status code"
        );
        self
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).expect("checked when planned");
        let mut response = status.into_response();
        if let Self::RetryAfter { secs, .. } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// One request to `POST /hook` as it arrived, and how it was answered.
#[derive(Clone, Debug)]
pub struct Received {
    /// `webhook-id` (empty when missing); stable across retries of one message.
    pub id: String,
    /// `webhook-timestamp` in unix seconds (0 when missing or not an integer).
    pub timestamp: i64,
    /// `webhook-signature` as sent (empty when missing).
    pub signatures: String,
    pub body: Vec<u8>,
    /// The body parsed as JSON, `Null` when it is not JSON.
    pub json: Value,
    /// The status the receiver answered with.
    pub reply: u16,
    /// Whether a trusted secret verifies one of the signatures.
    pub valid_signature: bool,
    /// When the request arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// The event's `type` (e.g. `risk.high`), when the body has one.
    pub fn event_type(&self) -> Option<&str> {
        self.json.get("type").and_then(Value::as_str)
    }

    /// Whether the receiver answered 2xx.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.reply)
    }
}

/// The receiver; stops listening when dropped.
pub struct WebhookReceiver {
    addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::sync::Mutex<Option<Server>>,
}

/// A listening server: [`WebhookReceiver::stop`] sends on `shutdown` and awaits `task`.
struct Server {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

struct Inner {
    /// The decoded keys of the trusted secrets.
    keys: Vec<Vec<u8>>,
    log: Mutex<Log>,
    /// Bumped to the request count on every arrival; waiters watch it.
    arrivals: watch::Sender<usize>,
}

struct Log {
    received: Vec<Received>,
    plan: VecDeque<Reply>,
    default: Reply,
}

impl WebhookReceiver {
    /// Picks a free `127.0.0.1` port without listening on it; trusts no secret.
    pub async fn reserve() -> Self {
        Self::reserve_with(&[]).await
    }

    /// Picks a free `127.0.0.1` port without listening on it; `secrets`
    /// (`whsec_…`) are the ones whose signatures count as valid.
    pub async fn reserve_with(secrets: &[&str]) -> Self {
        let keys = secrets.iter().map(|secret| decode_secret(secret)).collect();
        // Bind port 0 to have the kernel choose, then let go of the socket.
        let addr = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("the webhook receiver binds 127.0.0.1:0")
            .local_addr()
            .expect("a bound listener has an address");
        Self {
            addr,
            inner: Arc::new(Inner {
                keys,
                log: Mutex::new(Log {
                    received: Vec::new(),
                    plan: VecDeque::new(),
                    default: Reply::Status(204),
                }),
                arrivals: watch::Sender::new(0),
            }),
            server: tokio::sync::Mutex::new(None),
        }
    }

    /// [`reserve`](Self::reserve), then [`listen`](Self::listen).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`reserve_with`](Self::reserve_with), then [`listen`](Self::listen).
    pub async fn start_with(secrets: &[&str]) -> Self {
        let receiver = Self::reserve_with(secrets).await;
        receiver.listen().await;
        receiver
    }

    /// The URL to put in `[[webhooks]] url`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The port, listening or not.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts serving `POST /hook` on the reserved port; a no-op when already
    /// listening. Someone else may hold the port for a moment (an outgoing
    /// connection's local port), so binding is retried for a few seconds before
    /// this panics.
    pub async fn listen(&self) {
        let mut server = self.server.lock().await;
        if server.is_some() {
            return;
        }
        let deadline = Instant::now() + BIND_RETRY;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!(
                    "the webhook receiver cannot bind {} within {BIND_RETRY:?}: {error}",
                    self.addr
                ),
            }
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(Arc::clone(&self.inner));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
                .await
                .expect("the webhook receiver serves");
        });
        *server = Some(Server { shutdown, task });
    }

    /// Stops listening: new connections are refused and open (keep-alive)
    /// connections are closed once their request in flight is answered. A no-op
    /// when not listening; [`listen`](Self::listen) serves again.
    pub async fn stop(&self) {
        let Some(Server { shutdown, mut task }) = self.server.lock().await.take() else {
            return;
        };
        let _ = shutdown.send(());
        // The server returns once its listener is closed and every connection is
        // done; a connection that hangs on is cut off with the task.
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }

    /// Appends replies to the plan; each request consumes the first one.
    pub fn plan(&self, replies: impl IntoIterator<Item = Reply>) {
        let replies: Vec<Reply> = replies.into_iter().map(Reply::check).collect();
        self.lock().plan.extend(replies);
    }

    /// The reply once the plan is used up (`204 No Content` unless set).
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = reply.check();
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// The requests answered 2xx, in arrival order (a message delivered twice is
    /// here twice).
    pub fn accepted(&self) -> Vec<Received> {
        self.lock()
            .received
            .iter()
            .filter(|received| received.accepted())
            .cloned()
            .collect()
    }

    /// The distinct `webhook-id`s answered 2xx, in the order of their first 2xx.
    pub fn accepted_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.lock()
            .received
            .iter()
            .filter(|received| received.accepted() && seen.insert(received.id.clone()))
            .map(|received| received.id.clone())
            .collect()
    }

    /// Waits until at least `n` distinct ids have been answered 2xx, then returns
    /// [`accepted`](Self::accepted); an error after `timeout` lists what arrived.
    pub async fn wait_accepted(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        if self
            .wait_until(timeout, |log| distinct_accepted(log) >= n)
            .await
        {
            return Ok(self.accepted());
        }
        bail!(
            "fewer than {n} distinct webhook ids accepted within {timeout:?}; {}",
            self.describe()
        )
    }

    /// Waits until at least `n` requests have arrived (whatever the answer), then
    /// returns [`received`](Self::received); an error after `timeout` lists what
    /// arrived.
    pub async fn wait_received(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        if self
            .wait_until(timeout, |log| log.received.len() >= n)
            .await
        {
            return Ok(self.received());
        }
        bail!(
            "fewer than {n} webhook requests within {timeout:?}; {}",
            self.describe()
        )
    }

    /// Whether `done` holds of the log before `timeout`.
    async fn wait_until(&self, timeout: Duration, done: impl Fn(&Log) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        // Subscribe before looking, so an arrival between the look and the wait
        // still wakes us.
        let mut arrivals = self.inner.arrivals.subscribe();
        loop {
            if done(&self.lock()) {
                return true;
            }
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }

    /// One line per request so far, for error messages.
    fn describe(&self) -> String {
        let log = self.lock();
        let mut text = format!("received {} request(s):", log.received.len());
        for received in &log.received {
            let _ = write!(
                text,
                "\n  id={:?} type={:?} answered {} signature {}",
                received.id,
                received.event_type().unwrap_or("?"),
                received.reply,
                if received.valid_signature {
                    "valid"
                } else {
                    "INVALID"
                },
            );
        }
        text
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.inner.lock()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        if let Some(Server { shutdown, task }) = self.server.get_mut().take() {
            // The signal closes idle connections; the abort closes the listener.
            let _ = shutdown.send(());
            task.abort();
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn verifies(&self, id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
        self.keys
            .iter()
            .any(|key| verify_with_key(key, id, timestamp, body, signatures))
    }
}

fn distinct_accepted(log: &Log) -> usize {
    log.received
        .iter()
        .filter(|received| received.accepted())
        .map(|received| received.id.as_str())
        .collect::<HashSet<_>>()
        .len()
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let at = std::time::Instant::now();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = text("webhook-id");
    let timestamp_raw = text("webhook-timestamp");
    let signatures = text("webhook-signature");
    let valid_signature = inner.verifies(&id, &timestamp_raw, &body, &signatures);
    let (reply, count) = {
        let mut log = inner.lock();
        let reply = log.plan.pop_front().unwrap_or(log.default);
        log.received.push(Received {
            id,
            timestamp: timestamp_raw.trim().parse().unwrap_or(0),
            signatures,
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            body: body.to_vec(),
            reply: reply.status(),
            valid_signature,
            at,
        });
        (reply, log.received.len())
    };
    inner.arrivals.send_replace(count);
    reply.into_response()
}

/// The key of a `whsec_…` secret (the prefix is optional, as in the official
/// libraries); panics on a secret that is not base64.
fn decode_secret(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    BASE64
        .decode(encoded)
        .unwrap_or_else(|error| panic!("webhook secret {secret:?} is not whsec_ + base64: {error}"))
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn verify_with_key(key: &[u8], id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    let mac = mac(key, id, timestamp, body);
    signatures.split_whitespace().any(|entry| {
        let Some(("v1", signature)) = entry.split_once(',') else {
            return false;
        };
        BASE64
            .decode(signature)
            .is_ok_and(|signature| mac.clone().verify_slice(&signature).is_ok())
    })
}

/// The `webhook-signature` value (`v1,<base64>`) of a message, as a sender computes
/// it; panics on a secret that is not `whsec_` + base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(&decode_secret(secret), id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    format!("v1,{}", BASE64.encode(tag))
}

/// Whether `secret` verifies one of the space-separated `v1,<base64>` entries of
/// `signatures` for this message.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], signatures: &str) -> bool {
    verify_with_key(
        &decode_secret(secret),
        id,
        &timestamp.to_string(),
        body,
        signatures,
    )
}

/// Verify `received` with the official Standard Webhooks library for Python
/// (`standardwebhooks` from `PyPI`, in a venv under the target directory, run
/// through `tests/webhooks/verify.py`), trusting `secret`: `Ok` with its
/// output when it verifies (timestamp within its 5-minute tolerance
/// included), `Err` with why not.
pub fn verify_with_official_library(secret: &str, received: &Received) -> Result<String, String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let root = crate::binary::workspace_root();
    let python = resetgate_services::python::venv(
        &root.join("tests/webhooks/requirements.txt"),
        &crate::binary::target_dir(),
        "webhooks-venv",
    );
    let input = serde_json::json!({
        "secret": secret,
        "headers": {
            "webhook-id": received.id,
            "webhook-timestamp": received.timestamp.to_string(),
            "webhook-signature": received.signatures,
        },
        "body": String::from_utf8_lossy(&received.body),
    })
    .to_string();
    let mut child = Command::new(&python)
        .arg(root.join("tests/webhooks/verify.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("writing to verify.py");
    let output = child.wait_with_output().expect("verify.py runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(text),
        Some(1) => Err(text),
        _ => panic!("verify.py failed to run ({}): {text}", output.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks spec.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    /// Another valid secret (the key `0123456789abcdef`).
    const OTHER_SECRET: &str = "whsec_MDEyMzQ1Njc4OWFiY2RlZg==";

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a reqwest client builds")
    }

    async fn post(
        client: &reqwest::Client,
        url: &str,
        id: &str,
        signature: &str,
    ) -> reqwest::Result<reqwest::Response> {
        client
            .post(url)
            .header("webhook-id", id)
            .header("webhook-timestamp", TIMESTAMP.to_string())
            .header("webhook-signature", signature)
            .header("content-type", "application/json")
            .body(BODY)
            .send()
            .await
    }

    #[test]
    fn signs_and_verifies_the_spec_vector() {
        assert_eq!(sign(SECRET, MSG_ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        assert!(verify(
            SECRET,
            MSG_ID,
            TIMESTAMP,
            BODY.as_bytes(),
            SIGNATURE
        ));
        // Any one matching entry of several is enough.
        let several = format!("v1,AAAA v2,xyz {SIGNATURE}");
        assert!(verify(SECRET, MSG_ID, TIMESTAMP, BODY.as_bytes(), &several));
        assert!(!verify(
            OTHER_SECRET,
            MSG_ID,
            TIMESTAMP,
            BODY.as_bytes(),
            SIGNATURE
        ));
        assert!(!verify(
            SECRET,
            MSG_ID,
            TIMESTAMP + 1,
            BODY.as_bytes(),
            SIGNATURE
        ));
        assert!(!verify(
            SECRET,
            MSG_ID,
            TIMESTAMP,
            b"{\"test\": 1}",
            SIGNATURE
        ));
        assert!(!verify(
            SECRET,
            MSG_ID,
            TIMESTAMP,
            BODY.as_bytes(),
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        ));
    }

    #[tokio::test]
    async fn refuses_connections_until_it_listens() {
        let receiver = WebhookReceiver::reserve().await;
        let client = client();
        let error = post(&client, &receiver.url(), "msg_1", SIGNATURE)
            .await
            .expect_err("nothing listens yet");
        assert!(error.is_connect(), "{error:?}");
        assert!(receiver.received().is_empty());

        receiver.listen().await;
        let response = post(&client, &receiver.url(), "msg_1", SIGNATURE)
            .await
            .expect("the receiver listens");
        assert_eq!(response.status(), 204);
        assert_eq!(receiver.accepted_ids(), ["msg_1"]);
    }

    #[tokio::test]
    async fn answers_from_the_plan_in_order_then_204() {
        let receiver = WebhookReceiver::start().await;
        receiver.plan([
            Reply::Status(500),
            Reply::RetryAfter {
                status: 429,
                secs: 7,
            },
        ]);
        receiver.plan([Reply::Gone]);
        let client = client();
        let mut answers = Vec::new();
        for n in 0..5 {
            let response = post(&client, &receiver.url(), &format!("msg_{n}"), SIGNATURE)
                .await
                .expect("the receiver answers");
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|value| value.to_str().expect("ASCII").to_owned());
            answers.push((response.status().as_u16(), retry_after));
        }
        assert_eq!(
            answers,
            [
                (500, None),
                (429, Some("7".to_owned())),
                (410, None),
                (204, None),
                (204, None),
            ]
        );
        let replies: Vec<u16> = receiver.received().iter().map(|r| r.reply).collect();
        assert_eq!(replies, [500, 429, 410, 204, 204]);
        assert_eq!(receiver.accepted_ids(), ["msg_3", "msg_4"]);

        receiver.set_default(Reply::Status(200));
        receiver.plan([Reply::Status(503)]);
        let statuses = [
            post(&client, &receiver.url(), "msg_5", SIGNATURE)
                .await
                .unwrap()
                .status(),
            post(&client, &receiver.url(), "msg_5", SIGNATURE)
                .await
                .unwrap()
                .status(),
        ];
        assert_eq!(statuses, [503, 200]);
        let accepted = receiver
            .wait_accepted(3, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(accepted.len(), 3);
        assert!(
            receiver
                .wait_accepted(4, Duration::from_millis(100))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn checks_signatures_against_the_trusted_secrets() {
        let client = client();
        let trusting = WebhookReceiver::start_with(&[OTHER_SECRET, SECRET]).await;
        let wrong = WebhookReceiver::start_with(&[OTHER_SECRET]).await;
        let signature = sign(SECRET, MSG_ID, TIMESTAMP, BODY.as_bytes());
        assert_eq!(signature, SIGNATURE);
        for receiver in [&trusting, &wrong] {
            post(&client, &receiver.url(), MSG_ID, &signature)
                .await
                .unwrap();
        }
        post(&client, &trusting.url(), MSG_ID, "v1,AAAA")
            .await
            .unwrap();

        let received = trusting
            .wait_received(2, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(received[0].valid_signature);
        assert!(!received[1].valid_signature, "a wrong signature");
        let first = &received[0];
        assert_eq!(first.id, MSG_ID);
        assert_eq!(first.timestamp, TIMESTAMP);
        assert_eq!(first.signatures, SIGNATURE);
        assert_eq!(first.body, BODY.as_bytes());
        assert_eq!(first.json, serde_json::json!({ "test": 2_432_232_314_u64 }));
        assert_eq!(first.reply, 204);

        let received = wrong
            .wait_received(1, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(!received[0].valid_signature, "an untrusted secret");
    }

    #[tokio::test]
    async fn stops_and_listens_again_keeping_its_records() {
        let receiver = WebhookReceiver::start().await;
        let client = client();
        post(&client, &receiver.url(), "msg_a", SIGNATURE)
            .await
            .unwrap();

        // The client keeps its connection alive; a stop closes it, too.
        receiver.stop().await;
        let error = post(&client, &receiver.url(), "msg_b", SIGNATURE)
            .await
            .expect_err("stopped");
        assert!(error.is_connect(), "{error:?}");
        let error = receiver
            .wait_accepted(2, Duration::from_millis(100))
            .await
            .expect_err("only one accepted");
        assert!(error.to_string().contains("msg_a"), "{error}");

        receiver.listen().await;
        post(&client, &receiver.url(), "msg_b", SIGNATURE)
            .await
            .unwrap();
        let accepted = receiver
            .wait_accepted(2, Duration::from_secs(1))
            .await
            .unwrap();
        let ids: Vec<&str> = accepted.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["msg_a", "msg_b"]);
        assert!(accepted[0].at <= accepted[1].at);
    }
}
