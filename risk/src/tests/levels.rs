//! What sets the level besides the score, through [`evaluate`]: hard rules (first
//! match, deny, allow), hard limits under an allow rule, and `require_one_of`.

use super::{at, codes};
use crate::signals::VelocitySignal::{
    AccountAttempts1h, AccountAttempts24h, AccountFailures1h, AddressAttempts1h,
};
use crate::{Factor, Geo, Level, Policy, Requirement, Signals, Velocity, evaluate};
use Factor::{Email, Sms, Totp, Webauthn};

const RULES: &str = r#"
[[hard_rules]]
name = "embargo"
action = "deny"
countries = ["KP"]

[[hard_rules]]
name = "office"
action = "allow"
cidrs = ["198.51.100.0/24", "2001:db8:100::/48"]

[[hard_rules]]
name = "tor-exits"
action = "deny"
anonymous = ["tor"]

[[hard_rules]]
name = "bulletproof-host"
action = "deny"
asns = [64511]
"#;

fn with_rules() -> Policy {
    Policy::parse(&format!("{}{RULES}", Policy::BUNDLED_TOML)).unwrap()
}

fn from(ip: &str, country: Option<&str>, tor: bool) -> Geo {
    let mut geo = Geo {
        ip: Some(ip.parse().unwrap()),
        country: country.map(str::to_owned),
        ..Geo::default()
    };
    geo.anonymous.tor = tor;
    geo
}

/// Scores 95 on the bundled rules: 45 + 50.
fn risky() -> Velocity {
    Velocity::default()
        .with(AccountAttempts1h, 6)
        .with(AccountFailures1h, 5)
}

