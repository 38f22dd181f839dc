//! [`Reason`]: why a decision came out as it did, for the people who read it.
//!
//! Every rule or signal that contributed to a decision leaves one reason: a stable
//! machine `code`, the `weight` it carried and a `detail` sentence for a security
//! team. Codes are part of the audit and webhook formats:
//!
//! | code | weight | from |
//! |---|---|---|
//! | a [`VelocitySignal`] name, e.g. `account_attempts_1h` | the points it added | a scored rule |
//! | `hard_limit:<signal>`, e.g. `hard_limit:account_failures_1h` | 100 (display only) | a hard limit |
//! | `hard_rule:<name>`, e.g. `hard_rule:tor-exits` | 100 for `deny`, 0 for `allow` (display only) | [`crate::hard_rules`] |
//! | `new_country`, `new_asn`, `new_device`, `new_browser` | its `[signals]` weight | novelty against [`crate::signals::History`] |
//! | `automation` | its weight | [`crate::signals::Device`] |
//! | `anonymous_vpn`, `anonymous_tor`, `anonymous_hosting`, `anonymous_residential_proxy`, `anonymous_public_proxy` | its weight | [`crate::signals::Anonymous`] |
//! | `impossible_travel` | its weight | [`crate::travel`] |
//! | `distance` | `distance_per_1000km` per 1000 km beyond 100 km, at most `distance_max` | [`crate::travel`] |
//! | `recent_contact_change` | its weight | a phone or e-mail change within `contact_change_window` |
//! | `history_lr` | up to its weight | [`crate::history`] (Freeman et al. likelihood ratio) |
//! | `anomaly` | its weight × the anomaly score | the ML model |
//! | `insufficient_factors` | 0 | a step-up the account cannot meet |
//!
//! A signal whose points round to 0 leaves no reason. The helpers at the end of
//! this file format numbers, distances, durations and places the same way in
//! every sentence.
//!
//! A decision lists its reasons by weight, highest first, then by code (see [`sort`]).

use std::cmp::Reverse;
use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ladder::{Factor, Level, Rung};
use crate::rules::{HardLimit, Rule};
use crate::signals::velocity::Described;
use crate::signals::{Location, VelocitySignal};

/// The code prefix of a hard limit's reason; the signal name follows it.
pub const HARD_LIMIT_PREFIX: &str = "hard_limit:";
/// The code of the reason for a step-up the account cannot meet.
pub const INSUFFICIENT_FACTORS: &str = "insufficient_factors";
/// The weight a hard limit's reason shows. It does not add to the score.
pub const HARD_LIMIT_WEIGHT: u8 = 100;

/// One contribution to a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine code, e.g. `account_attempts_1h` or `hard_limit:account_failures_1h`.
    pub code: String,
    /// The points it added (100 for a hard limit, 0 for `insufficient_factors`).
    pub weight: u8,
    /// What happened, for a security team.
    pub detail: String,
}

impl Reason {
    /// A scored rule fired with `value` and added `points`.
    pub fn rule(rule: &Rule, value: u32, points: u8) -> Self {
        Self {
            code: rule.signal.as_str().to_owned(),
            weight: points,
            detail: sentence(format_args!(
                "{} (more than {})",
                Described(rule.signal, value),
                rule.above
            )),
        }
    }

    /// A counter is over a hard limit with `value`.
    pub fn hard_limit(limit: &HardLimit, value: u32) -> Self {
        Self {
            code: format!("{HARD_LIMIT_PREFIX}{}", limit.signal),
            weight: HARD_LIMIT_WEIGHT,
            detail: sentence(format_args!(
                "{} (over the hard limit of {})",
                Described(limit.signal, value),
                limit.limit
            )),
        }
    }

    /// A reason with its code, points and sentence (the `[signals]` signals and hard rules).
    pub fn new(code: impl Into<String>, weight: u8, detail: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            weight,
            detail: detail.into(),
        }
    }

    /// The account cannot meet `level`'s rung: of its `enrolled` factors only
    /// `usable` are among the rung's allowed ones (too few of them, or none of the
    /// rung's `require_one_of`).
    pub fn insufficient_factors(
        level: Level,
        rung: &Rung,
        usable: &[Factor],
        enrolled: &[Factor],
    ) -> Self {
        let factors = if rung.factors == 1 {
            "factor"
        } else {
            "distinct factors"
        };
        let has = match usable {
            [] => "none of them".to_owned(),
            _ if usable.len() < usize::from(rung.factors) => format!("only {}", list(usable)),
            _ => format!(
                "{} but none of {}",
                list(usable),
                list(&rung.require_one_of)
            ),
        };
        let including = if rung.require_one_of.is_empty() {
            String::new()
        } else {
            format!(" including one of {}", list(&rung.require_one_of))
        };
        let mut distinct: Vec<Factor> = Vec::with_capacity(enrolled.len());
        for factor in enrolled {
            if !distinct.contains(factor) {
                distinct.push(*factor);
            }
        }
        let enrolled = list(&distinct);
        Self {
            code: INSUFFICIENT_FACTORS.to_owned(),
            weight: 0,
            detail: format!(
                "{level} risk needs {} {factors} out of {}{including}; the account has {has} \
                 (enrolled: {enrolled})",
                rung.factors,
                list(&rung.allowed),
            ),
        }
    }

    /// The counter a scored rule's or a hard limit's reason is about; `None` for
    /// every other reason.
    pub fn signal(&self) -> Option<VelocitySignal> {
        let name = self
            .code
            .strip_prefix(HARD_LIMIT_PREFIX)
            .unwrap_or(&self.code);
        name.parse().ok()
    }
}

