//! Tests of [`evaluate`] as a whole, on the bundled policy and on small made-up ones.
//! The context signals are in `tests/context.rs` and `tests/details.rs`, hard
//! rules and `require_one_of` in `tests/levels.rs`, the monotonicity properties in
//! `tests/monotone.rs`.

mod context;
mod details;
mod levels;
mod monotone;

use std::time::{Duration, SystemTime};

use super::*;
use Factor::{Email, Sms, Totp, Webauthn};
use VelocitySignal::{
    AccountAttempts1h, AccountAttempts24h, AccountFailures1h, AddressAttempts1h, AddressFailures1h,
};

/// A fixed attempt time: 2026-11-26T12:00:00Z, noon of day 20 783 since the epoch.
fn at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_hours(20_783 * 24 + 12)
}

fn signals(velocity: Velocity, enrolled: &[Factor]) -> Signals {
    Signals {
        velocity,
        enrolled: enrolled.to_vec(),
        ..Signals::default()
    }
}

fn codes(assessment: &Assessment) -> Vec<(&str, u8)> {
    assessment
        .reasons
        .iter()
        .map(|r| (r.code.as_str(), r.weight))
        .collect()
}

/// A policy whose score is exactly `account_attempts_1h` (1 point each, up to 100).
fn linear_policy() -> Policy {
    Policy::parse(
        "version = \"linear\"\n\
         [levels]\nmedium = 30\nhigh = 60\ndeny = 90\n\
         [ladder.low]\nfactors = 1\nallowed = [\"email\", \"sms\"]\n\
         [ladder.medium]\nfactors = 1\nallowed = [\"totp\", \"sms\"]\n\
         [ladder.high]\nfactors = 2\nallowed = [\"webauthn\", \"totp\", \"sms\"]\n\
         [[rules]]\nsignal = \"account_attempts_1h\"\nabove = 0\nweight = 1\nper_extra = 1\nmax = 100\n",
    )
    .unwrap()
}

#[test]
fn a_quiet_attempt_is_low_and_asks_for_one_enrolled_factor() {
    let policy = Policy::bundled();
    let quiet = Velocity::default()
        .with(AccountAttempts1h, 1)
        .with(AccountAttempts24h, 1);
    let assessment = evaluate(&policy, &signals(quiet, &[Email, Totp]), at());
    assert_eq!(
        assessment,
        Assessment {
            score: RiskScore::new(0),
            level: Level::Low,
            required: Requirement {
                count: 1,
                allowed: vec![Totp, Email],
                require_one_of: vec![],
            },
            reasons: vec![],
            policy_version: policy.version().to_owned(),
            model_version: None,
        }
    );
}

#[test]
fn scores_pick_levels_and_rungs_at_the_thresholds() {
    let policy = linear_policy();
    let all = [Webauthn, Totp, Sms, Email];
    let cases = [
        (0, Level::Low, 1, vec![Email, Sms]),
        (29, Level::Low, 1, vec![Email, Sms]),
        (30, Level::Medium, 1, vec![Totp, Sms]),
        (59, Level::Medium, 1, vec![Totp, Sms]),
        (60, Level::High, 2, vec![Webauthn, Totp, Sms]),
        (89, Level::High, 2, vec![Webauthn, Totp, Sms]),
        (90, Level::Deny, 0, vec![]),
        (100, Level::Deny, 0, vec![]),
        (5_000, Level::Deny, 0, vec![]),
    ];
    for (attempts, level, count, allowed) in cases {
        let assessment = evaluate(
            &policy,
            &signals(Velocity::default().with(AccountAttempts1h, attempts), &all),
            at(),
        );
        assert_eq!(
            assessment.score,
            RiskScore::new(attempts),
            "{attempts} attempts"
        );
        assert_eq!(assessment.level, level, "{attempts} attempts");
        assert_eq!(
            assessment.required,
            Requirement {
                count,
                allowed,
                require_one_of: vec![],
            },
            "{attempts} attempts"
        );
    }
}

#[test]
fn the_score_is_the_sum_of_the_rules_and_saturates_at_100() {
    let policy = Policy::bundled();
    let every = |value| {
        VelocitySignal::ALL
            .into_iter()
            .fold(Velocity::default(), |v, s| v.with(s, value))
    };
    // All five rules at their first unit over `above`: 15 + 10 + 10 + 15 + 10.
    let first = Velocity::default()
        .with(AccountAttempts1h, 3)
        .with(AccountAttempts24h, 6)
        .with(AddressAttempts1h, 6)
        .with(AccountFailures1h, 1)
        .with(AddressFailures1h, 3);
    let two = Velocity::default()
        .with(AccountAttempts1h, 5)
        .with(AddressFailures1h, 5); // 35 + 20
    let cases = [
        (every(0), 0),
        (first, 60),
        (two, 55),
        (every(3), 15 + 35 + 10),
        (every(6), 100), // 45 + 10 + 10 + 50 + 35 = 150, saturated
        (every(u32::MAX), 100),
    ];
    for (velocity, score) in cases {
        let assessment = evaluate(&policy, &signals(velocity, &[Webauthn, Totp]), at());
        assert_eq!(assessment.score.get(), score, "{velocity:?}");
    }
}

