//! The account-history model: a likelihood ratio after Freeman et al. (NDSS 2016).
//!
//! D. M. Freeman, S. Jain, M. Dürmuth, B. Biggio and G. Giacinto, "Who Are You?
//! A Statistical Approach to Measuring User Authenticity", NDSS 2016,
//! <https://doi.org/10.14722/ndss.2016.23240>.
//!
//! # The paper's score
//!
//! For a user `u` and an attempt with features `x = (x^1, …, x^d)` the paper
//! scores how much likelier the attempt is under attack than as `u`'s own:
//!
//! ```text
//!   S_u(x) = p(u | A) / p(u | L) · ∏_k p(x^k | A) / p(x^k | u, L)
//! ```
//!
//! with the features taken as independent, `A` an attack and `L` a legitimate
//! login, and the attacker's distribution `p(x^k | A)` approximated by the global
//! distribution of logins `p(x^k)` (an attacker looks like a random member of the
//! population). We take every account as equally likely to be attacked, so the
//! user prior `p(u | A) / p(u | L)` is 1, and compute
//!
//! ```text
//!   LR = ∏_k p(x^k) / p(x^k | u)
//! ```
//!
//! # Estimating the factors over a hierarchy, with backoff smoothing
//!
//! Each feature `k` is a hierarchy of levels `x^k_1 ⊂ x^k_2 ⊂ … ⊂ x^k_L`, most
//! specific first (IP ⊂ ASN ⊂ country; UA ⊂ browser ⊂ OS ⊂ device class), and the
//! gateway passes, for the attempt's value at each level ℓ (a [`LevelCounts`]):
//! `c_u(x_ℓ)` (`account_seen`), `c(x_ℓ)` (`global_seen`) and the totals `c_u`
//! (`account_total`), `c` (`global_total`). Both probabilities are chained from
//! the top level down, `p(x) = ∏_ℓ p(x_ℓ | x_{ℓ+1})`, with `x_{L+1}` = "any value"
//! whose counts are the totals:
//!
//! ```text
//!   p(x_ℓ | x_{ℓ+1})    = (c(x_ℓ) + 1) / (c(x_{ℓ+1}) + 1)                     global, add-one
//!   p(x_ℓ | x_{ℓ+1}, u) = (c_u(x_ℓ) + p(x_ℓ | x_{ℓ+1})) / (c_u(x_{ℓ+1}) + 1)   account
//! ```
//!
//! The global chain telescopes to add-one smoothing at the most specific level,
//! `p(x) = (c(x_1) + 1) / (c + 1)`. The account's estimate is add-one smoothing
//! whose one pseudo-count is spread by the global distribution (a Dirichlet prior
//! centred on the population). Its effect is the backoff the paper describes for
//! unseen values: at a level where the account has seen the value, the factor
//! `p(x_ℓ | ·) / p(x_ℓ | ·, u)` compares the population's share of the value with
//! the account's (below 1 when the account uses it more than people at large do);
//! at the first level, going down, where the account has *not* seen the value, it
//! is exactly `c_u(x_{ℓ+1}) + 1`: the novelty is charged once, at the most
//! specific level the account knows, and weighs more the more history the account
//! has there; below that level the parent is unseen too and every factor is
//! exactly 1. An account with no history (`c_u = 0`) gets factors of exactly 1:
//! `LR = 1`, nothing to say.
//!
//! Counts are clamped to be consistent (a level's count is at most its parent's)
//! so that an inconsistent input cannot make a probability exceed 1.
//!
//! # Points
//!
//! `history_lr` points = weight × clamp(log10(LR) / [`FULL_POINTS_LOG10`], 0, 1),
//! rounded: a context likelier for the account than for the population (LR ≤ 1)
//! adds nothing, and the full weight is reached at LR ≥ 1 000. For scale: one
//! feature unseen at every level, for an account with 9 successes, gives LR = 10
//! and a third of the weight; two such features give LR = 100 and two thirds.
//! The signal fires only for an account with history (`events > 0`) and counts.

