//! Scored rules and hard limits over the [`Velocity`] counters.
//!
//! A scored [`Rule`] fires when its counter is greater than `above` and adds
//! `min(max, weight + per_extra * (value - above - 1))` points: `weight` for the
//! first unit over `above`, `per_extra` for each further unit, never more than
//! `max`. The arithmetic is done in `u64`, so no counter value can overflow it.
//!
//! A [`HardLimit`] refuses outright when its counter is greater than the limit,
//! whatever the score. Its reason carries weight 100 for display only: it does
//! not add to the score, which stays the sum of the scored rules.

use crate::reason::Reason;
use crate::signals::{Velocity, VelocitySignal};

/// One scored rule, validated: `weight <= max <= 100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The counter it looks at.
    pub signal: VelocitySignal,
    /// The rule fires when the counter is greater than this.
    pub above: u32,
    /// Points for the first unit over `above`.
    pub weight: u8,
    /// Points for each further unit.
    pub per_extra: u32,
    /// The most points this rule can add.
    pub max: u8,
}

impl Rule {
    /// The points this rule adds for `value`, or `None` when it does not fire.
    pub fn points(&self, value: u32) -> Option<u8> {
        let beyond = value.checked_sub(self.above)?.checked_sub(1)?;
        let uncapped = u64::from(self.weight) + u64::from(self.per_extra) * u64::from(beyond);
        let capped = uncapped.min(u64::from(self.max));
        // `capped <= max`, which is a u8.
        Some(u8::try_from(capped).unwrap_or(self.max))
    }
}

/// A counter value over which the attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardLimit {
    /// The counter it looks at.
    pub signal: VelocitySignal,
    /// The attempt is refused when the counter is greater than this.
    pub limit: u32,
}

/// The sum of the points of every rule that fires (not yet capped at 100), and a
/// reason for each, in rule order.
pub fn score(rules: &[Rule], velocity: &Velocity) -> (u32, Vec<Reason>) {
    let mut total = 0_u32;
    let mut reasons = Vec::new();
    for rule in rules {
        let value = velocity.get(rule.signal);
        if let Some(points) = rule.points(value) {
            total = total.saturating_add(u32::from(points));
            reasons.push(Reason::rule(rule, value, points));
        }
    }
    (total, reasons)
}

