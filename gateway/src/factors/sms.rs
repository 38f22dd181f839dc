//! SMS one-time codes: providers and delivery.
//!
//! Delivery runs on a background task so that the HTTP answer never waits for the
//! carrier: the response time of `challenge` is the same for real and decoy flows
//! and a slow carrier cannot stall request workers. Providers:
//! - `log`: the message is kept in the in-process dev outbox (`/dev/outbox`,
//!   served only with `serve --demo`); the log line names the masked number only,
//!   never the text, because the text holds the code.
//! - `webhook`: `POST sms.webhook_url` with JSON `{"to", "message"}` (optional
//!   bearer token), 10 s timeout, redirects not followed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Sms, SmsProvider};

/// Messages kept in the dev outbox.
const OUTBOX_LEN: usize = 50;

/// Is `phone` an E.164 number (`+` and 8 to 15 digits, no leading zero)?
pub fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The hint shown to the person: the last two digits only, fixed width, so the
/// hint reveals neither the country nor the length of the number.
pub fn mask(phone: &str) -> String {
    let tail: String = phone
        .chars()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("•••-•••-••{tail}")
}

/// The text of a reset code message: the code and nothing else secret.
pub fn code_message(code: &str, ttl: Duration) -> String {
    format!(
        "{code} is your resetgate password reset code. It expires in {} minutes. Never share it; we will never ask for it.",
        ttl.as_secs().div_ceil(60)
    )
}

/// One message in the dev outbox.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxMessage {
    pub to: String,
    pub message: String,
    pub at: String,
}

/// Recent messages of the `log` provider (development only).
#[derive(Debug, Default, Clone)]
pub struct Outbox(Arc<Mutex<VecDeque<OutboxMessage>>>);

impl Outbox {
    pub fn push(&self, message: OutboxMessage) {
        let mut q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() == OUTBOX_LEN {
            q.pop_front();
        }
        q.push_back(message);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<OutboxMessage> {
        let q = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        q.iter().rev().cloned().collect()
    }
}

/// Sends SMS through the configured provider, in the background.
#[derive(Debug, Clone)]
pub struct SmsSender {
    provider: SmsProvider,
    url: Option<url::Url>,
    token: Option<SecretString>,
    http: reqwest::Client,
    outbox: Outbox,
}

impl SmsSender {
    pub fn new(config: &Sms, outbox: Outbox) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client with static settings");
        Self {
            provider: config.provider,
            url: config.webhook_url.clone(),
            token: config.webhook_token.clone(),
            http,
            outbox,
        }
    }

    /// Queue `message` to `to`; returns at once.
    pub fn send(&self, to: String, message: String) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.deliver(&to, message).await {
                tracing::warn!(to = %mask(&to), error = %e, "sms delivery failed");
            }
        });
    }

    async fn deliver(&self, to: &str, message: String) -> Result<(), String> {
        match self.provider {
            SmsProvider::Log => {
                self.outbox.push(OutboxMessage {
                    to: to.to_owned(),
                    message,
                    at: crate::time::rfc3339(std::time::SystemTime::now()),
                });
                tracing::info!(to = %mask(to), "sms kept in the dev outbox (sms.provider = log)");
                Ok(())
            }
            SmsProvider::Webhook => {
                let url = self.url.clone().ok_or("sms.webhook_url is not set")?;
                let mut request = self
                    .http
                    .post(url)
                    .json(&serde_json::json!({ "to": to, "message": message }));
                if let Some(token) = &self.token {
                    request = request.bearer_auth(token.expose_secret());
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| e.without_url().to_string())?;
                if response.status().is_success() {
                    tracing::info!(to = %mask(to), "sms handed to the provider");
                    Ok(())
                } else {
                    Err(format!("provider answered {}", response.status()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert!(is_e164("+15550100001"));
        assert!(!is_e164("15550100001"));
        assert!(!is_e164("+0555"));
        assert!(!is_e164("+1555abc0001"));
    }

    #[test]
    fn masks_to_last_two_digits() {
        assert_eq!(mask("+15550100001"), "•••-•••-••01");
        assert_eq!(mask("+4930123456"), "•••-•••-••56");
    }

    #[test]
    fn message_holds_the_code() {
        let text = code_message("123456", Duration::from_mins(5));
        assert!(text.starts_with("123456 "));
        assert!(text.contains("5 minutes"));
    }
}
