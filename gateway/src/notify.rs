//! "Was this you?" notices to every channel of an account: after a reset and
//! after a factor is added or removed (NIST SP 800-63B-4 asks that subscribers
//! be notified of authenticator changes). The channels are the account's SMS
//! numbers (a phone just removed included) and its e-mail address from the
//! directory, when it has one (`email.smtp_url`; unset: logged as not sent).
//!
//! The e-mail says what happened, when (UTC), from where (the client address
//! and, when geo knows them, city and country) and from which browser and
//! system, how to reach the help desk (`reset.help_desk`), and a single-use
//! "this wasn't me" link that locks the account's resets (`crate::lock`; the
//! SMS carries the same link). No notice ever holds a code, password or reset
//! token. Delivery is in the background and never
//! blocks or fails the request.

use crate::account::AccountName;
use crate::app::AppState;
use crate::signals::context::Context;

/// What happened, in the words the owner reads.
#[derive(Debug, Clone, Copy)]
pub enum Notice {
    PasswordReset,
    FactorAdded,
    FactorRemoved,
}

impl Notice {
    /// The SMS: what happened, and the lock link.
    fn text(self, lock_link: &str) -> String {
        let what = match self {
            Notice::PasswordReset => "your password was just reset",
            Notice::FactorAdded => "a sign-in factor was added to your account",
            Notice::FactorRemoved => "a sign-in factor was removed from your account",
        };
        format!(
            "resetgate: {what}. If this was not you, stop resets at {lock_link} and contact the help desk now."
        )
    }

    /// The SMS to a phone just added: what happened, without the lock link
    /// (whoever added the phone holds it; the link is for the owner's
    /// channels from before the change).
    fn text_without_link(self) -> String {
        let what = match self {
            Notice::PasswordReset => "your password was just reset",
            Notice::FactorAdded => "this number was added as a sign-in factor",
            Notice::FactorRemoved => "a sign-in factor was removed from your account",
        };
        format!("resetgate: {what}. If this was not you, contact the help desk now.")
    }

    /// The e-mail's subject.
    pub fn subject(self) -> &'static str {
        match self {
            Notice::PasswordReset => "Your password was reset",
            Notice::FactorAdded => "A sign-in factor was added to your account",
            Notice::FactorRemoved => "A sign-in factor was removed from your account",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Notice::PasswordReset => "The password of your account was reset.",
            Notice::FactorAdded => "A sign-in factor was added to your account.",
            Notice::FactorRemoved => "A sign-in factor was removed from your account.",
        }
    }
}

/// The plain-text body of the e-mail about `notice` to `account`, which
/// happened at `at` from `origin`. Nothing secret: the origin is the
/// requester's own address and browser.
pub fn email_body(
    notice: Notice,
    account: &str,
    at: std::time::SystemTime,
    origin: &Context,
    help_desk: &str,
    lock_link: &str,
) -> String {
    let place = match (&origin.city, &origin.country) {
        (Some(city), Some(country)) => format!(" ({city}, {country})"),
        (None, Some(country)) => format!(" ({country})"),
        _ => String::new(),
    };
    let device = match (&origin.ua.browser, &origin.ua.os) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(browser), None) => browser.clone(),
        (None, Some(os)) => format!("a browser on {os}"),
        (None, None) => "an unknown browser or app".into(),
    };
    let when = crate::time::rfc3339(at);
    format!(
        "Hello {account},\n\
         \n\
         {what}\n\
         \n\
         When:   {when} (UTC)\n\
         Where:  from the address {ip}{place}\n\
         Device: {device}\n\
         \n\
         If this was you, there is nothing to do.\n\
         If this was not you, someone else may have access to your account. \
         Stop any further password reset of it with this link (it works once):\n\
         {lock_link}\n\
         and contact the help desk now.\n\
         {help_desk}\n\
         \n\
         This message never contains codes or passwords, and nobody will ever ask you for them.\n",
        what = notice.what(),
        ip = origin.ip,
    )
}

/// Send `notice` to every phone of `account` and to its e-mail address; extra
/// numbers (a phone just removed) are told too. `added`, a phone the change
/// itself added, is told without the lock link: a "this wasn't me" link on
/// the newcomer's phone would let whoever added it lock the owner's resets.
/// `origin` is the context of the request that caused the notice.
pub async fn send(
    s: &AppState,
    account: &AccountName,
    notice: Notice,
    extra: &[String],
    added: Option<&str>,
    origin: &Context,
) {
    let found = match s.directory.lookup(account).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the account's directory entry for a notice");
            None
        }
    };
    let mut phones: Vec<String> = match s.durable.factors(account.as_str()).await {
        Ok(records) => records.into_iter().filter_map(|r| r.phone).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the account's channels for a notice");
            Vec::new()
        }
    };
    // The directory's mobile number, and a phone just removed, hear of it too.
    phones.extend(found.as_ref().and_then(|a| a.mobile.clone()));
    phones.extend(extra.iter().cloned());
    phones.sort();
    phones.dedup();
    // One single-use link for every channel of this notice.
    let lock_link = crate::lock::new_link(s, account);
    for phone in phones {
        if Some(phone.as_str()) == added {
            s.sms.send(phone, notice.text_without_link());
        } else {
            s.sms.send(phone, notice.text(&lock_link));
        }
    }
    if let Some(address) = found.and_then(|a| a.email).filter(|e| !e.trim().is_empty()) {
        let body = email_body(
            notice,
            account.as_str(),
            s.clock.now(),
            origin,
            &s.config.reset.help_desk,
            &lock_link,
        );
        s.email.send(address, notice.subject().to_owned(), body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_names_time_place_device_and_help_desk() {
        let origin = Context {
            ip: "203.0.113.7".into(),
            city: Some("Berlin".into()),
            country: Some("DE".into()),
            ua: crate::signals::device::UserAgent {
                browser: Some("Firefox".into()),
                os: Some("Linux".into()),
                ..Default::default()
            },
            ..Context::default()
        };
        let at = crate::time::from_unix(1_800_000_000);
        let body = email_body(
            Notice::PasswordReset,
            "alice",
            at,
            &origin,
            "Call +1 555 0100.",
            "https://reset.example.com/lock?t=abc",
        );
        assert!(
            body.contains("The password of your account was reset."),
            "{body}"
        );
        assert!(body.contains("2027-01-15T08:00:00Z (UTC)"), "{body}");
        assert!(body.contains("203.0.113.7 (Berlin, DE)"), "{body}");
        assert!(body.contains("Firefox on Linux"), "{body}");
        assert!(body.contains("Call +1 555 0100."), "{body}");
        assert!(
            body.contains("this link (it works once):\nhttps://reset.example.com/lock?t=abc\n"),
            "{body}"
        );
        let bare = email_body(
            Notice::FactorAdded,
            "bob",
            at,
            &Context::default(),
            "x",
            "l",
        );
        assert!(bare.contains("unknown browser"), "{bare}");
        assert_eq!(Notice::PasswordReset.subject(), "Your password was reset");
    }
}
