//! Training: candidate estimators fitted with linfa, compared on a held-out
//! split, the winner calibrated and packed into a [`Model`].
//!
//! 1. The rows are [`crate::features::features`] vectors. Labelled attacks
//!    (`labels[i] == true`) are never fitted: the model learns what legitimate
//!    attempts look like and flags what does not fit. A seeded shuffle holds out
//!    [`TrainConfig::validation_share`] of the legitimate rows.
//! 2. A [`Scaler`] is fitted on the remaining legitimate rows; every candidate
//!    is fitted on (at most [`TrainConfig::max_fit_rows`] of) them, standardised.
//!    EM on a full-covariance mixture costs O(rows·k·d²) per iteration, so a
//!    random subsample of 50 000 rows keeps a 1 000 000-row training within
//!    budget; the scaler, the validation and the calibration use every row.
//! 3. Candidates ([`fit::Spec`]): Gaussian mixtures over
//!    [`TrainConfig::gmm_components`] (anomaly = negative log-likelihood) and
//!    k-means over [`TrainConfig::kmeans_clusters`] (anomaly = distance to the
//!    nearest centroid), each on its own thread with its own seed.
//! 4. Selection: with labelled attacks, the highest ROC AUC of attacks against
//!    the held-out legitimate rows (ties: TPR at 1 % FPR, then the simpler
//!    candidate, i.e. list order); without, the highest mean held-out
//!    log-likelihood (k-means read as a spherical mixture) — for mixtures this
//!    is the usual way of choosing k. Every candidate's figures are reported.
//! 5. Calibration ([`crate::calibrate`]) on the winner's anomaly values of the
//!    legitimate rows its fit never saw (the held-out rows and those left out of
//!    the fit's sample): a model scores the rows it was fitted on as more typical
//!    than new ones, most of all a full-covariance mixture, so calibrating on
//!    them would put a new legitimate attempt's score above the uniform one it
//!    should have.
//!
//! One-class SVM (linfa-svm) is not a candidate: its kernel matrix is quadratic
//! in the rows (a few thousand rows at most, against 50 000 for the others), its
//! serving cost grows with the support vectors (hundreds of kernel evaluations
//! per attempt against a budget of 10 µs), linfa-svm 0.8 keeps the support
//! vectors private (the serving form could not be extracted without its serde
//! feature), and it has no likelihood for label-free selection.
//!
//! Reproducible: the same rows, labels and config give the same bytes (every
//! random choice derives from [`TrainConfig::seed`]; threads only change the
//! order in which independent results are computed).

mod fit;
mod metrics;
mod select;

use std::thread;

use ndarray::{Array2, ArrayView1};
use rand::RngCore;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

pub use fit::{
    GMM_FIT_CLIP, GMM_MAX_ITERATIONS, GMM_REG_COVARIANCE, GMM_TOLERANCE, KMEANS_RUNS, Spec,
};
pub use metrics::{roc_auc, tpr_at_fpr};

use select::{anomalies, candidate, pick, row_of};

use crate::calibrate::{Calibration, QUANTILES};
use crate::features::{N, SCHEMA, SCHEMA_VERSION};
use crate::model::{
    self, CandidateReport, FORMAT, Model, ModelError, SavedModel, Scaler, TrainingInfo,
};

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Every random choice derives from this.
    pub seed: u64,
    /// Recorded in the model as `trained_at`.
    pub trained_at: jiff::Timestamp,
    /// Mixture sizes to try.
    pub gmm_components: Vec<usize>,
    /// K-means sizes to try.
    pub kmeans_clusters: Vec<usize>,
    /// Share of the legitimate rows held out for validation.
    pub validation_share: f64,
    /// At most this many (random) rows are given to the estimators' fit.
    pub max_fit_rows: usize,
}

impl TrainConfig {
    /// The defaults: mixtures of 4, 8 and 16, k-means of 8, 16 and 32, 20 %
    /// held out, fits on at most 50 000 rows.
    pub fn new(seed: u64, trained_at: jiff::Timestamp) -> Self {
        Self {
            seed,
            trained_at,
            gmm_components: vec![4, 8, 16],
            kmeans_clusters: vec![8, 16, 32],
            validation_share: 0.2,
            max_fit_rows: 50_000,
        }
    }
}

/// The outcome of training.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The winner, calibrated, ready to score and save.
    pub model: Model,
    /// Every candidate with its validation figures (also in the saved file).
    pub candidates: Vec<CandidateReport>,
    /// How the winner was chosen: `"roc_auc"` or `"heldout_log_likelihood"`.
    pub selected_by: &'static str,
}

