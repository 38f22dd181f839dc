//! Tests of [`Policy::parse`]: the bundled file, and every refusal with its message.

use super::*;
use crate::ladder::Factor::{Email, Sms, Totp, Webauthn};

/// The bundled policy with `from` (which must occur exactly once) replaced by `to`.
pub(super) fn edited(from: &str, to: &str) -> String {
    let text = Policy::BUNDLED_TOML;
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} must occur once in data/policy.toml"
    );
    text.replacen(from, to, 1)
}

/// The end of the `address_failures_1h` rule (`rules[4]`), whose `max = 40` is
/// not the only one in the file.
const ADDRESS_FAILURES_MAX: &str =
    "signal = \"address_failures_1h\"\nabove = 2\nweight = 10\nper_extra = 5\nmax = 40";

/// 1-based line of the first line of the bundled policy that contains `needle`.
fn line_of(needle: &str) -> usize {
    Policy::BUNDLED_TOML
        .lines()
        .position(|line| line.contains(needle))
        .expect("needle in data/policy.toml")
        + 1
}

#[test]
fn bundled_policy_parses_with_the_documented_values() {
    let policy = Policy::bundled();
    assert_eq!(policy.declared_version(), "2026-11-27.3");
    let t = policy.thresholds();
    assert_eq!((t.medium.get(), t.high.get(), t.deny.get()), (30, 60, 90));
    let ladder = policy.ladder();
    assert_eq!(ladder.low.factors, 1);
    assert_eq!(ladder.low.allowed, [Webauthn, Totp, Sms, Email]);
    assert_eq!(ladder.medium.factors, 1);
    assert_eq!(ladder.medium.allowed, [Webauthn, Totp, Sms]);
    assert_eq!(ladder.high.factors, 2);
    assert_eq!(ladder.high.allowed, [Webauthn, Totp, Sms]);
    let rules: Vec<(&str, u32, u8, u32, u8)> = policy
        .rules()
        .iter()
        .map(|r| (r.signal.as_str(), r.above, r.weight, r.per_extra, r.max))
        .collect();
    assert_eq!(
        rules,
        [
            ("account_attempts_1h", 2, 15, 10, 45),
            ("account_attempts_24h", 5, 10, 5, 30),
            ("address_attempts_1h", 5, 10, 5, 35),
            ("account_failures_1h", 0, 15, 10, 50),
            ("address_failures_1h", 2, 10, 5, 40),
            ("address_accounts_1h", 5, 15, 5, 40),
            ("subnet_attempts_1h", 20, 10, 2, 30),
            ("asn_accounts_1h", 50, 10, 1, 30),
        ]
    );
    let limits: Vec<(&str, u32)> = policy
        .hard_limits()
        .iter()
        .map(|l| (l.signal.as_str(), l.limit))
        .collect();
    assert_eq!(
        limits,
        [
            ("account_failures_1h", 20),
            ("address_accounts_1h", 30),
            ("address_attempts_1h", 60)
        ]
    );
}

#[test]
fn line_column_counts_lines_and_characters_from_one() {
    let text = "a\nbé = 1\n";
    let cases = [
        (0, (1, 1)),
        (2, (2, 1)),
        (3, (2, 2)),
        (5, (2, 3)),
        (text.len(), (3, 1)),
        (999, (3, 1)),
    ];
    for (offset, expected) in cases {
        assert_eq!(line_column(text, offset), expected, "offset {offset}");
    }
}

