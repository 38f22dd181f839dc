//! E-mail through an SMTP relay (`email.smtp_url`): "was this you?" notices
//! ([`crate::notify`]) and reset codes, the weakest factor (the bundled policy
//! allows it at `low` only).
//!
//! Delivery runs on a background task, like SMS: the request that caused a
//! mail never waits for the relay and never fails because of it. Without
//! `email.smtp_url` a notice is logged as not sent (masked address only), and
//! e-mail is never offered as a reset factor: nobody would deliver the code.
//! Log lines never carry the full address, the body or a code; notices never
//! carry a code, token or password, and a code mail carries its code only.

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

/// Can mail be delivered to `address`: is it one address (`local@domain`),
/// without a display name or anything else?
pub fn deliverable(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
}

/// The subject of a reset code mail.
pub const CODE_SUBJECT: &str = "Your password reset code";

/// The plain-text body of a reset code mail to `account`: the code, how long
/// it works and that nobody will ask for it.
pub fn code_body(account: &str, code: &str, ttl: Duration, help_desk: &str) -> String {
    let minutes = ttl.as_secs().div_ceil(60);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!(
        "Hello {account},\n\
         \n\
         Your password reset code is:\n\
         \n\
         {code}\n\
         \n\
         Enter it on the page where you asked to reset your password. \
         It expires in {minutes} {unit} and works once.\n\
         \n\
         Nobody will ever ask you for this code: not the help desk, not by phone, \
         not by e-mail. Do not share it.\n\
         If you did not ask to reset your password, ignore this message: your \
         password stays as it is. If it keeps happening, tell the help desk:\n\
         {help_desk}\n"
    )
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

    /// Is a relay configured (`email.smtp_url`)? Without one, nothing is
    /// delivered, so e-mail codes are not offered.
    pub fn has_relay(&self) -> bool {
        self.transport.is_some()
    }

    /// The domain of `email.from`: the organisation's own, and so the likely
    /// domain of its people's addresses (the masked hint of a decoy's e-mail).
    pub fn from_domain(&self) -> &str {
        self.from.email.domain()
    }

    /// Queue a plain-text notice to `to`; returns at once.
    pub fn send(&self, to: String, subject: String, body: String) {
        self.deliver(Kind::Notice, to, subject, body);
    }

    /// Queue a reset code mail to `to` for `account`; returns at once. The
    /// code is in the body only: never in the subject, never logged.
    pub fn send_code(&self, to: String, account: &str, code: &str, ttl: Duration, help_desk: &str) {
        self.deliver(
            Kind::Code,
            to,
            CODE_SUBJECT.to_owned(),
            code_body(account, code, ttl, help_desk),
        );
    }

    fn deliver(&self, kind: Kind, to: String, subject: String, body: String) {
        let what = kind.as_str();
        let Some(transport) = self.transport.clone() else {
            tracing::info!(to = %mask(&to), subject = %subject, "{what} not sent: no email.smtp_url");
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
                Ok(_) => tracing::info!(to = %mask(&to), "{what} handed to the relay"),
                Err(e) => {
                    tracing::warn!(to = %mask(&to), error = %e, "{what} delivery failed");
                }
            }
        });
    }
}

/// What a mail is, as log lines name it.
#[derive(Clone, Copy)]
enum Kind {
    Notice,
    Code,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Notice => "e-mail notice",
            Kind::Code => "e-mail reset code",
        }
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
    fn code_mail_says_how_long_and_that_nobody_asks() {
        let body = code_body("ann", "493817", Duration::from_mins(5), "Call 555-0100.");
        assert!(body.contains("\n493817\n"), "{body}");
        assert!(body.contains("expires in 5 minutes"), "{body}");
        assert!(
            body.contains("Nobody will ever ask you for this code"),
            "{body}"
        );
        assert!(body.contains("Call 555-0100."), "{body}");
        assert!(!CODE_SUBJECT.chars().any(|c| c.is_ascii_digit()));
        assert!(code_body("ann", "1", Duration::from_mins(1), "").contains("1 minute "));
    }

    #[test]
    fn deliverable_addresses() {
        assert!(deliverable("ann@example.org"));
        assert!(!deliverable("ann"));
        assert!(!deliverable("Ann <ann@example.org>"));
        assert!(!deliverable(""));
    }

    #[test]
    fn from_must_be_a_mailbox() {
        assert!(mailbox("resetgate <no-reply@localhost>").is_ok());
        assert!(mailbox("no-reply@example.org").is_ok());
        assert!(mailbox("no reply").is_err());
    }
}