#[test]
fn a_hard_limit_denies_whatever_the_score_and_does_not_add_to_it() {
    let policy = Policy::bundled();
    let all = [Webauthn, Totp, Sms, Email];
    // At the limit: scored only (50 points, medium).
    let at_limit = evaluate(
        &policy,
        &signals(Velocity::default().with(AccountFailures1h, 20), &all),
        at(),
    );
    assert_eq!((at_limit.score.get(), at_limit.level), (50, Level::Medium));
    assert_eq!(codes(&at_limit), [("account_failures_1h", 50)]);

    let over = evaluate(
        &policy,
        &signals(Velocity::default().with(AccountFailures1h, 21), &all),
        at(),
    );
    assert_eq!((over.score.get(), over.level), (50, Level::Deny));
    assert_eq!(over.required, Requirement::refused());
    assert_eq!(
        codes(&over),
        [
            ("hard_limit:account_failures_1h", 100),
            ("account_failures_1h", 50)
        ]
    );
    assert_eq!(
        over.reasons[0].detail,
        "21 failed factor verifications for this account in the last hour (over the hard limit of 20)"
    );

    // A hard limit whose signal has no scored rule: score 35 would be medium.
    let spray = evaluate(
        &policy,
        &signals(Velocity::default().with(AddressAttempts1h, 61), &all),
        at(),
    );
    assert_eq!((spray.score.get(), spray.level), (35, Level::Deny));
    assert_eq!(
        codes(&spray),
        [
            ("hard_limit:address_attempts_1h", 100),
            ("address_attempts_1h", 35)
        ]
    );
}

#[test]
fn too_few_enrolled_factors_deny_with_the_reason() {
    let policy = Policy::bundled();
    let high = Velocity::default()
        .with(AccountAttempts1h, 4)
        .with(AccountFailures1h, 3); // 25 + 35
    let cases: [(Velocity, &[Factor], &str); 3] = [
        (
            high,
            &[Sms, Email],
            "high risk needs 2 distinct factors out of webauthn, totp, sms including one of \
             webauthn, totp; the account has only sms (enrolled: sms, email)",
        ),
        (
            Velocity::default().with(AccountFailures1h, 2), // 25: low
            &[],
            "low risk needs 1 factor out of webauthn, totp, sms, email; \
             the account has none of them (enrolled: none)",
        ),
        (
            Velocity::default().with(AccountFailures1h, 3), // 35: medium
            &[Email, Email],
            "medium risk needs 1 factor out of webauthn, totp, sms; \
             the account has none of them (enrolled: email)",
        ),
    ];
    for (velocity, enrolled, detail) in cases {
        let assessment = evaluate(&policy, &signals(velocity, enrolled), at());
        assert_eq!(assessment.level, Level::Deny, "{enrolled:?}");
        assert_eq!(assessment.required, Requirement::refused());
        let last = assessment.reasons.last().unwrap();
        assert_eq!(
            (last.code.as_str(), last.weight, last.detail.as_str()),
            ("insufficient_factors", 0, detail)
        );
    }
    // Two distinct factors are enough for high.
    let enough = evaluate(&policy, &signals(high, &[Email, Sms, Webauthn]), at());
    assert_eq!(enough.level, Level::High);
    assert_eq!(
        enough.required,
        Requirement {
            count: 2,
            allowed: vec![Webauthn, Sms],
            require_one_of: vec![Webauthn],
        }
    );
}

/// E-mail codes are the weakest rung: the bundled policy allows them at `low`
/// and never lets them count above it (not even as a second factor).
#[test]
fn the_bundled_policy_allows_email_at_low_only() {
    let policy = Policy::bundled();
    let ladder = policy.ladder();
    assert!(ladder.rung(Level::Low).unwrap().allowed.contains(&Email));
    for level in [Level::Medium, Level::High] {
        let rung = ladder.rung(level).unwrap();
        assert!(!rung.allowed.contains(&Email), "{level:?}");
        assert!(!rung.require_one_of.contains(&Email), "{level:?}");
    }
}

