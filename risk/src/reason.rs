//! [`Reason`]: why a decision came out as it did, for the people who read it.
//!
//! Every rule that contributed to a decision leaves one reason: a stable machine
//! `code`, the `weight` it carried and a `detail` sentence for a security team.
//! Codes are part of the audit and webhook formats:
//!
//! | code | weight | from |
//! |---|---|---|
//! | a [`VelocitySignal`] name, e.g. `account_attempts_1h` | the points it added | a scored rule |
//! | `hard_limit:<signal>`, e.g. `hard_limit:account_failures_1h` | 100 (display only) | a hard limit |
//! | `insufficient_factors` | 0 | a step-up the account cannot meet |
//!
//! A decision lists its reasons by weight, highest first, then by code (see [`sort`]).

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use crate::ladder::{Factor, Level, Rung};
use crate::rules::{HardLimit, Rule};
use crate::signals::VelocitySignal;

/// The code prefix of a hard limit's reason; the signal name follows it.
pub const HARD_LIMIT_PREFIX: &str = "hard_limit:";
/// The code of the reason for a step-up the account cannot meet.
pub const INSUFFICIENT_FACTORS: &str = "insufficient_factors";
/// The weight a hard limit's reason shows. It does not add to the score.
pub const HARD_LIMIT_WEIGHT: u8 = 100;

/// One contribution to a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine code, e.g. `account_attempts_1h` or `hard_limit:account_failures_1h`.
    pub code: String,
    /// The points it added (100 for a hard limit, 0 for `insufficient_factors`).
    pub weight: u8,
    /// What happened, for a security team.
    pub detail: String,
}

impl Reason {
    /// A scored rule fired with `value` and added `points`.
    pub fn rule(rule: &Rule, value: u32, points: u8) -> Self {
        Self {
            code: rule.signal.as_str().to_owned(),
            weight: points,
            detail: format!("{} (more than {})", rule.signal.describe(value), rule.above),
        }
    }

    /// A counter is over a hard limit with `value`.
    pub fn hard_limit(limit: &HardLimit, value: u32) -> Self {
        Self {
            code: format!("{HARD_LIMIT_PREFIX}{}", limit.signal),
            weight: HARD_LIMIT_WEIGHT,
            detail: format!(
                "{} (over the hard limit of {})",
                limit.signal.describe(value),
                limit.limit
            ),
        }
    }

    /// The account cannot meet `level`'s rung: of its `enrolled` factors only
    /// `usable` are among the rung's allowed ones.
    pub fn insufficient_factors(
        level: Level,
        rung: &Rung,
        usable: &[Factor],
        enrolled: &[Factor],
    ) -> Self {
        let factors = if rung.factors == 1 {
            "factor"
        } else {
            "distinct factors"
        };
        let has = match usable {
            [] => "none of them".to_owned(),
            _ => format!("only {}", list(usable)),
        };
        let mut distinct: Vec<Factor> = Vec::with_capacity(enrolled.len());
        for factor in enrolled {
            if !distinct.contains(factor) {
                distinct.push(*factor);
            }
        }
        let enrolled = if distinct.is_empty() {
            "none".to_owned()
        } else {
            list(&distinct)
        };
        Self {
            code: INSUFFICIENT_FACTORS.to_owned(),
            weight: 0,
            detail: format!(
                "{level} risk needs {} {factors} out of {}; the account has {has} (enrolled: {enrolled})",
                rung.factors,
                list(&rung.allowed),
            ),
        }
    }

    /// The signal a scored rule's or a hard limit's reason is about.
    pub fn signal(&self) -> Option<VelocitySignal> {
        let name = self
            .code
            .strip_prefix(HARD_LIMIT_PREFIX)
            .unwrap_or(&self.code);
        name.parse().ok()
    }
}

/// Orders reasons as a decision lists them: weight descending, then code.
pub fn sort(reasons: &mut [Reason]) {
    reasons.sort_by(|a, b| (Reverse(a.weight), &a.code).cmp(&(Reverse(b.weight), &b.code)));
}

