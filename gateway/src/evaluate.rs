//! Detection figures of replayed traffic: what `resetgate evaluate` prints
//! and the benchmark comparison records.
//!
//! [`crate::replay::Replay::replay_all`] decides every attempt as `serve` would
//! and keeps the parts of the decision ([`Decided`]); here each part becomes a
//! scorer, and `models::evaluate` turns a scorer's scores into ROC AUC, TPR at
//! a fixed FPR and the legitimate step-up rate at the thresholds that catch
//! 99 % / 99.5 % of takeovers.

use std::fmt::Write as _;

use models::evaluate::{Curve, Figures, Positives, Scored, figures, roc_curve};

use crate::replay::Decided;

/// A named way to score a decided attempt (higher = riskier).
pub struct Scorer<'a> {
    pub name: &'a str,
    pub score: Box<dyn Fn(&Decided) -> f64 + 'a>,
}

impl<'a> Scorer<'a> {
    pub fn new(name: &'a str, score: impl Fn(&Decided) -> f64 + 'a) -> Self {
        Self {
            name,
            score: Box::new(score),
        }
    }
}

/// The decision `serve` makes and its three parts:
/// - `served`: the score of the whole decision (policy rules + history model
///   + anomaly model), 0..=100;
/// - `rules only`: the policy without the history model and the anomaly model;
/// - `Freeman history model`: the account-history likelihood ratio alone;
/// - `anomaly model`: the linfa model's calibrated score alone.
pub fn builtin_scorers() -> Vec<Scorer<'static>> {
    vec![
        Scorer::new("served", |d| f64::from(d.score)),
        Scorer::new("rules only", |d| f64::from(d.rules_score)),
        Scorer::new("Freeman history model", |d| d.freeman_log10),
        Scorer::new("anomaly model", |d| d.anomaly),
    ]
}

/// The attempts as `models::evaluate` rows under `scorer`.
pub fn scored(decided: &[Decided], scorer: &Scorer<'_>) -> Vec<Scored> {
    decided
        .iter()
        .map(|d| Scored {
            index: d.index,
            score: (scorer.score)(d),
            label: d.label,
            success: d.success,
            prior_successes: d.prior_successes,
        })
        .collect()
}

/// Each scorer's figures with `positives` as positives.
pub fn compare(
    decided: &[Decided],
    scorers: &[Scorer<'_>],
    positives: Positives,
) -> Vec<(String, Figures)> {
    scorers
        .iter()
        .map(|s| (s.name.to_owned(), figures(&scored(decided, s), positives)))
        .collect()
}

/// Each scorer's ROC curve (with its AUC) for a plot.
pub fn curves(decided: &[Decided], scorers: &[Scorer<'_>], positives: Positives) -> Vec<Curve> {
    scorers
        .iter()
        .map(|s| {
            let rows = scored(decided, s);
            let (mut legit, mut hits) = (Vec::new(), Vec::new());
            for r in &rows {
                if positives.includes(r.label) {
                    hits.push(r.score);
                } else if !r.label.is_attack() {
                    legit.push(r.score);
                }
            }
            let auc = figures(&rows, positives).roc_auc;
            (s.name.to_owned(), roc_curve(&legit, &hits), auc)
        })
        .collect()
}

/// A Markdown table of [`compare`]'s figures: one row per scorer.
pub fn table(rows: &[(String, Figures)]) -> String {
    let rate = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    let catch = |e: Option<&models::evaluate::Escalation>| {
        e.map_or_else(
            || "-".to_owned(),
            |e| {
                let buckets: Vec<String> = e
                    .by_history
                    .iter()
                    .map(|b| {
                        if b.legit == 0 {
                            "-".to_owned()
                        } else {
                            format!("{:.1}%", b.stepped_up * 100.0)
                        }
                    })
                    .collect();
                format!(
                    "{:.1}% ({})",
                    e.legit_stepped_up * 100.0,
                    buckets.join(" / ")
                )
            },
        )
    };
    let mut out = String::from(
        "| scorer | ROC AUC | TPR @ 1% FPR | TPR @ 0.1% FPR | legit stepped up @ 99% caught \
         (<12 / 12–39 / >=40 logins) | @ 99.5% caught |\n|---|---|---|---|---|---|\n",
    );
    for (name, f) in rows {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            rate(f.roc_auc),
            rate(f.tpr_at_1pct_fpr),
            rate(f.tpr_at_01pct_fpr),
            catch(f.catch_99.as_ref()),
            catch(f.catch_995.as_ref()),
        );
    }
    out
}
