//! Save/load, the refusals of `load`, and serving against linfa's own evaluation.

use linfa::DatasetBase;
use linfa::prelude::{Fit, Predict, Transformer};
use linfa_clustering::{GaussianMixtureModel, KMeans as LinfaKMeans};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng as SeedableRng06;

use super::*;
use crate::train::tests::{blob, small_config};
use crate::train::train;

fn trained() -> Model {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    train(&blob(&mut rng, 1_500), None, &small_config(5))
        .unwrap()
        .model
}

fn edited(model: &Model, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(&model.save()).unwrap();
    edit(&mut json);
    serde_json::to_vec(&json).unwrap()
}

#[test]
fn a_saved_model_loads_and_scores_the_same() {
    let model = trained();
    let bytes = model.save();
    let loaded = load(&bytes).unwrap();
    assert_eq!(loaded.version(), model.version());
    assert_eq!(loaded.saved(), model.saved());
    assert_eq!(loaded.save(), bytes);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for z in blob(&mut rng, 50).rows() {
        let x: [f64; N] = z.to_vec().try_into().unwrap();
        let score = model.score_features(&x);
        assert!((0.0..=1.0).contains(&score));
        assert_eq!(score.to_bits(), loaded.score_features(&x).to_bits());
    }
    let signals = risk::Signals::default();
    let score = loaded.score(&signals, SystemTime::UNIX_EPOCH);
    assert!((0.0..=1.0).contains(&score));
}

#[test]
fn a_schema_mismatch_is_refused_with_both_lists() {
    let model = trained();
    let renamed = edited(&model, |j| j["schema"][4] = "km_from_home".into());
    let err = load(&renamed).unwrap_err().to_string();
    assert!(
        err.contains(
            "model expects features [hour_sin, hour_cos, weekday_sin, weekday_cos, km_from_home,"
        ) && err.contains(
            "this build computes [hour_sin, hour_cos, weekday_sin, weekday_cos, log_km_from_usual,"
        ) && err.contains("only in the model: [km_from_home]")
            && err.contains("only in this build: [log_km_from_usual]"),
        "{err}"
    );
    let swapped = edited(&model, |j| {
        let schema = j["schema"].as_array_mut().unwrap();
        schema.swap(0, 1);
    });
    let err = load(&swapped).unwrap_err().to_string();
    assert!(
        err.contains(
            "same features in another order (first difference at position 0: hour_cos vs hour_sin)"
        ),
        "{err}"
    );
    let bumped = edited(&model, |j| {
        j["schema_version"] = (SCHEMA_VERSION + 1).into();
    });
    let err = load(&bumped).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "schema version {} in the model, {SCHEMA_VERSION} here",
            SCHEMA_VERSION + 1
        )),
        "{err}"
    );
    let shorter = edited(&model, |j| {
        j["schema"].as_array_mut().unwrap().pop();
    });
    let err = load(&shorter).unwrap_err();
    assert!(matches!(err, ModelError::Schema(_)), "{err}");
    assert!(
        err.to_string()
            .contains("only in this build: [history_log10_lr]")
    );
}

