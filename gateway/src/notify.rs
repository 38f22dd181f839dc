//! "Was this you?" notices to every channel of an account: after a reset and
//! after a factor is added or removed (NIST SP 800-63B-4 asks that subscribers
//! be notified of authenticator changes). Today the channels are the account's
//! SMS numbers; e-mail joins with the e-mail issue. Delivery is in the
//! background and never blocks or fails the request.

use crate::account::AccountName;
use crate::app::AppState;

/// What happened, in the words the owner reads.
#[derive(Debug, Clone, Copy)]
pub enum Notice {
    PasswordReset,
    FactorAdded,
    FactorRemoved,
}

impl Notice {
    fn text(self) -> &'static str {
        match self {
            Notice::PasswordReset => {
                "resetgate: your password was just reset. If this was not you, contact the help desk now."
            }
            Notice::FactorAdded => {
                "resetgate: a sign-in factor was added to your account. If this was not you, contact the help desk now."
            }
            Notice::FactorRemoved => {
                "resetgate: a sign-in factor was removed from your account. If this was not you, contact the help desk now."
            }
        }
    }
}

/// Send `notice` to every phone of `account`; extra numbers (a phone just
/// removed) are told too.
pub async fn send(s: &AppState, account: &AccountName, notice: Notice, extra: &[String]) {
    let mut phones: Vec<String> = match s.durable.factors(account.as_str()).await {
        Ok(records) => records.into_iter().filter_map(|r| r.phone).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list the account's channels for a notice");
            Vec::new()
        }
    };
    phones.extend(extra.iter().cloned());
    phones.sort();
    phones.dedup();
    for phone in phones {
        s.sms.send(phone, notice.text().to_owned());
    }
}
