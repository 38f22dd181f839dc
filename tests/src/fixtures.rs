//! Test data: users, passwords, the breached-password list and policies.
//!
//! Every password meant to be accepted is at least 15 code points long, does not
//! contain a user name, is not in the breached list written here and is not a
//! common password, so a rejection always has the one reason a test expects.

use std::fmt::Write as _;

use sha1::{Digest, Sha1};

use crate::binary::workspace_root;

/// A user for `resetgate users import`.
#[derive(Clone, Copy, Debug)]
pub struct User {
    pub name: &'static str,
    pub password: &'static str,
    pub email: &'static str,
    /// An admin-provisioned SMS factor (no cool-off) when present.
    pub phone: Option<&'static str>,
}

pub const ALICE: User = User {
    name: "alice",
    password: "Orchard-Lantern-Velvet-42",
    email: "alice@example.test",
    phone: Some("+15550100001"),
};

pub const BOB: User = User {
    name: "bob",
    password: "Granite-Meadow-Falcon-58",
    email: "bob@example.test",
    phone: None,
};

pub const CAROL: User = User {
    name: "carol",
    password: "Saffron-Glacier-Tunnel-73",
    email: "carol@example.test",
    phone: Some("+15550100003"),
};

/// A name no user has.
pub const UNKNOWN_NAME: &str = "mallory";

/// A good new password.
pub const NEW_PASSWORD: &str = "Quiet-Harbor-Maple-Sunrise-93";

/// Another good new password (for the loser of a race, or a second reset).
pub const OTHER_NEW_PASSWORD: &str = "Velvet-Canyon-Pepper-Lagoon-27";

/// Long and otherwise fine, but listed in the breached file the fixture writes.
pub const BREACHED_PASSWORD: &str = "Tangerine-Submarine-Oboe-1987";

/// Ten code points: below the 15 minimum.
pub const SHORT_PASSWORD: &str = "Short-pw-1";

/// A desktop browser's user agent (Chrome on Windows): a browser, no automation markers.
pub const CHROME_WINDOWS_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) \
    AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// Another desktop browser's user agent (Firefox on Linux).
pub const FIREFOX_LINUX_UA: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// Fallback long common password: a keyboard walk in the zxcvbn, `SecLists` and HIBP
/// top lists; used when `data/common-passwords.txt` does not exist.
const LONG_COMMON_FALLBACK: &str = "1qaz2wsx3edc4rfv";

/// A long, otherwise fine password that contains `name`.
pub fn password_with_username(name: &str) -> String {
    format!("Copper-{name}-Kettle-Meadow-71")
}

/// A common password of at least 15 code points: the first one found in
/// `data/common-passwords.txt` (the gateway's bundled list) that contains no test
/// user's name, else a well-known keyboard walk.
pub fn long_common_password() -> String {
    let path = workspace_root().join("data/common-passwords.txt");
    let Ok(list) = std::fs::read_to_string(&path) else {
        return LONG_COMMON_FALLBACK.to_owned();
    };
    let mut entries = list
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    if entries.clone().any(|entry| entry == LONG_COMMON_FALLBACK) {
        return LONG_COMMON_FALLBACK.to_owned();
    }
    entries
        .find(|entry| {
            entry.chars().count() >= 15
                && [ALICE, BOB, CAROL]
                    .iter()
                    .all(|user| !entry.to_lowercase().contains(user.name))
        })
        .unwrap_or(LONG_COMMON_FALLBACK)
        .to_owned()
}

/// The CSV `resetgate users import` reads.
pub fn users_csv(users: &[User]) -> String {
    let mut csv = String::from("username,password,email,phone\n");
    for user in users {
        let phone = user.phone.unwrap_or_default();
        writeln!(
            csv,
            "{},{},{},{phone}",
            user.name, user.password, user.email
        )
        .expect("writing to a String cannot fail");
    }
    csv
}

/// `SHA1HEX:COUNT` (uppercase, as Have I Been Pwned publishes it).
pub fn hibp_line(password: &str, count: u32) -> String {
    let digest = Sha1::digest(password.as_bytes());
    format!("{}:{count}", hex::encode_upper(digest))
}

