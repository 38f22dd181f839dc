//! E-mail delivery of notices through an SMTP relay (`email.smtp_url`).
//!
//! Delivery runs on a background task, like SMS: the request that caused a
//! notice never waits for the relay and never fails because of it. Without
//! `email.smtp_url` a notice is logged as not sent (masked address only). Log
//! lines never carry the full address or the body; bodies never carry a code,
//! token or password (see [`crate::notify`]).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;

use crate::config::Email;

/// The relay connection (one per message: notices are rare).
pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Connect, TLS, the SMTP dialogue: the most one delivery may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The transport for `url`: `smtp://HOST[:PORT]` (plain),
/// `smtp://HOST[:PORT]?tls=required` (STARTTLS) or
/// `smtps://HOST[:PORT]` (implicit TLS), as `lettre` reads them. The error
/// never quotes the URL (it may hold a password).
pub fn transport(url: &str) -> Result<Transport, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "unsupported scheme {:?}: use smtp://HOST:PORT (plain), \
             smtp://HOST:587?tls=required (STARTTLS) or smtps://HOST:465",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name the relay's host".into());
    }
    // Opportunistic STARTTLS falls back to plain text when a man in the middle
    // strips the offer: either require TLS or say plainly that it is off.
    if parsed
        .query_pairs()
        .any(|(k, v)| k == "tls" && v.eq_ignore_ascii_case("opportunistic"))
    {
        return Err(
            "tls=opportunistic can be downgraded to plain text: use tls=required \
             (STARTTLS), smtps://, or plain smtp:// for a local relay"
                .into(),
        );
    }
    let builder = Transport::from_url(url).map_err(|e| e.to_string())?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// `email.from` as a mailbox (`Name <addr@host>` or `addr@host`).
pub fn mailbox(text: &str) -> Result<Mailbox, String> {
    text.parse::<Mailbox>()
        .map_err(|e| format!("not a mailbox such as \"resetgate <no-reply@example.org>\": {e}"))
}

/// An address as logs show it: the first character of the local part and the
/// domain, e.g. `a•••@example.org`.
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".into(),
    }
}

/// Sends plain-text mail through `email.smtp_url`, in the background.
#[derive(Clone)]
pub struct EmailSender {
    transport: Option<Transport>,
    from: Mailbox,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("relay", &self.transport.as_ref().map(|_| "set"))
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl EmailSender {
    /// From validated configuration ([`crate::config::Config::validate`]).
    pub fn new(config: &Email) -> anyhow::Result<Self> {
        let transport = config
            .smtp_url
            .as_ref()
            .map(|url| transport(url.expose_secret()))
            .transpose()
            .map_err(|e| anyhow::anyhow!("email.smtp_url: {e}"))?;
        let from = mailbox(&config.from).map_err(|e| anyhow::anyhow!("email.from: {e}"))?;
        Ok(Self { transport, from })
    }

    /// Queue a plain-text mail to `to`; returns at once.
    pub fn send(&self, to: String, subject: String, body: String) {
        let Some(transport) = self.transport.clone() else {
            tracing::info!(to = %mask(&to), subject = %subject, "e-mail notice not sent: no email.smtp_url");
            return;
        };
        let from = self.from.clone();
        tokio::spawn(async move {
            let result = async {
                let mailbox: Mailbox = to.parse().map_err(|_| "not a valid address".to_owned())?;
                let message = Message::builder()
                    .from(from)
                    .to(mailbox)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| e.to_string())?;
                transport.send(message).await.map_err(|e| e.to_string())
            }
            .await;
            match result {
                Ok(_) => tracing::info!(to = %mask(&to), "e-mail notice handed to the relay"),
                Err(e) => {
                    tracing::warn!(to = %mask(&to), error = %e, "e-mail notice delivery failed");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_local_part() {
        assert_eq!(mask("alice@example.org"), "a•••@example.org");
        assert_eq!(mask("nobody"), "•••");
    }

    #[test]
    fn transport_forms() {
        assert!(transport("smtp://127.0.0.1:2525").is_ok());
        assert!(transport("smtp://mail.example.org:587?tls=required").is_ok());
        assert!(transport("smtps://u:p@mail.example.org").is_ok());
        let err = transport("smtp+starttls://u:secret@mail.example.org").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert!(transport("smtp://mail.example.org?tls=sometimes").is_err());
        let err = transport("smtp://mail.example.org:587?tls=opportunistic").unwrap_err();
        assert!(err.contains("downgraded"), "{err}");
    }

    #[test]
    fn from_must_be_a_mailbox() {
        assert!(mailbox("resetgate <no-reply@localhost>").is_ok());
        assert!(mailbox("no-reply@example.org").is_ok());
        assert!(mailbox("no reply").is_err());
    }
}