/// A reason for each hard limit the counters are over, in limit order.
pub fn breaches(limits: &[HardLimit], velocity: &Velocity) -> Vec<Reason> {
    limits
        .iter()
        .filter_map(|limit| {
            let value = velocity.get(limit.signal);
            (value > limit.limit).then(|| Reason::hard_limit(limit, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use VelocitySignal::{
        AccountAttempts1h, AccountAttempts24h, AccountFailures1h, AddressAttempts1h,
        AddressFailures1h,
    };

    fn rule(signal: VelocitySignal, above: u32, weight: u8, per_extra: u32, max: u8) -> Rule {
        Rule {
            signal,
            above,
            weight,
            per_extra,
            max,
        }
    }

    #[test]
    fn points_follow_the_bundled_rules() {
        // The five rules of data/policy.toml, value by value.
        let cases = [
            // account_attempts_1h: above 2, weight 15, per_extra 10, max 45
            (rule(AccountAttempts1h, 2, 15, 10, 45), 2, None),
            (rule(AccountAttempts1h, 2, 15, 10, 45), 3, Some(15)),
            (rule(AccountAttempts1h, 2, 15, 10, 45), 4, Some(25)),
            (rule(AccountAttempts1h, 2, 15, 10, 45), 5, Some(35)),
            (rule(AccountAttempts1h, 2, 15, 10, 45), 6, Some(45)),
            (rule(AccountAttempts1h, 2, 15, 10, 45), 7, Some(45)),
            // account_attempts_24h: above 5, weight 10, per_extra 5, max 30
            (rule(AccountAttempts24h, 5, 10, 5, 30), 5, None),
            (rule(AccountAttempts24h, 5, 10, 5, 30), 6, Some(10)),
            (rule(AccountAttempts24h, 5, 10, 5, 30), 9, Some(25)),
            (rule(AccountAttempts24h, 5, 10, 5, 30), 10, Some(30)),
            (rule(AccountAttempts24h, 5, 10, 5, 30), 11, Some(30)),
            // address_attempts_1h: above 5, weight 10, per_extra 5, max 35
            (rule(AddressAttempts1h, 5, 10, 5, 35), 6, Some(10)),
            (rule(AddressAttempts1h, 5, 10, 5, 35), 10, Some(30)),
            (rule(AddressAttempts1h, 5, 10, 5, 35), 11, Some(35)),
            // account_failures_1h: above 0, weight 15, per_extra 10, max 50
            (rule(AccountFailures1h, 0, 15, 10, 50), 0, None),
            (rule(AccountFailures1h, 0, 15, 10, 50), 1, Some(15)),
            (rule(AccountFailures1h, 0, 15, 10, 50), 4, Some(45)),
            (rule(AccountFailures1h, 0, 15, 10, 50), 5, Some(50)),
            // address_failures_1h: above 2, weight 10, per_extra 5, max 40
            (rule(AddressFailures1h, 2, 10, 5, 40), 3, Some(10)),
            (rule(AddressFailures1h, 2, 10, 5, 40), 8, Some(35)),
            (rule(AddressFailures1h, 2, 10, 5, 40), 9, Some(40)),
        ];
        for (rule, value, expected) in cases {
            assert_eq!(rule.points(value), expected, "{} = {value}", rule.signal);
        }
    }

    #[test]
    fn points_never_overflow() {
        let cases = [
            (
                rule(AccountAttempts1h, 0, 1, u32::MAX, 100),
                u32::MAX,
                Some(100),
            ),
            (
                rule(AccountAttempts1h, u32::MAX - 1, 7, u32::MAX, 100),
                u32::MAX,
                Some(7),
            ),
            (rule(AccountAttempts1h, u32::MAX, 7, 1, 100), u32::MAX, None),
            (rule(AccountAttempts1h, 0, 0, 0, 0), 1, Some(0)),
        ];
        for (rule, value, expected) in cases {
            assert_eq!(
                rule.points(value),
                expected,
                "above {} value {value}",
                rule.above
            );
        }
    }

    #[test]
    fn score_adds_the_rules_that_fire_and_explains_each() {
        let rules = [
            rule(AccountAttempts1h, 2, 15, 10, 45),
            rule(AccountFailures1h, 0, 15, 10, 50),
        ];
        let quiet = Velocity::default().with(AccountAttempts1h, 2);
        assert_eq!(score(&rules, &quiet), (0, vec![]));

        let noisy = quiet.with(AccountAttempts1h, 5).with(AccountFailures1h, 2);
        let (total, reasons) = score(&rules, &noisy);
        assert_eq!(total, 35 + 25);
        let codes: Vec<(&str, u8)> = reasons
            .iter()
            .map(|r| (r.code.as_str(), r.weight))
            .collect();
        assert_eq!(
            codes,
            [("account_attempts_1h", 35), ("account_failures_1h", 25)]
        );
    }

    #[test]
    fn hard_limits_trip_only_above_the_limit() {
        let limits = [
            HardLimit {
                signal: AccountFailures1h,
                limit: 20,
            },
            HardLimit {
                signal: AddressAttempts1h,
                limit: 60,
            },
        ];
        let cases: [(Velocity, &[&str]); 4] = [
            (Velocity::default(), &[]),
            (
                Velocity::default()
                    .with(AccountFailures1h, 20)
                    .with(AddressAttempts1h, 60),
                &[],
            ),
            (
                Velocity::default().with(AccountFailures1h, 21),
                &["hard_limit:account_failures_1h"],
            ),
            (
                Velocity::default()
                    .with(AccountFailures1h, 21)
                    .with(AddressAttempts1h, 61),
                &[
                    "hard_limit:account_failures_1h",
                    "hard_limit:address_attempts_1h",
                ],
            ),
        ];
        for (velocity, expected) in cases {
            let reasons = breaches(&limits, &velocity);
            let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes, expected, "{velocity:?}");
            assert!(reasons.iter().all(|r| r.weight == 100));
        }
    }
}
