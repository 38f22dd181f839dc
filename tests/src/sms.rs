//! A local SMS receiver: the far end of `sms.provider = "webhook"`.
//!
//! An axum server on `127.0.0.1:0` records every posted `{"to", "message"}` body in
//! arrival order. Tests await the next message for a phone number; each number has
//! its own read cursor, so a message is handed out once. Delivery is asynchronous
//! (the gateway may send from a background task), hence the awaiting with a
//! timeout rather than a look at what has arrived so far.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use resetgate_services::sms::digits;
pub use resetgate_services::sms::extract_code;

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
            arrivals: watch::Sender::new(0),
        });
        let app = Router::new()
            .route("/sms", post(receive))
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

async fn receive(State(inner): State<Arc<Inner>>, Json(body): Json<Value>) -> Json<Value> {
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let sms = Sms {
        to: text("to"),
        message: text("message"),
        raw: body.clone(),
    };
    let count = {
        let mut log = inner.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.messages.push(sms);
        log.messages.len()
    };
    inner.arrivals.send_replace(count);
    Json(json!({ "status": "accepted" }))
}
