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
//!        usable = allowed ∩ enrolled (policy order)
//!        usable has >= `factors` entries, and (if the rung has `require_one_of`)
//!        at least one of them is in `require_one_of`?
//!                  yes -> Requirement { count: factors, allowed: usable,
//!                                       require_one_of: require_one_of ∩ usable }
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
//!
//! `require_one_of` (a subset of `allowed`, only on rungs asking for two factors
//! or more) says that at least one of the factors passed must be one of these:
//! e.g. at `high`, two factors of which one is WebAuthn or TOTP, so that two
//! phishable codes (SMS, e-mail) never suffice (NIST SP 800-63B classes SMS to
//! a phone number as a *restricted* authenticator). `risk` checks that the account *can* meet
//! it; the gateway's flow enforces that the person *does*.

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

    /// How strong the factor is, for ordering and display: webauthn 4 (phishing
    /// resistant), totp 3, sms 2, email 1.
    pub fn strength(self) -> u8 {
        match self {
            Self::Webauthn => 4,
            Self::Totp => 3,
            Self::Sms => 2,
            Self::Email => 1,
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

/// What the person must pass: `count` distinct factors out of `allowed`, at
/// least one of them out of `require_one_of` when that is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// How many distinct factors; 0 when the attempt is refused.
    pub count: u8,
    /// The level's allowed factors that the account has enrolled, in policy order;
    /// empty when the attempt is refused.
    pub allowed: Vec<Factor>,
    /// The rung's `require_one_of` factors that the account has enrolled, in
    /// `allowed` order: at least one factor passed must be one of these. Empty =
    /// no such condition (and left out of the serialised form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_one_of: Vec<Factor>,
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

/// One level's step-up: `factors` distinct factors out of `allowed`, at least
/// one of them out of `require_one_of` when that is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    /// How many distinct factors; at least 1 and at most `allowed.len()`.
    pub factors: u8,
    /// Acceptable factors in order of preference, without duplicates.
    pub allowed: Vec<Factor>,
    /// A subset of `allowed` without duplicates, only when `factors >= 2`; empty = none.
    pub require_one_of: Vec<Factor>,
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
        let strong: Vec<Factor> = usable
            .iter()
            .copied()
            .filter(|factor| self.require_one_of.contains(factor))
            .collect();
        let strong_met = self.require_one_of.is_empty() || !strong.is_empty();
        if usable.len() >= usize::from(self.factors) && strong_met {
            Ok(Requirement {
                count: self.factors,
                allowed: usable,
                require_one_of: strong,
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
mod tests;
