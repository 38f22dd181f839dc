//! `--scenario hashing`: does password hashing stay off the request path?
//!
//! On memory + `SQLite` with SMS to the driver's receiver:
//!
//! 1. Prepare reset tokens: for users with a phone (every other imported
//!    user), start → SMS challenge → verify with the delivered code, 16 at a
//!    time, each from its own address; enough for `--completers` concurrent
//!    completes to keep running through phase 3 (at most one per user).
//! 2. `POST /v1/reset` open loop at `--hash-rate` per second (the store
//!    comparison's traffic) for `--warmup` + `--duration` s: p99 alone.
//! 3. `--completers` tasks complete those flows back to back (each complete
//!    hashes the new password and checks it against the account's earlier
//!    ones: two argon2id runs), and after one second the same open loop runs
//!    again: p99 next to the completes. Target: at most 2× the p99 alone.
//!
//! A run in which the prepared tokens ran out before the open loop ended says
//! so: the completes were then not continuous.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::drive::Run;
use super::mix::{Api, Steps, legit_address, setup, steps_json, steps_report};
use super::sms::Receiver;
use super::{Args, Backends, Gateway, Mode, ROW_HEADER, ms, percentile, push_row, tally_json};

/// Flows prepared at once.
const PREPARERS: u64 = 16;

async fn fixed_rate(args: &Args, base: &str, offset: u64) -> Run {
    super::ceiling::offered(args, base, args.hash_rate, offset).await
}

type Token = (String, String, String);

async fn prepare(api: &Api, wanted: u64, users: u64) -> (Vec<Token>, Steps) {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..PREPARERS {
        let (api, next) = (api.clone(), next.clone());
        tasks.spawn(async move {
            let mut steps = Steps::recording(true);
            let mut tokens = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= wanted || 2 * k >= users {
                    break;
                }
                let addr = legit_address(k);
                if let Some((flow, token)) = api.prepare(&mut steps, 2 * k, &addr).await {
                    tokens.push((flow, token, addr));
                }
            }
            (tokens, steps)
        });
    }
    let mut all = Vec::new();
    let mut steps = Steps::default();
    while let Some(done) = tasks.join_next().await {
        let (tokens, s) = done.expect("a preparing task does not panic");
        all.extend(tokens);
        steps.merge(s);
    }
    (all, steps)
}

#[allow(clippy::too_many_lines)]
pub async fn run(args: &Args, http: &reqwest::Client) -> anyhow::Result<(String, Value)> {
    let sms = Arc::new(Receiver::start().await?);
    let backends = Backends::start(Mode::MemorySqlite);
    let gateway = Gateway::start(args, &backends, http, &setup(&sms)).await?;
    let api = Api {
        http: http.clone(),
        base: gateway.base(),
        sms: sms.clone(),
    };
    // Two argon2id runs per complete at some tens of ms each, on every core:
    // 40 per completer is more than a 10 s phase uses on a small machine.
    let wanted = (args.completers as u64 * 40).min(args.users / 2);
    eprintln!("hashing: preparing {wanted} reset tokens");
    let t0 = Instant::now();
    let (tokens, mut prep) = prepare(&api, wanted, args.users).await;
    let prepared_in = t0.elapsed();
    let prepared = tokens.len();
    eprintln!(
        "hashing: {prepared} tokens in {prepared_in:.1?}; open loop at {} /s alone",
        args.hash_rate
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alone = fixed_rate(args, &gateway.base(), 0).await;

    eprintln!(
        "hashing: {} concurrent completes + the open loop",
        args.completers
    );
    let pool = Arc::new(Mutex::new(tokens));
    let stop = Arc::new(AtomicBool::new(false));
    let ran_out: Arc<Mutex<Option<Instant>>> = Arc::default();
    let mut completers = tokio::task::JoinSet::new();
    for c in 0..args.completers {
        let (api, pool, stop, ran_out) = (api.clone(), pool.clone(), stop.clone(), ran_out.clone());
        completers.spawn(async move {
            let mut steps = Steps::recording(true);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let next = pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let Some((flow, token, addr)) = next else {
                    ran_out
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert_with(Instant::now);
                    break;
                };
                api.complete(&mut steps, &flow, &token, &addr, c as u64 * 1_000_000 + n)
                    .await;
                n += 1;
            }
            steps
        });
    }
    // Let the completes fill the hashing queue first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let loaded_from = Instant::now();
    let loaded = fixed_rate(args, &gateway.base(), 500_000_000).await;
    let loaded_to = Instant::now();
    stop.store(true, Ordering::Relaxed);
    let mut finished = Steps::default();
    while let Some(done) = completers.join_next().await {
        finished.merge(done?);
    }
    finished.sort();
    prep.sort();
    let ran_out = *ran_out.lock().unwrap_or_else(PoisonError::into_inner);
    drop(gateway);

    let p99_alone = percentile(&alone.tally.latencies_us, 0.99);
    let p99_loaded = percentile(&loaded.tally.latencies_us, 0.99);
    #[allow(clippy::cast_precision_loss)]
    let ratio = p99_loaded as f64 / p99_alone.max(1) as f64;
    let phase = (loaded_to - loaded_from).as_secs_f64();
    let continuous = ran_out.is_none_or(|t| t >= loaded_to);
    let mut md = format!(
        "Hashing isolation on memory + SQLite: `POST /v1/reset` open loop at {} /s, {} s \
         warm-up + {} s measured, alone and next to {} concurrent completes\n\n",
        args.hash_rate, args.warmup, args.duration, args.completers
    );
    md.push_str(ROW_HEADER);
    push_row(&mut md, "POST /v1/reset alone", &alone.tally, alone.seconds);
    push_row(
        &mut md,
        &format!("POST /v1/reset with {} completes", args.completers),
        &loaded.tally,
        loaded.seconds,
    );
    let _ = writeln!(
        md,
        "\np99 with completes / p99 alone: **{ratio:.2}×** ({} / {}; target ≤ 2×: {}).\n",
        ms(p99_loaded),
        ms(p99_alone),
        if ratio <= 2.0 { "met" } else { "not met" }
    );
    let _ = writeln!(
        md,
        "Completes during the loaded phase and its drain ({phase:.1} s of open loop): {} \
         (tokens {}; prepared {prepared} in {prepared_in:.1?})\n",
        finished
            .by_step
            .get("legit complete")
            .map_or(0, |t| t.latencies_us.len()),
        if continuous {
            "lasted the whole phase".to_owned()
        } else {
            format!(
                "ran out {:.1} s into it: completes were not continuous",
                ran_out.map_or(0.0, |t| (t - loaded_from).as_secs_f64())
            )
        },
    );
    steps_report(&mut md, &finished, phase);
    md.push_str("\nPreparation (start, challenge, verify; not measured load):\n\n");
    steps_report(&mut md, &prep, prepared_in.as_secs_f64());
    let out = json!({
        "scenario": "hashing",
        "rate_per_s": args.hash_rate,
        "completers": args.completers,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "alone": tally_json(&alone.tally, alone.seconds),
        "with_completes": tally_json(&loaded.tally, loaded.seconds),
        "p99_ratio": ratio,
        "completes": steps_json(&finished, phase),
        "tokens_prepared": prepared,
        "tokens_lasted": continuous,
    });
    Ok((md, out))
}
