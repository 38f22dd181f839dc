//! The far end of `sms.provider = "webhook"`, inside the driver: an axum
//! server on `127.0.0.1:0` that keeps the codes of the posted `{"to",
//! "message"}` bodies per phone number (digits only), first in first out, so a
//! legitimate flow can read the code it was sent. Messages without a code
//! ("was this you?" notices) are counted and dropped. The gateway's SMS
//! webhook has no private-target check (that is `[[webhooks]]`'), so a
//! loopback URL needs no other setting.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use resetgate_services::sms::{digits, extract_code};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Default)]
struct Inner {
    codes: Mutex<HashMap<String, VecDeque<String>>>,
    notices: AtomicU64,
    codes_received: AtomicU64,
}

pub struct Receiver {
    url: String,
    inner: Arc<Inner>,
    arrivals: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/sms", listener.local_addr()?);
        let inner = Arc::new(Inner::default());
        let arrivals = watch::Sender::new(0);
        let app = axum::Router::new()
            .route("/sms", post(receive))
            .with_state((inner.clone(), arrivals.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            inner,
            arrivals,
            task,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The oldest code to `phone` not handed out yet, waiting up to `timeout`.
    pub async fn next_code(&self, phone: &str, timeout: Duration) -> Option<String> {
        let key = digits(phone);
        let mut arrivals = self.arrivals.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(code) = self
                .inner
                .codes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(&key)
                .and_then(VecDeque::pop_front)
            {
                return Some(code);
            }
            if tokio::time::timeout_at(deadline, arrivals.changed())
                .await
                .is_err()
            {
                return None;
            }
        }
    }

    /// (messages with a code, messages without one) received so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.inner.codes_received.load(Ordering::Relaxed),
            self.inner.notices.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State((inner, arrivals)): State<(Arc<Inner>, watch::Sender<u64>)>,
    Json(body): Json<Value>,
) -> &'static str {
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    match extract_code(text("message")) {
        Some(code) => {
            inner
                .codes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(digits(text("to")))
                .or_default()
                .push_back(code);
            let n = inner.codes_received.fetch_add(1, Ordering::Relaxed) + 1;
            arrivals.send_replace(n);
        }
        None => {
            inner.notices.fetch_add(1, Ordering::Relaxed);
        }
    }
    "{\"status\":\"accepted\"}"
}
