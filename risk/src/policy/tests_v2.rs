//! Tests of the policy sections of signals v2: `[signals]`, `[travel]`,
//! `[[hard_rules]]`, `require_one_of`, the new counters and the version hash.

use std::time::Duration;

use super::tests::edited;
use super::*;
use crate::hard_rules::Action;
use crate::ladder::Factor::{Totp, Webauthn};

#[test]
fn bundled_policy_has_the_documented_signals_travel_and_ladder() {
    let policy = Policy::bundled();
    assert_eq!(policy.declared_version(), "2026-11-27.3");
    assert_eq!(policy.ladder().high.require_one_of, [Webauthn, Totp]);
    assert!(policy.ladder().low.require_one_of.is_empty());
    let w = policy.signals();
    let weights = [
        w.new_country,
        w.new_asn,
        w.new_device,
        w.new_browser,
        w.automation,
        w.anonymous_vpn,
        w.anonymous_tor,
        w.anonymous_hosting,
        w.anonymous_residential_proxy,
        w.anonymous_public_proxy,
        w.impossible_travel,
        w.recent_contact_change,
        w.distance_per_1000km,
        w.distance_max,
        w.history_lr,
        w.anomaly,
    ];
    assert_eq!(
        weights,
        [
            20, 10, 15, 10, 40, 20, 50, 25, 25, 30, 50, 30, 5, 25, 10, 85
        ]
    );
    assert_eq!(w.contact_change_window, Duration::from_hours(7 * 24));
    assert_eq!(w.anomaly_from, 7500);
    // Log-scaled in the tail from 1 in 4 (0.75, nothing) to 1 in 1,000 (all):
    // 1 in 10 earns log 2.5 / log 250, 1 in 100 log 25 / log 250.
    assert!(w.anomaly_share(0.75).abs() < 1e-12);
    assert!(w.anomaly_share(0.5).abs() < 1e-12);
    assert!((w.anomaly_share(0.9) - 2.5_f64.log10() / 250_f64.log10()).abs() < 1e-9);
    assert!((w.anomaly_share(0.99) - 25_f64.log10() / 250_f64.log10()).abs() < 1e-9);
    assert!((w.anomaly_share(0.999) - 1.0).abs() < 1e-9);
    assert!((w.anomaly_share(0.9999) - 1.0).abs() < 1e-12);
    let travel = policy.travel();
    assert_eq!((travel.max_speed_kmh, travel.min_distance_km), (900, 50));
    assert!(
        policy.hard_rules().is_empty(),
        "none by default; the file shows the syntax"
    );
}

#[test]
fn content_hash_is_the_sha256_prefix_of_the_text() {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    assert_eq!(content_hash("abc"), "ba7816bf8f01");
    let policy = Policy::bundled();
    assert_eq!(policy.content_hash(), content_hash(Policy::BUNDLED_TOML));
    assert_eq!(
        policy.version(),
        format!("2026-11-27.3+{}", policy.content_hash())
    );
}

#[test]
fn new_counters_are_rule_and_hard_limit_signals() {
    let text = edited(
        "address_accounts_1h = 30",
        "address_accounts_1h = 30\nasn_attempts_1h = 500\nsubnet_attempts_1h = 100\nasn_accounts_1h = 200",
    );
    let policy = Policy::parse(&text).unwrap();
    let limits: Vec<&str> = policy
        .hard_limits()
        .iter()
        .map(|l| l.signal.as_str())
        .collect();
    assert_eq!(
        limits,
        [
            "account_failures_1h",
            "address_accounts_1h",
            "address_attempts_1h",
            "asn_accounts_1h",
            "asn_attempts_1h",
            "subnet_attempts_1h",
        ]
    );
    let text = edited(
        "signal = \"asn_accounts_1h\"",
        "signal = \"asn_attempts_1h\"",
    );
    assert_eq!(
        Policy::parse(&text).unwrap().rules()[7].signal.as_str(),
        "asn_attempts_1h"
    );
}

#[test]
fn hard_rules_parse_in_order() {
    let text = format!(
        "{}\n[[hard_rules]]\nname = \"tor-exits\"\naction = \"deny\"\nanonymous = [\"tor\"]\n\
         [[hard_rules]]\nname = \"corporate-network\"\naction = \"allow\"\n\
         cidrs = [\"198.51.100.0/24\", \"2001:db8:100::/48\"]\nasns = [64496]\n",
        Policy::BUNDLED_TOML
    );
    let policy = Policy::parse(&text).unwrap();
    let rules: Vec<(&str, Action, usize)> = policy
        .hard_rules()
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.action,
                r.cidrs.len() + r.asns.len() + r.anonymous.len(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("tor-exits", Action::Deny, 1),
            ("corporate-network", Action::Allow, 3)
        ]
    );
}

/// The bundled policy with `section` appended.
fn plus(section: &str) -> String {
    format!("{}\n{section}\n", Policy::BUNDLED_TOML)
}

