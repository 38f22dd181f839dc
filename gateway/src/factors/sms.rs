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
//! - `twilio`: Twilio's Programmable Messaging API, `POST
//!   {sms.twilio_base_url}/2010-04-01/Accounts/{account}/Messages.json`, a form
//!   with `To`, `Body` and `From` and/or `MessagingServiceSid`, HTTP Basic auth
//!   with the Account SID and the token; 10 s timeout, redirects not followed.
//!   The answer's message `sid` is logged; on a refusal, Twilio's numeric error
//!   `code` only (its `message` may quote the number).
//!
//! A provider that answers 429 or 5xx, or cannot be reached, is tried again
//! after 1 s and 3 s (three attempts in all); a code outlives that by minutes.
//! An ambiguous failure (a timeout after sending) may so send a code twice,
//! which is harmless: both are the same code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{Sms, SmsProvider};

/// Messages kept in the dev outbox.
const OUTBOX_LEN: usize = 50;

/// Pauses before the second and third attempt at a provider.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];

/// Twilio's account, token and sender (`sms.twilio_*`).
#[derive(Debug, Clone)]
struct Twilio {
    /// `{base}/2010-04-01/Accounts/{account}/Messages.json`.
    url: url::Url,
    account: String,
    token: SecretString,
    from: Option<String>,
    messaging_service: Option<String>,
}

impl Twilio {
    fn from_config(config: &Sms) -> Option<Self> {
        let account = config.twilio_account.clone()?;
        let token = config.twilio_token.clone()?;
        let mut url = config.twilio_base();
        url.path_segments_mut().ok()?.pop_if_empty().extend([
            "2010-04-01",
            "Accounts",
            &account,
            "Messages.json",
        ]);
        Some(Self {
            url,
            account,
            token,
            from: config.twilio_from.clone(),
            messaging_service: config.twilio_messaging_service_sid.clone(),
        })
    }
}

/// Why one attempt at the provider failed.
#[derive(Debug)]
struct Failed {
    message: String,
    /// Worth another attempt (unreachable, 429, 5xx).
    again: bool,
}

impl Failed {
    /// Without the URL, which names the Twilio account.
    fn unreachable(e: reqwest::Error) -> Self {
        let timeout = if e.is_timeout() { " (timed out)" } else { "" };
        Self {
            message: format!("provider unreachable{timeout}: {}", e.without_url()),
            again: true,
        }
    }

    fn status(status: reqwest::StatusCode, detail: &str) -> Self {
        Self {
            message: format!("provider answered {status}{detail}"),
            again: status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error(),
        }
    }
}

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
    twilio: Option<Twilio>,
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
            twilio: Twilio::from_config(config),
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
        if self.provider == SmsProvider::Log {
            self.outbox.push(OutboxMessage {
                to: to.to_owned(),
                message,
                at: crate::time::rfc3339(std::time::SystemTime::now()),
            });
            tracing::info!(to = %mask(to), "sms kept in the dev outbox (sms.provider = log)");
            return Ok(());
        }
        let mut pauses = RETRY_AFTER.iter();
        loop {
            let failed = match self.attempt(to, &message).await {
                Ok(()) => return Ok(()),
                Err(failed) => failed,
            };
            match pauses.next() {
                Some(pause) if failed.again => {
                    tracing::info!(
                        to = %mask(to),
                        error = %failed.message,
                        "sms delivery failed; trying again in {}s",
                        pause.as_secs()
                    );
                    tokio::time::sleep(*pause).await;
                }
                _ => return Err(failed.message),
            }
        }
    }

    async fn attempt(&self, to: &str, message: &str) -> Result<(), Failed> {
        match self.provider {
            SmsProvider::Log => Ok(()),
            SmsProvider::Webhook => {
                let url = self.url.clone().ok_or_else(|| Failed {
                    message: "sms.webhook_url is not set".into(),
                    again: false,
                })?;
                let mut request = self
                    .http
                    .post(url)
                    .json(&serde_json::json!({ "to": to, "message": message }));
                if let Some(token) = &self.token {
                    request = request.bearer_auth(token.expose_secret());
                }
                let response = request.send().await.map_err(Failed::unreachable)?;
                if response.status().is_success() {
                    tracing::info!(to = %mask(to), "sms handed to the provider");
                    Ok(())
                } else {
                    Err(Failed::status(response.status(), ""))
                }
            }
            SmsProvider::Twilio => {
                let twilio = self.twilio.as_ref().ok_or_else(|| Failed {
                    message: "sms.twilio_account and sms.twilio_token are not set".into(),
                    again: false,
                })?;
                let mut form = vec![("To", to), ("Body", message)];
                if let Some(from) = &twilio.from {
                    form.push(("From", from));
                }
                if let Some(service) = &twilio.messaging_service {
                    form.push(("MessagingServiceSid", service));
                }
                let response = self
                    .http
                    .post(twilio.url.clone())
                    .basic_auth(&twilio.account, Some(twilio.token.expose_secret()))
                    .header(reqwest::header::ACCEPT, "application/json")
                    .form(&form)
                    .send()
                    .await
                    .map_err(Failed::unreachable)?;
                let status = response.status();
                // Twilio answers JSON both ways: the message resource, or
                // `{"code", "message", "more_info", "status"}`.
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if status.is_success() {
                    let sid = body.get("sid").and_then(serde_json::Value::as_str);
                    tracing::info!(
                        to = %mask(to),
                        sid = sid.unwrap_or("?"),
                        "sms handed to Twilio"
                    );
                    Ok(())
                } else {
                    let detail = body
                        .get("code")
                        .and_then(serde_json::Value::as_i64)
                        .map(|code| format!(" (Twilio error {code})"))
                        .unwrap_or_default();
                    Err(Failed::status(status, &detail))
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
