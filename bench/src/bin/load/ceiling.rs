//! `--scenario ceiling`: the gateway's `POST /v1/reset` against the ceilings
//! it sits under, in one run.
//!
//! 1. `redis-benchmark` against a private `redis-server` (`resetgate-services`),
//!    `--clients` connections, `SET` and `GET`, `--redis-requests` each,
//!    `--csv`: the store's ceiling (per command, one round trip each).
//! 2. Bare axum (`src/bin/bare.rs`, its own process): the same request and
//!    client code as the gateway's load, `--clients` back to back for
//!    `--warmup` + `--duration` s: the framework's peak. Measured right before
//!    and right after the gateway's peak, since the shared machine's speed
//!    drifts; the ratio is taken to the faster of the two.
//! 3. The gateway on memory + `SQLite`, the store comparison's config and
//!    traffic: closed-loop peak, its ratio to bare axum (target ≥ 30 %), then
//!    an open-loop run at `--rate` (default: half of the peak just measured)
//!    with latency from each request's intended send time (target p99 ≤ 5 ms).
//! 4. Bare axum open loop at the same rate: what the driver, loopback and
//!    framework add to any latency on this machine.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use resetgate_services::redis::RedisServer;
use serde_json::{Value, json};

use super::drive::{Offer, Run, closed_loop, open_loop};
use super::{
    Args, Backends, Gateway, Mode, ROW_HEADER, Setup, load_request, ms, percentile, push_row,
    reset_request, start_reset, tally_json,
};

struct Bare(Child);

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_bare(args: &Args, http: &reqwest::Client) -> anyhow::Result<(Bare, String)> {
    let port = resetgate_services::free_port();
    let child = Command::new(&args.bare)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", args.bare.display()))?;
    let server = Bare(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        if Instant::now() > deadline {
            bail!("the bare server did not answer /readyz within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((server, base))
}

/// `POST /v1/reset` of the store comparison's traffic against `base`, back to back.
async fn peak(args: &Args, http: &reqwest::Client, base: &str) -> Run {
    let (http, base, users) = (http.clone(), base.to_owned(), args.users);
    closed_loop(
        args.clients,
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.duration),
        move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let (name, addr) = load_request(i, users);
                start_reset(&http, &base, &name, &addr).await
            }
        },
    )
    .await
}

/// Bare axum's closed-loop peak, in a process started for it and stopped after.
async fn bare_peak(args: &Args, http: &reqwest::Client) -> anyhow::Result<Run> {
    let (_bare, base) = start_bare(args, http).await?;
    Ok(peak(args, http, &base).await)
}

/// `POST /v1/reset` of the store comparison's traffic against `base`
/// (`http://host:port`) at `rate`, open loop; request numbers from `offset`.
pub async fn offered(args: &Args, base: &str, rate: f64, offset: u64) -> Run {
    let authority = base
        .strip_prefix("http://")
        .expect("the servers measured listen on plain HTTP")
        .to_owned();
    let addr: SocketAddr = authority
        .parse()
        .expect("the servers measured listen on an IP address and port");
    let users = args.users;
    let offer = Offer {
        rate,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
    };
    open_loop(addr, offer, move |i| {
        let (name, from) = load_request(offset + i, users);
        reset_request(&authority, &name, &from)
    })
    .await
}

/// One `redis-benchmark --csv` row.
struct RedisRow {
    test: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
/// "p95_latency_ms","p99_latency_ms","max_latency_ms"` (Redis 7).
fn parse_csv(text: &str) -> anyhow::Result<Vec<RedisRow>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .context("redis-benchmark printed nothing")?
        .split(',')
        .map(|f| f.trim_matches('"').to_owned())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("redis-benchmark's CSV has no {name} column: {header:?}"))
    };
    let (rps, p50, p99, max) = (
        col("rps")?,
        col("p50_latency_ms")?,
        col("p99_latency_ms")?,
        col("max_latency_ms")?,
    );
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
            let num = |i: usize| -> anyhow::Result<f64> {
                fields
                    .get(i)
                    .with_context(|| format!("short line {line:?}"))?
                    .parse()
                    .with_context(|| format!("not a number in {line:?}"))
            };
            Ok(RedisRow {
                test: fields.first().unwrap_or(&"?").to_string(),
                rps: num(rps)?,
                p50_ms: num(p50)?,
                p99_ms: num(p99)?,
                max_ms: num(max)?,
            })
        })
        .collect()
}