#[test]
fn other_formats_bad_values_and_edits_are_refused() {
    let model = trained();
    let err = load(&edited(&model, |j| {
        j["format"] = "resetgate-anomaly/0".into();
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "model file format is \"resetgate-anomaly/0\", this build reads \"resetgate-anomaly/1\""
    );
    assert!(matches!(
        load(b"{}").unwrap_err(),
        ModelError::Format { .. }
    ));
    assert!(matches!(
        load(b"not json").unwrap_err(),
        ModelError::Json(_)
    ));
    // NaN cannot be written in JSON; a null where a number belongs is refused.
    let err = load(&edited(&model, |j| {
        j["scaler"]["mean"][0] = serde_json::Value::Null;
    }));
    assert!(matches!(err.unwrap_err(), ModelError::Json(_)));
    // Changing a parameter breaks the content version.
    let err = load(&edited(&model, |j| j["scaler"]["mean"][0] = 0.123.into())).unwrap_err();
    assert!(err.to_string().contains("changed after training"), "{err}");

    // In memory: NaN and wrong dimensions.
    let mut nan = model.saved().clone();
    nan.scaler.std[3] = f64::NAN;
    assert!(matches!(
        Model::new(nan).unwrap_err(),
        ModelError::Invalid(_)
    ));
    let mut short = model.saved().clone();
    short.scaler.mean.pop();
    assert!(
        Model::new(short)
            .unwrap_err()
            .to_string()
            .contains("26 means")
    );
    let mut bad = model.saved().clone();
    match &mut bad.estimator {
        Estimator::Gmm(gmm) => gmm.means[0][0] = f64::NAN,
        Estimator::KMeans(kmeans) => kmeans.centroids[0].push(1.0),
    }
    assert!(matches!(
        Model::new(bad).unwrap_err(),
        ModelError::Invalid(_)
    ));
    let mut unordered = model.saved().clone();
    unordered.calibration.quantiles.swap(0, 500);
    assert!(
        Model::new(unordered)
            .unwrap_err()
            .to_string()
            .contains("decrease")
    );
}

/// ln |det a| by Gaussian elimination with partial pivoting (independent of the
/// Cholesky path under test).
fn ln_abs_det(matrix: ArrayView2<'_, f64>) -> f64 {
    let mut work = matrix.to_owned();
    let size = work.nrows();
    let mut ln_det = 0.0;
    for col in 0..size {
        let pivot_row = (col..size)
            .max_by(|x, y| work[[*x, col]].abs().total_cmp(&work[[*y, col]].abs()))
            .unwrap();
        for j in 0..size {
            work.swap([col, j], [pivot_row, j]);
        }
        let pivot = work[[col, col]];
        ln_det += pivot.abs().ln();
        for below in col + 1..size {
            let factor = work[[below, col]] / pivot;
            for j in col..size {
                work[[below, j]] -= factor * work[[col, j]];
            }
        }
    }
    ln_det
}

fn probes(rng: &mut ChaCha8Rng) -> Array2<f64> {
    let mut points = blob(rng, 200);
    // Some far from the data too.
    for mut row in points.rows_mut().into_iter().take(50) {
        row.mapv_inplace(|v| 4.0 * v + 1.0);
    }
    points
}

#[test]
fn serving_equals_linfa_for_the_mixture() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let data = blob(&mut rng, 2_000);
    let fitted = GaussianMixtureModel::params_with_rng(
        3,
        <Xoshiro256Plus as SeedableRng06>::seed_from_u64(1),
    )
    .reg_covariance(1e-4)
    .max_n_iterations(500)
    .fit(&DatasetBase::from(data.view()))
    .unwrap();
    let gmm = Gmm::from_covariances(
        fitted.weights().view(),
        fitted.means().view(),
        fitted.covariances().view(),
    )
    .unwrap();
    let eval = Eval::new(&Estimator::Gmm(gmm)).unwrap();
    let points = probes(&mut rng);
    let linfa_resp = fitted.predict_proba(&points);
    let linfa_nearest = fitted.predict(&points);
    let ln_2pi = (2.0 * std::f64::consts::PI).ln();
    let mut compared = 0;
    #[allow(clippy::cast_precision_loss)]
    let d = N as f64;
    for (i, p) in points.rows().into_iter().enumerate() {
        let z: [f64; N] = p.to_vec().try_into().unwrap();
        let ll = eval.log_likelihood(&z);
        // Independent: precisions for the quadratic form, LU for the determinant.
        let mut per = Vec::new();
        for k in 0..fitted.weights().len() {
            let diff = &p - &fitted.means().row(k);
            let quad = diff.dot(
                &fitted
                    .precisions()
                    .index_axis(ndarray::Axis(0), k)
                    .dot(&diff),
            );
            let ln_det = ln_abs_det(fitted.covariances().index_axis(ndarray::Axis(0), k));
            per.push(fitted.weights()[k].ln() - 0.5 * (d * ln_2pi + ln_det + quad));
        }
        let max = per.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let expected = max + per.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        assert!(
            (ll - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "point {i}: serving {ll}, reference {expected}"
        );
        assert!((eval.anomaly(&z) + ll).abs() < f64::EPSILON * ll.abs().max(1.0));
        let mut ours = Vec::new();
        eval.for_each_component(&z, |lp| ours.push((lp - ll).exp()));
        // linfa sums the components' densities without shifting by the
        // largest (log-sum-exp): far points underflow there, so compare where
        // its own arithmetic is exact.
        if ll < -200.0 {
            continue;
        }
        compared += 1;
        for (k, r) in ours.iter().enumerate() {
            assert!(
                (r - linfa_resp[[i, k]]).abs() < 1e-9,
                "point {i} component {k}: serving {r}, linfa {}",
                linfa_resp[[i, k]]
            );
        }
        let best = ours
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(best, linfa_nearest[i], "point {i}");
    }
    assert!(compared >= 150, "{compared} points compared with linfa");
}

#[test]
fn serving_equals_linfa_for_k_means() {
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let data = blob(&mut rng, 2_000);
    let fitted =
        LinfaKMeans::params_with_rng(6, <Xoshiro256Plus as SeedableRng06>::seed_from_u64(2))
            .fit(&DatasetBase::from(data.view()))
            .unwrap();
    let centroids = fitted
        .centroids()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    let eval = Eval::new(&Estimator::KMeans(KMeans { centroids })).unwrap();
    let points = probes(&mut rng);
    let squared = fitted.transform(&points);
    let nearest = fitted.predict(&points);
    for (i, p) in points.rows().into_iter().enumerate() {
        let z: [f64; N] = p.to_vec().try_into().unwrap();
        let ours = eval.anomaly(&z);
        assert!(
            (ours - squared[i].sqrt()).abs() <= 1e-9 * ours.max(1.0),
            "point {i}: serving {ours}, linfa {}",
            squared[i].sqrt()
        );
        let centroid = fitted.centroids().row(nearest[i]);
        let to_nearest = (&p - &centroid).mapv(|v| v * v).sum().sqrt();
        assert!((ours - to_nearest).abs() <= 1e-9 * ours.max(1.0));
    }
}

#[test]
fn the_bundled_model_loads_with_this_builds_features() {
    let model = bundled().expect("models/default-model.json loads: retrain it (models/README.md)");
    assert_eq!(model.saved().schema, SCHEMA);
    assert_eq!(model.version(), content_version(model.saved()));
}
