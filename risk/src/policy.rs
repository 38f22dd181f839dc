//! [`Policy`]: the risk policy file — parse, validate, version.
//!
//! The format is the one of `data/policy.toml`, whose comments document it for
//! security teams: `version`, `[levels]` thresholds, `[ladder.low|medium|high]`
//! rungs, `[[rules]]` scored rules and `[hard_limits]`. Parsing is two steps:
//!
//! 1. serde + `toml` into the file's shape, with unknown keys refused. Syntax and
//!    type errors become [`PolicyError::Syntax`], located by line and column.
//! 2. `RawPolicy::validate` checks what types cannot express and builds the
//!    validated [`Policy`]; its errors ([`PolicyError::Invalid`]) name the key.
//!
//! The checks of step 2, each reported against its key:
//!
//! - `version` is not blank;
//! - `levels`: `0 < medium < high < deny <= 100`;
//! - `ladder.low`, `ladder.medium` and `ladder.high` all exist, each with
//!   `1 <= factors <= allowed.len()` and a non-empty `allowed` without duplicates
//!   (`ladder.deny` is refused as an unknown key: `deny` cannot be passed);
//! - each rule names a [`Velocity`](crate::Velocity) counter, `weight <= max <= 100`
//!   (a `max` below `weight` would silently lower the weight), and no two rules
//!   score the same counter (a reason's code is its counter's name, so it must say
//!   which rule fired; `per_extra` and `max` express steps);
//! - each `hard_limits` key names a [`Velocity`](crate::Velocity) counter.
//!
//! A [`Policy`] only exists validated, so [`crate::evaluate`] never re-checks it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::RiskScore;
use crate::ladder::{Factor, Ladder, Rung, Thresholds};
use crate::rules::{HardLimit, Rule};
use crate::signals::VelocitySignal;

/// A validated risk policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    version: String,
    thresholds: Thresholds,
    ladder: Ladder,
    rules: Vec<Rule>,
    hard_limits: Vec<HardLimit>,
}

impl Policy {
    /// The text of the bundled default policy, `data/policy.toml`.
    pub const BUNDLED_TOML: &'static str = include_str!("../../data/policy.toml");

    /// Parses and validates a policy file's text.
    pub fn parse(toml_text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy =
            toml::from_str(toml_text).map_err(|err| PolicyError::from_toml(toml_text, &err))?;
        raw.validate()
    }

    /// The bundled default policy, [`Policy::BUNDLED_TOML`].
    pub fn bundled() -> Policy {
        Policy::parse(Self::BUNDLED_TOML)
            .expect("data/policy.toml is valid (a unit test guards it)")
    }

    /// The policy's `version`, shown in every decision, audit record and webhook.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `[levels]` score thresholds.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The `[ladder]`: what each passable level asks for.
    pub fn ladder(&self) -> &Ladder {
        &self.ladder
    }

    /// The `[[rules]]`, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The `[hard_limits]`, ordered by signal name.
    pub fn hard_limits(&self) -> &[HardLimit] {
        &self.hard_limits
    }
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML, a value of the wrong type, or an unknown or missing key. Shown as
    /// `LINE:COLUMN: message` (1-based), so a caller can prefix the file name.
    #[error("{line}:{column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// As `Syntax`, where the TOML parser could not point at a place.
    #[error("{message}")]
    Unlocated {
        /// The TOML parser's message.
        message: String,
    },
    /// Well-formed, but a value breaks a rule of the policy. Shown as `key: problem`.
    #[error("{key}: {problem}")]
    Invalid {
        /// The offending key, e.g. `levels.high` or `rules[1].signal`.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl PolicyError {
    fn from_toml(text: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim_end().to_owned();
        match err.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                Self::Syntax {
                    line,
                    column,
                    message,
                }
            }
            None => Self::Unlocated { message },
        }
    }

    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// A name that is not one of the known ones (a factor, level or signal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} \"{name}\" (known: {})", known.join(", "))]
pub struct UnknownName {
    kind: &'static str,
    name: String,
    known: Vec<&'static str>,
}

impl UnknownName {
    pub(crate) fn new<const N: usize>(
        kind: &'static str,
        name: &str,
        known: [&'static str; N],
    ) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            known: known.to_vec(),
        }
    }

    /// The name that was not recognised.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// 1-based line and character column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The file's shape, before validation. Numbers are read wide (`u32`) so that an
