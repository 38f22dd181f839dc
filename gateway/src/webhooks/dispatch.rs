//! The dispatcher: one task per node that sends the outbox's messages.
//!
//! Each round (when the audit writer commits a message, when an attempt ends,
//! and at least every [`POLL`]) it
//! 1. re-reads the endpoints (another node or the admin API may have changed
//!    them),
//! 2. routes new messages: one delivery per endpoint that wants the message,
//!    due after the schedule's first delay,
//! 3. for each active endpoint whose secrets it holds, leases as many due
//!    deliveries as the endpoint has free slots (`webhook_delivery.concurrency`
//!    attempts in flight per endpoint on this node) and sends each in a task of
//!    its own.
//!
//! An attempt resolves the endpoint's host and checks every address (the SSRF
//! guard, [`super::target`]), connects only to those, follows no redirect, and
//! signs the stored body with the endpoint's secrets and the time of sending.
//! Its result ([`judge`]): 2xx — delivered; 410 — the endpoint is disabled and
//! the delivery waits; anything else (no answer, a timeout, a refused target,
//! another status) — again after the schedule's next delay (after the
//! receiver's `Retry-After` on 429 and 503 when that is longer, up to a day),
//! until the schedule is used up:
//! then the delivery is dead (kept, and redeliverable).
//!
//! Every [`PURGE_EVERY`] (and at start) the node removes delivered and dead
//! deliveries older than `webhook_delivery.retention` (30 days by default).
//!
//! Several nodes: a delivery is leased to one claim at a time, until the
//! attempt's timeout plus [`LEASE_MARGIN`]; only that claim's report is
//! recorded. (Leases are in each node's clock: nodes must keep time to within
//! the margin, as with NTP.) A node that dies mid-attempt leaves the lease to run out, and the
//! delivery is sent again by whichever node claims it next — under the same
//! `webhook-id`, so the receiver can tell it has it already (Standard
//! Webhooks is at-least-once).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::outbox::Endpoint;
use super::{sign, target};
use crate::app::AppState;
use crate::store::durable::DurableError;
use crate::store::durable::outbox::{AttemptRecord, Claimed, Outcome};
use crate::time::{unix, unix_millis};

/// Longest wait between two rounds.
pub const POLL: Duration = Duration::from_secs(1);
/// A lease outlasts the attempt's timeout by this much (time to report).
pub const LEASE_MARGIN: Duration = Duration::from_secs(15);
/// The longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_hours(24);
/// How often the backlog gauge is refreshed.
pub const BACKLOG_EVERY: Duration = Duration::from_secs(10);
/// How often a node applies `webhook_delivery.retention`.
pub const PURGE_EVERY: Duration = Duration::from_hours(1);
/// Messages routed per transaction.
const ROUTE_BATCH: i64 = 256;

/// Start the dispatcher of this node, restarted should it ever panic.
pub fn spawn(s: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match tokio::spawn(run(s.clone())).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, "webhook dispatcher failed; restarting it");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    })
}