#[test]
fn a_deny_asks_for_nothing_and_does_not_blame_the_factors() {
    let policy = Policy::bundled();
    let deny = Velocity::default()
        .with(AccountAttempts1h, 6)
        .with(AccountFailures1h, 5); // 45 + 50
    for enrolled in [&[][..], &[Webauthn, Totp, Sms, Email][..]] {
        let assessment = evaluate(&policy, &signals(deny, enrolled), at());
        assert_eq!(
            (assessment.score.get(), assessment.level),
            (95, Level::Deny)
        );
        assert_eq!(
            assessment.required,
            Requirement {
                count: 0,
                allowed: vec![],
                require_one_of: vec![],
            }
        );
        assert_eq!(
            codes(&assessment),
            [("account_failures_1h", 50), ("account_attempts_1h", 45)]
        );
    }
}

#[test]
fn reasons_are_ordered_by_weight_then_code() {
    let policy = Policy::bundled();
    let velocity = Velocity::default()
        .with(AccountAttempts1h, 3) // 15
        .with(AccountAttempts24h, 6) // 10
        .with(AddressAttempts1h, 61) // 35, and its hard limit
        .with(AccountFailures1h, 1) // 15
        .with(AddressFailures1h, 3); // 10
    let assessment = evaluate(&policy, &signals(velocity, &[Sms]), at());
    assert_eq!(
        codes(&assessment),
        [
            ("hard_limit:address_attempts_1h", 100),
            ("address_attempts_1h", 35),
            ("account_attempts_1h", 15),
            ("account_failures_1h", 15),
            ("account_attempts_24h", 10),
            ("address_failures_1h", 10),
        ]
    );
}

#[test]
fn raising_any_single_signal_never_lowers_the_score_or_the_level() {
    let policy = Policy::bundled();
    let bases = [0, 1, 3, 7, 25];
    let enrolled_sets: [&[Factor]; 3] = [&[], &[Sms], &[Webauthn, Totp, Sms, Email]];
    let mut checked = 0_u32;
    for raised in VelocitySignal::ALL {
        let others: Vec<VelocitySignal> = VelocitySignal::ALL
            .into_iter()
            .filter(|s| *s != raised)
            .collect();
        // Every combination of base values for four of the other counters (the
        // first four; `tests/monotone.rs` draws all of them at random).
        for combination in 0..bases.len().pow(4) {
            let mut base = Velocity::default();
            let mut rest = combination;
            for signal in &others {
                base = base.with(*signal, bases[rest % bases.len()]);
                rest /= bases.len();
            }
            for enrolled in enrolled_sets {
                let mut previous: Option<Assessment> = None;
                for value in 0..=70 {
                    let now = evaluate(&policy, &signals(base.with(raised, value), enrolled), at());
                    if let Some(before) = &previous {
                        assert!(
                            now.score >= before.score,
                            "{raised} {value}: {base:?} {enrolled:?}"
                        );
                        assert!(
                            now.level >= before.level,
                            "{raised} {value}: {base:?} {enrolled:?}"
                        );
                    }
                    previous = Some(now);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 9 * 625 * 3 * 71);
}

#[test]
fn the_decision_does_not_depend_on_when_it_is_asked() {
    let policy = Policy::bundled();
    let input = signals(Velocity::default().with(AccountAttempts1h, 4), &[Totp]);
    let times = [
        SystemTime::UNIX_EPOCH,
        at(),
        at() + Duration::from_hours(24 * 365),
    ];
    let first = evaluate(&policy, &input, times[0]);
    for time in times {
        assert_eq!(evaluate(&policy, &input, time), first);
    }
}

#[test]
fn risk_score_saturates_and_serialises_as_a_bounded_number() {
    let cases = [(0, 0), (42, 42), (100, 100), (101, 100), (u32::MAX, 100)];
    for (points, score) in cases {
        assert_eq!(RiskScore::new(points).get(), score, "{points}");
    }
    assert_eq!(RiskScore::MAX, RiskScore::new(1_000));
    assert_eq!(serde_json::to_string(&RiskScore::new(42)).unwrap(), "42");
    assert_eq!(
        serde_json::from_str::<RiskScore>("100").unwrap(),
        RiskScore::MAX
    );
    assert!(serde_json::from_str::<RiskScore>("101").is_err());
}

#[test]
fn an_assessment_serialises_in_the_documented_shape() {
    let policy = Policy::bundled();
    let assessment = evaluate(
        &policy,
        &signals(Velocity::default().with(AccountAttempts1h, 3), &[Sms, Totp]),
        at(),
    );
    let json = serde_json::to_value(&assessment).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "score": 15,
            "level": "low",
            "required": {"count": 1, "allowed": ["totp", "sms"]},
            "reasons": [{
                "code": "account_attempts_1h",
                "weight": 15,
                "detail": "3 reset attempts for this account in the last hour (more than 2)",
            }],
            "policy_version": policy.version(),
        })
    );
    assert_eq!(
        serde_json::from_value::<Assessment>(json).unwrap(),
        assessment
    );
}