#[test]
fn syntax_and_type_errors_name_line_and_column() {
    // (edit from, edit to, line marker, expected column, message fragment)
    let cases = [
        ("deny = 90", "deny = = 90", "deny = = 90", 8, "extra `=`"),
        (
            "medium = 30",
            "medium = \"30\"",
            "medium = \"30\"",
            10,
            "invalid type",
        ),
        ("high = 60", "high = -60", "high = -60", 8, "-60"),
        (
            "weight = 15\nper_extra = 10\nmax = 45",
            "wieght = 15\nper_extra = 10\nmax = 45",
            "wieght",
            1,
            "unknown field `wieght`",
        ),
        (
            "allowed = [\"webauthn\", \"totp\", \"sms\", \"email\"]",
            "allowed = [\"webauthn\", \"pigeon\"]",
            "\"pigeon\"",
            24,
            "unknown variant `pigeon`",
        ),
        (
            "[ladder.high]",
            "[ladder.deny]",
            "[ladder.deny]",
            9,
            "unknown field `deny`",
        ),
    ];
    for (from, to, marker, column, fragment) in cases {
        let text = edited(from, to);
        let expected_line = text.lines().position(|l| l.contains(marker)).unwrap() + 1;
        let err = Policy::parse(&text).unwrap_err();
        let PolicyError::Syntax {
            line,
            column: got_column,
            ref message,
        } = err
        else {
            panic!("{to:?}: expected a syntax error, got {err:?}");
        };
        assert_eq!(
            (line, got_column),
            (expected_line, column),
            "{to:?}: {message}"
        );
        assert!(
            message.contains(fragment),
            "{to:?}: {message:?} lacks {fragment:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("{expected_line}:{column}: ")),
            "{err}"
        );
    }
}

/// The bundled `[ladder.high]` table.
const RUNG_HIGH: &str = "[ladder.high]\nfactors = 2\nallowed = [\"webauthn\", \"totp\", \"sms\"]\n\
                         require_one_of = [\"webauthn\", \"totp\"]\n";