/// Trains on `rows` (one [`crate::features::features`] vector per row);
/// `labels[i]` is `true` for a known attack.
pub fn train(
    rows: &Array2<f64>,
    labels: Option<&[bool]>,
    config: &TrainConfig,
) -> Result<Trained, ModelError> {
    check_input(rows, labels, config)?;
    let data_sha256 = data_hash(rows, labels);
    let is_attack = |i: usize| labels.is_some_and(|l| l[i]);
    let mut legit: Vec<usize> = (0..rows.nrows()).filter(|i| !is_attack(*i)).collect();
    let attacks: Vec<usize> = (0..rows.nrows()).filter(|i| is_attack(*i)).collect();

    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    legit.shuffle(&mut rng);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let held_out =
        ((legit.len() as f64 * config.validation_share).round() as usize).clamp(1, legit.len() - 1);
    let (validation, fitting) = legit.split_at(held_out);
    let scaler = Scaler::fit(fitting.iter().map(|i| rows.row(*i)));
    let (mean, inv_std) = model::scaler_arrays(&scaler)?;
    let standard = |indices: &[usize]| -> Array2<f64> {
        let mut z = Array2::zeros((indices.len(), N));
        for (mut out, i) in z.rows_mut().into_iter().zip(indices) {
            let z = model::standardise(&mean, &inv_std, &row_of(rows.row(*i)));
            out.assign(&ArrayView1::from(&z));
        }
        z
    };
    let (fitted_rows, unfitted) = fitting.split_at(fitting.len().min(config.max_fit_rows));
    let fit_z = standard(fitted_rows);
    let (validation_z, attack_z) = (standard(validation), standard(&attacks));

    let specs: Vec<Spec> = config
        .gmm_components
        .iter()
        .map(|k| Spec::Gmm(*k))
        .chain(config.kmeans_clusters.iter().map(|k| Spec::KMeans(*k)))
        .collect();
    let seeds: Vec<u64> = specs.iter().map(|_| rng.next_u64()).collect();
    let results: Vec<(CandidateReport, Option<fit::Fitted>)> = thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .zip(&seeds)
            .map(|(spec, seed)| {
                let (fit_z, validation_z, attack_z) = (&fit_z, &validation_z, &attack_z);
                s.spawn(move || candidate(*spec, *seed, fit_z, validation_z, attack_z))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a candidate's thread panicked"))
            .collect()
    });

    let labelled = !attacks.is_empty();
    let winner = pick(&results, labelled).ok_or_else(|| {
        let errors: Vec<String> = results
            .iter()
            .map(|(r, _)| format!("{}: {}", r.name, r.error.as_deref().unwrap_or("no figures")))
            .collect();
        ModelError::Training(format!(
            "no candidate could be trained ({})",
            errors.join("; ")
        ))
    })?;
    let (report, fitted) = &results[winner];
    let fitted = fitted.as_ref().expect("the winner was fitted");

    let unseen: Vec<usize> = validation.iter().chain(unfitted).copied().collect();
    let mut values = anomalies(&fitted.eval, (&mean, &inv_std), rows.view(), &unseen);
    let calibration = Calibration::fit(&mut values, QUANTILES)?;
    let candidates: Vec<CandidateReport> = results.iter().map(|(r, _)| r.clone()).collect();
    let mut saved = SavedModel {
        format: FORMAT.into(),
        version: String::new(),
        schema: SCHEMA.iter().map(|s| (*s).to_string()).collect(),
        schema_version: SCHEMA_VERSION,
        scaler,
        estimator: fitted.estimator.clone(),
        calibration,
        training: TrainingInfo {
            rows: rows.nrows() as u64,
            legit_rows: legit.len() as u64,
            data_sha256,
            seed: config.seed,
            trained_at: config.trained_at.to_string(),
            winner: report.name.clone(),
            candidates: candidates.clone(),
        },
    };
    saved.version = model::version_for(&report.name, &saved);
    Ok(Trained {
        model: Model::new(saved)?,
        candidates,
        selected_by: if labelled {
            "roc_auc"
        } else {
            "heldout_log_likelihood"
        },
    })
}

fn check_input(
    rows: &Array2<f64>,
    labels: Option<&[bool]>,
    config: &TrainConfig,
) -> Result<(), ModelError> {
    let data = |message: String| Err(ModelError::Data(message));
    if rows.ncols() != N {
        return data(format!(
            "rows have {} columns, the schema has {N}",
            rows.ncols()
        ));
    }
    if let Some(labels) = labels
        && labels.len() != rows.nrows()
    {
        return data(format!("{} labels for {} rows", labels.len(), rows.nrows()));
    }
    if let Some(at) = rows.iter().position(|v| !v.is_finite()) {
        return data(format!("row {} has a value that is not finite", at / N));
    }
    let legit = labels.map_or(rows.nrows(), |l| l.iter().filter(|a| !**a).count());
    let largest = config
        .gmm_components
        .iter()
        .chain(&config.kmeans_clusters)
        .max()
        .copied()
        .unwrap_or(0);
    if legit < 2 * largest.max(10) {
        return data(format!(
            "{legit} legitimate rows: too few to fit {largest} clusters and hold some out"
        ));
    }
    if !(config.validation_share > 0.0 && config.validation_share < 1.0) {
        return data(format!(
            "validation_share {} is not in (0, 1)",
            config.validation_share
        ));
    }
    if config.gmm_components.is_empty() && config.kmeans_clusters.is_empty() {
        return data("no candidate estimator configured".into());
    }
    Ok(())
}

/// SHA-256 of the shape, every value (little-endian bits, row-major) and the labels.
fn data_hash(rows: &Array2<f64>, labels: Option<&[bool]>) -> String {
    let mut hash = Sha256::new();
    hash.update(b"resetgate-training-rows/1");
    hash.update((rows.nrows() as u64).to_le_bytes());
    hash.update((rows.ncols() as u64).to_le_bytes());
    for v in rows {
        hash.update(v.to_bits().to_le_bytes());
    }
    match labels {
        Some(labels) => {
            hash.update([1]);
            for label in labels {
                hash.update([u8::from(*label)]);
            }
        }
        None => hash.update([0]),
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
pub(crate) mod tests;