use std::fmt::Write as _;

use crate::reason::{Reason, Thousands, whole};
use crate::signals::{FeatureCounts, History, LevelCounts};

/// The reason code.
pub const CODE: &str = "history_lr";

/// log10(LR) at which `history_lr` reaches its full weight (LR = 1 000).
pub const FULL_POINTS_LOG10: f64 = 3.0;

/// log10 of the likelihood ratio of one feature hierarchy.
pub fn feature_log10(levels: &[LevelCounts]) -> f64 {
    let mut log10 = 0.0;
    // Walk from the least specific level down; the parent of the top is "any value".
    let (mut parent_u, mut parent_g) = match levels.last() {
        Some(top) => (top.account_total, top.global_total),
        None => return 0.0,
    };
    for level in levels.iter().rev() {
        let seen_u = level.account_seen.min(parent_u);
        let seen_g = level.global_seen.min(parent_g);
        let p_global = (f64::from(seen_g) + 1.0) / (f64::from(parent_g) + 1.0);
        let p_account = (f64::from(seen_u) + p_global) / (f64::from(parent_u) + 1.0);
        log10 += p_global.log10() - p_account.log10();
        (parent_u, parent_g) = (seen_u, seen_g);
    }
    log10
}

/// log10 of the likelihood ratio over every feature: `log10 ∏_k LR_k`.
pub fn log10_ratio(features: &[FeatureCounts]) -> f64 {
    features.iter().map(|f| feature_log10(&f.levels)).sum()
}

/// The points `weight` gives a likelihood ratio of `10^log10`.
pub fn points(weight: u8, log10: f64) -> u8 {
    let fraction = (log10 / FULL_POINTS_LOG10).clamp(0.0, 1.0);
    // fraction is in [0, 1] (a NaN clamps to NaN, which `whole` turns into 0).
    u8::try_from(whole(f64::from(weight) * fraction)).unwrap_or(weight)
}

/// The `history_lr` reason, when the account has history and the ratio adds points.
pub fn score(weight: u8, history: &History) -> Option<Reason> {
    if weight == 0 || history.events == 0 || history.features.is_empty() {
        return None;
    }
    let log10 = log10_ratio(&history.features);
    let points = points(weight, log10);
    (points > 0).then(|| Reason::new(CODE, points, detail(log10, history)))
}

fn detail(log10: f64, history: &History) -> String {
    let ratio = 10_f64.powf(log10);
    let mut detail = String::with_capacity(200);
    // Writing to a String cannot fail.
    let _ = if ratio < 10.0 {
        write!(detail, "this context is {ratio:.1}×")
    } else if ratio < 1e15 {
        write!(detail, "this context is {}×", Thousands(whole(ratio)))
    } else {
        write!(detail, "this context is {ratio:.1e}×")
    };
    detail.push_str(
        " likelier for logins at large than for this account's own history \
         (Freeman et al. likelihood ratio",
    );
    for feature in &history.features {
        detail.push_str("; ");
        describe(&mut detail, feature);
    }
    detail.push(')');
    detail
}

/// `"network: new ip, asn seen 8 of 10"`, `"user_agent: ua seen 10 of 10"`,
/// `"network: new at every level"`.
fn describe(out: &mut String, feature: &FeatureCounts) {
    let name = &feature.name;
    // Writing to a String cannot fail.
    let _ = match (
        feature.levels.first(),
        feature.levels.iter().position(|l| l.account_seen > 0),
    ) {
        (None, _) => write!(out, "{name}: no levels"),
        (Some(_), None) => write!(out, "{name}: new at every level"),
        (Some(first), Some(0)) => write!(
            out,
            "{name}: {} seen {} of {}",
            first.level, first.account_seen, first.account_total
        ),
        (Some(first), Some(index)) => {
            let known = &feature.levels[index];
            write!(
                out,
                "{name}: new {}, {} seen {} of {}",
                first.level, known.level, known.account_seen, known.account_total
            )
        }
    };
}

#[cfg(test)]
mod tests;
