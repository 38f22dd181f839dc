//! Factors: which of an account's enrolled factors may authorise a reset, the
//! hints shown for them, and the decoy factors of unknown accounts.
//!
//! E-mail is no enrolled factor: an account offers `email` when its directory
//! entry has an address and `email.smtp_url` names a relay to deliver the code
//! (the policy decides where it may be used: the bundled one, at `low` only).

pub mod enrol;
pub mod sms;
pub mod totp;
pub mod webauthn;

use std::time::Duration;

use risk::Factor;
use zeroize::Zeroizing;

use crate::account::AccountName;
use crate::app::AppState;
use crate::crypto::ServerKey;
use crate::flow::FlowOption;
use crate::http::error::ApiResult;
use crate::store::durable::FactorRecord;

/// The hint shown for a TOTP option.
pub const TOTP_HINT: &str = "authenticator app";

/// Is this record past its cool-off at `now`? Administrator-provisioned factors
/// have none; `cooloff = 0` disables it.
pub fn usable(record: &FactorRecord, now: i64, cooloff: Duration) -> bool {
    let cooloff = i64::try_from(cooloff.as_secs()).unwrap_or(i64::MAX);
    record.provisioned || record.created_at.saturating_add(cooloff) <= now
}

/// The id of the SMS factor a directory's mobile number stands for.
pub const DIRECTORY_PHONE_ID: &str = "directory-mobile";

/// The account's factor records with the directory's mobile number as an
/// administrator-provisioned SMS factor (no cool-off), unless a record has
/// that number already.
pub fn with_directory_phone(
    mut records: Vec<FactorRecord>,
    mobile: Option<&str>,
) -> Vec<FactorRecord> {
    if let Some(phone) = mobile
        && !records.iter().any(|r| r.phone.as_deref() == Some(phone))
    {
        let username = records
            .first()
            .map_or_else(String::new, |r| r.username.clone());
        records.push(FactorRecord {
            id: DIRECTORY_PHONE_ID.to_owned(),
            username,
            kind: Factor::Sms.as_str().to_owned(),
            label: "Mobile number from the directory".to_owned(),
            secret: None,
            phone: Some(phone.to_owned()),
            provisioned: true,
            created_at: 0,
            last_used_at: None,
        });
    }
    records
}

/// The address reset codes may be mailed to: the directory's `address` of the
/// account, when a relay is configured (`relay`) and the address is one.
pub fn code_address(address: Option<&str>, relay: bool) -> Option<&str> {
    address
        .map(str::trim)
        .filter(|a| relay && crate::email::deliverable(a))
}

/// The reset options an account's records allow at `now`, and `email` (from
/// [`code_address`]): one per factor kind, strongest first (all WebAuthn
/// credentials behind one option, all TOTP seeds behind one; the oldest usable
/// phone for SMS; e-mail last, with no factor record behind it).
pub fn eligible_options(
    records: &[FactorRecord],
    email: Option<&str>,
    now: i64,
    cooloff: Duration,
) -> Vec<FlowOption> {
    let usable: Vec<&FactorRecord> = records.iter().filter(|r| usable(r, now, cooloff)).collect();
    let mut options = Vec::new();
    let ids = |factor: Factor| -> Vec<String> {
        usable
            .iter()
            .filter(|r| r.kind == factor.as_str())
            .map(|r| r.id.clone())
            .collect()
    };
    let webauthn_ids = ids(Factor::Webauthn);
    if !webauthn_ids.is_empty() {
        options.push(FlowOption {
            factor: Factor::Webauthn,
            hint: webauthn::HINT.into(),
            factor_ids: webauthn_ids,
        });
    }
    let totp_ids = ids(Factor::Totp);
    if !totp_ids.is_empty() {
        options.push(FlowOption {
            factor: Factor::Totp,
            hint: TOTP_HINT.into(),
            factor_ids: totp_ids,
        });
    }
    if let Some(phone) = usable.iter().find(|r| r.kind == Factor::Sms.as_str()) {
        options.push(FlowOption {
            factor: Factor::Sms,
            hint: sms::mask(phone.phone.as_deref().unwrap_or_default()),
            factor_ids: vec![phone.id.clone()],
        });
    }
    if let Some(address) = email {
        options.push(FlowOption {
            factor: Factor::Email,
            hint: crate::email::mask(address),
            factor_ids: Vec::new(),
        });
    }
    options
}