/// (what, geo, velocity, level, the hard rule's reason if any).
type RuleCase = (
    &'static str,
    Geo,
    Velocity,
    Level,
    Option<(&'static str, u8)>,
);

fn rule_cases() -> Vec<RuleCase> {
    vec![
        (
            "no rule matches",
            from("203.0.113.7", Some("FR"), false),
            Velocity::default(),
            Level::Low,
            None,
        ),
        (
            "lookup miss",
            Geo::default(),
            Velocity::default(),
            Level::Low,
            None,
        ),
        (
            "embargoed country",
            from("203.0.113.7", Some("KP"), false),
            Velocity::default(),
            Level::Deny,
            Some(("hard_rule:embargo", 100)),
        ),
        (
            "embargo before the office",
            from("198.51.100.20", Some("KP"), false),
            Velocity::default(),
            Level::Deny,
            Some(("hard_rule:embargo", 100)),
        ),
        (
            "the office before tor",
            from("198.51.100.20", Some("GB"), true),
            Velocity::default(),
            Level::Low,
            Some(("hard_rule:office", 0)),
        ),
        (
            "tor elsewhere",
            from("203.0.113.7", Some("GB"), true),
            Velocity::default(),
            Level::Deny,
            Some(("hard_rule:tor-exits", 100)),
        ),
        (
            "the office forces low",
            from("198.51.100.20", None, false),
            risky(),
            Level::Low,
            Some(("hard_rule:office", 0)),
        ),
        (
            "the office over IPv6",
            from("2001:db8:100:5::1", None, false),
            risky(),
            Level::Low,
            Some(("hard_rule:office", 0)),
        ),
        (
            "next to the office over IPv6",
            from("2001:db8:101::1", None, false),
            risky(),
            Level::Deny,
            None,
        ),
        (
            "the office, IPv4-mapped",
            from("::ffff:198.51.100.9", None, false),
            risky(),
            Level::Low,
            Some(("hard_rule:office", 0)),
        ),
        (
            "next to the office",
            from("198.51.101.9", None, false),
            risky(),
            Level::Deny,
            None,
        ),
    ]
}

#[test]
fn hard_rules_match_first_in_file_order() {
    let policy = with_rules();
    let cases = rule_cases();
    for (what, geo, velocity, level, rule) in cases {
        let signals = Signals {
            velocity,
            enrolled: vec![Totp, Sms],
            geo,
            ..Signals::default()
        };
        let assessment = evaluate(&policy, &signals, at());
        assert_eq!(assessment.level, level, "{what}: {:#?}", assessment.reasons);
        let hard: Vec<(&str, u8)> = codes(&assessment)
            .into_iter()
            .filter(|(code, _)| code.starts_with("hard_rule:"))
            .collect();
        assert_eq!(hard, rule.into_iter().collect::<Vec<_>>(), "{what}");
    }
    let asn = Signals {
        geo: Geo {
            asn: Some(64511),
            ..Geo::default()
        },
        enrolled: vec![Totp],
        ..Signals::default()
    };
    let assessment = evaluate(&policy, &asn, at());
    assert_eq!(assessment.level, Level::Deny);
    assert_eq!(
        assessment.reasons[0].detail,
        "the address is in AS64511, listed by hard rule \"bulletproof-host\" \
         (deny: refused whatever the score)"
    );
}

#[test]
fn an_allow_rule_keeps_the_score_and_the_low_rung_but_not_past_hard_limits() {
    let policy = with_rules();
    let office = from("198.51.100.20", Some("GB"), false);
    let signals = |velocity, enrolled: &[Factor]| Signals {
        velocity,
        enrolled: enrolled.to_vec(),
        geo: office.clone(),
        ..Signals::default()
    };
    let allowed = evaluate(&policy, &signals(risky(), &[Totp, Email]), at());
    assert_eq!((allowed.score.get(), allowed.level), (95, Level::Low));
    assert_eq!(allowed.required.count, 1);
    assert_eq!(allowed.required.allowed, [Totp, Email]);
    assert_eq!(
        allowed.reasons.last().unwrap().detail,
        "198.51.100.20 is in 198.51.100.0/24, listed by hard rule \"office\" \
         (allow: level low whatever the score; hard limits still apply)"
    );
    // Hard limits still deny.
    let guessing = risky().with(AccountFailures1h, 21);
    let limited = evaluate(&policy, &signals(guessing, &[Totp]), at());
    assert_eq!(limited.level, Level::Deny);
    assert_eq!(limited.reasons[0].code, "hard_limit:account_failures_1h");
    // The low rung must still be met.
    let nothing = evaluate(&policy, &signals(risky(), &[]), at());
    assert_eq!(nothing.level, Level::Deny);
    assert_eq!(nothing.reasons.last().unwrap().code, "insufficient_factors");
}

/// The bundled high rung: 2 of webauthn/totp/sms, one of them webauthn or totp.
fn high() -> Velocity {
    // 45 + 10 + 10 = 65: high, as the gateway's "6th start in an hour" test.
    Velocity::default()
        .with(AccountAttempts1h, 6)
        .with(AccountAttempts24h, 6)
        .with(AddressAttempts1h, 6)
}

#[test]
fn require_one_of_is_met_by_totp_and_reported() {
    let policy = Policy::bundled();
    let cases: [(&[Factor], Level, Requirement); 4] = [
        (
            &[Totp, Sms],
            Level::High,
            Requirement {
                count: 2,
                allowed: vec![Totp, Sms],
                require_one_of: vec![Totp],
            },
        ),
        (
            &[Sms, Email, Webauthn],
            Level::High,
            Requirement {
                count: 2,
                allowed: vec![Webauthn, Sms],
                require_one_of: vec![Webauthn],
            },
        ),
        (
            &[Webauthn, Totp],
            Level::High,
            Requirement {
                count: 2,
                allowed: vec![Webauthn, Totp],
                require_one_of: vec![Webauthn, Totp],
            },
        ),
        (&[Sms, Email], Level::Deny, Requirement::refused()),
    ];
    for (enrolled, level, required) in cases {
        let signals = Signals {
            velocity: high(),
            enrolled: enrolled.to_vec(),
            ..Signals::default()
        };
        let assessment = evaluate(&policy, &signals, at());
        assert_eq!(
            (assessment.score.get(), assessment.level),
            (65, level),
            "{enrolled:?}"
        );
        assert_eq!(assessment.required, required, "{enrolled:?}");
    }
}

#[test]
fn two_weak_factors_cannot_meet_require_one_of() {
    let text = Policy::BUNDLED_TOML.replacen(
        "allowed = [\"webauthn\", \"totp\", \"sms\"]\nrequire_one_of",
        "allowed = [\"webauthn\", \"totp\", \"sms\", \"email\"]\nrequire_one_of",
        1,
    );
    let policy = Policy::parse(&text).unwrap();
    assert_eq!(policy.ladder().high.allowed.len(), 4);
    let signals = Signals {
        velocity: high(),
        enrolled: vec![Sms, Email],
        ..Signals::default()
    };
    let assessment = evaluate(&policy, &signals, at());
    assert_eq!(assessment.level, Level::Deny);
    assert_eq!(assessment.required, Requirement::refused());
    let last = assessment.reasons.last().unwrap();
    assert_eq!(
        (last.code.as_str(), last.detail.as_str()),
        (
            "insufficient_factors",
            "high risk needs 2 distinct factors out of webauthn, totp, sms, email including \
             one of webauthn, totp; the account has sms, email but none of webauthn, totp \
             (enrolled: sms, email)"
        )
    );
}

#[test]
fn require_one_of_is_serialised_only_when_set() {
    let with = Requirement {
        count: 2,
        allowed: vec![Totp, Sms],
        require_one_of: vec![Totp],
    };
    assert_eq!(
        serde_json::to_value(&with).unwrap(),
        serde_json::json!({"count": 2, "allowed": ["totp", "sms"], "require_one_of": ["totp"]})
    );
    let without = Requirement {
        require_one_of: vec![],
        ..with
    };
    let json = serde_json::json!({"count": 2, "allowed": ["totp", "sms"]});
    assert_eq!(serde_json::to_value(&without).unwrap(), json);
    assert_eq!(
        serde_json::from_value::<Requirement>(json).unwrap(),
        without
    );
}
