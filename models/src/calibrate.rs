//! Anomaly value → score in `[0, 1]`: the empirical CDF of the training data.
//!
//! Estimators speak different units (a negative log-likelihood, a distance), and
//! the policy wants one number whose meaning does not change when the model is
//! retrained or another estimator wins: `anomaly = 0.99` in a policy should
//! always mean "more unusual than 99 % of legitimate attempts". So the score is
//! the share of legitimate training attempts with a lower anomaly value.
//!
//! The CDF is kept as [`QUANTILES`] evenly spaced quantiles `q₀ ≤ … ≤ q_m` of
//! the training values (linear interpolation between order statistics, so `q₀`
//! is the minimum, `q_m` the maximum and `q_{m/2}` the median), and
//! `score(v) = (i + (v - qᵢ) / (qᵢ₊₁ - qᵢ)) / m` for `qᵢ ≤ v < qᵢ₊₁`: linear in
//! between, 0 at or below the minimum, 1 at or above the maximum. A value equal
//! to a run of tied quantiles `qᵢ = … = qⱼ` scores the middle of the run,
//! `(i + j) / 2m`, so the median scores 0.5 even on data with ties. The score is
//! monotone (a more unusual value never scores lower) and the file stays small
//! (about 20 kB) whatever the size of the training set. A NaN value (which the
//! estimators do not produce) scores 1: unusable means unusual.

use serde::{Deserialize, Serialize};

use crate::model::ModelError;

/// How many quantiles a fitted calibration keeps (every 0.1 %).
pub const QUANTILES: usize = 1_001;

/// The empirical CDF of the anomaly values of the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Evenly spaced quantiles, from the minimum to the maximum.
    pub quantiles: Vec<f64>,
}

impl Calibration {
    /// The calibration of `values` (sorted in place) with `points` quantiles.
    pub fn fit(values: &mut [f64], points: usize) -> Result<Self, ModelError> {
        if values.is_empty() || points < 2 {
            return Err(ModelError::Data(format!(
                "calibration needs values and at least 2 quantiles (got {} values, {points} \
                 quantiles)",
                values.len()
            )));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Training(
                "an anomaly value of the training data is not finite".into(),
            ));
        }
        values.sort_unstable_by(f64::total_cmp);
        let last = values.len() - 1;
        #[allow(clippy::cast_precision_loss)] // Counts are far below 2^52.
        let quantiles = (0..points)
            .map(|i| {
                let at = i as f64 / (points - 1) as f64 * last as f64;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let below = (at.floor() as usize).min(last);
                let above = (below + 1).min(last);
                let t = at - below as f64;
                values[below] + t * (values[above] - values[below])
            })
            .collect();
        Ok(Self { quantiles })
    }

    /// Refuses a calibration that cannot score: fewer than 2 quantiles, a value
    /// that is not finite, or quantiles out of order.
    pub fn check(&self) -> Result<(), ModelError> {
        let q = &self.quantiles;
        if q.len() < 2 {
            return Err(ModelError::Invalid(format!(
                "calibration has {} quantiles, needs at least 2",
                q.len()
            )));
        }
        if let Some(at) = q.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::Invalid(format!(
                "calibration quantile {at} is not finite"
            )));
        }
        if let Some(at) = q.windows(2).position(|w| w[1] < w[0]) {
            return Err(ModelError::Invalid(format!(
                "calibration quantiles decrease at {}",
                at + 1
            )));
        }
        Ok(())
    }

    /// The share of training values below `value`, interpolated: in `[0, 1]`.
    pub fn score(&self, value: f64) -> f64 {
        let q = &self.quantiles;
        if value.is_nan() {
            return 1.0;
        }
        // q[..at_most] <= value < q[at_most..]; q[..below] < value.
        let at_most = q.partition_point(|x| *x <= value);
        if at_most == 0 {
            return 0.0;
        }
        if at_most == q.len() && q[at_most - 1] < value {
            return 1.0;
        }
        #[allow(clippy::cast_precision_loss)] // At most a few thousand quantiles.
        let m = (q.len() - 1) as f64;
        let below = q[..at_most].partition_point(|x| *x < value);
        #[allow(clippy::cast_precision_loss)]
        if below < at_most {
            // value equals q[below..at_most]: the middle of the run.
            ((below + at_most - 1) as f64 / 2.0 / m).clamp(0.0, 1.0)
        } else {
            let i = at_most - 1;
            let t = (value - q[i]) / (q[i + 1] - q[i]);
            ((i as f64 + t) / m).clamp(0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Exp};

    use super::*;

    #[test]
    fn the_score_is_monotone_bounded_and_half_at_the_median() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let exp = Exp::new(0.5).unwrap();
        let mut values: Vec<f64> = (0..10_001).map(|_| exp.sample(&mut rng)).collect();
        let median = {
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            sorted[5_000]
        };
        let calibration = Calibration::fit(&mut values, QUANTILES).unwrap();
        calibration.check().unwrap();
        assert!((calibration.score(median) - 0.5).abs() < 1e-12);
        let mut probes: Vec<f64> = (0..20_000).map(|_| rng.random_range(-1.0..30.0)).collect();
        probes.extend(&calibration.quantiles);
        probes.sort_unstable_by(f64::total_cmp);
        let scores: Vec<f64> = probes.iter().map(|v| calibration.score(*v)).collect();
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        assert!(scores.windows(2).all(|w| w[0] <= w[1]), "monotone");
        assert!(calibration.score(-1.0).abs() < f64::EPSILON);
        assert!((calibration.score(1e9) - 1.0).abs() < f64::EPSILON);
        assert!((calibration.score(f64::NAN) - 1.0).abs() < f64::EPSILON);
        // Fresh values from the same distribution score about uniformly.
        let fresh: Vec<f64> = (0..20_000)
            .map(|_| calibration.score(exp.sample(&mut rng)))
            .collect();
        for cut in [0.1, 0.5, 0.9, 0.99] {
            #[allow(clippy::cast_precision_loss)]
            let share = fresh.iter().filter(|s| **s < cut).count() as f64 / 20_000.0;
            assert!((share - cut).abs() < 0.015, "P(score < {cut}) = {share}");
        }
    }

    #[test]
    fn ties_score_the_middle_of_their_run_and_stay_monotone() {
        let mut values = vec![1.0; 50];
        values.extend(vec![2.0; 50]);
        let calibration = Calibration::fit(&mut values, 11).unwrap();
        let probes = [0.5, 1.0, 1.5, 2.0, 2.5];
        let scores = probes.map(|v| calibration.score(v));
        assert!(scores.windows(2).all(|w| w[0] <= w[1]), "{scores:?}");
        assert!(scores[0].abs() < f64::EPSILON);
        assert!((scores[4] - 1.0).abs() < f64::EPSILON);
        // One value only: every quantile ties.
        let single = Calibration::fit(&mut [3.0], 5).unwrap();
        assert!((single.score(3.0) - 0.5).abs() < f64::EPSILON);
        assert!(single.score(2.9).abs() < f64::EPSILON);
        assert!((single.score(3.1) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn bad_calibrations_are_refused() {
        assert!(Calibration::fit(&mut [], 10).is_err());
        assert!(Calibration::fit(&mut [1.0, f64::INFINITY], 10).is_err());
        for quantiles in [vec![1.0], vec![1.0, f64::NAN], vec![2.0, 1.0]] {
            assert!(Calibration { quantiles }.check().is_err());
        }
    }
}