#[test]
fn signals_and_travel_keys_are_validated_against_their_names() {
    let cases: Vec<(String, &str)> = vec![
        (
            edited("new_country = 20", "new_country = 101"),
            "signals.new_country: must be at most 100, is 101",
        ),
        (
            edited("anonymous_tor = 50", "anonymous_tor = 300"),
            "signals.anonymous_tor: must be at most 100, is 300",
        ),
        (
            edited("anomaly = 85", "anomaly = 1000"),
            "signals.anomaly: must be at most 100, is 1000",
        ),
        (
            edited("anomaly_from = 0.75", "anomaly_from = 1.0"),
            "signals.anomaly_from: must be at least 0 and less than 1, is 1",
        ),
        (
            edited("anomaly_from = 0.75", "anomaly_from = -0.1"),
            "signals.anomaly_from: must be at least 0 and less than 1, is -0.1",
        ),
        (
            edited("history_lr = 10", "history_lr = 200"),
            "signals.history_lr: must be at most 100, is 200",
        ),
        (
            edited("distance_max = 25", "distance_max = 4"),
            "signals.distance_max: must be at least distance_per_1000km (5), is 4",
        ),
        (
            edited(
                "contact_change_window = \"7d\"",
                "contact_change_window = \"7 days\"",
            ),
            "signals.contact_change_window: \"7 days\" is not a duration: write a whole number and a unit, \
             s, m, h or d (e.g. \"7d\", \"24h\", \"30m\")",
        ),
        (
            edited(
                "contact_change_window = \"7d\"",
                "contact_change_window = \"0h\"",
            ),
            "signals.contact_change_window: \"0h\" must be longer than 0",
        ),
        (
            edited("max_speed_kmh = 900", "max_speed_kmh = 0"),
            "travel.max_speed_kmh: must be greater than 0",
        ),
        (
            edited("min_distance_km = 50", "min_distance_km = 30000"),
            "travel.min_distance_km: must be at most 20015 (no two places are farther apart), is 30000",
        ),
    ];
    for (text, expected) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert!(
            matches!(err, PolicyError::Invalid { .. }),
            "{expected}: {err:?}"
        );
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn require_one_of_is_validated_against_its_rung() {
    let cases: Vec<(String, &str)> = vec![
        (
            edited(
                "require_one_of = [\"webauthn\", \"totp\"]",
                "require_one_of = []",
            ),
            "ladder.high.require_one_of: must name at least one factor (leave it out for none)",
        ),
        (
            edited(
                "require_one_of = [\"webauthn\", \"totp\"]",
                "require_one_of = [\"email\"]",
            ),
            "ladder.high.require_one_of: names email, which ladder.high.allowed does not",
        ),
        (
            edited(
                "require_one_of = [\"webauthn\", \"totp\"]",
                "require_one_of = [\"totp\", \"totp\"]",
            ),
            "ladder.high.require_one_of: names totp more than once",
        ),
        (
            edited("factors = 2", "factors = 1"),
            "ladder.high.require_one_of: needs ladder.high.factors of 2 or more; with 1 factor, list \
             only the required factors in ladder.high.allowed",
        ),
    ];
    for (text, expected) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert!(
            matches!(err, PolicyError::Invalid { .. }),
            "{expected}: {err:?}"
        );
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn hard_rules_are_validated_against_their_index() {
    let rule = |body: &str| plus(&format!("[[hard_rules]]\n{body}"));
    let cases: Vec<(String, &str)> = vec![
        (
            rule("name = \"\"\naction = \"deny\"\ncountries = [\"KP\"]"),
            "hard_rules[0].name: \"\" must be 1 to 64 letters, digits, '-', '_' or '.' (it becomes the \
             reason code hard_rule:<name>)",
        ),
        (
            rule("name = \"tor exits\"\naction = \"deny\"\nanonymous = [\"tor\"]"),
            "hard_rules[0].name: \"tor exits\" must be 1 to 64 letters, digits, '-', '_' or '.' (it \
             becomes the reason code hard_rule:<name>)",
        ),
        (
            plus(
                "[[hard_rules]]\nname = \"a\"\naction = \"deny\"\nasns = [1]\n\
               [[hard_rules]]\nname = \"a\"\naction = \"deny\"\nasns = [2]",
            ),
            "hard_rules[1].name: hard_rules[0] is already named \"a\"",
        ),
        (
            rule("name = \"x\"\naction = \"deny\"\ncountries = [\"fr\"]"),
            "hard_rules[0].countries[0]: \"fr\" is not an ISO 3166-1 alpha-2 code in upper case (e.g. \"KP\")",
        ),
        (
            rule("name = \"x\"\naction = \"deny\"\ncountries = [\"FR\", \"FRA\"]"),
            "hard_rules[0].countries[1]: \"FRA\" is not an ISO 3166-1 alpha-2 code in upper case (e.g. \"KP\")",
        ),
        (
            rule("name = \"x\"\naction = \"deny\"\nasns = [0]"),
            "hard_rules[0].asns[0]: AS0 is reserved and never announced",
        ),
        (
            rule("name = \"x\"\naction = \"deny\"\ncidrs = [\"198.51.100.7/24\"]"),
            "hard_rules[0].cidrs[0]: \"198.51.100.7/24\" has host bits set; the network is 198.51.100.0/24",
        ),
        (
            rule("name = \"x\"\naction = \"deny\"\ncidrs = [\"10.0.0.0/8\", \"nope\"]"),
            "hard_rules[0].cidrs[1]: \"nope\" is not an IP network (e.g. \"198.51.100.0/24\")",
        ),
        (
            rule("name = \"x\"\naction = \"allow\"\nanonymous = [\"vpn\"]"),
            "hard_rules[0].anonymous: an allow rule cannot match on anonymisers (they must never lower \
             the risk); use cidrs or asns",
        ),
        (
            rule("name = \"x\"\naction = \"deny\""),
            "hard_rules[0]: matches nothing: give at least one of countries, asns, cidrs, anonymous",
        ),
    ];
    for (text, expected) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert!(
            matches!(err, PolicyError::Invalid { .. }),
            "{expected}: {err:?}"
        );
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn misspelt_new_keys_and_names_are_syntax_errors_with_their_place() {
    // (text, marker on the offending line, message fragment)
    let cases = [
        (
            edited("new_country = 20", "new_contry = 20"),
            "new_contry",
            "unknown field `new_contry`",
        ),
        (
            edited("max_speed_kmh = 900", "max_speed = 900"),
            "max_speed = 900",
            "unknown field `max_speed`",
        ),
        (
            edited("max_speed_kmh = 900", "max_speed_kmh = -1"),
            "max_speed_kmh = -1",
            "-1",
        ),
        (
            plus("[[hard_rules]]\nname = \"x\"\naction = \"block\"\nasns = [1]"),
            "\"block\"",
            "unknown variant `block`",
        ),
        (
            plus("[[hard_rules]]\nname = \"x\"\naction = \"deny\"\nanonymous = [\"proxy\"]"),
            "[\"proxy\"]",
            "unknown variant `proxy`",
        ),
        (
            plus("[[hard_rules]]\nname = \"x\"\naction = \"deny\"\nasn = [1]"),
            "asn = [1]",
            "unknown field `asn`",
        ),
        (
            edited(
                "require_one_of = [\"webauthn\", \"totp\"]",
                "require_one_of = [\"yubikey\"]",
            ),
            "yubikey",
            "unknown variant `yubikey`",
        ),
    ];
    for (text, marker, fragment) in cases {
        let err = Policy::parse(&text).unwrap_err();
        let PolicyError::Syntax {
            line, ref message, ..
        } = err
        else {
            panic!("{marker}: expected a syntax error, got {err:?}");
        };
        let expected_line = text.lines().position(|l| l.contains(marker)).unwrap() + 1;
        assert_eq!(line, expected_line, "{marker}: {message}");
        assert!(
            message.contains(fragment),
            "{marker}: {message:?} lacks {fragment:?}"
        );
    }
}

#[test]
fn a_policy_without_the_new_sections_disables_their_signals() {
    let text = "version = \"old\"\n[levels]\nmedium = 1\nhigh = 2\ndeny = 3\n\
                [ladder.low]\nfactors = 1\nallowed = [\"email\"]\n\
                [ladder.medium]\nfactors = 1\nallowed = [\"totp\"]\n\
                [ladder.high]\nfactors = 1\nallowed = [\"webauthn\"]\n";
    let policy = Policy::parse(text).unwrap();
    assert_eq!(*policy.signals(), crate::weights::SignalWeights::default());
    assert_eq!(policy.travel(), crate::travel::TravelLimits::default());
    assert!(policy.hard_rules().is_empty());
    assert!(policy.ladder().high.require_one_of.is_empty());
}

#[test]
fn the_policy_version_is_the_declared_one_plus_a_content_hash() {
    let policy = Policy::bundled();
    let (declared, hash) = policy.version().split_once('+').unwrap();
    assert_eq!(declared, policy.declared_version());
    assert_eq!(hash, policy.content_hash());
    assert_eq!(hash.len(), 12);
    assert!(
        hash.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let assessment = crate::evaluate(
        &policy,
        &crate::Signals::default(),
        std::time::SystemTime::UNIX_EPOCH,
    );
    assert_eq!(assessment.policy_version, policy.version());
    // Any edit changes the version, even a comment, even with the same `version`.
    let edited = Policy::parse(&format!("{}\n# a comment\n", Policy::BUNDLED_TOML)).unwrap();
    assert_eq!(edited.declared_version(), policy.declared_version());
    assert_ne!(edited.version(), policy.version());
    let minimal = "version = \"v\"\n[levels]\nmedium = 1\nhigh = 2\ndeny = 3\n\
                   [ladder.low]\nfactors = 1\nallowed = [\"email\"]\n\
                   [ladder.medium]\nfactors = 1\nallowed = [\"email\"]\n\
                   [ladder.high]\nfactors = 1\nallowed = [\"email\"]\n";
    let policy = Policy::parse(minimal).unwrap();
    assert_eq!(policy.content_hash().len(), 12);
    assert_eq!(policy.version(), format!("v+{}", policy.content_hash()));
}
