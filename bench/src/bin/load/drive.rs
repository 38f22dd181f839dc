//! The two ways of offering load, shared by every scenario.
//!
//! - [`closed_loop`]: `clients` tasks send back to back; throughput is what the
//!   server sustains (peak), latency includes queueing behind the other clients.
//! - [`open_loop`]: requests are sent at a fixed rate whatever the answers do;
//!   request `i` is due at `start + i / rate` and its latency is measured from
//!   that intended time, not from when it was actually sent, so a stall in the
//!   server (or the driver) shows up in the latency of every request that should
//!   have gone out during it (no coordinated omission). The dispatcher spawns
//!   one task per request; it never waits for answers. It runs on a thread
//!   of its own with connections of its own (see [`open_loop`]).

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustix::time::{
    Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
    timerfd_settime,
};
use tokio::io::unix::AsyncFd;
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
    /// Open loop only: when the measured window began on `CLOCK_MONOTONIC`
    /// (`Instant`'s clock), in ns, to place the timeline beside other
    /// processes' records (`bench/scripts/heartbeat.py`).
    pub window_start_monotonic_ns: Option<u64>,
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
        window_start_monotonic_ns: None,
    }
}

/// `request(i)` sent to `addr` as `offer` says; requests due within its
/// `duration` are recorded, latency from their intended send time.
///
/// The whole open loop runs on one OS thread of its own: a current-thread
/// runtime whose dispatcher waits for each intended time on a `timerfd`
/// (tokio's timer ticks in whole milliseconds: a dispatcher on it sent
/// requests up to a millisecond late, in bursts, and that lag counted in
/// every latency), and HTTP/1.1 keep-alive connections of its own (hyper's
/// client connections; a request takes an idle one, or opens one when none
/// is, so it never queues behind another's answer). The driver shares the
/// machine's two cores with the server it measures: the loop this replaced
/// (a dispatcher thread sleeping to each time and spawning each request onto
/// the multi-threaded runtime, through reqwest's pool) used 0.83 of a core at
/// 8,000 /s, most of it in the context switches between its threads
/// (`bench/RESULTS.md`, ninth look).
pub async fn open_loop<F>(addr: SocketAddr, offer: Offer, request: F) -> Run
where
    F: Fn(u64) -> Request<String> + Send + 'static,
{
    assert!(offer.rate > 0.0, "the rate is positive");
    let (done, run) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("open-loop".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the open loop's runtime starts");
            let local = tokio::task::LocalSet::new();
            let run = local.block_on(&runtime, dispatch(addr, offer, request));
            let _ = done.send(run);
        })
        .expect("the open-loop thread starts");
    run.await.expect("the open-loop thread answers")
}

/// How an open loop offers its load: `rate` requests a second for `warmup`
/// (not recorded) and then `duration`.
#[derive(Debug, Clone, Copy)]
pub struct Offer {
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the requests of an open loop share on its thread.
#[derive(Default)]
struct Shared {
    /// Connections whose last answer has been read, most recent last.
    idle: RefCell<Vec<SendRequest<String>>>,
    tally: RefCell<Tally>,
    timeline: RefCell<Vec<(u64, u64)>>,
}

async fn dispatch<F>(addr: SocketAddr, offer: Offer, request: F) -> Run
where
    F: Fn(u64) -> Request<String>,
{
    let Offer {
        rate,
        warmup,
        duration,
    } = offer;
    let timer = Timer::new().expect("a timerfd");
    let start = Instant::now() + Duration::from_millis(10);
    let measure_from = start + warmup;
    let window_start_monotonic_ns = monotonic_ns(measure_from);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = ((warmup + duration).as_secs_f64() * rate).floor() as u64;
    let shared = Rc::new(Shared::default());
    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let mut tasks = JoinSet::new();
    let mut max_lag = Duration::ZERO;
    for i in 0..total {
        #[allow(clippy::cast_precision_loss)]
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        timer.until(intended).await;
        max_lag = max_lag.max(intended.elapsed());
        let request = request(i);
        let shared = Rc::clone(&shared);
        tasks.spawn_local(async move {
            let answer = send(addr, &shared.idle, request).await;
            let latency = intended.elapsed();
            if intended >= measure_from {
                shared.tally.borrow_mut().add(latency, &answer);
                shared
                    .timeline
                    .borrow_mut()
                    .push((us(intended - measure_from), us(latency)));
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut tally = shared.tally.take();
    tally.latencies_us.sort_unstable();
    let mut timeline = shared.timeline.take();
    timeline.sort_unstable();
    Run {
        tally,
        seconds: duration.as_secs_f64(),
        offered: Some(rate),
        max_dispatch_lag: max_lag,
        timeline,
        window_start_monotonic_ns: Some(window_start_monotonic_ns),
    }
}

/// `at` (not yet passed) on `CLOCK_MONOTONIC`, in ns.
fn monotonic_ns(at: Instant) -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let ahead = at.saturating_duration_since(Instant::now());
    let now_ns = u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000
        + u64::try_from(now.tv_nsec).unwrap_or(0);
    now_ns + u64::try_from(ahead.as_nanos()).unwrap_or(u64::MAX)
}

/// `request` on an idle connection to `addr`, or on a new one.
async fn send(
    addr: SocketAddr,
    idle: &RefCell<Vec<SendRequest<String>>>,
    request: Request<String>,
) -> Answer {
    let transport = |e: &dyn std::fmt::Display| format!("transport error: {e}");
    let mut sender = loop {
        // The borrow ends before the wait: the other requests on this
        // thread take and give connections meanwhile.
        let kept = idle.borrow_mut().pop();
        match kept {
            Some(mut sender) => {
                if sender.ready().await.is_ok() {
                    break sender;
                }
            }
            None => break connect(addr).await.map_err(|e| transport(&e))?,
        }
    };
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport(&e))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| transport(&e))?
        .to_bytes();
    idle.borrow_mut().push(sender);
    Ok((status, body.to_vec()))
}

/// A new HTTP/1.1 connection to `addr`, driven by a task on this thread.
async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<String>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(connection);
    Ok(sender)
}

/// A `timerfd` on the monotonic clock (`Instant`'s), read through the
/// runtime: the thread sleeps in the runtime's one `epoll_wait` until the
/// time or an answer comes, whichever is first.
struct Timer(AsyncFd<OwnedFd>);

impl Timer {
    fn new() -> std::io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // `new` is deprecated for `register`, which is `unsafe` (the
        // workspace has none): its condition, a descriptor that stays open
        // and the same while registered, holds for an `OwnedFd` that the
        // `AsyncFd` owns.
        #[allow(deprecated)]
        Ok(Self(AsyncFd::new(fd)?))
    }

    /// Return at `at` (at once if it has passed).
    async fn until(&self, at: Instant) {
        let Some(wait) = at
            .checked_duration_since(Instant::now())
            .filter(|w| !w.is_zero())
        else {
            return;
        };
        let value = Timespec {
            tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let spec = Itimerspec {
            it_interval: zero,
            it_value: value,
        };
        timerfd_settime(self.0.get_ref(), TimerfdTimerFlags::empty(), &spec)
            .expect("the timerfd is armed");
        let mut expirations = [0_u8; 8];
        loop {
            let mut ready = self.0.readable().await.expect("the timerfd is polled");
            let read = ready.try_io(|fd| {
                rustix::io::read(fd.get_ref(), &mut expirations).map_err(std::io::Error::from)
            });
            if let Ok(read) = read {
                read.expect("the timerfd is read");
                return;
            }
        }
    }
}
