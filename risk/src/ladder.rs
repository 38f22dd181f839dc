//! The step-up ladder: score -> [`Level`] -> [`Requirement`].
//!
//! ```text
//!   score:  0 ......... medium ......... high ......... deny ....... 100
//!   level:  Low         Medium           High           Deny
//!              |           |                |              |
//!              v           v                v              v
//!           rung.low    rung.medium      rung.high      refuse: count 0, allowed []
//!              \___________|________________/
//!                          |
//!        allowed ∩ enrolled (policy order) has >= `factors` entries?
//!                  yes -> Requirement { count: factors, allowed }
//!                  no  -> Deny, reason `insufficient_factors`
//! ```
//!
//! A level only ever moves up the ladder (a hard limit or a missing factor turns it
//! into `Deny`); nothing in the decision lowers it. Asking for more distinct
//! factors as the risk rises follows the authenticator assurance levels of NIST
//! SP 800-63B (AAL2 asks for two distinct factors) and the OWASP Forgot Password
//! Cheat Sheet. When the account cannot meet its rung the attempt is refused rather
//! than offered a weaker factor: a risky attempt never gets an easier challenge
//! than the policy asked for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{RiskScore, UnknownName};

/// A factor a person can pass to authorise a reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Factor {
    /// A WebAuthn credential (passkey or security key).
    Webauthn,
    /// A TOTP authenticator app.
    Totp,
    /// A one-time code by SMS.
    Sms,
    /// A one-time code by e-mail.
    Email,
}

impl Factor {
    /// Every factor.
    pub const ALL: [Self; 4] = [Self::Webauthn, Self::Totp, Self::Sms, Self::Email];

    /// The lowercase name used in policies and in the HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webauthn => "webauthn",
            Self::Totp => "totp",
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// How risky an attempt is, in ascending order; `Deny` is a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Below `levels.medium`.
    Low,
    /// At or above `levels.medium`.
    Medium,
    /// At or above `levels.high`.
    High,
    /// At or above `levels.deny`, over a hard limit, or a step-up the account cannot meet.
    Deny,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Self; 4] = [Self::Low, Self::Medium, Self::High, Self::Deny];

    /// The lowercase name used in policies, decisions and webhooks.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Deny => "deny",
        }
    }
}

macro_rules! display_and_from_str {
    ($type:ty, $kind:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                <$type>::ALL
                    .into_iter()
                    .find(|known| known.as_str() == name)
                    .ok_or_else(|| UnknownName::new($kind, name, <$type>::ALL.map(<$type>::as_str)))
            }
        }
    };
}

display_and_from_str!(Factor, "factor");
display_and_from_str!(Level, "level");

/// What the person must pass: `count` distinct factors out of `allowed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// How many distinct factors; 0 when the attempt is refused.
    pub count: u8,
    /// The level's allowed factors that the account has enrolled, in policy order;
    /// empty when the attempt is refused.
    pub allowed: Vec<Factor>,
}

impl Requirement {
    /// The requirement of a refusal: nothing can be passed.
    pub fn refused() -> Self {
        Self::default()
    }
}

/// Score thresholds: a score at or above a threshold reaches that level.
/// Valid thresholds satisfy `0 < medium < high < deny <= 100`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Lowest score of `medium`.
    pub medium: RiskScore,
    /// Lowest score of `high`.
    pub high: RiskScore,
    /// Lowest score of `deny`.
    pub deny: RiskScore,
}

impl Thresholds {
    /// The level a score reaches.
    pub fn level(&self, score: RiskScore) -> Level {
        if score >= self.deny {
            Level::Deny
        } else if score >= self.high {
            Level::High
        } else if score >= self.medium {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// One level's step-up: `factors` distinct factors out of `allowed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    /// How many distinct factors; at least 1 and at most `allowed.len()`.
    pub factors: u8,
    /// Acceptable factors in order of preference, without duplicates.
    pub allowed: Vec<Factor>,
}

/// Why an account cannot meet a rung: what it would need and what it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The rung's factor count.
    pub needed: u8,
    /// The rung's allowed factors that the account has, in policy order.
    pub usable: Vec<Factor>,
}

impl Rung {
    /// The requirement for an account with `enrolled` factors, or what is missing.
    pub fn requirement(&self, enrolled: &[Factor]) -> Result<Requirement, Shortfall> {
        // `allowed` has no duplicates, so the filtered list is distinct however
        // often a factor appears in `enrolled` (two TOTP apps are still one factor).
        let usable: Vec<Factor> = self
            .allowed
            .iter()
            .copied()
            .filter(|factor| enrolled.contains(factor))
            .collect();
        if usable.len() >= usize::from(self.factors) {
            Ok(Requirement {
                count: self.factors,
                allowed: usable,
            })
        } else {
            Err(Shortfall {
                needed: self.factors,
                usable,
            })
        }
    }
}

/// The rungs of the levels that can be passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// The step-up for `low`.
    pub low: Rung,
    /// The step-up for `medium`.
    pub medium: Rung,
    /// The step-up for `high`.
    pub high: Rung,
}

impl Ladder {
    /// The rung of `level`; `None` for `Deny`, which cannot be passed.
    pub fn rung(&self, level: Level) -> Option<&Rung> {
        match level {
            Level::Low => Some(&self.low),
            Level::Medium => Some(&self.medium),
            Level::High => Some(&self.high),
            Level::Deny => None,
        }
    }
}

#[cfg(test)]
mod tests {
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
        };
        let cases: [(&[Factor], Result<Requirement, Shortfall>); 5] = [
            (
                &[Sms, Email, Totp],
                Ok(Requirement {
                    count: 2,
                    allowed: vec![Totp, Sms],
                }),
            ),
            (
                &[Sms, Webauthn, Totp],
                Ok(Requirement {
                    count: 2,
                    allowed: vec![Webauthn, Totp, Sms],
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
    fn deny_has_no_rung() {
        let rung = |factor| Rung {
            factors: 1,
            allowed: vec![factor],
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
                allowed: vec![]
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
        assert!(
            Level::Low < Level::Medium && Level::Medium < Level::High && Level::High < Level::Deny
        );
        assert_eq!(
            "Totp".parse::<Factor>().unwrap_err().to_string(),
            "unknown factor \"Totp\" (known: webauthn, totp, sms, email)"
        );
        assert_eq!(
            "critical".parse::<Level>().unwrap_err().to_string(),
            "unknown level \"critical\" (known: low, medium, high, deny)"
        );
    }
}
