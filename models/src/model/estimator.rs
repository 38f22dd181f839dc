//! The fitted parameters as saved, and their evaluation with plain loops.
//!
//! Serving never calls linfa: linfa evaluates whole matrices (allocating a copy
//! of the observations per component), which is right for training and far too
//! slow for one attempt. The parameters are kept in the form the evaluation
//! wants, so scoring is a few thousand multiply-adds on the stack:
//!
//! - [`Scaler`]: `z = (x - mean) / std`, with `std` floored at [`STD_FLOOR`] so
//!   a feature that never moved in training does not divide by zero (a value it
//!   never took is then [`STD_FLOOR`]⁻¹ standard units away per unit).
//! - [`Gmm`]: a full-covariance Gaussian mixture. Each component keeps its
//!   weight, mean and the inverse `W = L⁻¹` of the Cholesky factor of its
//!   covariance `Σ = L·Lᵀ` (lower triangular, packed by rows), so that
//!   `ln N(z | μ, Σ) = -½ (d·ln 2π + |W (z - μ)|²) + Σᵢ ln Wᵢᵢ` needs one
//!   triangular matrix-vector product and no division (row by row measured
//!   faster than column by column or a dense square product). The anomaly value is the
//!   negative log-likelihood `-ln Σₖ wₖ N(z | μₖ, Σₖ)`, summed stably (running
//!   log-sum-exp).
//! - [`KMeans`]: centroids; the anomaly value is the Euclidean distance to the
//!   nearest one.

use ndarray::{ArrayView1, ArrayView2, ArrayView3};
use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::features::N;

/// Standard deviations below this (in feature units) count as this.
pub const STD_FLOOR: f64 = 1e-2;

/// `d·ln(2π)` for `d` = [`N`].
#[allow(clippy::cast_precision_loss)] // N is a small count.
const LN_2PI_D: f64 = N as f64 * 1.837_877_066_409_345_5;

/// Per-feature standardisation, fitted on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// Standard deviation of each feature, at least [`STD_FLOOR`].
    pub std: Vec<f64>,
}

impl Scaler {
    /// Mean and (population) standard deviation of each feature over `rows`
    /// (two passes, no copy).
    pub fn fit<'a>(rows: impl Iterator<Item = ArrayView1<'a, f64>> + Clone) -> Self {
        let (mut count, mut mean) = (0_u64, vec![0.0; N]);
        for row in rows.clone() {
            count += 1;
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        #[allow(clippy::cast_precision_loss)] // Row counts are far below 2^52.
        let n = count.max(1) as f64;
        for m in &mut mean {
            *m /= n;
        }
        let mut var = vec![0.0; N];
        for row in rows {
            for ((s, m), v) in var.iter_mut().zip(&mean).zip(row) {
                *s += (v - m) * (v - m);
            }
        }
        let std = var.iter().map(|s| (s / n).sqrt().max(STD_FLOOR)).collect();
        Self { mean, std }
    }
}

/// The fitted estimator, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Estimator {
    /// A full-covariance Gaussian mixture; anomaly = negative log-likelihood.
    Gmm(Gmm),
    /// K-means; anomaly = distance to the nearest centroid.
    KMeans(KMeans),
}

/// A Gaussian mixture's parameters, in standardised feature space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gmm {
    /// Mixture weights, summing to 1.
    pub weights: Vec<f64>,
    /// Component means, one row of [`N`] per component.
    pub means: Vec<Vec<f64>>,
    /// `L⁻¹` for each component's covariance `L·Lᵀ`: lower triangular, rows
    /// packed (`N·(N+1)/2` values: row 0 has one, row 1 two, …).
    pub whitening: Vec<Vec<f64>>,
}

/// K-means centroids, in standardised feature space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// One row of [`N`] per cluster.
    pub centroids: Vec<Vec<f64>>,
}

const PACKED: usize = N * (N + 1) / 2;

