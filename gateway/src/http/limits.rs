//! Per-address flood protection on the public API (governor, keyed GCRA).
//!
//! This is a per-node limiter in front of everything else, so it keeps working
//! when a shared store does not. Memory is bounded: each key is one small
//! state cell, and [`spawn_retention`] drops keys whose state has fully
//! recovered every [`RETENTION_EVERY`].

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_addr::ClientAddr;
use super::error::ApiError;
use crate::app::AppState;

/// The keyed limiter.
pub type AddressLimiter = DefaultKeyedRateLimiter<IpAddr>;

/// `per_second` sustained, bursts of three seconds' worth.
pub fn limiter(per_second: u32) -> Arc<AddressLimiter> {
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(per_second.saturating_mul(3)).unwrap_or(rate);
    Arc::new(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

/// How often recovered keys are forgotten. The limiter holds one key per
/// address seen since the last pass, outside the in-memory store's budget: a
/// flood of distinct addresses refused at 40,000 /s left 2.4 million keys a
/// minute and took the gateway past 300 MB (`bench/RESULTS.md`, the flood);
/// every 5 s it is at most a twelfth of that. A key is dropped only once its
/// address has nothing left to wait for (a full burst recovers within 3 s),
/// so no address gains anything by it.
pub const RETENTION_EVERY: Duration = Duration::from_secs(5);

/// Forget recovered keys every [`RETENTION_EVERY`].
pub fn spawn_retention(limiter: Arc<AddressLimiter>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
}

/// Middleware: 429 `rate_limited` with `Retry-After` when the address is over.
pub async fn per_address(
    State(state): State<AppState>,
    ClientAddr(ip): ClientAddr,
    request: Request,
    next: Next,
) -> Response {
    match state.limiter.check_key(&super::client_addr::bucket(ip)) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let error = ApiError::too_many(
                "rate_limited",
                "too many requests from this address; slow down",
                wait.as_secs().max(1),
            );
            // A person on a page gets a page, a client of the API its JSON.
            if request.uri().path().starts_with("/v1/") {
                error.into_response()
            } else {
                let mut page = super::pages::problem::Problem::of(error)
                    .await
                    .page(&state.config.reset.help_desk);
                page.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(wait.as_secs().max(1)),
                );
                page
            }
        }
    }
}
