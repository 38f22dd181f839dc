//! Fitting one candidate with linfa, and turning it into the serving form.
//!
//! linfa 0.8 draws from rand 0.8 generators, so each fit gets its own
//! `Xoshiro256Plus` (`rand_core` 0.6) seeded from the training seed: candidates
//! are independent of each other and of the order they run in, which lets them
//! run on separate threads and still give the same bytes every time.
//!
//! - Gaussian mixture: linfa's only covariance type is full; EM from a k-means
//!   start, one run, a ridge ([`GMM_REG_COVARIANCE`], in standard units) on the
//!   diagonal so that a component sitting on a flag that never varies stays
//!   invertible. linfa 0.8's E-step takes `ln Σ exp` without subtracting the
//!   maximum first, so a row far from every component (log-density below about
//!   −745) underflows to `ln 0` and the fit fails with "Undefined ordering
//!   between a tested pair of values"; with the first version's tiny ridge
//!   (1e-4) every mixture failed that way on the generator's default traffic.
//!   So the mixture is fitted on the standardised rows clipped to
//!   ±[`GMM_FIT_CLIP`] (a handful of extreme rows — a burst of retries, a
//!   sign-in from the far side of the world — no longer pull a component of
//!   their own, and no row is far enough to underflow), with a ridge of 0.05
//!   (covariances are correlations here; 0.05 keeps every component's
//!   density finite at the clip). Serving scores the unclipped row with a
//!   shifted `ln Σ exp`, so an extreme attempt still scores as extreme.
//! - K-means: k-means++ starts, best of [`KMEANS_RUNS`] by inertia. It has no
//!   likelihood of its own; for label-free selection and the report, its
//!   clusters define a spherical Gaussian mixture ([`Spherical`]: weights = the
//!   clusters' shares, per-cluster variance = mean squared distance per
//!   dimension), the probabilistic reading of k-means.

use linfa::DatasetBase;
use linfa::prelude::Fit;
use linfa_clustering::{GaussianMixtureModel, KMeans as LinfaKMeans};
use ndarray::ArrayView2;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::features::N;
use crate::model::{Estimator, Eval, Gmm, KMeans};

/// Ridge added to each covariance's diagonal (standard units; see the module doc).
pub const GMM_REG_COVARIANCE: f64 = 0.05;
/// Standardised values are clipped to `±GMM_FIT_CLIP` for the mixture's fit.
pub const GMM_FIT_CLIP: f64 = 4.0;
/// EM stops when the mean log-likelihood gains less than this per iteration.
pub const GMM_TOLERANCE: f64 = 1e-3;
/// EM iterations before a mixture counts as not converged.
pub const GMM_MAX_ITERATIONS: u64 = 500;
/// K-means restarts (the best by inertia is kept).
pub const KMEANS_RUNS: usize = 4;

/// A candidate estimator: what to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// A Gaussian mixture of this many components.
    Gmm(usize),
    /// K-means with this many clusters.
    KMeans(usize),
}

impl Spec {
    /// `gmm8`, `kmeans16`.
    pub fn name(self) -> String {
        match self {
            Self::Gmm(k) => format!("gmm{k}"),
            Self::KMeans(k) => format!("kmeans{k}"),
        }
    }
}

/// A fitted candidate.
pub(crate) struct Fitted {
    pub estimator: Estimator,
    pub eval: Eval,
    /// K-means' spherical mixture, for its held-out likelihood.
    pub spherical: Option<Spherical>,
}

impl Fitted {
    /// `ln p(z)`: the mixture's own, or k-means' spherical reading of it.
    pub fn log_likelihood(&self, z: &[f64; N]) -> f64 {
        match &self.spherical {
            Some(spherical) => spherical.log_likelihood(z),
            None => self.eval.log_likelihood(z),
        }
    }
}

