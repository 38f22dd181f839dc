//! [`Policy`]: the risk policy file — parse, validate, version.
//!
//! The format is the one of `data/policy.toml`, whose comments document it for
//! security teams: `version`, `[levels]` thresholds, `[ladder.low|medium|high]`
//! rungs, `[[rules]]` scored rules, `[hard_limits]`, `[signals]` weights,
//! `[travel]` limits and `[[hard_rules]]`. Parsing is two steps:
//!
//! 1. serde + `toml` into the file's shape, with unknown keys refused. Syntax and
//!    type errors (an unknown factor, signal kind or action included) become
//!    [`PolicyError::Syntax`], located by line and column.
//! 2. validation checks what types cannot express and builds the validated
//!    [`Policy`]; its errors ([`PolicyError::Invalid`]) name the key.
//!
//! The checks of step 2, each reported against its key:
//!
//! - `version` is not blank;
//! - `levels`: `0 < medium < high < deny <= 100`;
//! - `ladder.low`, `ladder.medium` and `ladder.high` all exist, each with
//!   `1 <= factors <= allowed.len()` and a non-empty `allowed` without duplicates
//!   (`ladder.deny` is refused as an unknown key: `deny` cannot be passed); an
//!   optional `require_one_of` is non-empty, without duplicates, a subset of
//!   `allowed`, and only on a rung asking for 2 factors or more (with 1, narrow
//!   `allowed` instead);
//! - each rule names a [`Velocity`](crate::Velocity) counter, `weight <= max <= 100`
//!   (a `max` below `weight` would silently lower the weight), and no two rules
//!   score the same counter (a reason's code is its counter's name, so it must say
//!   which rule fired; `per_extra` and `max` express steps);
//! - each `hard_limits` key names a [`Velocity`](crate::Velocity) counter;
//! - `[signals]` and `[travel]`: see [`crate::weights`];
//! - `[[hard_rules]]`: see [`crate::hard_rules`] (unique names, valid country
//!   codes, ASNs and CIDRs, at least one list, no `anonymous` on allow rules).
//!
//! A [`Policy`] only exists validated, so [`crate::evaluate`] never re-checks it.
//!
//! # Version
//!
//! [`Policy::version`] is `"<version>+<hash>"`: the declared `version` and the
//! first 12 hex digits of the SHA-256 of the file's text, so two files that
//! differ can never be told apart by their version alone, even when someone
//! forgot to change `version`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::hard_rules::{self, HardRule, RawHardRule};
use crate::ladder::{Factor, Ladder, Thresholds};
use crate::rules::{HardLimit, Rule};
use crate::travel::TravelLimits;
use crate::weights::{RawSignals, RawTravel, SignalWeights};

mod validate;

/// A validated risk policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    version: String,
    declared_version: String,
    content_hash: String,
    thresholds: Thresholds,
    ladder: Ladder,
    rules: Vec<Rule>,
    hard_limits: Vec<HardLimit>,
    signals: SignalWeights,
    travel: TravelLimits,
    hard_rules: Vec<HardRule>,
}

impl Policy {
    /// The text of the bundled default policy, `data/policy.toml`.
    pub const BUNDLED_TOML: &'static str = include_str!("../../data/policy.toml");

    /// Parses and validates a policy file's text.
    pub fn parse(toml_text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy =
            toml::from_str(toml_text).map_err(|err| PolicyError::from_toml(toml_text, &err))?;
        raw.validate(content_hash(toml_text))
    }

    /// The bundled default policy, [`Policy::BUNDLED_TOML`].
    pub fn bundled() -> Policy {
        Policy::parse(Self::BUNDLED_TOML)
            .expect("data/policy.toml is valid (a unit test guards it)")
    }

    /// `"<version>+<hash>"`, shown in every decision, audit record and webhook:
    /// the declared `version` and the first 12 hex digits of the SHA-256 of the file.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The `version` the file declares.
    pub fn declared_version(&self) -> &str {
        &self.declared_version
    }

    /// The first 12 hex digits (lower case) of the SHA-256 of the file's text.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
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

    /// The `[signals]` weights.
    pub fn signals(&self) -> &SignalWeights {
        &self.signals
    }

    /// The `[travel]` limits.
    pub fn travel(&self) -> TravelLimits {
        self.travel
    }

    /// The `[[hard_rules]]`, in file order.
    pub fn hard_rules(&self) -> &[HardRule] {
        &self.hard_rules
    }
}

/// The first 12 hex digits of the SHA-256 of `text`.
fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..6]
        .iter()
        .fold(String::with_capacity(12), |mut hex, byte| {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
            hex
        })
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

    pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
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

impl PolicyError {
    /// Where in `text` (the file this error came from) the problem is, as a
    /// 1-based line and column: the place the TOML parser pointed at, or for
    /// a rule broken by a value, that key's value (for `rules[1].signal`, the
    /// value of `signal` in the second `[[rules]]`; for a key that is missing,
    /// its table). `None` when neither can be found.
    pub fn location(&self, text: &str) -> Option<(usize, usize)> {
        match self {
            Self::Syntax { line, column, .. } => Some((*line, *column)),
            Self::Unlocated { .. } => None,
            Self::Invalid { key, .. } => {
                let offset = key_offset(text, key)?;
                Some(line_column(text, offset))
            }
        }
    }
}

/// The byte offset of the deepest part of the dotted `key` (with `[N]`
/// indices) that `text` has: the value's start for a key that is present.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut found: Option<usize> = None;
    let mut table = Some(root.get_ref());
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if let Some(DeValue::Table(t)) = value.map(toml::Spanned::get_ref) {
            table = Some(t);
        }
        let Some((_, entry)) = table.and_then(|t| t.iter().find(|(k, _)| k.get_ref() == name))
        else {
            break;
        };
        value = Some(entry);
        found = Some(entry.span().start);
        if let Some(i) = index {
            let DeValue::Array(items) = entry.get_ref() else {
                break;
            };
            let Some(item) = items.get(i) else {
                break;
            };
            value = Some(item);
            found = Some(item.span().start);
        }
        table = None;
    }
    found
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
    #[serde(default)]
    signals: RawSignals,
    #[serde(default)]
    travel: RawTravel,
    #[serde(default)]
    hard_rules: Vec<RawHardRule>,
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
    require_one_of: Option<Vec<Factor>>,
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
    fn validate(self, content_hash: String) -> Result<Policy, PolicyError> {
        if self.version.trim().is_empty() {
            return Err(PolicyError::invalid("version", "must not be empty"));
        }
        let thresholds = self.levels.validate()?;
        let ladder = Ladder {
            low: validate::rung("low", self.ladder.low)?,
            medium: validate::rung("medium", self.ladder.medium)?,
            high: validate::rung("high", self.ladder.high)?,
        };
        let rules = validate::rules(self.rules)?;
        let hard_limits = self
            .hard_limits
            .into_iter()
            .map(|(name, limit)| {
                let signal = validate::signal(&format!("hard_limits.{name}"), &name)?;
                Ok(HardLimit { signal, limit })
            })
            .collect::<Result<_, PolicyError>>()?;
        let signals = self.signals.validate()?;
        let travel = self.travel.validate()?;
        let hard_rules = hard_rules::validate(self.hard_rules)?;
        Ok(Policy {
            version: format!("{}+{content_hash}", self.version),
            declared_version: self.version,
            content_hash,
            thresholds,
            ladder,
            rules,
            hard_limits,
            signals,
            travel,
            hard_rules,
        })
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v2;
