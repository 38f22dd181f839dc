//! The two ways of offering load, shared by every scenario.
//!
//! - [`closed_loop`]: `clients` tasks send back to back; throughput is what the
//!   server sustains (peak), latency includes queueing behind the other clients.
//! - [`open_loop`]: requests are sent at a fixed rate whatever the answers do;
//!   request `i` is due at `start + i / rate` and its latency is measured from
//!   that intended time, not from when it was actually sent, so a stall in the
//!   server (or the driver) shows up in the latency of every request that should
//!   have gone out during it (no coordinated omission). The dispatcher spawns
//!   one task per request; it never waits for answers.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::{Tally, outcome_of};

/// What one request came to: status and body, or a transport error's text.
pub type Answer = Result<(u16, Vec<u8>), String>;

impl Tally {
    /// Count one answer that took `latency`.
    pub fn add(&mut self, latency: Duration, answer: &Answer) {
        self.latencies_us
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        match answer {
            Ok((status, body)) => {
                *self.statuses.entry(status.to_string()).or_default() += 1;
                if *status == 200 {
                    *self.outcomes.entry(outcome_of(body)).or_default() += 1;
                }
            }
            Err(e) => *self.statuses.entry(e.clone()).or_default() += 1,
        }
    }

    /// Requests per second over `seconds`.
    pub fn rate(&self, seconds: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.latencies_us.len() as f64;
        n / seconds
    }
}

/// One measured run.
pub struct Run {
    pub tally: Tally,
    /// The measured window's length.
    pub seconds: f64,
    /// Open loop only: the rate asked for.
    pub offered: Option<f64>,
    /// Open loop only: how late the dispatcher was at worst in sending a
    /// request (the driver's own lag; latency is counted from the intended
    /// time regardless).
    pub max_dispatch_lag: Duration,
    /// Open loop only: each recorded request as (its intended send time after
    /// the measured window began, its latency), in µs, in intended order —
    /// whether a tail is a few stalls or spread over the run.
    pub timeline: Vec<(u64, u64)>,
}

impl Run {
    pub fn throughput(&self) -> f64 {
        self.tally.rate(self.seconds)
    }
}

/// `clients` tasks, each sending `request(i)` back to back with a shared
/// counter `i`, for `warmup` (not recorded) and then `duration` (every request
/// started within it is recorded).
pub async fn closed_loop<F, Fut>(
    clients: usize,
    warmup: Duration,
    duration: Duration,
    request: F,
) -> Run
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Answer> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + warmup;
    let measure_to = measure_from + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..clients {
        let (request, next) = (request.clone(), next.clone());
        tasks.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let t0 = Instant::now();
                if t0 >= measure_to {
                    break tally;
                }
                let answer = request(next.fetch_add(1, Ordering::Relaxed)).await;
                if t0 >= measure_from {
                    tally.add(t0.elapsed(), &answer);
                }
            }
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = tasks.join_next().await {
        tally.merge(done.expect("a load task does not panic"));
    }
    tally.latencies_us.sort_unstable();
    Run {
        tally,
        seconds: duration.as_secs_f64(),
        offered: None,
        max_dispatch_lag: Duration::ZERO,
        timeline: Vec::new(),
    }
}

/// `request(i)` sent at `rate` per second for `warmup` + `duration`; requests
/// due within `duration` are recorded, latency from their intended send time.
///
/// The dispatcher is an OS thread of its own that sleeps to each intended time
/// (`nanosleep`, tens of µs late) and spawns the request onto the runtime:
/// tokio's timer ticks in whole milliseconds, so a dispatcher on it sent
/// requests up to a millisecond late, in bursts, and that lag counted in every
/// latency.
pub async fn open_loop<F, Fut>(rate: f64, warmup: Duration, duration: Duration, request: F) -> Run
where
    F: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    assert!(rate > 0.0, "the rate is positive");
    let start = Instant::now() + Duration::from_millis(10);
    let measure_from = start + warmup;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = ((warmup + duration).as_secs_f64() * rate).floor() as u64;
    let runtime = tokio::runtime::Handle::current();
    let (sent, mut answers) = tokio::sync::mpsc::unbounded_channel();
    let dispatcher = std::thread::Builder::new()
        .name("open-loop".into())
        .spawn(move || {
            let mut max_lag = Duration::ZERO;
            for i in 0..total {
                #[allow(clippy::cast_precision_loss)]
                let intended = start + Duration::from_secs_f64(i as f64 / rate);
                if let Some(wait) = intended.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                max_lag = max_lag.max(intended.elapsed());
                let future = request(i);
                let recorded = intended >= measure_from;
                let sent = sent.clone();
                runtime.spawn(async move {
                    let answer = future.await;
                    let _ = sent.send((recorded, intended, intended.elapsed(), answer));
                });
            }
            max_lag
        })
        .expect("the open-loop dispatcher thread starts");
    let mut tally = Tally::default();
    let mut timeline = Vec::new();
    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    // Every request task holds a sender: the channel ends with the last answer.
    while let Some((recorded, intended, latency, answer)) = answers.recv().await {
        if recorded {
            tally.add(latency, &answer);
            timeline.push((us(intended - measure_from), us(latency)));
        }
    }
    timeline.sort_unstable();
    let max_lag = dispatcher
        .join()
        .expect("the open-loop dispatcher does not panic");
    tally.latencies_us.sort_unstable();
    Run {
        tally,
        seconds: duration.as_secs_f64(),
        offered: Some(rate),
        max_dispatch_lag: max_lag,
        timeline,
    }
}
