//! The resetgate decision core: signals in, assessment out.
//!
//! [`evaluate`] is a pure function of a validated [`Policy`], the [`Signals`] the
//! gateway gathered for one reset attempt, and the time. It does no I/O, reads no
//! clock and draws no random numbers: the crate's `clippy.toml` disallows
//! `SystemTime::now`, `Instant::now` and thread RNGs, and this file denies their use.
//!
//! # Layout
//!
//! - [`signals`]: the [`Signals`] value and the names of its [`Velocity`] counters.
//! - [`policy`]: [`Policy`] — parse the TOML policy file, validate it, its version.
//! - [`rules`]: scored rules (points per counter) and hard limits (refuse outright).
//! - [`ladder`]: [`Level`] from score, [`Requirement`] from level and enrolled [`Factor`]s.
//! - [`reason`]: [`Reason`] — code, weight and a detail sentence for each contribution.
//! - this file: [`evaluate`], its [`Assessment`] and the bounded [`RiskScore`].
//! - `tests.rs` (tests of [`evaluate`] as a whole) and `policy/tests.rs` (policy
//!   files accepted and refused); the other modules keep their tests inline.
//!
//! # The decision
//!
//! 1. Score: every scored rule that fires adds its points; the sum saturates at 100.
//! 2. Level: the score's level by the policy thresholds; `Deny` if any hard limit is
//!    exceeded, whatever the score.
//! 3. Requirement: `Deny` asks for nothing (count 0, allowed empty). Any other level
//!    asks for its rung's `factors` out of its `allowed` ∩ enrolled, in policy order;
//!    when the account has too few of them the level becomes `Deny` with reason
//!    `insufficient_factors`.
//! 4. Reasons: one per contribution, by weight descending, then by code.
#![deny(clippy::disallowed_methods)]

pub mod ladder;
pub mod policy;
pub mod reason;
pub mod rules;
pub mod signals;

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use ladder::{Factor, Level, Requirement};
pub use policy::{Policy, PolicyError, UnknownName};
pub use reason::Reason;
pub use signals::{Signals, Velocity, VelocitySignal};

/// The decision: a pure function of `(policy, signals, now)`.
///
/// `now` is not read yet; the time-dependent signals (impossible travel, factor
/// cool-off, account history) that will need it arrive in later work. It is part of
/// the signature now so that callers already pass the attempt's time.
pub fn evaluate(policy: &Policy, signals: &Signals, _now: SystemTime) -> Assessment {
    let (points, mut reasons) = rules::score(policy.rules(), &signals.velocity);
    let score = RiskScore::new(points);
    let breaches = rules::breaches(policy.hard_limits(), &signals.velocity);
    let mut level = if breaches.is_empty() {
        policy.thresholds().level(score)
    } else {
        Level::Deny
    };
    reasons.extend(breaches);

    let required = match policy.ladder().rung(level) {
        None => Requirement::refused(),
        Some(rung) => match rung.requirement(&signals.enrolled) {
            Ok(required) => required,
            Err(shortfall) => {
                reasons.push(Reason::insufficient_factors(
                    level,
                    rung,
                    &shortfall.usable,
                    &signals.enrolled,
                ));
                level = Level::Deny;
                Requirement::refused()
            }
        },
    };
    reason::sort(&mut reasons);

    Assessment {
        score,
        level,
        required,
        reasons,
        policy_version: policy.version().to_owned(),
    }
}

/// The outcome of [`evaluate`]; it carries its own explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The sum of the scored rules' points, at most 100.
    pub score: RiskScore,
    /// `low`, `medium`, `high` or `deny`.
    pub level: Level,
    /// What must be passed; count 0 and allowed empty when `level` is `Deny`.
    pub required: Requirement,
    /// Every contribution, with its weight, highest first, then by code.
    pub reasons: Vec<Reason>,
    /// The version of the policy that decided.
    pub policy_version: String,
}

/// A risk score, `0..=100`. Serialised as a bare number; deserialising a number
/// over 100 is an error rather than a score outside its range.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(into = "u8", try_from = "u8")]
pub struct RiskScore(u8);

impl RiskScore {
    /// The highest score.
    pub const MAX: RiskScore = RiskScore(100);

    /// A score from a sum of points, saturating at 100.
    pub fn new(points: u32) -> Self {
        // min(points, 100) always fits a u8.
        Self(u8::try_from(points.min(100)).unwrap_or(100))
    }

    /// The score as a number, `0..=100`.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl From<RiskScore> for u8 {
    fn from(score: RiskScore) -> u8 {
        score.0
    }
}

impl TryFrom<u8> for RiskScore {
    type Error = String;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        if value <= 100 {
            Ok(Self(value))
        } else {
            Err(format!("a risk score is at most 100, got {value}"))
        }
    }
}

impl fmt::Display for RiskScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests;
