//! Factors: which of an account's enrolled factors may authorise a reset, the
//! hints shown for them, and the decoy factors of unknown accounts.

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

/// The reset options an account's records allow at `now`: one per factor kind,
/// strongest first (all WebAuthn credentials behind one option, all TOTP seeds
/// behind one; the oldest usable phone for SMS).
pub fn eligible_options(records: &[FactorRecord], now: i64, cooloff: Duration) -> Vec<FlowOption> {
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
    options
}

/// Plausible, stable options for an account that does not exist: derived from a
/// keyed MAC of the name, so the same name always shows the same hints and
/// nobody without the server key can tell them from real ones.
pub fn decoy_options(key: &ServerKey, name: &AccountName) -> Vec<FlowOption> {
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
    match mac[0] % 8 {
        0 => vec![totp],
        1 | 2 | 7 => vec![totp, sms],
        3 => vec![sms],
        4 => vec![key, totp],
        5 => vec![key, sms],
        _ => vec![key, totp, sms],
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
        let early = eligible_options(&records, 1000 + 3600, day);
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].factor, Factor::Sms);
        assert_eq!(early[0].hint, "•••-•••-••42");
        let later = eligible_options(&records, 1000 + 86_400, day);
        assert_eq!(later.len(), 2);
        assert_eq!(eligible_options(&records, 1000, Duration::ZERO).len(), 2);
    }

    #[test]
    fn decoys_are_stable_per_name() {
        let key = ServerKey::from_master(&[3; 32]);
        let a = AccountName::parse("nobody").unwrap();
        assert_eq!(decoy_options(&key, &a), decoy_options(&key, &a));
        let shapes: std::collections::HashSet<usize> = (0..50)
            .map(|i| decoy_options(&key, &AccountName::parse(&format!("n{i}")).unwrap()).len())
            .collect();
        assert!(shapes.contains(&1) && shapes.contains(&2));
    }
}
