//! Criterion benchmarks of the anomaly model's serving path: feature
//! extraction from `Signals` plus scoring (`Model::score`), per attempt.
//!
//! The attempts are real replays: `models::generate` traffic (seed 7, 300
//! accounts, 21 days) replayed through the gateway's signal gathering
//! (`resetgate::replay`), so the signals have the shapes served traffic has.
//! Two models are trained on them (seeded): a 16-component Gaussian mixture
//! (the most expensive estimator) and 16-cluster k-means. Each iteration
//! scores the next attempt of the replayed set, round robin.
//!
//! Run with `cargo bench -p resetgate-bench --bench anomaly_score`; figures in
//! `bench/RESULTS.md`.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use models::dataset::Kind;
use models::features::{N, features};
use models::generate::{GenerateConfig, generate};
use models::model::Model;
use models::train::{TrainConfig, train};
use resetgate::replay::Replay;
use resetgate::signals::velocity::Lane;
use resetgate::time::from_unix;
use risk::Signals;

fn replayed() -> Vec<(Signals, SystemTime)> {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let replay = Replay::new(None, None).await.expect("replay services");
        let config = GenerateConfig {
            seed: 7,
            accounts: 300,
            days: 21,
            ..GenerateConfig::default()
        };
        let mut out = Vec::new();
        for attempt in generate(&config) {
            let mut lane = Lane::Open;
            if attempt.kind != Kind::ContactChange {
                let assessed = replay.assess(&attempt).await.expect("assessed");
                lane = Lane::of(assessed.signals.device.known);
                out.push((assessed.signals, from_unix(attempt.at)));
            }
            replay.observe(&attempt, lane).await.expect("observed");
        }
        out
    })
}

fn model(data: &[(Signals, SystemTime)], gmm: Vec<usize>, kmeans: Vec<usize>) -> Model {
    let mut rows = Vec::with_capacity(data.len() * N);
    for (signals, at) in data {
        rows.extend_from_slice(&features(signals, *at));
    }
    let rows = ndarray::Array2::from_shape_vec((data.len(), N), rows).expect("a matrix");
    let mut config = TrainConfig::new(7, jiff::Timestamp::UNIX_EPOCH);
    config.gmm_components = gmm;
    config.kmeans_clusters = kmeans;
    train(&rows, None, &config).expect("trained").model
}

fn bench(c: &mut Criterion) {
    let data = replayed();
    let models = [
        ("gmm16", model(&data, vec![16], vec![])),
        ("kmeans16", model(&data, vec![], vec![16])),
    ];
    let mut group = c.benchmark_group("anomaly_score");
    group.bench_function("features_only", |b| {
        let mut i = 0;
        b.iter(|| {
            let (signals, at) = &data[i % data.len()];
            i += 1;
            black_box(features(black_box(signals), *at))
        });
    });
    for (name, model) in &models {
        group.bench_function(format!("features_and_score_{name}"), |b| {
            let mut i = 0;
            b.iter(|| {
                let (signals, at) = &data[i % data.len()];
                i += 1;
                black_box(model.score(black_box(signals), *at))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