fn redis_benchmark(args: &Args) -> anyhow::Result<Vec<RedisRow>> {
    let redis = RedisServer::start();
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &redis.port().to_string()])
        .args(["-c", &args.clients.to_string()])
        .args(["-n", &args.redis_requests.to_string()])
        .args(["-t", "set,get", "--csv"])
        .stdin(Stdio::null())
        .output()
        .context("running redis-benchmark (apt-get install redis-tools)")?;
    if !out.status.success() {
        bail!(
            "redis-benchmark failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_csv(&String::from_utf8_lossy(&out.stdout))
}

#[allow(clippy::too_many_lines)]
pub async fn run(args: &Args, http: &reqwest::Client) -> anyhow::Result<(String, Value)> {
    eprintln!("ceiling: redis-benchmark");
    let redis_rows = redis_benchmark(args)?;
    let backends = Backends::start(Mode::MemorySqlite);
    let gateway = Gateway::start(args, &backends, http, &Setup::stores()).await?;
    // The machine's speed drifts (it is shared): bare axum is measured right
    // before and right after the gateway, and the ratio taken to the faster.
    eprintln!("ceiling: bare axum, {} clients", args.clients);
    let bare_before = bare_peak(args, http).await?;
    eprintln!("ceiling: gateway (memory + SQLite), closed loop");
    let gateway_run = peak(args, http, &gateway.base()).await;
    eprintln!("ceiling: bare axum again");
    let bare_after = bare_peak(args, http).await?;
    let rate = args.rate.unwrap_or(gateway_run.throughput() / 2.0).max(1.0);
    eprintln!("ceiling: gateway, open loop at {rate:.0} /s");
    // Continue the closed loop's sequence so names and addresses go on rotating.
    let open_run = offered(args, &gateway.base(), rate, 1_000_000_000).await;
    drop(gateway);
    eprintln!("ceiling: bare axum, open loop at {rate:.0} /s");
    let bare_open = {
        let (_bare, base) = start_bare(args, http).await?;
        offered(args, &base, rate, 0).await
    };

    let bare_run = if bare_after.throughput() > bare_before.throughput() {
        &bare_after
    } else {
        &bare_before
    };
    let ratio = gateway_run.throughput() / bare_run.throughput();
    let open_p99 = percentile(&open_run.tally.latencies_us, 0.99);
    let bare_open_p99 = percentile(&bare_open.tally.latencies_us, 0.99);
    let mut md = format!(
        "Ceilings and the gateway's `POST /v1/reset`: {} clients, {} s warm-up + {} s \
         measured, {} users\n\n",
        args.clients, args.warmup, args.duration, args.users
    );
    md.push_str(ROW_HEADER);
    push_row(
        &mut md,
        "bare axum, closed loop (before the gateway)",
        &bare_before.tally,
        bare_before.seconds,
    );
    push_row(
        &mut md,
        "gateway memory+SQLite, closed loop",
        &gateway_run.tally,
        gateway_run.seconds,
    );
    push_row(
        &mut md,
        "bare axum, closed loop (after the gateway)",
        &bare_after.tally,
        bare_after.seconds,
    );
    push_row(
        &mut md,
        &format!("gateway, open loop at {rate:.0} /s"),
        &open_run.tally,
        open_run.seconds,
    );
    push_row(
        &mut md,
        &format!("bare axum, open loop at {rate:.0} /s (the harness's own latency)"),
        &bare_open.tally,
        bare_open.seconds,
    );
    let _ = writeln!(
        md,
        "\n`redis-benchmark -c {} -n {} -t set,get --csv` (private redis-server):\n\n\
         | command | throughput | p50 | p99 | max |\n|---|---|---|---|---|",
        args.clients, args.redis_requests
    );
    for r in &redis_rows {
        let _ = writeln!(
            md,
            "| {} | {:.0} /s | {:.3} ms | {:.3} ms | {:.3} ms |",
            r.test, r.rps, r.p50_ms, r.p99_ms, r.max_ms
        );
    }
    let _ = writeln!(
        md,
        "\nGateway / bare axum throughput (the faster bare run): **{:.1} %** (target ≥ 30 %: {}).\n\
         Open loop at {rate:.0} /s ({}% of the gateway's peak): p99 **{}** (target ≤ 5 ms: {}); \
         the dispatcher was at most {} late. Bare axum at the same rate: p99 {}.",
        ratio * 100.0,
        if ratio >= 0.3 { "met" } else { "not met" },
        (rate / gateway_run.throughput() * 100.0).round(),
        ms(open_p99),
        if open_p99 <= 5_000 { "met" } else { "not met" },
        ms(u64::try_from(open_run.max_dispatch_lag.as_micros()).unwrap_or(u64::MAX)),
        ms(bare_open_p99),
    );
    for (name, run) in [("gateway", &open_run), ("bare", &bare_open)] {
        let mut csv = String::from("intended_us,latency_us\n");
        for (at, latency) in &run.timeline {
            let _ = writeln!(csv, "{at},{latency}");
        }
        std::fs::write(args.out.join(format!("ceiling-open-loop-{name}.csv")), csv)?;
    }
    let out = json!({
        "scenario": "ceiling",
        "clients": args.clients,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "users": args.users,
        "bare_axum_before": tally_json(&bare_before.tally, bare_before.seconds),
        "bare_axum_after": tally_json(&bare_after.tally, bare_after.seconds),
        "bare_axum_open_loop": tally_json(&bare_open.tally, bare_open.seconds),
        "gateway_closed_loop": tally_json(&gateway_run.tally, gateway_run.seconds),
        "gateway_open_loop": {
            "offered_per_s": open_run.offered,
            "max_dispatch_lag_us": u64::try_from(open_run.max_dispatch_lag.as_micros()).unwrap_or(u64::MAX),
            "window_start_monotonic_ns": open_run.window_start_monotonic_ns,
            "result": tally_json(&open_run.tally, open_run.seconds),
        },
        "redis_benchmark": redis_rows.iter().map(|r| json!({
            "test": r.test, "rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms,
        })).collect::<Vec<_>>(),
        "ratio_gateway_to_bare": ratio,
        "open_loop_p99_us": open_p99,
    });
    Ok((md, out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_redis_benchmark_csv() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\
                    \"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                    \"SET\",\"98039.22\",\"0.287\",\"0.080\",\"0.271\",\"0.439\",\"0.615\",\"1.807\"\n\
                    \"GET\",\"99502.49\",\"0.281\",\"0.072\",\"0.263\",\"0.423\",\"0.583\",\"1.023\"\n";
        let rows = super::parse_csv(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].test, "GET");
        assert!((rows[0].p99_ms - 0.615).abs() < 1e-9);
    }
}
