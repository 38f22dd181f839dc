//! Training end to end on synthetic data: reproducible, calibrated, anomalies high.

use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::*;

/// `n` rows of a correlated two-cluster Gaussian blob in N dimensions.
pub(crate) fn blob(rng: &mut ChaCha8Rng, n: usize) -> Array2<f64> {
    let mut rows = Array2::zeros((n, N));
    for (i, mut row) in rows.rows_mut().into_iter().enumerate() {
        let common: f64 = StandardNormal.sample(rng);
        let shift = if i % 2 == 0 { 0.0 } else { 3.0 };
        for (j, v) in row.iter_mut().enumerate() {
            let own: f64 = StandardNormal.sample(rng);
            #[allow(clippy::cast_precision_loss)]
            let scale = 0.5 + (j % 5) as f64 * 0.5;
            *v = scale * own + 0.7 * common + if j < 5 { shift } else { 0.0 };
        }
    }
    rows
}

/// Small and quick: two mixtures and one k-means, fitted on at most 1 000 rows.
pub(crate) fn small_config(seed: u64) -> TrainConfig {
    TrainConfig {
        gmm_components: vec![2, 4],
        kmeans_clusters: vec![4],
        max_fit_rows: 1_000,
        ..TrainConfig::new(seed, "2026-01-02T03:04:05Z".parse().unwrap())
    }
}

#[test]
fn the_same_data_and_seed_give_the_same_bytes() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let rows = blob(&mut rng, 1_500);
    let first = train(&rows, None, &small_config(5)).unwrap();
    let again = train(&rows, None, &small_config(5)).unwrap();
    assert_eq!(first.model.save(), again.model.save());
    let other = train(&rows, None, &small_config(6)).unwrap();
    assert_ne!(first.model.save(), other.model.save());
    let saved = first.model.saved();
    assert_eq!(saved.training.trained_at, "2026-01-02T03:04:05Z");
    assert_eq!(saved.training.seed, 5);
    assert_eq!(saved.training.rows, 1_500);
    assert_eq!(saved.training.data_sha256.len(), 64);
    assert!(
        first
            .model
            .version()
            .starts_with(&format!("{}-", saved.training.winner)),
        "{}",
        first.model.version()
    );
    assert_eq!(
        first.model.version().len(),
        saved.training.winner.len() + 13
    );
}

#[test]
fn without_labels_the_best_held_out_likelihood_wins() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let trained = train(&blob(&mut rng, 1_500), None, &small_config(1)).unwrap();
    assert_eq!(trained.selected_by, "heldout_log_likelihood");
    let names: Vec<&str> = trained.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["gmm2", "gmm4", "kmeans4"]);
    let best = trained
        .candidates
        .iter()
        .filter_map(|c| c.heldout_log_likelihood.map(|ll| (ll, &c.name)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    assert_eq!(&trained.model.saved().training.winner, best.1);
    assert!(trained.candidates.iter().all(|c| c.auc.is_none()));
}

#[test]
fn typical_points_score_uniformly_and_far_outliers_near_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let trained = train(&blob(&mut rng, 3_000), None, &small_config(2)).unwrap();
    let model = &trained.model;
    let score = |row: ndarray::ArrayView1<'_, f64>| {
        let x: [f64; N] = row.to_vec().try_into().unwrap();
        model.score_features(&x)
    };
    let fresh: Vec<f64> = blob(&mut rng, 2_000)
        .rows()
        .into_iter()
        .map(score)
        .collect();
    assert!(fresh.iter().all(|s| (0.0..=1.0).contains(s)));
    for cut in [0.25, 0.5, 0.75, 0.9] {
        #[allow(clippy::cast_precision_loss)]
        let share = fresh.iter().filter(|s| **s < cut).count() as f64 / fresh.len() as f64;
        assert!((share - cut).abs() < 0.06, "P(score < {cut}) = {share}");
    }
    let mut far = blob(&mut rng, 200);
    far.mapv_inplace(|v| v + 8.0);
    for (i, row) in far.rows().into_iter().enumerate() {
        let s = score(row);
        assert!(s > 0.99, "outlier {i} scores {s}");
    }
}

#[test]
fn with_labels_the_best_auc_wins_and_attacks_score_higher() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let legit = blob(&mut rng, 2_000);
    let mut attacks = blob(&mut rng, 200);
    for mut row in attacks.rows_mut() {
        for j in 10..14 {
            row[j] += 2.5;
        }
    }
    let rows = ndarray::concatenate![ndarray::Axis(0), legit, attacks];
    let labels: Vec<bool> = (0..rows.nrows()).map(|i| i >= 2_000).collect();
    let trained = train(&rows, Some(&labels), &small_config(3)).unwrap();
    assert_eq!(trained.selected_by, "roc_auc");
    let aucs: Vec<f64> = trained.candidates.iter().map(|c| c.auc.unwrap()).collect();
    let winner = trained
        .candidates
        .iter()
        .find(|c| c.name == trained.model.saved().training.winner)
        .unwrap();
    assert!(aucs.iter().all(|a| *a <= winner.auc.unwrap()), "{aucs:?}");
    assert!(winner.auc.unwrap() > 0.9, "{winner:?}");
    assert!(winner.tpr_at_1pct_fpr.unwrap() > 0.2, "{winner:?}");
    assert_eq!(trained.model.saved().training.legit_rows, 2_000);
}

#[test]
fn unusable_input_is_refused() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows = blob(&mut rng, 200);
    let config = small_config(1);
    let narrow = Array2::<f64>::zeros((200, N - 1));
    assert!(
        train(&narrow, None, &config)
            .unwrap_err()
            .to_string()
            .contains("26 columns")
    );
    let mut nan = rows.clone();
    nan[[17, 3]] = f64::NAN;
    assert!(
        train(&nan, None, &config)
            .unwrap_err()
            .to_string()
            .contains("row 17")
    );
    let err = train(&rows, Some(&[false; 3]), &config).unwrap_err();
    assert!(err.to_string().contains("3 labels for 200 rows"), "{err}");
    let few = rows.select(ndarray::Axis(0), &[0, 1, 2, 3, 4]);
    let err = train(&few, None, &config).unwrap_err();
    assert!(err.to_string().contains("too few"), "{err}");
    let none = TrainConfig {
        gmm_components: vec![],
        kmeans_clusters: vec![],
        ..config
    };
    assert!(train(&rows, None, &none).is_err());
}