/// Orders reasons as a decision lists them: weight descending, then code.
pub fn sort(reasons: &mut [Reason]) {
    reasons.sort_by(|a, b| (Reverse(a.weight), &a.code).cmp(&(Reverse(b.weight), &b.code)));
}

fn list(factors: &[Factor]) -> Listed<'_, Factor> {
    Listed(factors, usize::MAX, "")
}

// The formats below are `Display` values rather than functions returning
// `String`s: a reason's sentence is then written in one allocation, which is
// most of what `evaluate` costs (see bench/RESULTS.md).

/// Items, each after the prefix `.2`, joined by `", "`; after the first `.1` of
/// them, `"and N more"`; `none` when there are none.
pub(crate) struct Listed<'a, T>(pub &'a [T], pub usize, pub &'static str);

impl<T: fmt::Display> fmt::Display for Listed<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Listed(items, shown, prefix) = *self;
        if items.is_empty() {
            return f.write_str("none");
        }
        for (i, item) in items.iter().take(shown).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{prefix}{item}")?;
        }
        match items.len().checked_sub(shown) {
            Some(more) if more > 0 => write!(f, " and {more} more"),
            _ => Ok(()),
        }
    }
}

/// A reason's sentence, written into one allocation sized for a typical sentence
/// (`format!` starts small and grows, which costs a copy or two per sentence).
pub(crate) fn sentence(args: fmt::Arguments<'_>) -> String {
    let mut out = String::with_capacity(160);
    // Writing to a String cannot fail.
    let _ = out.write_fmt(args);
    out
}

/// A whole number with thousands separators: `16960` -> `16,960`.
#[derive(Clone, Copy)]
pub(crate) struct Thousands(pub u64);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // u64::MAX has 20 digits and 6 separators; filled from the end.
        let mut buf = [0_u8; 26];
        let mut at = buf.len();
        let mut n = self.0;
        let mut digits = 0;
        loop {
            if digits > 0 && digits % 3 == 0 {
                at -= 1;
                buf[at] = b',';
            }
            at -= 1;
            // n % 10 < 10 always fits a u8.
            buf[at] = b'0' + u8::try_from(n % 10).unwrap_or(0);
            digits += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits and commas were written.
        f.write_str(std::str::from_utf8(&buf[at..]).unwrap_or_default())
    }
}

/// A non-negative number with two decimals, by integer arithmetic (float
/// formatting is the slowest part of a sentence): `51.5074` -> `51.51`.
#[derive(Clone, Copy)]
pub(crate) struct Centi(pub f64);

impl fmt::Display for Centi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let centi = whole(self.0 * 100.0);
        write!(f, "{}.{:02}", centi / 100, centi % 100)
    }
}

/// Rounds a non-negative, finite number to a whole `u64` (0 for anything else).
pub(crate) fn whole(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        // Positive and finite: `as` rounds toward zero and saturates at u64::MAX,
        // which is the conversion we want after `round`.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = x.round() as u64;
        n
    } else {
        0
    }
}

/// A distance in km, rounded: `16,960 km`.
#[derive(Clone, Copy)]
pub(crate) struct Km(pub f64);

impl fmt::Display for Km {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} km", Thousands(whole(self.0)))
    }
}

/// An elapsed time for people: `45 s`, `12 min`, `1 h 0 min`, `3 d 2 h`.
#[derive(Clone, Copy)]
pub(crate) struct Elapsed(pub Duration);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (days, hours, mins) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60);
        if secs < 60 {
            write!(f, "{secs} s")
        } else if secs < 3_600 {
            write!(f, "{mins} min")
        } else if secs < 86_400 {
            write!(f, "{hours} h {mins} min")
        } else {
            write!(f, "{days} d {hours} h")
        }
    }
}

/// A place as GeoIP gives it: `51.51°N 0.13°W (±10 km)`.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a>(pub &'a Location);

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.0;
        let ns = if at.lat < 0.0 { 'S' } else { 'N' };
        let ew = if at.lon < 0.0 { 'W' } else { 'E' };
        write!(
            f,
            "{}°{ns} {}°{ew} (±{})",
            Centi(at.lat.abs()),
            Centi(at.lon.abs()),
            Km(at.accuracy_km)
        )
    }
}

#[cfg(test)]
mod tests;