/// Plausible, stable options for an account that does not exist: derived from a
/// keyed MAC of the name, so the same name always shows the same hints and
/// nobody without the server key can tell them from real ones.
///
/// `email_domain` is `Some` when a relay is configured (real accounts with an
/// address are then offered e-mail): most decoys offer e-mail too, some only
/// e-mail (people who never enrolled anything), hinted as an address at that
/// domain — the organisation's, from `email.from` — whose first letter is
/// mostly the name's own, as in `ann@…`.
pub fn decoy_options(
    key: &ServerKey,
    name: &AccountName,
    email_domain: Option<&str>,
) -> Vec<FlowOption> {
    let mac = key.mac(&[b"decoy", name.as_str().as_bytes()]);
    let sms = FlowOption {
        factor: Factor::Sms,
        hint: sms::mask(&format!(
            "{:02}",
            u16::from_be_bytes([mac[1], mac[2]]) % 100
        )),
        factor_ids: Vec::new(),
    };
    let totp = FlowOption {
        factor: Factor::Totp,
        hint: TOTP_HINT.into(),
        factor_ids: Vec::new(),
    };
    let key = FlowOption {
        factor: Factor::Webauthn,
        hint: webauthn::HINT.into(),
        factor_ids: Vec::new(),
    };
    // Roughly the mix of a real population: phone only, app only, both, and
    // some with a passkey. A decoy with one factor is refused where the policy
    // asks for two, exactly like a real one-factor account, so "denied" does
    // not single out decoys. Same order as `eligible_options`.
    let mut options = match mac[0] % 8 {
        0 => vec![totp],
        1 | 2 | 7 => vec![totp, sms],
        3 => vec![sms],
        4 => vec![key, totp],
        5 => vec![key, sms],
        _ => vec![key, totp, sms],
    };
    if let Some(domain) = email_domain {
        let email = FlowOption {
            factor: Factor::Email,
            hint: crate::email::mask(&format!("{}@{domain}", decoy_initial(name, mac[4], mac[5]))),
            factor_ids: Vec::new(),
        };
        match mac[3] % 8 {
            0 | 1 => options = vec![email],
            2 => {} // no address in the directory
            _ => options.push(email),
        }
    }
    options
}

/// The first letter of a decoy's e-mail address: mostly the name's first
/// letter or digit, else a letter from the MAC.
fn decoy_initial(name: &AccountName, pick: u8, letter: u8) -> char {
    let own = name
        .as_str()
        .chars()
        .find(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase());
    match own {
        Some(c) if !pick.is_multiple_of(4) => c,
        _ => char::from(b'a' + letter % 26),
    }
}

