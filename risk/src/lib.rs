//! The resetgate decision core: signals in, assessment out.
//!
//! [`evaluate`] is a pure function of a validated [`Policy`], the [`Signals`] the
//! gateway gathered for one reset attempt, and the time. It does no I/O, reads no
//! clock and draws no random numbers: the crate's `clippy.toml` disallows
//! `SystemTime::now`, `Instant::now` and thread RNGs, and this file denies their use.
//!
//! # Layout
//!
//! - [`signals`]: the [`Signals`] value (geo, device, history, anomaly) and, in
//!   [`signals::velocity`], the [`Velocity`] counters and their names.
//! - [`policy`]: [`Policy`] — parse the TOML policy file, validate it, its version
//!   (`policy/validate.rs`: levels, ladder, rules).
//! - [`weights`]: the policy's `[signals]` weights and `[travel]` limits.
//! - [`rules`]: scored rules (points per counter) and hard limits (refuse outright).
//! - [`context`]: the `[signals]` weights applied to geo, device, history, anomaly.
//! - [`travel`]: haversine, effective distance with accuracy radii, impossible travel.
//! - [`history`]: the Freeman et al. (NDSS 2016) likelihood ratio.
//! - [`hard_rules`]: first-match deny/allow by country, ASN, CIDR, anonymiser.
//! - [`ladder`]: [`Level`] from score, [`Requirement`] from level and enrolled [`Factor`]s.
//! - [`reason`]: [`Reason`] — code, weight and a detail sentence for each contribution.
//! - this file: [`evaluate`], its [`Assessment`] and the bounded [`RiskScore`].
//! - Tests: `tests.rs` and `tests/` test [`evaluate`] as a whole (every signal,
//!   hard rules, `require_one_of`, monotonicity); `policy/tests*.rs` the policy
//!   files accepted and refused; `<module>/tests.rs` a module's own (`history`,
//!   `hard_rules`, `ladder`, `reason`); the other modules keep them inline.
//!
//! # The decision
//!
//! 1. Score: every scored rule ([`rules`]) and every context signal ([`context`])
//!    that fires adds its points; the sum saturates at 100.
//! 2. Level: the first matching hard rule decides first: `deny` gives `Deny`;
//!    otherwise any exceeded hard limit gives `Deny`; otherwise an `allow` hard
//!    rule gives `Low`; otherwise the score's level by the policy thresholds.
//! 3. Requirement: `Deny` asks for nothing (count 0, allowed empty). Any other level
//!    asks for its rung's `factors` out of its `allowed` ∩ enrolled, in policy order,
//!    at least one of them out of its `require_one_of` when it has one; when the
//!    account cannot meet that, the level becomes `Deny` with reason
//!    `insufficient_factors`.
//! 4. Reasons: one per contribution, by weight descending, then by code.
//!
//! Every signal only adds points and every step only raises the level, so a
//! riskier signal (a flag set, a counter raised, a higher anomaly score, a place
//! farther away) never lowers the score or the level; the property tests in
//! `tests/monotone.rs` check it.
#![deny(clippy::disallowed_methods)]

pub mod context;
pub mod hard_rules;
pub mod history;
pub mod ladder;
pub mod policy;
pub mod reason;
pub mod rules;
pub mod signals;
pub mod travel;
pub mod weights;

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use hard_rules::{Action, Cidr, HardRule};
pub use ladder::{Factor, Level, Requirement};
pub use policy::{Policy, PolicyError, UnknownName};
pub use reason::Reason;
pub use signals::{
    Anonymous, AnonymousKind, Device, FeatureCounts, Geo, History, LevelCounts, Location,
    PastEvent, Signals, Velocity, VelocitySignal,
};
pub use travel::TravelLimits;
pub use weights::SignalWeights;

/// The decision: a pure function of `(policy, signals, now)`. `now` is the
/// attempt's time, against which travel speed and the age of a contact change
/// are measured.
pub fn evaluate(policy: &Policy, signals: &Signals, now: SystemTime) -> Assessment {
    let (rule_points, mut reasons) = rules::score(policy.rules(), &signals.velocity);
    let context_points = context::score(
        policy.signals(),
        policy.travel(),
        signals,
        now,
        &mut reasons,
    );
    let score = RiskScore::new(rule_points.saturating_add(context_points));
    let breaches = rules::breaches(policy.hard_limits(), &signals.velocity);
    let hard_rule = hard_rules::first_match(policy.hard_rules(), &signals.geo);
    let mut level = match hard_rule.map(|found| found.rule.action) {
        Some(Action::Deny) => Level::Deny,
        _ if !breaches.is_empty() => Level::Deny,
        Some(Action::Allow) => Level::Low,
        None => policy.thresholds().level(score),
    };
    reasons.extend(breaches);
    reasons.extend(hard_rule.map(|found| found.reason()));

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
        model_version: signals
            .anomaly
            .is_some()
            .then(|| signals.anomaly_model.clone())
            .flatten(),
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
    /// The version of the policy that decided: `"<version>+<hash>"` ([`Policy::version`]).
    pub policy_version: String,
    /// The version of the anomaly model that scored the attempt, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
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