#[test]
fn semantic_errors_name_the_key_and_the_problem() {
    let cases: Vec<(String, &str)> = vec![
        (
            edited("version = \"2026-11-27.3\"", "version = \" \""),
            "version: must not be empty",
        ),
        (
            edited("medium = 30", "medium = 0"),
            "levels.medium: must be greater than 0",
        ),
        (
            edited("high = 60", "high = 30"),
            "levels.high: must be greater than levels.medium (30), is 30",
        ),
        (
            edited("deny = 90", "deny = 55"),
            "levels.deny: must be greater than levels.high (60), is 55",
        ),
        (
            edited("deny = 90", "deny = 101"),
            "levels.deny: must be at most 100, is 101",
        ),
        (
            edited(RUNG_HIGH, ""),
            "ladder.high: missing; the ladder needs low, medium and high",
        ),
        (
            edited("factors = 2", "factors = 0"),
            "ladder.high.factors: must be at least 1, is 0",
        ),
        (
            edited("factors = 2", "factors = 4"),
            "ladder.high.factors: asks for 4 distinct factors, but ladder.high.allowed names only 3",
        ),
        (
            edited("factors = 2", "factors = 300"),
            "ladder.high.factors: asks for 300 distinct factors, but ladder.high.allowed names only 3",
        ),
        (
            edited(RUNG_HIGH, "[ladder.high]\nfactors = 1\nallowed = []\n"),
            "ladder.high.allowed: must name at least one factor",
        ),
        (
            edited(
                RUNG_HIGH,
                "[ladder.high]\nfactors = 2\nallowed = [\"sms\", \"totp\", \"sms\"]\n",
            ),
            "ladder.high.allowed: names sms more than once",
        ),
        (
            edited(
                "signal = \"account_attempts_24h\"",
                "signal = \"account_attempts_2h\"",
            ),
            "rules[1].signal: unknown signal \"account_attempts_2h\" (known: account_attempts_1h, \
             account_attempts_24h, address_attempts_1h, account_failures_1h, address_failures_1h, \
             subnet_attempts_1h, asn_attempts_1h, address_accounts_1h, asn_accounts_1h)",
        ),
        (
            edited(
                "signal = \"account_attempts_24h\"",
                "signal = \"account_attempts_1h\"",
            ),
            "rules[1].signal: rules[0] already scores account_attempts_1h; \
             one rule per signal (use per_extra and max for steps)",
        ),
        (
            edited(
                "weight = 15\nper_extra = 10\nmax = 45",
                "weight = 101\nper_extra = 10\nmax = 45",
            ),
            "rules[0].weight: must be at most 100, is 101 (rule for account_attempts_1h)",
        ),
        (
            edited(
                ADDRESS_FAILURES_MAX,
                &ADDRESS_FAILURES_MAX.replace("max = 40", "max = 400"),
            ),
            "rules[4].max: must be at most 100, is 400 (rule for address_failures_1h)",
        ),
        (
            edited(
                ADDRESS_FAILURES_MAX,
                &ADDRESS_FAILURES_MAX.replace("max = 40", "max = 5"),
            ),
            "rules[4].max: must be at least weight (10), is 5 (rule for address_failures_1h)",
        ),
        (
            edited("address_attempts_1h = 60", "address_attempt_1h = 60"),
            "hard_limits.address_attempt_1h: unknown signal \"address_attempt_1h\" (known: \
             account_attempts_1h, account_attempts_24h, address_attempts_1h, account_failures_1h, \
             address_failures_1h, subnet_attempts_1h, asn_attempts_1h, address_accounts_1h, \
             asn_accounts_1h)",
        ),
    ];
    for (text, expected) in cases {
        let err = Policy::parse(&text).unwrap_err();
        assert!(matches!(err, PolicyError::Invalid { .. }), "{err:?}");
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn boundary_values_are_accepted() {
    let policy = Policy::parse(&edited("deny = 90", "deny = 100")).unwrap();
    assert_eq!(policy.thresholds().deny.get(), 100);
    let text = edited("medium = 30\nhigh = 60", "medium = 1\nhigh = 2");
    assert_eq!(Policy::parse(&text).unwrap().thresholds().medium.get(), 1);
    // factors == allowed.len(), weight == max == 100, per_extra left out.
    let text = edited("factors = 2", "factors = 3");
    assert_eq!(Policy::parse(&text).unwrap().ladder().high.factors, 3);
    let text = edited(
        "weight = 15\nper_extra = 10\nmax = 45",
        "weight = 100\nmax = 100",
    );
    let rule = Policy::parse(&text).unwrap().rules()[0];
    assert_eq!((rule.weight, rule.per_extra, rule.max), (100, 0, 100));
}

#[test]
fn rules_and_hard_limits_may_be_left_out() {
    let text = "version = \"minimal\"\n[levels]\nmedium = 1\nhigh = 2\ndeny = 3\n\
                [ladder.low]\nfactors = 1\nallowed = [\"email\"]\n\
                [ladder.medium]\nfactors = 1\nallowed = [\"totp\"]\n\
                [ladder.high]\nfactors = 1\nallowed = [\"webauthn\"]\n";
    let policy = Policy::parse(text).unwrap();
    assert!(policy.rules().is_empty() && policy.hard_limits().is_empty());
}

#[test]
fn a_missing_key_is_reported_where_its_table_is() {
    // A missing top-level table: TOML points at the whole document.
    let text = edited("[levels]\nmedium = 30\nhigh = 60\ndeny = 90\n", "");
    let err = Policy::parse(&text).unwrap_err();
    assert_eq!(err.to_string(), "1:1: missing field `levels`");
    // A missing key inside a table: TOML points at the table.
    let text = edited("deny = 90\n", "");
    let err = Policy::parse(&text).unwrap_err();
    let expected = format!("{}:1: missing field `deny`", line_of("[levels]"));
    assert_eq!(err.to_string(), expected);
}

#[test]
fn semantic_errors_are_located_at_their_key() {
    let cases = [
        (edited("high = 60", "high = 30"), "high = 30"),
        (
            edited(
                "signal = \"account_attempts_24h\"",
                "signal = \"account_attempts_2h\"",
            ),
            "signal = \"account_attempts_2h\"",
        ),
        (
            edited("address_attempts_1h = 60", "address_attempt_1h = 60"),
            "address_attempt_1h = 60",
        ),
    ];
    for (text, needle) in cases {
        let err = Policy::parse(&text).unwrap_err();
        let expected = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let (line, column) = err.location(&text).expect("located");
        assert_eq!(line, expected, "{err}");
        assert!(column > 1, "at the value, not the line's start: {err}");
    }
    // A syntax error keeps the parser's place.
    let broken = edited("medium = 30", "medium = ");
    let err = Policy::parse(&broken).unwrap_err();
    assert_eq!(
        err.location(&broken).map(|(l, _)| l),
        Some(line_of("medium = 30"))
    );
}
