//! Tests of thresholds, rungs, `require_one_of` and the factor and level names.

use super::*;
use Factor::{Email, Sms, Totp, Webauthn};

fn thresholds(medium: u32, high: u32, deny: u32) -> Thresholds {
    Thresholds {
        medium: RiskScore::new(medium),
        high: RiskScore::new(high),
        deny: RiskScore::new(deny),
    }
}

#[test]
fn thresholds_pick_levels_at_the_boundaries() {
    let t = thresholds(30, 60, 90);
    let cases = [
        (0, Level::Low),
        (29, Level::Low),
        (30, Level::Medium),
        (59, Level::Medium),
        (60, Level::High),
        (89, Level::High),
        (90, Level::Deny),
        (100, Level::Deny),
    ];
    for (score, expected) in cases {
        assert_eq!(t.level(RiskScore::new(score)), expected, "score {score}");
    }
}

#[test]
fn a_deny_threshold_of_100_is_reached_only_by_100() {
    let t = thresholds(1, 2, 100);
    assert_eq!(t.level(RiskScore::new(0)), Level::Low);
    assert_eq!(t.level(RiskScore::new(1)), Level::Medium);
    assert_eq!(t.level(RiskScore::new(99)), Level::High);
    assert_eq!(t.level(RiskScore::new(100)), Level::Deny);
}

#[test]
fn requirement_is_allowed_intersect_enrolled_in_policy_order() {
    let rung = Rung {
        factors: 2,
        allowed: vec![Webauthn, Totp, Sms],
        require_one_of: vec![],
    };
    let cases: [(&[Factor], Result<Requirement, Shortfall>); 5] = [
        (
            &[Sms, Email, Totp],
            Ok(Requirement {
                count: 2,
                allowed: vec![Totp, Sms],
                require_one_of: vec![],
            }),
        ),
        (
            &[Sms, Webauthn, Totp],
            Ok(Requirement {
                count: 2,
                allowed: vec![Webauthn, Totp, Sms],
                require_one_of: vec![],
            }),
        ),
        (
            &[Sms, Email],
            Err(Shortfall {
                needed: 2,
                usable: vec![Sms],
            }),
        ),
        // The same factor twice is still one factor.
        (
            &[Totp, Totp],
            Err(Shortfall {
                needed: 2,
                usable: vec![Totp],
            }),
        ),
        (
            &[],
            Err(Shortfall {
                needed: 2,
                usable: vec![],
            }),
        ),
    ];
    for (enrolled, expected) in cases {
        assert_eq!(
            rung.requirement(enrolled),
            expected,
            "enrolled {enrolled:?}"
        );
    }
}

#[test]
fn require_one_of_needs_one_strong_usable_factor() {
    let rung = Rung {
        factors: 2,
        allowed: vec![Webauthn, Totp, Sms, Email],
        require_one_of: vec![Webauthn, Totp],
    };
    let ok = |allowed: Vec<Factor>, strong: Vec<Factor>| {
        Ok(Requirement {
            count: 2,
            allowed,
            require_one_of: strong,
        })
    };
    let cases: [(&[Factor], Result<Requirement, Shortfall>); 5] = [
        // TOTP satisfies it; the strong list is what the account has, in allowed order.
        (&[Sms, Totp], ok(vec![Totp, Sms], vec![Totp])),
        (
            &[Email, Totp, Webauthn],
            ok(vec![Webauthn, Totp, Email], vec![Webauthn, Totp]),
        ),
        // Two factors, but no strong one.
        (
            &[Sms, Email],
            Err(Shortfall {
                needed: 2,
                usable: vec![Sms, Email],
            }),
        ),
        // A strong one, but too few.
        (
            &[Webauthn],
            Err(Shortfall {
                needed: 2,
                usable: vec![Webauthn],
            }),
        ),
        (
            &[Webauthn, Totp],
            ok(vec![Webauthn, Totp], vec![Webauthn, Totp]),
        ),
    ];
    for (enrolled, expected) in cases {
        assert_eq!(
            rung.requirement(enrolled),
            expected,
            "enrolled {enrolled:?}"
        );
    }
}

#[test]
fn strength_orders_webauthn_totp_sms_email() {
    let strengths = Factor::ALL.map(Factor::strength);
    assert_eq!(strengths, [4, 3, 2, 1]);
    let mut by_strength = [Email, Totp, Sms, Webauthn];
    by_strength.sort_by_key(|f| std::cmp::Reverse(f.strength()));
    assert_eq!(by_strength, Factor::ALL);
}

#[test]
fn deny_has_no_rung() {
    let rung = |factor| Rung {
        factors: 1,
        allowed: vec![factor],
        require_one_of: vec![],
    };
    let ladder = Ladder {
        low: rung(Email),
        medium: rung(Sms),
        high: rung(Webauthn),
    };
    assert_eq!(ladder.rung(Level::Low).unwrap().allowed, [Email]);
    assert_eq!(ladder.rung(Level::Medium).unwrap().allowed, [Sms]);
    assert_eq!(ladder.rung(Level::High).unwrap().allowed, [Webauthn]);
    assert_eq!(ladder.rung(Level::Deny), None);
    assert_eq!(
        Requirement::refused(),
        Requirement {
            count: 0,
            allowed: vec![],
            require_one_of: vec![],
        }
    );
}

#[test]
fn names_round_trip_lowercase_and_levels_are_ordered() {
    for factor in Factor::ALL {
        assert_eq!(factor.to_string().parse::<Factor>().unwrap(), factor);
    }
    for level in Level::ALL {
        assert_eq!(level.to_string().parse::<Level>().unwrap(), level);
    }
    assert!(Level::Low < Level::Medium && Level::Medium < Level::High && Level::High < Level::Deny);
    assert_eq!(
        "Totp".parse::<Factor>().unwrap_err().to_string(),
        "unknown factor \"Totp\" (known: webauthn, totp, sms, email)"
    );
    assert_eq!(
        "critical".parse::<Level>().unwrap_err().to_string(),
        "unknown level \"critical\" (known: low, medium, high, deny)"
    );
}
