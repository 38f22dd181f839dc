//! Prometheus metrics, rendered at `GET /metrics` (text exposition format).
//!
//! The `metrics` facade with the Prometheus exporter's recorder, installed
//! once per process (no listener of its own: the gateway's router serves the
//! page). Labels are bounded: HTTP routes are the router's path templates
//! (`/v1/reset/{flow_id}`, never a flow id), levels, factors and outcomes are
//! fixed sets.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `resetgate_http_requests_total` | counter | `method`, `route`, `status` |
//! | `resetgate_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `resetgate_reset_decisions_total` | counter | `level` (`low`…`deny`) |
//! | `resetgate_factor_verifications_total` | counter | `factor`, `result` (`success`, `failure`) |
//! | `resetgate_shadow_disagreements_total` | counter | `live`, `shadow` (levels): the shadow policy decided otherwise |
//! | `resetgate_resets_completed_total` | counter | |
//! | `resetgate_webhook_attempts_total` | counter | `outcome` (`delivered`, `retry`, `dead`, `gone`) |
//! | `resetgate_webhook_backlog` | gauge | deliveries waiting (all nodes), read every 10 s |
//! | `resetgate_store_duration_seconds` | histogram | `store` (`durable`, `ephemeral`), `op` |
//! | `resetgate_account_cache_total` | counter | `result` (`hit`, `miss`): a start's account reads found current in memory, or read again (`SQLite` only) |

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Seconds: from half a millisecond (a memory-store call) to ten seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder (installed on first use).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (an embedding program):
        // then ours renders nothing, and that one is in charge.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics stays empty");
        }
        handle
    })
}

/// The exposition text.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// Middleware: count and time every request by its route template.
pub async fn track(request: Request, next: Next) -> Response {
    let _ = handle();
    // A fixed set: hyper accepts made-up methods, which must not mint series.
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("resetgate_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status)
    .increment(1);
    metrics::histogram!("resetgate_http_request_duration_seconds",
        "method" => method, "route" => route)
    .record(started.elapsed().as_secs_f64());
    response
}

/// A reset start decided at `level`.
pub fn decision(level: risk::Level) {
    metrics::counter!("resetgate_reset_decisions_total", "level" => level.as_str()).increment(1);
}

/// The shadow policy decided `shadow` where the live one decided `live`.
pub fn shadow_disagreement(live: risk::Level, shadow: risk::Level) {
    metrics::counter!("resetgate_shadow_disagreements_total",
        "live" => live.as_str(), "shadow" => shadow.as_str())
    .increment(1);
}

/// A factor check passed or failed.
pub fn verification(factor: risk::Factor, success: bool) {
    let result = if success { "success" } else { "failure" };
    metrics::counter!("resetgate_factor_verifications_total",
        "factor" => factor.as_str(), "result" => result)
    .increment(1);
}

/// A password was reset.
pub fn reset_completed() {
    metrics::counter!("resetgate_resets_completed_total").increment(1);
}

/// A webhook attempt ended with `outcome`.
pub fn webhook_attempt(outcome: &'static str) {
    metrics::counter!("resetgate_webhook_attempts_total", "outcome" => outcome).increment(1);
}

/// Deliveries waiting, as last counted.
pub fn webhook_backlog(pending: i64) {
    #[allow(clippy::cast_precision_loss)] // a queue length is far below 2^52
    metrics::gauge!("resetgate_webhook_backlog").set(pending as f64);
}

/// One store call of `op` took `took`.
pub fn store_call(store: &'static str, op: &'static str, took: Duration) {
    metrics::histogram!("resetgate_store_duration_seconds", "store" => store, "op" => op)
        .record(took.as_secs_f64());
}

/// A start's account reads were current in memory (`hit`) or read again.
pub fn account_cache(hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("resetgate_account_cache_total", "result" => result).increment(1);
}
