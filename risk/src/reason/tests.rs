//! Tests of reason ordering, sentences and the number, distance, time and place formats.

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
        require_one_of: vec![],
    };
    let medium = Rung {
        factors: 1,
        allowed: vec![Webauthn, Totp, Sms],
        require_one_of: vec![],
    };
    let strong = Rung {
        factors: 2,
        allowed: vec![Webauthn, Totp, Sms, Email],
        require_one_of: vec![Webauthn, Totp],
    };
    let cases: [Case<'_>; 5] = [
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
        (
            Level::High,
            &strong,
            &[Sms, Email],
            &[Email, Sms],
            "high risk needs 2 distinct factors out of webauthn, totp, sms, email \
             including one of webauthn, totp; the account has sms, email but none of \
             webauthn, totp (enrolled: email, sms)",
        ),
        (
            Level::High,
            &strong,
            &[Totp],
            &[Totp],
            "high risk needs 2 distinct factors out of webauthn, totp, sms, email \
             including one of webauthn, totp; the account has only totp (enrolled: totp)",
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
    assert_eq!(reason("new_country", 20).signal(), None);
}

#[test]
fn numbers_distances_durations_and_places_read_well() {
    let cases = [(0, "0"), (999, "999"), (1_000, "1,000"), (16_960, "16,960")];
    for (n, text) in cases {
        assert_eq!(Thousands(n).to_string(), text);
    }
    assert_eq!(
        Thousands(u64::MAX).to_string(),
        "18,446,744,073,709,551,615"
    );
    assert_eq!(Km(16_959.6).to_string(), "16,960 km");
    assert_eq!(
        (
            Km(f64::NAN).to_string(),
            Km(-3.0).to_string(),
            Km(f64::INFINITY).to_string()
        ),
        ("0 km".into(), "0 km".into(), "0 km".into())
    );
    let cases = [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (3_599, "59 min"),
        (3_600, "1 h 0 min"),
        (3 * 3_600 + 25 * 60, "3 h 25 min"),
        (86_400 * 3 + 7_200 + 59, "3 d 2 h"),
    ];
    for (secs, text) in cases {
        assert_eq!(
            Elapsed(Duration::from_secs(secs)).to_string(),
            text,
            "{secs} s"
        );
    }
    let london = Location {
        lat: 51.5074,
        lon: -0.1278,
        accuracy_km: 10.0,
    };
    let sydney = Location {
        lat: -33.8688,
        lon: 151.2093,
        accuracy_km: 1_000.0,
    };
    assert_eq!(Place(&london).to_string(), "51.51°N 0.13°W (±10 km)");
    assert_eq!(Place(&sydney).to_string(), "33.87°S 151.21°E (±1,000 km)");
    let cases = [
        (0.0, "0.00"),
        (0.82, "0.82"),
        (51.5074, "51.51"),
        (89.999, "90.00"),
        (180.0, "180.00"),
    ];
    for (x, text) in cases {
        assert_eq!(Centi(x).to_string(), text, "{x}");
    }
    let some = ["a", "b", "c"];
    assert_eq!(Listed(&some, 5, "").to_string(), "a, b, c");
    assert_eq!(Listed(&some, 2, "").to_string(), "a, b and 1 more");
    assert_eq!(
        Listed(&[64_496, 3_320], 5, "AS").to_string(),
        "AS64496, AS3320"
    );
    assert_eq!(Listed::<&str>(&[], 5, "").to_string(), "none");
}