/// out-of-range value is reported against its key rather than as a type error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: String,
    levels: RawLevels,
    #[serde(default)]
    ladder: RawLadder,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    hard_limits: BTreeMap<String, u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    medium: u32,
    high: u32,
    deny: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLadder {
    low: Option<RawRung>,
    medium: Option<RawRung>,
    high: Option<RawRung>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRung {
    factors: u32,
    allowed: Vec<Factor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    signal: String,
    above: u32,
    weight: u32,
    #[serde(default)]
    per_extra: u32,
    max: u32,
}

impl RawPolicy {
    fn validate(self) -> Result<Policy, PolicyError> {
        if self.version.trim().is_empty() {
            return Err(PolicyError::invalid("version", "must not be empty"));
        }
        let thresholds = self.levels.validate()?;
        let ladder = Ladder {
            low: validate_rung("low", self.ladder.low)?,
            medium: validate_rung("medium", self.ladder.medium)?,
            high: validate_rung("high", self.ladder.high)?,
        };
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for (index, raw) in self.rules.into_iter().enumerate() {
            let rule = raw.validate(index)?;
            if let Some(first) = rules.iter().position(|r| r.signal == rule.signal) {
                return Err(PolicyError::invalid(
                    format!("rules[{index}].signal"),
                    format!(
                        "rules[{first}] already scores {}; one rule per signal (use per_extra and max for steps)",
                        rule.signal
                    ),
                ));
            }
            rules.push(rule);
        }
        let hard_limits = self
            .hard_limits
            .into_iter()
            .map(|(name, limit)| {
                let signal = parse_signal(&format!("hard_limits.{name}"), &name)?;
                Ok(HardLimit { signal, limit })
            })
            .collect::<Result<_, PolicyError>>()?;
        Ok(Policy {
            version: self.version,
            thresholds,
            ladder,
            rules,
            hard_limits,
        })
    }
}

impl RawLevels {
    fn validate(&self) -> Result<Thresholds, PolicyError> {
        let Self { medium, high, deny } = *self;
        if medium == 0 {
            return Err(PolicyError::invalid(
                "levels.medium",
                "must be greater than 0",
            ));
        }
        if high <= medium {
            return Err(PolicyError::invalid(
                "levels.high",
                format!("must be greater than levels.medium ({medium}), is {high}"),
            ));
        }
        if deny <= high {
            return Err(PolicyError::invalid(
                "levels.deny",
                format!("must be greater than levels.high ({high}), is {deny}"),
            ));
        }
        if deny > 100 {
            return Err(PolicyError::invalid(
                "levels.deny",
                format!("must be at most 100, is {deny}"),
            ));
        }
        // 0 < medium < high < deny <= 100: every threshold is a score as it is.
        Ok(Thresholds {
            medium: RiskScore::new(medium),
            high: RiskScore::new(high),
            deny: RiskScore::new(deny),
        })
    }
}

fn validate_rung(level: &str, raw: Option<RawRung>) -> Result<Rung, PolicyError> {
    let Some(RawRung { factors, allowed }) = raw else {
        return Err(PolicyError::invalid(
            format!("ladder.{level}"),
            "missing; the ladder needs low, medium and high",
        ));
    };
    if factors == 0 {
        return Err(PolicyError::invalid(
            format!("ladder.{level}.factors"),
            "must be at least 1, is 0",
        ));
    }
    if allowed.is_empty() {
        return Err(PolicyError::invalid(
            format!("ladder.{level}.allowed"),
            "must name at least one factor",
        ));
    }
    for (index, factor) in allowed.iter().enumerate() {
        if allowed[..index].contains(factor) {
            return Err(PolicyError::invalid(
                format!("ladder.{level}.allowed"),
                format!("names {factor} more than once"),
            ));
        }
    }
    // Without duplicates `allowed` has at most `Factor::ALL.len()` entries.
    let named = allowed.len();
    let factors = u8::try_from(factors).ok().filter(|&n| usize::from(n) <= named).ok_or_else(|| {
        PolicyError::invalid(
            format!("ladder.{level}.factors"),
            format!("asks for {factors} distinct factors, but ladder.{level}.allowed names only {named}"),
        )
    })?;
    Ok(Rung { factors, allowed })
}

impl RawRule {
    fn validate(self, index: usize) -> Result<Rule, PolicyError> {
        let key = |field: &str| format!("rules[{index}].{field}");
        let signal = parse_signal(&key("signal"), &self.signal)?;
        let at_most_100 = |field: &str, value: u32| {
            u8::try_from(value)
                .ok()
                .filter(|&v| v <= 100)
                .ok_or_else(|| {
                    PolicyError::invalid(
                        key(field),
                        format!("must be at most 100, is {value} (rule for {signal})"),
                    )
                })
        };
        let weight = at_most_100("weight", self.weight)?;
        let max = at_most_100("max", self.max)?;
        if max < weight {
            return Err(PolicyError::invalid(
                key("max"),
                format!("must be at least weight ({weight}), is {max} (rule for {signal})"),
            ));
        }
        Ok(Rule {
            signal,
            above: self.above,
            weight,
            per_extra: self.per_extra,
            max,
        })
    }
}

fn parse_signal(key: &str, name: &str) -> Result<VelocitySignal, PolicyError> {
    name.parse()
        .map_err(|err: crate::UnknownName| PolicyError::invalid(key, err.to_string()))
}

#[cfg(test)]
mod tests;