fn list(factors: &[Factor]) -> String {
    factors
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Factor::{Email, Sms, Totp, Webauthn};

    fn reason(code: &str, weight: u8) -> Reason {
        Reason {
            code: code.to_owned(),
            weight,
            detail: String::new(),
        }
    }

    #[test]
    fn sort_is_weight_descending_then_code() {
        let mut reasons = vec![
            reason("insufficient_factors", 0),
            reason("account_failures_1h", 15),
            reason("address_attempts_1h", 35),
            reason("account_attempts_1h", 15),
            reason("hard_limit:account_failures_1h", 100),
            reason("hard_limit:address_attempts_1h", 100),
        ];
        sort(&mut reasons);
        let order: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(
            order,
            [
                "hard_limit:account_failures_1h",
                "hard_limit:address_attempts_1h",
                "address_attempts_1h",
                "account_attempts_1h",
                "account_failures_1h",
                "insufficient_factors",
            ]
        );
    }

    #[test]
    fn rule_and_hard_limit_details_say_what_and_how_much() {
        let rule = Rule {
            signal: VelocitySignal::AccountAttempts1h,
            above: 2,
            weight: 15,
            per_extra: 10,
            max: 45,
        };
        assert_eq!(
            Reason::rule(&rule, 5, 35),
            Reason {
                code: "account_attempts_1h".into(),
                weight: 35,
                detail: "5 reset attempts for this account in the last hour (more than 2)".into(),
            }
        );
        let limit = HardLimit {
            signal: VelocitySignal::AccountFailures1h,
            limit: 20,
        };
        assert_eq!(
            Reason::hard_limit(&limit, 21),
            Reason {
                code: "hard_limit:account_failures_1h".into(),
                weight: 100,
                detail: "21 failed factor verifications for this account in the last hour \
                         (over the hard limit of 20)"
                    .into(),
            }
        );
    }

    #[test]
    fn insufficient_factors_says_what_was_needed_and_what_the_account_has() {
        // (level, rung, usable, enrolled, detail)
        type Case<'a> = (Level, &'a Rung, &'a [Factor], &'a [Factor], &'a str);
        let high = Rung {
            factors: 2,
            allowed: vec![Webauthn, Totp, Sms],
        };
        let medium = Rung {
            factors: 1,
            allowed: vec![Webauthn, Totp, Sms],
        };
        let cases: [Case<'_>; 3] = [
            (
                Level::High,
                &high,
                &[Sms],
                &[Sms, Email, Sms],
                "high risk needs 2 distinct factors out of webauthn, totp, sms; \
                 the account has only sms (enrolled: sms, email)",
            ),
            (
                Level::Medium,
                &medium,
                &[],
                &[Email],
                "medium risk needs 1 factor out of webauthn, totp, sms; \
                 the account has none of them (enrolled: email)",
            ),
            (
                Level::Medium,
                &medium,
                &[],
                &[],
                "medium risk needs 1 factor out of webauthn, totp, sms; \
                 the account has none of them (enrolled: none)",
            ),
        ];
        for (level, rung, usable, enrolled, detail) in cases {
            let reason = Reason::insufficient_factors(level, rung, usable, enrolled);
            assert_eq!(reason.code, "insufficient_factors");
            assert_eq!(reason.weight, 0);
            assert_eq!(reason.detail, detail);
        }
    }

    #[test]
    fn signal_is_read_back_from_the_code() {
        assert_eq!(
            reason("account_attempts_24h", 10).signal(),
            Some(VelocitySignal::AccountAttempts24h)
        );
        assert_eq!(
            reason("hard_limit:address_attempts_1h", 100).signal(),
            Some(VelocitySignal::AddressAttempts1h)
        );
        assert_eq!(reason("insufficient_factors", 0).signal(), None);
    }
}