/// Fits `spec` on the standardised rows `z` with a generator seeded by `seed`.
pub(crate) fn fit(spec: Spec, z: ArrayView2<'_, f64>, seed: u64) -> Result<Fitted, String> {
    let rng = Xoshiro256Plus::seed_from_u64(seed);
    let (estimator, centroids) = match spec {
        Spec::Gmm(k) => {
            let clipped = z.mapv(|v| v.clamp(-GMM_FIT_CLIP, GMM_FIT_CLIP));
            let dataset = DatasetBase::from(clipped.view());
            let gmm = GaussianMixtureModel::params_with_rng(k, rng)
                .n_runs(1)
                .tolerance(GMM_TOLERANCE)
                .reg_covariance(GMM_REG_COVARIANCE)
                .max_n_iterations(GMM_MAX_ITERATIONS)
                .fit(&dataset)
                .map_err(|e| e.to_string())?;
            let gmm = Gmm::from_covariances(
                gmm.weights().view(),
                gmm.means().view(),
                gmm.covariances().view(),
            )
            .map_err(|e| e.to_string())?;
            (Estimator::Gmm(gmm), None)
        }
        Spec::KMeans(k) => {
            let dataset = DatasetBase::from(z);
            let kmeans = LinfaKMeans::params_with_rng(k, rng)
                .n_runs(KMEANS_RUNS)
                .fit(&dataset)
                .map_err(|e| e.to_string())?;
            let centroids: Vec<Vec<f64>> = kmeans
                .centroids()
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect();
            (
                Estimator::KMeans(KMeans {
                    centroids: centroids.clone(),
                }),
                Some(centroids),
            )
        }
    };
    let eval = Eval::new(&estimator).map_err(|e| e.to_string())?;
    let spherical = centroids.map(|c| Spherical::fit(&c, z));
    Ok(Fitted {
        estimator,
        eval,
        spherical,
    })
}

/// The spherical Gaussian mixture that k-means clusters define.
pub(crate) struct Spherical {
    centroids: Vec<[f64; N]>,
    /// `ln wₖ - d/2 ln(2π σₖ²)` per cluster.
    constants: Vec<f64>,
    /// `1 / (2 σₖ²)` per cluster.
    half_precision: Vec<f64>,
}

impl Spherical {
    /// Smallest per-dimension variance a cluster gets (standard units).
    const VARIANCE_FLOOR: f64 = 1e-4;

    fn fit(centroids: &[Vec<f64>], z: ArrayView2<'_, f64>) -> Self {
        let centroids: Vec<[f64; N]> = centroids
            .iter()
            .map(|c| <[f64; N]>::try_from(c.as_slice()).expect("centroids have N values"))
            .collect();
        let mut count = vec![0_u64; centroids.len()];
        let mut squares = vec![0.0; centroids.len()];
        for row in z.rows() {
            let (nearest, d2) = centroids
                .iter()
                .map(|c| {
                    c.iter()
                        .zip(row)
                        .map(|(c, z)| (z - c) * (z - c))
                        .sum::<f64>()
                })
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |best, (i, d2)| {
                        if d2 < best.1 { (i, d2) } else { best }
                    },
                );
            count[nearest] += 1;
            squares[nearest] += d2;
        }
        #[allow(clippy::cast_precision_loss)] // Counts are far below 2^52.
        let (total, d) = (z.nrows().max(1) as f64, N as f64);
        let (mut constants, mut half_precision) = (Vec::new(), Vec::new());
        let mut kept = Vec::new();
        for ((c, n), s) in centroids.into_iter().zip(count).zip(squares) {
            if n == 0 {
                continue;
            }
            #[allow(clippy::cast_precision_loss)]
            let n = n as f64;
            let variance = (s / (n * d)).max(Self::VARIANCE_FLOOR);
            constants.push((n / total).ln() - d / 2.0 * (std::f64::consts::TAU * variance).ln());
            half_precision.push(0.5 / variance);
            kept.push(c);
        }
        Self {
            centroids: kept,
            constants,
            half_precision,
        }
    }

    fn log_likelihood(&self, z: &[f64; N]) -> f64 {
        let (mut max, mut sum) = (f64::NEG_INFINITY, 0.0);
        for ((c, constant), h) in self
            .centroids
            .iter()
            .zip(&self.constants)
            .zip(&self.half_precision)
        {
            let d2: f64 = c.iter().zip(z).map(|(c, z)| (z - c) * (z - c)).sum();
            let lp = constant - h * d2;
            if lp > max {
                sum = sum * (max - lp).exp() + 1.0;
                max = lp;
            } else if lp > f64::NEG_INFINITY {
                sum += (lp - max).exp();
            }
        }
        max + sum.ln()
    }
}