async fn run(s: AppState) {
    let mut slots: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut failing = false;
    let mut purged: Option<std::time::Instant> = None;
    let mut counted: Option<std::time::Instant> = None;
    loop {
        if purged.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            purged = Some(std::time::Instant::now());
            purge(&s).await;
        }
        if counted.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY) {
            counted = Some(std::time::Instant::now());
            if let Ok(pending) = s.durable.backlog().await {
                crate::metrics::webhook_backlog(pending);
            }
        }
        match (round(&s, &mut slots).await, failing) {
            (Ok(()), true) => {
                tracing::info!("webhook dispatcher: the durable store answers again");
                failing = false;
            }
            (Err(e), false) => {
                tracing::warn!(error = %e, "webhook dispatcher: durable store unavailable; deliveries wait");
                failing = true;
            }
            _ => {}
        }
        tokio::select! {
            () = s.webhooks.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn round(
    s: &AppState,
    slots: &mut HashMap<String, Arc<Semaphore>>,
) -> Result<(), DurableError> {
    let hooks = &s.webhooks;
    hooks.refresh(s.durable.as_ref()).await?;
    let now = s.clock.now();
    let first = hooks.delivery.schedule.first().copied().unwrap_or_default();
    let route = |kind: &str, level: Option<&str>| hooks.route(kind, level);
    while s
        .durable
        .route(&route, millis(now), millis(now + first), ROUTE_BATCH)
        .await?
        == usize::try_from(ROUTE_BATCH).unwrap_or(usize::MAX)
    {}
    let lease_for = hooks.delivery.timeout + LEASE_MARGIN;
    let endpoints = hooks.endpoints();
    slots.retain(|id, _| endpoints.iter().any(|e| &e.id == id));
    for endpoint in endpoints.iter() {
        if !endpoint.active || endpoint.secrets.is_empty() {
            continue;
        }
        let free = slots
            .entry(endpoint.id.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(hooks.delivery.concurrency as usize)))
            .clone();
        let available = free.available_permits();
        if available == 0 {
            continue;
        }
        let now = s.clock.now();
        // A lease of its own per claim: a report from an attempt whose lease
        // ran out (and was claimed again, maybe by this node) is refused.
        let lease = format!("lease-{}", ulid::Ulid::new());
        let claimed = s
            .durable
            .claim(
                &endpoint.id,
                millis(now),
                millis(now + lease_for),
                &lease,
                i64::try_from(available).unwrap_or(i64::MAX),
            )
            .await?;
        for delivery in claimed {
            let Ok(permit) = free.clone().try_acquire_owned() else {
                break;
            };
            tokio::spawn(attempt(
                s.clone(),
                endpoint.clone(),
                delivery,
                lease.clone(),
                permit,
            ));
        }
    }
    Ok(())
}

/// Remove what `webhook_delivery.retention` no longer keeps.
async fn purge(s: &AppState) {
    let before = s
        .clock
        .now()
        .checked_sub(s.webhooks.delivery.retention)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match s.durable.purge(millis(before)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            deliveries = n,
            "webhook deliveries past their retention removed"
        ),
        Err(e) => tracing::warn!(error = %e, "webhook retention not applied; tried again later"),
    }
}

/// What came back from one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// The receiver answered with this status (and `Retry-After`, if any).
    Answered {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: why (no secret, no URL).
    Failed(String),
}

async fn attempt(
    s: AppState,
    endpoint: Endpoint,
    delivery: Claimed,
    lease: String,
    _slot: OwnedSemaphorePermit,
) {
    let started = s.clock.now();
    let clock = std::time::Instant::now();
    let timeout = s.webhooks.delivery.timeout;
    let sent = tokio::time::timeout(timeout, send(&s, &endpoint, &delivery, started))
        .await
        .unwrap_or_else(|_| Sent::Failed(format!("no answer within {timeout:?}")));
    let latency = clock.elapsed();
    let made = delivery.attempts.saturating_add(1);
    let outcome = judge(&sent, made, &s.webhooks.delivery.schedule, s.clock.now());
    let record = AttemptRecord {
        at: millis(started),
        status: match &sent {
            Sent::Answered { status, .. } => Some(i64::from(*status)),
            Sent::Failed(_) => None,
        },
        latency_ms: i64::try_from(latency.as_millis()).unwrap_or(i64::MAX),
        error: match &sent {
            Sent::Answered { status, .. } if (200..300).contains(status) => None,
            Sent::Answered { status, .. } => Some(format!("HTTP {status}")),
            Sent::Failed(why) => Some(why.clone()),
        },
    };
    log(&endpoint, &delivery, made, &record, outcome);
    crate::metrics::webhook_attempt(match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Dead => "dead",
        Outcome::Gone => "gone",
    });
    match s
        .durable
        .finish(delivery.id, &lease, &record, outcome)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            endpoint = %endpoint.id, webhook_id = %delivery.message_id,
            "webhook attempt outlasted its lease; another node owns the delivery now"
        ),
        Err(e) => tracing::warn!(
            endpoint = %endpoint.id, webhook_id = %delivery.message_id, error = %e,
            "webhook attempt not recorded; the delivery is sent again when its lease runs out"
        ),
    }
    // A slot is free, and a retry may be due at once.
    s.webhooks.wake.notify_one();
}

