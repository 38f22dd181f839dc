//! The whole `POST /v1/reset` in process: the real router and services on the
//! memory store and a temporary `SQLite` file, driven with `oneshot` (no socket).
//! Every request gathers geo, device, history and velocity, decides, stores
//! the flow and commits its audit record.
//!
//! Two measurements: criterion's mean per request, and the latency distribution
//! of 1,000 sequential requests (p50 / p99 / p999), printed as
//! `reset_start/latency`. Names and client addresses rotate so that velocity
//! rules do not turn the traffic into refusals.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use criterion::{Criterion, criterion_group};
use http_body_util::BodyExt;
use resetgate::app::{self, BuildOptions};
use resetgate::config::Config;
use tower::ServiceExt;

fn request(i: usize) -> Request<Body> {
    let body = format!(r#"{{"username":"user{}"}}"#, i % 5_000);
    let mut req = Request::builder()
        .method("POST")
        .uri("/v1/reset")
        .header("content-type", "application/json")
        .header("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
        .body(Body::from(body))
        .expect("static request");
    let addr = SocketAddr::from(([198, 51, 100, u8::try_from(i % 200).unwrap_or(0)], 40_000));
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

fn router(runtime: &tokio::runtime::Runtime, dir: &tempfile::TempDir) -> axum::Router {
    let mut config = Config::default();
    config.store.durable = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.secrets.key_file = dir.path().join("key");
    config.server.rate_limit_per_second = 1_000_000;
    let state = runtime
        .block_on(app::build(config, BuildOptions::default()))
        .expect("gateway builds");
    resetgate::http::router(state)
}

async fn one(router: &axum::Router, i: usize) {
    let response = router
        .clone()
        .oneshot(request(i))
        .await
        .expect("infallible");
    assert!(response.status().is_success(), "{}", response.status());
    let _ = response.into_body().collect().await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn latency_distribution(runtime: &tokio::runtime::Runtime, router: &axum::Router) {
    let mut samples = Vec::with_capacity(1_000);
    runtime.block_on(async {
        for i in 0..200 {
            one(router, i).await; // warm-up
        }
        for i in 0..1_000 {
            let started = Instant::now();
            one(router, 10_000 + i).await;
            samples.push(started.elapsed());
        }
    });
    samples.sort();
    println!(
        "reset_start/latency over 1000 sequential requests: p50 {:?}  p99 {:?}  p999 {:?}  max {:?}",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 0.999),
        samples[samples.len() - 1],
    );
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let router = router(&runtime, &dir);
    latency_distribution(&runtime, &router);
    let mut i = 20_000;
    c.bench_function("reset_start/in_process", |b| {
        b.to_async(&runtime).iter(|| {
            i += 1;
            one(&router, i)
        });
    });
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