impl Gmm {
    /// From weights (k), means (k × N) and full covariances (k × N × N), as
    /// linfa's `GaussianMixtureModel` gives them.
    pub fn from_covariances(
        weights: ArrayView1<'_, f64>,
        means: ArrayView2<'_, f64>,
        covariances: ArrayView3<'_, f64>,
    ) -> Result<Self, ModelError> {
        let k = weights.len();
        if means.dim() != (k, N) || covariances.dim() != (k, N, N) {
            return Err(ModelError::Invalid(format!(
                "mixture of {k} components: means {:?}, covariances {:?}, expected ({k}, {N}) \
                 and ({k}, {N}, {N})",
                means.dim(),
                covariances.dim()
            )));
        }
        let whitening = covariances
            .outer_iter()
            .enumerate()
            .map(|(c, cov)| {
                inverse_cholesky(cov).ok_or_else(|| {
                    ModelError::Invalid(format!(
                        "covariance of component {c} is not positive definite"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            weights: weights.to_vec(),
            means: means.rows().into_iter().map(|r| r.to_vec()).collect(),
            whitening,
        })
    }
}

/// `L⁻¹` (lower triangle packed by rows) for `cov = L·Lᵀ`; `None` unless
/// positive definite.
// Triangular matrix algebra reads best with its indices.
#[allow(clippy::needless_range_loop)]
fn inverse_cholesky(cov: ArrayView2<'_, f64>) -> Option<Vec<f64>> {
    let mut l = [[0.0; N]; N];
    for j in 0..N {
        let d = cov[[j, j]] - (0..j).map(|k| l[j][k] * l[j][k]).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        l[j][j] = d.sqrt();
        for i in j + 1..N {
            l[i][j] = (cov[[i, j]] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>()) / l[j][j];
        }
    }
    let mut w = [[0.0; N]; N];
    for i in 0..N {
        w[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            w[i][j] = -(j..i).map(|k| l[i][k] * w[k][j]).sum::<f64>() / l[i][i];
        }
    }
    let packed: Vec<f64> = (0..N).flat_map(|i| w[i][..=i].to_vec()).collect();
    packed.iter().all(|v| v.is_finite()).then_some(packed)
}

/// The estimator flattened for evaluation (see the module doc).
#[derive(Debug, Clone)]
pub(crate) enum Eval {
    Gmm {
        /// `ln wₖ - ½ d ln 2π + Σᵢ ln Wᵢᵢ` per component.
        constants: Vec<f64>,
        /// k × N, row-major.
        means: Vec<f64>,
        /// k × [`PACKED`].
        whitening: Vec<f64>,
    },
    KMeans {
        /// k × N, row-major.
        centroids: Vec<f64>,
    },
}

impl Eval {
    /// Checks the dimensions and values of `estimator` and flattens it.
    pub(crate) fn new(estimator: &Estimator) -> Result<Self, ModelError> {
        match estimator {
            Estimator::Gmm(gmm) => {
                let k = gmm.weights.len();
                if k == 0 || gmm.means.len() != k || gmm.whitening.len() != k {
                    return Err(invalid(format!(
                        "gmm: {k} weights, {} means, {} whitening matrices",
                        gmm.means.len(),
                        gmm.whitening.len()
                    )));
                }
                let sum: f64 = gmm.weights.iter().sum();
                if gmm.weights.iter().any(|w| !w.is_finite() || *w <= 0.0)
                    || (sum - 1.0).abs() > 1e-6
                {
                    return Err(invalid(format!(
                        "gmm weights must be positive and sum to 1: {:?}",
                        gmm.weights
                    )));
                }
                let means = rows(&gmm.means, N, "gmm mean")?;
                let whitening = rows(&gmm.whitening, PACKED, "gmm whitening matrix")?;
                let mut constants = Vec::with_capacity(k);
                for (c, w) in gmm.weights.iter().enumerate() {
                    let tri = &whitening[c * PACKED..(c + 1) * PACKED];
                    let mut log_det = 0.0;
                    for i in 0..N {
                        let diagonal = tri[i * (i + 1) / 2 + i];
                        if diagonal <= 0.0 {
                            return Err(invalid(format!(
                                "gmm component {c}: whitening diagonal {i} is {diagonal}, must \
                                 be positive"
                            )));
                        }
                        log_det += diagonal.ln();
                    }
                    constants.push(w.ln() - 0.5 * LN_2PI_D + log_det);
                }
                Ok(Self::Gmm {
                    constants,
                    means,
                    whitening,
                })
            }
            Estimator::KMeans(kmeans) => {
                if kmeans.centroids.is_empty() {
                    return Err(invalid("k-means without centroids".into()));
                }
                Ok(Self::KMeans {
                    centroids: rows(&kmeans.centroids, N, "k-means centroid")?,
                })
            }
        }
    }

    /// The anomaly value of a standardised vector: higher = more unusual.
    pub(crate) fn anomaly(&self, z: &[f64; N]) -> f64 {
        match self {
            Self::Gmm { .. } => -self.log_likelihood(z),
            Self::KMeans { centroids } => centroids
                .chunks_exact(N)
                .map(|c| {
                    let mut diff = [0.0; N];
                    for ((d, z), c) in diff.iter_mut().zip(z).zip(c) {
                        *d = z - c;
                    }
                    squared_norm(&diff)
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt(),
        }
    }

    /// `ln p(z)` under the mixture (`-inf` for k-means, which has none).
    pub(crate) fn log_likelihood(&self, z: &[f64; N]) -> f64 {
        let (mut max, mut sum) = (f64::NEG_INFINITY, 0.0);
        self.for_each_component(z, |lp| {
            if lp > max {
                sum = sum * (max - lp).exp() + 1.0;
                max = lp;
            } else if lp > f64::NEG_INFINITY {
                sum += (lp - max).exp();
            }
        });
        if max == f64::NEG_INFINITY {
            return max;
        }
        max + sum.ln()
    }

    /// Calls `f` with `ln wₖ + ln N(z | μₖ, Σₖ)` for each component in order.
    pub(crate) fn for_each_component(&self, z: &[f64; N], mut f: impl FnMut(f64)) {
        let Self::Gmm {
            constants,
            means,
            whitening,
        } = self
        else {
            return;
        };
        for ((constant, mean), tri) in constants
            .iter()
            .zip(means.chunks_exact(N))
            .zip(whitening.chunks_exact(PACKED))
        {
            let mut diff = [0.0; N];
            for ((d, z), m) in diff.iter_mut().zip(z).zip(mean) {
                *d = z - m;
            }
            let mut quad = 0.0;
            let mut at = 0;
            for i in 0..N {
                let row = &tri[at..=at + i];
                let y: f64 = row.iter().zip(&diff).map(|(w, d)| w * d).sum();
                quad += y * y;
                at += i + 1;
            }
            f(constant - 0.5 * quad);
        }
    }
}

/// `|v|²`, summed in four independent lanes (one running sum would be a chain
/// of dependent additions).
fn squared_norm(v: &[f64; N]) -> f64 {
    let mut lanes = [0.0; 4];
    let chunks = v.chunks_exact(4);
    let rest: f64 = chunks.remainder().iter().map(|x| x * x).sum();
    for chunk in chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane += x * x;
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest
}

/// `rows` flattened, each checked to have `width` finite values.
fn rows(rows: &[Vec<f64>], width: usize, what: &str) -> Result<Vec<f64>, ModelError> {
    let mut flat = Vec::with_capacity(rows.len() * width);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(invalid(format!(
                "{what} {i} has {} values, expected {width}",
                row.len()
            )));
        }
        if let Some(bad) = row.iter().position(|v| !v.is_finite()) {
            return Err(invalid(format!("{what} {i}: value {bad} is not finite")));
        }
        flat.extend_from_slice(row);
    }
    Ok(flat)
}

fn invalid(message: String) -> ModelError {
    ModelError::Invalid(message)
}
