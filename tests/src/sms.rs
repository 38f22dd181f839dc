//! A local SMS receiver: the far end of `sms.provider = "webhook"`, and of
//! `sms.provider = "twilio"` (it speaks the part of Twilio's Messages API the
//! gateway uses).
//!
//! An axum server on `127.0.0.1:0` records every posted `{"to", "message"}` body in
//! arrival order, and every message created through
//! `POST /2010-04-01/Accounts/{sid}/Messages.json` (a form with `To`, `Body`
//! and `From` or `MessagingServiceSid`, HTTP Basic auth with [`TWILIO_ACCOUNT`]
//! and [`TWILIO_TOKEN`]; answered as Twilio does: 201 and the message
//! resource, or 401/400 and Twilio's error object). Tests await the next message for a phone number; each number has
//! its own read cursor, so a message is handed out once. Delivery is asynchronous
//! (the gateway may send from a background task), hence the awaiting with a
//! timeout rather than a look at what has arrived so far.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use resetgate_services::sms::digits;
pub use resetgate_services::sms::extract_code;

/// The Account SID the receiver's Twilio API knows.
pub const TWILIO_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
/// Its Auth Token.
pub const TWILIO_TOKEN: &str = "twilio-auth-token-for-tests";

/// How long a test waits for an SMS by default.
pub const SMS_TIMEOUT: Duration = Duration::from_secs(20);

/// One message as the gateway posted it.
#[derive(Clone, Debug)]
pub struct Sms {
    pub to: String,
    pub message: String,
    /// The whole body, for bodies with more than `to` and `message`.
    pub raw: Value,
}

/// The running receiver; stops when dropped.
pub struct SmsReceiver {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

struct Inner {
    log: Mutex<Log>,
    /// Requests answered, whatever the answer (both APIs).
    requests: AtomicUsize,
    /// Requests still to be answered 503 before any is accepted.
    unavailable: AtomicUsize,
    /// Bumped to the message count on every arrival; waiters watch it.
    arrivals: watch::Sender<usize>,
}

#[derive(Default)]
struct Log {
    messages: Vec<Sms>,
    /// Per phone number (digits only): index of the next message to look at.
    cursors: HashMap<String, usize>,
}

impl SmsReceiver {
    /// Binds `127.0.0.1:0` and serves `POST /sms`.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the SMS receiver binds 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let inner = Arc::new(Inner {
            log: Mutex::new(Log::default()),
            requests: AtomicUsize::new(0),
            unavailable: AtomicUsize::new(0),
            arrivals: watch::Sender::new(0),
        });
        let app = Router::new()
            .route("/sms", post(receive))
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(twilio_message),
            )
            .with_state(Arc::clone(&inner));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the SMS receiver serves");
        });
        Self { addr, inner, task }
    }

    /// The URL to put in `sms.webhook_url`.
    pub fn url(&self) -> String {
        format!("http://{}/sms", self.addr)
    }

    /// The origin to put in `sms.twilio_base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answer the next `n` requests (of either API) 503, as a provider
    /// having a bad minute does.
    pub fn refuse_next(&self, n: usize) {
        self.inner.unavailable.store(n, Ordering::SeqCst);
    }

    /// Requests received so far, accepted or not.
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Sms> {
        self.lock().messages.clone()
    }

    /// The next message to `to` not handed out before; panics after `timeout`.
    pub async fn next_message(&self, to: &str, timeout: Duration) -> Sms {
        self.next_before(to, Instant::now() + timeout)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "no SMS to {to} within {timeout:?}; received so far: {:?}",
                    self.messages()
                )
            })
    }

    /// The code of the next message to `to` that carries one (see [`extract_code`]);
    /// messages without a code (notifications) are skipped. Panics after `timeout`.
    pub async fn next_code(&self, to: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(sms) = self.next_before(to, deadline).await {
            if let Some(code) = extract_code(&sms.message) {
                return code;
            }
        }
        panic!(
            "no SMS with a 6-10 digit code to {to} within {timeout:?}; received so far: {:?}",
            self.messages()
        );
    }

    async fn next_before(&self, to: &str, deadline: Instant) -> Option<Sms> {
        // Subscribe before looking, so an arrival between the look and the wait
        // still wakes us.
        let mut arrivals = self.inner.arrivals.subscribe();
        loop {
            if let Some(sms) = self.take_next(to) {
                return Some(sms);
            }
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    fn take_next(&self, to: &str) -> Option<Sms> {
        let key = digits(to);
        let mut log = self.lock();
        let start = log.cursors.get(&key).copied().unwrap_or(0);
        let (index, sms) = log
            .messages
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, sms)| digits(&sms.to) == key)
            .map(|(index, sms)| (index, sms.clone()))?;
        log.cursors.insert(key, index + 1);
        Some(sms)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SmsReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts the request; true when it is to be answered 503.
fn unavailable(inner: &Inner) -> bool {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    inner
        .unavailable
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Inner {
    fn record(&self, sms: Sms) {
        let count = {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.messages.push(sms);
            log.messages.len()
        };
        self.arrivals.send_replace(count);
    }
}

/// Twilio's error object.
fn twilio_error(status: StatusCode, code: u32, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
}

/// `POST /2010-04-01/Accounts/{account}/Messages.json`.
async fn twilio_message(
    State(inner): State<Arc<Inner>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if unavailable(&inner) {
        return twilio_error(
            StatusCode::SERVICE_UNAVAILABLE,
            20503,
            "Service unavailable",
        );
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{TWILIO_ACCOUNT}:{TWILIO_TOKEN}"))
    );
    let authorised = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    if !authorised || account != TWILIO_ACCOUNT {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let field = |key: &str| form.get(key).cloned().unwrap_or_default();
    let (to, body) = (field("To"), field("Body"));
    if to.is_empty() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    }
    if body.is_empty() {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if !form.contains_key("From") && !form.contains_key("MessagingServiceSid") {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
        );
    }
    let raw: Value = form
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let sid = format!("SM{:032x}", inner.requests.load(Ordering::SeqCst));
    inner.record(Sms {
        to: to.clone(),
        message: body.clone(),
        raw,
    });
    (
        StatusCode::CREATED,
        Json(json!({
            "sid": sid,
            "account_sid": TWILIO_ACCOUNT,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
        })),
    )
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if unavailable(&inner) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        );
    }
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    inner.record(Sms {
        to: text("to"),
        message: text("message"),
        raw: body.clone(),
    });
    (StatusCode::OK, Json(json!({ "status": "accepted" })))
}