async fn send(s: &AppState, endpoint: &Endpoint, delivery: &Claimed, at: SystemTime) -> Sent {
    let delivery_config = &s.webhooks.delivery;
    let addrs =
        match target::resolve_checked(&endpoint.url, delivery_config.allow_private_targets).await {
            Ok(addrs) => addrs,
            Err(e) => return Sent::Failed(format!("target refused: {e}")),
        };
    let client = match target::pinned_client(&endpoint.url, &addrs, delivery_config.timeout) {
        Ok(client) => client,
        Err(e) => return Sent::Failed(format!("HTTP client: {}", e.without_url())),
    };
    let body = delivery.body.as_bytes();
    let mut request = client
        .post(endpoint.url.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::USER_AGENT,
            concat!("resetgate/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in sign::headers(&endpoint.secrets, &delivery.message_id, unix(at), body) {
        request = request.header(name, value);
    }
    match request.body(delivery.body.clone()).send().await {
        Ok(response) => Sent::Answered {
            status: response.status().as_u16(),
            retry_after: retry_after(response.headers(), at),
        },
        Err(e) => Sent::Failed(describe(&e)),
    }
}

/// A transport error in words, without the URL (it may carry a token).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}

/// The delivery's fate after its `made`-th attempt came back as `sent`, at
/// `now`, under `schedule` (one delay per attempt; its length is the number
/// of attempts).
pub fn judge(sent: &Sent, made: i64, schedule: &[Duration], now: SystemTime) -> Outcome {
    let (status, retry_after) = match sent {
        Sent::Answered {
            status,
            retry_after,
        } => (Some(*status), *retry_after),
        Sent::Failed(_) => (None, None),
    };
    match status {
        Some(200..=299) => return Outcome::Delivered,
        Some(410) => return Outcome::Gone,
        _ => {}
    }
    let Some(next_delay) = usize::try_from(made).ok().and_then(|i| schedule.get(i)) else {
        return Outcome::Dead;
    };
    let delay = match (status, retry_after) {
        // At least as long as asked, and never sooner than the schedule: a
        // receiver saying "0" must not burn the attempts in a burst.
        (Some(429 | 503), Some(asked)) => asked.max(*next_delay).min(MAX_RETRY_AFTER),
        _ => *next_delay,
    };
    Outcome::Retry {
        at: millis(now + delay),
    }
}

/// `Retry-After` as a delay from `now`: delta-seconds or an HTTP date (RFC
/// 9110 §10.2.3); a date in the past is no delay.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(now).ok()?;
    let wait = now.duration_until(date);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn log(
    endpoint: &Endpoint,
    delivery: &Claimed,
    made: i64,
    record: &AttemptRecord,
    outcome: Outcome,
) {
    let status = record.status.map(|s| {
        StatusCode::from_u16(u16::try_from(s).unwrap_or(0))
            .map_or_else(|_| s.to_string(), |c| c.to_string())
    });
    let (id, msg) = (&endpoint.id, &delivery.message_id);
    let error = record.error.as_deref().unwrap_or("");
    match outcome {
        Outcome::Delivered => tracing::debug!(
            endpoint = %id, webhook_id = %msg, attempt = made, latency_ms = record.latency_ms,
            "webhook delivered"
        ),
        Outcome::Retry { at } => tracing::warn!(
            endpoint = %id, webhook_id = %msg, attempt = made, status = ?status, %error,
            retry_in_ms = at - record.at - record.latency_ms,
            "webhook attempt failed; will retry"
        ),
        Outcome::Dead => tracing::error!(
            endpoint = %id, webhook_id = %msg, attempt = made, status = ?status, %error,
            "webhook delivery exhausted its retry schedule; kept as a dead letter"
        ),
        Outcome::Gone => tracing::error!(
            endpoint = %id, webhook_id = %msg,
            "webhook receiver answered 410 Gone; endpoint disabled until its URL changes or it is enabled again"
        ),
    }
}

fn millis(t: SystemTime) -> i64 {
    unix_millis(t)
}

#[cfg(test)]
mod tests;
