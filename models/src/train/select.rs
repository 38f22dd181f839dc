//! Fitting every candidate and choosing the winner (see [`super`] for the rules).

use std::num::NonZeroUsize;
use std::thread;

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::fit::{self, Spec};
use super::metrics::{roc_auc, tpr_at_fpr};
use crate::features::N;
use crate::model::{self, CandidateReport, Eval};

/// Fits one candidate and measures it on the held-out rows.
pub(super) fn candidate(
    spec: Spec,
    seed: u64,
    fit_z: &Array2<f64>,
    validation_z: &Array2<f64>,
    attack_z: &Array2<f64>,
) -> (CandidateReport, Option<fit::Fitted>) {
    let name = spec.name();
    match fit::fit(spec, fit_z.view(), seed) {
        Err(error) => (
            CandidateReport {
                name,
                heldout_log_likelihood: None,
                auc: None,
                tpr_at_1pct_fpr: None,
                error: Some(error),
            },
            None,
        ),
        Ok(fitted) => {
            let log_likelihood: f64 = validation_z
                .rows()
                .into_iter()
                .map(|z| fitted.log_likelihood(&row_of(z)))
                .sum::<f64>();
            #[allow(clippy::cast_precision_loss)]
            let mean = log_likelihood / validation_z.nrows().max(1) as f64;
            let legit = validation_z
                .rows()
                .into_iter()
                .map(|z| fitted.eval.anomaly(&row_of(z)));
            let legit: Vec<f64> = legit.collect();
            let attacks: Vec<f64> = attack_z
                .rows()
                .into_iter()
                .map(|z| fitted.eval.anomaly(&row_of(z)))
                .collect();
            let report = CandidateReport {
                name,
                heldout_log_likelihood: mean.is_finite().then_some(mean),
                auc: roc_auc(&legit, &attacks),
                tpr_at_1pct_fpr: tpr_at_fpr(&legit, &attacks, 0.01),
                error: None,
            };
            (report, Some(fitted))
        }
    }
}

pub(super) fn row_of(z: ArrayView1<'_, f64>) -> [f64; N] {
    let mut x = [0.0; N];
    for (x, v) in x.iter_mut().zip(z) {
        *x = *v;
    }
    x
}

/// The index of the best fitted candidate (first of equals).
pub(super) fn pick(
    results: &[(CandidateReport, Option<fit::Fitted>)],
    labelled: bool,
) -> Option<usize> {
    let key = |r: &CandidateReport| -> Option<(f64, f64)> {
        if labelled {
            Some((r.auc?, r.tpr_at_1pct_fpr.unwrap_or(0.0)))
        } else {
            Some((r.heldout_log_likelihood?, 0.0))
        }
    };
    let mut best: Option<(usize, (f64, f64))> = None;
    for (i, (report, fitted)) in results.iter().enumerate() {
        if fitted.is_none() {
            continue;
        }
        let Some(k) = key(report) else { continue };
        if best.is_none_or(|(_, b)| k.0.total_cmp(&b.0).then(k.1.total_cmp(&b.1)).is_gt()) {
            best = Some((i, k));
        }
    }
    best.map(|(i, _)| i)
}

/// The anomaly value of the rows at `indices`, standardised by `scaler`
/// (means, reciprocal deviations), on every core.
pub(super) fn anomalies(
    eval: &Eval,
    scaler: (&[f64; N], &[f64; N]),
    rows: ArrayView2<'_, f64>,
    indices: &[usize],
) -> Vec<f64> {
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let chunk = indices.len().div_ceil(threads).max(1);
    let mut out = vec![0.0; indices.len()];
    thread::scope(|s| {
        for (indices, out) in indices.chunks(chunk).zip(out.chunks_mut(chunk)) {
            s.spawn(move || {
                for (i, o) in indices.iter().zip(out) {
                    let z = model::standardise(scaler.0, scaler.1, &row_of(rows.row(*i)));
                    *o = eval.anomaly(&z);
                }
            });
        }
    });
    out
}