/// The decrypted TOTP seeds of the account's records named in `ids`.
pub async fn totp_seeds(s: &AppState, account: &str, ids: &[String]) -> ApiResult<Vec<Vec<u8>>> {
    let records = s.durable.factors(account).await?;
    Ok(records
        .iter()
        .filter(|r| r.kind == Factor::Totp.as_str() && ids.contains(&r.id))
        .filter_map(|r| {
            let sealed = r.secret.as_deref()?;
            let seed = s.key.open(sealed, &totp::seal_context(&r.id));
            if seed.is_none() {
                tracing::error!(factor_id = %r.id, "cannot decrypt a TOTP seed: was the server key replaced?");
            }
            seed.map(|seed: Zeroizing<Vec<u8>>| seed.to_vec())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, kind: Factor, created_at: i64, provisioned: bool) -> FactorRecord {
        FactorRecord {
            id: id.into(),
            username: "ann".into(),
            kind: kind.as_str().into(),
            label: String::new(),
            secret: None,
            phone: (kind == Factor::Sms).then(|| "+15550100042".into()),
            provisioned,
            created_at,
            last_used_at: None,
        }
    }

    #[test]
    fn cooloff_hides_new_factors_but_not_provisioned_ones() {
        let day = Duration::from_hours(24);
        let records = [
            record("t1", Factor::Totp, 1000, false),
            record("s1", Factor::Sms, 1000, true),
        ];
        let early = eligible_options(&records, None, 1000 + 3600, day);
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].factor, Factor::Sms);
        assert_eq!(early[0].hint, "•••-•••-••42");
        let later = eligible_options(&records, None, 1000 + 86_400, day);
        assert_eq!(later.len(), 2);
        assert_eq!(
            eligible_options(&records, None, 1000, Duration::ZERO).len(),
            2
        );
    }

    #[test]
    fn email_comes_last_masked_and_only_with_a_relay() {
        let records = [record("t1", Factor::Totp, 0, false)];
        assert_eq!(code_address(Some("ann@example.org"), false), None);
        assert_eq!(code_address(Some("not an address"), true), None);
        assert_eq!(code_address(None, true), None);
        let address = code_address(Some(" ann@example.org "), true);
        assert_eq!(address, Some("ann@example.org"));
        let options = eligible_options(&records, address, 100, Duration::ZERO);
        let factors: Vec<Factor> = options.iter().map(|o| o.factor).collect();
        assert_eq!(factors, [Factor::Totp, Factor::Email]);
        assert_eq!(options[1].hint, "a•••@example.org");
        assert!(options[1].factor_ids.is_empty());
        // E-mail alone is an option too (an account that never enrolled).
        let alone = eligible_options(&[], address, 100, Duration::ZERO);
        assert_eq!(alone.len(), 1);
    }

    #[test]
    fn decoys_offer_email_only_with_a_relay() {
        let key = ServerKey::from_master(&[3; 32]);
        let names: Vec<AccountName> = (0..200)
            .map(|i| AccountName::parse(&format!("n{i}")).unwrap())
            .collect();
        for name in &names {
            let options = decoy_options(&key, name, None);
            assert!(options.iter().all(|o| o.factor != Factor::Email));
        }
        let with: Vec<Vec<FlowOption>> = names
            .iter()
            .map(|n| decoy_options(&key, n, Some("example.org")))
            .collect();
        let emails: Vec<&FlowOption> = with
            .iter()
            .flat_map(|o| o.iter().filter(|o| o.factor == Factor::Email))
            .collect();
        assert!(emails.len() > 100 && emails.len() < 200, "{}", emails.len());
        assert!(emails.iter().all(|o| o.hint.ends_with("•••@example.org")));
        assert!(emails.iter().filter(|o| o.hint.starts_with('n')).count() > emails.len() / 2);
        assert!(
            with.iter()
                .any(|o| o.len() == 1 && o[0].factor == Factor::Email)
        );
        // E-mail is always the last option, as for real accounts.
        for options in &with {
            let at = options.iter().position(|o| o.factor == Factor::Email);
            assert!(at.is_none_or(|at| at == options.len() - 1));
        }
        let name = &names[0];
        assert_eq!(
            decoy_options(&key, name, Some("example.org")),
            decoy_options(&key, name, Some("example.org"))
        );
    }

    #[test]
    fn decoys_are_stable_per_name() {
        let key = ServerKey::from_master(&[3; 32]);
        let a = AccountName::parse("nobody").unwrap();
        assert_eq!(decoy_options(&key, &a, None), decoy_options(&key, &a, None));
        let shapes: std::collections::HashSet<usize> = (0..50)
            .map(|i| {
                decoy_options(&key, &AccountName::parse(&format!("n{i}")).unwrap(), None).len()
            })
            .collect();
        assert!(shapes.contains(&1) && shapes.contains(&2));
    }
}
