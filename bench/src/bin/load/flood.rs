//! `--scenario flood`: the gateway's memory under a flood of distinct client
//! addresses.
//!
//! The gateway runs on memory + `SQLite` with the default per-address limit
//! (20/s) and `server.trusted_proxies` covering loopback; `--clients` tasks
//! send one `POST /v1/reset` for each of `--addresses` distinct addresses
//! (`X-Forwarded-For`), scattered over 16.0.0.0/4 (so also one /24 each, in
//! the main): every other request names an unknown user, the rest rotate over
//! the imported users. Any answer counts (200, 429, or 503 once the in-memory
//! store is at its budget, `store.memory_limit_mb`), and is tallied by status.
//!
//! The gateway's `VmRSS` is sampled from `/proc/PID/status` every 500 ms from
//! before the flood until `--settle` seconds after it, and its `VmHWM` (peak)
//! at the end. What should go away after the flood, and when:
//!
//! - the per-address limiter's keys: at the limiter's next retention tick
//!   (every 5 s, `gateway/src/http/limits.rs`);
//! - flows: after `reset.flow_ttl` (set to 1 min here, the least it can be;
//!   10 min by default) and the memory store's next purge (every 60 s);
//! - the per-address and per-/24 velocity windows: one hour after their last
//!   event (their window), then the next purge.
//!
//! Whether the process's RSS follows also depends on the allocator returning
//! freed memory to the system: the gateway runs on jemalloc, whose background
//! thread does so within seconds (glibc's allocator did not).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{
    Args, Backends, Gateway, Mode, ROW_HEADER, Setup, Tally, mib, post_json, row, rss, user_name,
};

/// The client address of flood request `i`: `i` times an odd constant modulo
/// 2^28 (a bijection, so every address is distinct) within 16.0.0.0/4.
fn flood_address(i: u64) -> String {
    let x = i.wrapping_mul(2_654_435_761) % (1 << 28);
    std::net::Ipv4Addr::from((16u32 << 24) | u32::try_from(x).expect("28 bits fit")).to_string()
}

fn flood_name(i: u64, users: u64) -> String {
    if i.is_multiple_of(2) {
        format!("flood{i:08}")
    } else {
        user_name((i / 2) % users)
    }
}

#[allow(clippy::too_many_lines)]
pub async fn run(args: &Args, http: &reqwest::Client) -> anyhow::Result<(String, Value)> {
    let backends = Backends::start(Mode::MemorySqlite);
    // Flows live one minute here (the least `reset.flow_ttl` allows; codes 30 s
    // within them), so the
    // settle can see them expire and be purged; the budget is the default.
    let setup = Setup {
        rate_limit: None,
        sms_webhook: None,
        memory_limit_mb: None,
        extra: "\n[reset]\nflow_ttl = \"1m\"\ncode_ttl = \"30s\"\n".into(),
    };
    let gateway = Gateway::start(args, &backends, http, &setup).await?;
    let pid = gateway.pid();
    let started = Instant::now();
    let samples: Arc<std::sync::Mutex<Vec<(f64, u64)>>> = Arc::default();
    let watcher = {
        let samples = samples.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                if let Some((now, _)) = rss(pid) {
                    samples
                        .lock()
                        .expect("not poisoned")
                        .push((started.elapsed().as_secs_f64(), now));
                }
            }
        })
    };
    let before = rss(pid).map_or(0, |r| r.0);
    eprintln!(
        "flood: {} addresses, {} clients; gateway RSS before {}",
        args.addresses,
        args.clients,
        mib(before)
    );
    let next = Arc::new(AtomicU64::new(0));
    let flood_from = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..args.clients {
        let (http, base, next, total, users) = (
            http.clone(),
            gateway.base(),
            next.clone(),
            args.addresses,
            args.users,
        );
        tasks.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break tally;
                }
                if i > 0 && i.is_multiple_of(100_000) {
                    eprintln!(
                        "  flood: {i} requests, RSS {}",
                        rss(pid).map_or_else(|| "?".into(), |r| mib(r.0))
                    );
                }
                let t0 = Instant::now();
                let body = format!(r#"{{"username":"{}"}}"#, flood_name(i, users));
                let answer = post_json(
                    &http,
                    format!("{base}/v1/reset"),
                    body,
                    Some(flood_address(i)),
                )
                .await;
                tally.add(t0.elapsed(), &answer);
            }
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = tasks.join_next().await {
        tally.merge(done?);
    }
    tally.latencies_us.sort_unstable();
    let flood_seconds = flood_from.elapsed().as_secs_f64();
    let (after_flood, peak_so_far) = rss(pid).unwrap_or_default();
    let flood_end = started.elapsed().as_secs_f64();
    eprintln!(
        "flood: done in {flood_seconds:.0} s; RSS {} (peak {}); watching for {} s",
        mib(after_flood),
        mib(peak_so_far),
        args.settle
    );
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let (settled, peak) = rss(pid).unwrap_or_default();
    watcher.abort();
    drop(gateway);
    let samples = std::mem::take(&mut *samples.lock().expect("not poisoned"));
    let lowest_after = samples
        .iter()
        .filter(|(t, _)| *t >= flood_end)
        .map(|(_, r)| *r)
        .min()
        .unwrap_or(settled);

    let mut md = format!(
        "Flood on memory + SQLite: one `POST /v1/reset` from each of {} distinct addresses \
         (16.0.0.0/4, `X-Forwarded-For`), {} clients back to back, default per-address limit\n\n",
        args.addresses, args.clients
    );
    md.push_str(ROW_HEADER);
    let _ = writeln!(md, "{}", row("flood", &tally, flood_seconds));
    let _ = writeln!(
        md,
        "\n| gateway memory | |\n|---|---|\n| RSS before the flood | {} |\n\
         | **peak RSS (VmHWM)** | **{}** (target ≤ 300 MB: {}) |\n\
         | RSS at the end of the flood | {} |\n| lowest RSS in the {} s after | {} |\n\
         | RSS {} s after | {} |",
        mib(before),
        mib(peak),
        if peak <= 300_000_000 {
            "met"
        } else {
            "not met"
        },
        mib(after_flood),
        args.settle,
        mib(lowest_after),
        args.settle,
        mib(settled),
    );
    md.push_str("\nRSS over time (every 10 s):\n\n| s | RSS |\n|---|---|\n");
    let mut last = f64::NEG_INFINITY;
    for (t, r) in &samples {
        if *t - last >= 10.0 {
            let _ = writeln!(md, "| {t:.0} | {} |", mib(*r));
            last = *t;
        }
    }
    let out = json!({
        "scenario": "flood",
        "addresses": args.addresses,
        "clients": args.clients,
        "flood_seconds": flood_seconds,
        "flood": super::tally_json(&tally, flood_seconds),
        "rss_before": before,
        "rss_peak_vmhwm": peak,
        "rss_end_of_flood": after_flood,
        "rss_lowest_after": lowest_after,
        "rss_after_settle": settled,
        "settle_s": args.settle,
        "rss_samples": samples.iter().map(|(t, r)| json!([t, r])).collect::<Vec<_>>(),
    });
    Ok((md, out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn flood_addresses_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000 {
            assert!(seen.insert(super::flood_address(i)));
        }
        for i in [0, 1, 999_999] {
            let ip: std::net::Ipv4Addr = super::flood_address(i).parse().unwrap();
            assert!((16..32).contains(&ip.octets()[0]), "{ip} is in 16.0.0.0/4");
        }
    }
}