/// The breached-password file: [`BREACHED_PASSWORD`] among a few well-known
/// breached passwords, sorted by hash like the HIBP downloads.
pub fn pwned_txt() -> String {
    let mut lines: Vec<String> = [
        ("123456", 37_359_195),
        ("password", 9_545_824),
        ("qwerty", 3_912_816),
        ("iloveyou", 1_645_337),
        (BREACHED_PASSWORD, 42),
    ]
    .iter()
    .map(|(password, count)| hibp_line(password, *count))
    .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

/// The bundled default policy, `data/policy.toml`.
pub fn bundled_policy() -> String {
    let path = workspace_root().join("data/policy.toml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The bundled policy with the anomaly model's points off (`anomaly = 0`):
/// the model is still served and explained with 0 points, but tests that
/// predict exact scores from rules and geo do not depend on how unusual a
/// made-up network looks to it.
pub fn quiet_policy() -> String {
    resetgate_services::policy::without_anomaly_points(&bundled_policy())
}

/// The quiet policy ([`quiet_policy`]) with `[ladder.low]` asking for two factors
/// out of TOTP and SMS.
pub fn two_factor_policy() -> String {
    let mut policy: toml::Table = quiet_policy()
        .parse()
        .expect("data/policy.toml is valid TOML");
    let low = policy
        .get_mut("ladder")
        .and_then(|ladder| ladder.get_mut("low"))
        .and_then(toml::Value::as_table_mut)
        .expect("data/policy.toml has a [ladder.low] table");
    low.insert("factors".into(), toml::Value::Integer(2));
    low.insert(
        "allowed".into(),
        toml::Value::Array(vec!["totp".into(), "sms".into()]),
    );
    toml::to_string(&policy).expect("a TOML table serialises")
}

/// The quiet policy ([`quiet_policy`]) where every passable level asks for exactly one factor out of
/// passkeys (`webauthn`), TOTP and SMS, and only a score of 100 is refused: a reset's factor
/// count does not depend on how risky the test's client looks (a headless browser
/// counts as automation). For the browser tests, which enrol one factor.
pub fn one_factor_policy() -> String {
    let mut policy: toml::Table = quiet_policy()
        .parse()
        .expect("data/policy.toml is valid TOML");
    let ladder = policy
        .get_mut("ladder")
        .and_then(toml::Value::as_table_mut)
        .expect("data/policy.toml has a [ladder] table");
    for level in ["low", "medium", "high"] {
        let mut rung = toml::Table::new();
        rung.insert("factors".into(), toml::Value::Integer(1));
        rung.insert(
            "allowed".into(),
            toml::Value::Array(vec!["webauthn".into(), "totp".into(), "sms".into()]),
        );
        ladder.insert(level.into(), toml::Value::Table(rung));
    }
    let levels = policy
        .get_mut("levels")
        .and_then(toml::Value::as_table_mut)
        .expect("data/policy.toml has a [levels] table");
    levels.insert("deny".into(), toml::Value::Integer(100));
    policy.insert(
        "version".into(),
        toml::Value::String("tests-one-factor".into()),
    );
    toml::to_string(&policy).expect("a TOML table serialises")
}

/// The quiet policy ([`quiet_policy`]) made to refuse every reset: `[levels]` medium 1, high 2 and
/// deny 3, and the `account_attempts_1h` rule firing from the first attempt
/// (`above = 0`), so any start scores at least its weight and is denied.
pub fn deny_all_policy() -> String {
    let mut policy: toml::Table = quiet_policy()
        .parse()
        .expect("data/policy.toml is valid TOML");
    set_levels(&mut policy, &[("medium", 1), ("high", 2), ("deny", 3)]);
    first_attempt_counts(&mut policy);
    policy.insert(
        "version".into(),
        toml::Value::String("tests-deny-all".into()),
    );
    toml::to_string(&policy).expect("a TOML table serialises")
}

/// The quiet policy ([`quiet_policy`]) made to step every reset up to `high`:
/// `[levels]` medium 1, high 2 (deny stays), and the `account_attempts_1h`
/// rule firing from the first attempt, so any start scores at least its
/// weight. High asks for two factors, one of them an app or a passkey.
pub fn high_all_policy() -> String {
    let mut policy: toml::Table = quiet_policy()
        .parse()
        .expect("data/policy.toml is valid TOML");
    set_levels(&mut policy, &[("medium", 1), ("high", 2)]);
    first_attempt_counts(&mut policy);
    policy.insert(
        "version".into(),
        toml::Value::String("tests-high-all".into()),
    );
    toml::to_string(&policy).expect("a TOML table serialises")
}

/// The quiet policy ([`quiet_policy`]) with `[levels]` thresholds set and
/// `version` declared: a candidate that decides otherwise than the default.
pub fn policy_with_levels(thresholds: &[(&str, i64)], version: &str) -> String {
    let mut policy: toml::Table = quiet_policy()
        .parse()
        .expect("data/policy.toml is valid TOML");
    set_levels(&mut policy, thresholds);
    policy.insert("version".into(), toml::Value::String(version.into()));
    toml::to_string(&policy).expect("a TOML table serialises")
}

/// Set `[levels]` thresholds.
fn set_levels(policy: &mut toml::Table, thresholds: &[(&str, i64)]) {
    let levels = policy
        .get_mut("levels")
        .and_then(toml::Value::as_table_mut)
        .expect("data/policy.toml has a [levels] table");
    for (level, threshold) in thresholds {
        levels.insert((*level).into(), toml::Value::Integer(*threshold));
    }
}

/// `account_attempts_1h` fires from the first attempt (`above = 0`).
fn first_attempt_counts(policy: &mut toml::Table) {
    let rule = policy
        .get_mut("rules")
        .and_then(toml::Value::as_array_mut)
        .and_then(|rules| {
            rules
                .iter_mut()
                .filter_map(toml::Value::as_table_mut)
                .find(|rule| {
                    rule.get("signal").and_then(toml::Value::as_str) == Some("account_attempts_1h")
                })
        })
        .expect("data/policy.toml has an account_attempts_1h rule");
    rule.insert("above".into(), toml::Value::Integer(0));
}

/// The quiet policy ([`quiet_policy`]) with `[levels] medium` lowered (or raised) to `threshold`
/// and its `version` marked as a candidate.
pub fn policy_with_medium_threshold(threshold: i64) -> String {
    let mut policy: toml::Table = quiet_policy()
        .parse()
        .expect("data/policy.toml is valid TOML");
    let levels = policy
        .get_mut("levels")
        .and_then(toml::Value::as_table_mut)
        .expect("data/policy.toml has a [levels] table");
    levels.insert("medium".into(), toml::Value::Integer(threshold));
    let version = policy
        .get("version")
        .and_then(toml::Value::as_str)
        .unwrap_or("bundled")
        .to_owned();
    policy.insert(
        "version".into(),
        toml::Value::String(format!("{version}-medium-{threshold}")),
    );
    toml::to_string(&policy).expect("a TOML table serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hibp_line_is_uppercase_sha1() {
        assert_eq!(
            hibp_line("password", 1),
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1"
        );
    }

    #[test]
    fn accepted_passwords_meet_the_default_policy_shape() {
        for password in [NEW_PASSWORD, OTHER_NEW_PASSWORD, BREACHED_PASSWORD] {
            assert!(password.chars().count() >= 15, "{password}");
            for user in [ALICE, BOB, CAROL] {
                assert!(!password.to_lowercase().contains(user.name), "{password}");
            }
        }
        assert!(SHORT_PASSWORD.chars().count() < 15);
        assert!(password_with_username("alice").chars().count() >= 15);
    }

    #[test]
    fn medium_threshold_policy_changes_only_that_threshold() {
        let policy: toml::Table = policy_with_medium_threshold(10).parse().unwrap();
        let bundled: toml::Table = quiet_policy().parse().unwrap();
        assert_eq!(policy["levels"]["medium"].as_integer(), Some(10));
        assert_eq!(policy["levels"]["high"], bundled["levels"]["high"]);
        assert_eq!(policy["signals"], bundled["signals"]);
        assert_ne!(policy["version"], bundled["version"]);
    }

    #[test]
    fn one_factor_policy_asks_one_factor_at_every_level() {
        let policy: toml::Table = one_factor_policy().parse().unwrap();
        for level in ["low", "medium", "high"] {
            let rung = &policy["ladder"][level];
            assert_eq!(rung["factors"].as_integer(), Some(1), "{level}");
            assert!(rung.get("require_one_of").is_none(), "{level}");
        }
        assert_eq!(policy["levels"]["deny"].as_integer(), Some(100));
    }

    #[test]
    fn deny_all_policy_denies_from_the_first_attempt() {
        let policy: toml::Table = deny_all_policy().parse().unwrap();
        assert_eq!(policy["levels"]["deny"].as_integer(), Some(3));
        let rule = policy["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|rule| rule["signal"].as_str() == Some("account_attempts_1h"))
            .unwrap();
        assert_eq!(rule["above"].as_integer(), Some(0));
        assert!(rule["weight"].as_integer().unwrap() >= 3);
    }

    #[test]
    fn two_factor_policy_sets_the_low_ladder() {
        let policy: toml::Table = two_factor_policy().parse().unwrap();
        let low = &policy["ladder"]["low"];
        assert_eq!(low["factors"].as_integer(), Some(2));
        assert_eq!(low["allowed"].as_array().unwrap().len(), 2);
    }
}
