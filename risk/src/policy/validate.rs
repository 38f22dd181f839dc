//! Validation of the policy's `[levels]`, `[ladder]` and `[[rules]]` (see the
//! checks listed in [`crate::policy`]).

use super::{PolicyError, RawLevels, RawRule, RawRung};
use crate::RiskScore;
use crate::ladder::{Factor, Rung, Thresholds};
use crate::rules::Rule;
use crate::signals::VelocitySignal;

impl RawLevels {
    pub(super) fn validate(&self) -> Result<Thresholds, PolicyError> {
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

pub(super) fn rung(level: &str, raw: Option<RawRung>) -> Result<Rung, PolicyError> {
    let Some(RawRung {
        factors,
        allowed,
        require_one_of,
    }) = raw
    else {
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
    let require_one_of = require_one_of_of(level, factors, &allowed, require_one_of)?;
    Ok(Rung {
        factors,
        allowed,
        require_one_of,
    })
}

/// `ladder.<level>.require_one_of`: left out, or a non-empty subset of `allowed`
/// without duplicates, on a rung of 2 factors or more.
fn require_one_of_of(
    level: &str,
    factors: u8,
    allowed: &[Factor],
    raw: Option<Vec<Factor>>,
) -> Result<Vec<Factor>, PolicyError> {
    let Some(strong) = raw else {
        return Ok(Vec::new());
    };
    let key = format!("ladder.{level}.require_one_of");
    if strong.is_empty() {
        return Err(PolicyError::invalid(
            key,
            "must name at least one factor (leave it out for none)",
        ));
    }
    for (index, factor) in strong.iter().enumerate() {
        if strong[..index].contains(factor) {
            return Err(PolicyError::invalid(
                key,
                format!("names {factor} more than once"),
            ));
        }
        if !allowed.contains(factor) {
            return Err(PolicyError::invalid(
                key,
                format!("names {factor}, which ladder.{level}.allowed does not"),
            ));
        }
    }
    if factors < 2 {
        return Err(PolicyError::invalid(
            key,
            format!(
                "needs ladder.{level}.factors of 2 or more; with 1 factor, list only the \
                 required factors in ladder.{level}.allowed"
            ),
        ));
    }
    Ok(strong)
}

/// The `[[rules]]`, each valid and each scoring its own counter.
pub(super) fn rules(raw: Vec<RawRule>) -> Result<Vec<Rule>, PolicyError> {
    let mut rules: Vec<Rule> = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
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
    Ok(rules)
}

impl RawRule {
    fn validate(self, index: usize) -> Result<Rule, PolicyError> {
        let key = |field: &str| format!("rules[{index}].{field}");
        let signal = signal(&key("signal"), &self.signal)?;
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

/// The counter `name` names, or an error against `key`.
pub(super) fn signal(key: &str, name: &str) -> Result<VelocitySignal, PolicyError> {
    name.parse()
        .map_err(|err: crate::UnknownName| PolicyError::invalid(key, err.to_string()))
}
