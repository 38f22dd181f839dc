//! `--scenario mix`: legitimate resets end to end next to attack traffic, on
//! memory + `SQLite`, the gateway's SMS going to the driver's receiver
//! ([`super::sms`]).
//!
//! - `--legit` tasks each run flows back to back: `POST /v1/reset` for a user
//!   with a phone (every other imported user of the first half, each at most
//!   once per run while there are enough), from a fresh address; `POST
//!   …/challenge {"factor": "sms"}`; wait for the SMS; `POST …/verify` with
//!   its code; `POST …/complete` with a new password. A flow that does not
//!   offer exactly one factor including SMS (the decision stepped it up or
//!   denied it) is counted as such and not continued.
//! - `--attackers` tasks each, back to back: a start from a fresh address of
//!   100.64.0.0/10, alternately for an unknown name and for a known user of
//!   the second half (credential spray), then six wrong-code guesses on that
//!   flow (from the same address), stopping at the first answer that is not
//!   400 (the sixth is over `reset.max_attempts_per_flow` = 5).
//!
//! Everything runs for `--duration` seconds after a `--warmup` in which the
//! same traffic runs unrecorded. Per step: throughput, p50/p99/p999, statuses;
//! per flow: how the legitimate ones ended.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::drive::Answer;
use super::sms::Receiver;
use super::{
    Args, Backends, Gateway, Mode, ROW_HEADER, Setup, Tally, post_json, row, statuses, tally_json,
    user_name,
};

/// How long a flow waits for its SMS.
const SMS_WAIT: Duration = Duration::from_secs(10);

/// The phone `users import` gave user `i` (even `i` only).
pub fn phone(i: u64) -> String {
    format!("+1555{i:07}")
}

/// A fresh legitimate address per flow `k`: 512 /24s of 198.18.0.0/15, then
/// the hosts within them.
pub fn legit_address(k: u64) -> String {
    let net = k % 512;
    format!(
        "198.{}.{}.{}",
        18 + net / 256,
        net % 256,
        (k / 512) % 254 + 1
    )
}

/// A fresh attack address per `j`, scattered over 100.64.0.0/10.
fn attack_address(j: u64) -> String {
    let x = (j.wrapping_mul(2_654_435_761)) % (1 << 22);
    let ip = (100u32 << 24) | (64 << 16) | u32::try_from(x).expect("22 bits fit");
    std::net::Ipv4Addr::from(ip).to_string()
}

/// The gateway config of the scenarios that read codes: SMS to the
/// receiver; the per-address limit at its default.
pub fn setup(sms: &Receiver) -> Setup {
    Setup {
        rate_limit: None,
        sms_webhook: Some(sms.url().to_owned()),
        memory_limit_mb: None,
        extra: String::new(),
    }
}

/// Per-step tallies of one task (merged at the end).
#[derive(Default)]
pub struct Steps {
    pub by_step: BTreeMap<&'static str, Tally>,
    /// How flows ended.
    pub outcomes: BTreeMap<String, u64>,
    /// From the challenge's answer to the code's arrival, µs.
    pub sms_wait_us: Vec<u64>,
    recording: bool,
}

impl Steps {
    pub fn recording(recording: bool) -> Self {
        Self {
            recording,
            ..Self::default()
        }
    }

    async fn timed(&mut self, step: &'static str, request: impl Future<Output = Answer>) -> Answer {
        let t0 = Instant::now();
        let answer = request.await;
        if self.recording {
            self.by_step
                .entry(step)
                .or_default()
                .add(t0.elapsed(), &answer);
        }
        answer
    }

    fn ended(&mut self, how: impl Into<String>) {
        if self.recording {
            *self.outcomes.entry(how.into()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: Self) {
        for (k, v) in other.by_step {
            self.by_step.entry(k).or_default().merge(v);
        }
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        self.sms_wait_us.extend(other.sms_wait_us);
    }

    pub fn sort(&mut self) {
        for tally in self.by_step.values_mut() {
            tally.latencies_us.sort_unstable();
        }
        self.sms_wait_us.sort_unstable();
    }
}

fn parse(answer: &Answer) -> Option<(u16, Value)> {
    answer
        .as_ref()
        .ok()
        .map(|(status, body)| (*status, serde_json::from_slice(body).unwrap_or(Value::Null)))
}

fn describe(answer: &Answer) -> String {
    match parse(answer) {
        Some((status, body)) => {
            let what = body
                .get("error")
                .or_else(|| body.get("status"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!("{status} {what}")
        }
        None => "transport error".into(),
    }
}

/// The gateway's reset API, for one client address.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub sms: Arc<Receiver>,
}

impl Api {
    async fn post(&self, path: &str, body: Value, addr: &str) -> Answer {
        post_json(
            &self.http,
            format!("{}{path}", self.base),
            body.to_string(),
            Some(addr.to_owned()),
        )
        .await
    }

    /// Start, SMS challenge, verify with the delivered code: the flow id and
    /// its reset token, or `None` (counted in `steps.outcomes`).
    pub async fn prepare(
        &self,
        steps: &mut Steps,
        user: u64,
        addr: &str,
    ) -> Option<(String, String)> {
        let name = user_name(user);
        let answer = steps
            .timed(
                "legit start",
                self.post("/v1/reset", json!({ "username": name }), addr),
            )
            .await;
        let Some((200, flow)) = parse(&answer) else {
            steps.ended(format!("start: {}", describe(&answer)));
            return None;
        };
        let sms_offered = flow["options"]
            .as_array()
            .is_some_and(|o| o.iter().any(|o| o["factor"] == "sms"));
        let required = flow["factors_required"].as_u64().unwrap_or(0);
        if flow["status"] != "challenge" || !sms_offered || required != 1 {
            steps.ended(format!(
                "start: {}, {required} factor(s) required{}",
                flow["status"].as_str().unwrap_or("?"),
                if sms_offered { "" } else { ", no SMS" }
            ));
            return None;
        }
        let id = flow["flow_id"].as_str().unwrap_or_default().to_owned();
        let answer = steps
            .timed(
                "legit challenge",
                self.post(
                    &format!("/v1/reset/{id}/challenge"),
                    json!({"factor": "sms"}),
                    addr,
                ),
            )
            .await;
        if !matches!(parse(&answer), Some((200, _))) {
            steps.ended(format!("challenge: {}", describe(&answer)));
            return None;
        }
        let t0 = Instant::now();
        let Some(code) = self.sms.next_code(&phone(user), SMS_WAIT).await else {
            steps.ended("no SMS within 10 s");
            return None;
        };
        if steps.recording {
            steps
                .sms_wait_us
                .push(u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
        let answer = steps
            .timed(
                "legit verify",
                self.post(
                    &format!("/v1/reset/{id}/verify"),
                    json!({"factor": "sms", "code": code}),
                    addr,
                ),
            )
            .await;
        match parse(&answer) {
            Some((200, body)) if body["status"] == "verified" => {
                let token = body["reset_token"].as_str().unwrap_or_default().to_owned();
                Some((id, token))
            }
            _ => {
                steps.ended(format!("verify: {}", describe(&answer)));
                None
            }
        }
    }

    /// Complete with a new password; records the step and the outcome.
    pub async fn complete(
        &self,
        steps: &mut Steps,
        flow: &str,
        token: &str,
        addr: &str,
        n: u64,
    ) -> bool {
        let password = format!(
            "quantum lantern {n} {:08x} over the fjord",
            rand::random::<u32>()
        );
        let answer = steps
            .timed(
                "legit complete",
                self.post(
                    &format!("/v1/reset/{flow}/complete"),
                    json!({"reset_token": token, "new_password": password}),
                    addr,
                ),
            )
            .await;
        let done = matches!(parse(&answer), Some((200, body)) if body["status"] == "done");
        steps.ended(if done {
            "completed (done)".to_owned()
        } else {
            format!("complete: {}", describe(&answer))
        });
        done
    }
}

async fn legit_task(
    api: Api,
    next: Arc<AtomicU64>,
    pool: u64,
    from: Instant,
    to: Instant,
) -> Steps {
    let mut steps = Steps::default();
    loop {
        let now = Instant::now();
        if now >= to {
            return steps;
        }
        steps.recording = now >= from;
        let k = next.fetch_add(1, Ordering::Relaxed);
        let user = 2 * (k % pool);
        let addr = legit_address(k);
        if let Some((flow, token)) = api.prepare(&mut steps, user, &addr).await {
            api.complete(&mut steps, &flow, &token, &addr, k).await;
        }
    }
}

async fn attack_task(
    api: Api,
    next: Arc<AtomicU64>,
    users: u64,
    from: Instant,
    to: Instant,
) -> Steps {
    let mut steps = Steps::default();
    loop {
        let now = Instant::now();
        if now >= to {
            return steps;
        }
        steps.recording = now >= from;
        let j = next.fetch_add(1, Ordering::Relaxed);
        let addr = attack_address(j);
        let (step, name) = if j.is_multiple_of(2) {
            ("attack start (unknown name)", format!("nobody{j:07}"))
        } else {
            (
                "attack start (known name)",
                user_name(users / 2 + (j / 2) % (users / 2)),
            )
        };
        let answer = steps
            .timed(
                step,
                api.post("/v1/reset", json!({ "username": name }), &addr),
            )
            .await;
        let Some((200, flow)) = parse(&answer) else {
            continue;
        };
        let id = flow["flow_id"].as_str().unwrap_or_default().to_owned();
        for _ in 0..6 {
            let guess = format!("{:06}", rand::random::<u32>() % 1_000_000);
            let answer = steps
                .timed(
                    "attack guess",
                    api.post(
                        &format!("/v1/reset/{id}/verify"),
                        json!({"factor": "sms", "code": guess}),
                        &addr,
                    ),
                )
                .await;
            match parse(&answer) {
                Some((400, _)) => {}
                Some((200, _)) => {
                    steps.ended("attack guess accepted (!)");
                    break;
                }
                _ => break,
            }
        }
    }
}

/// Per-step table and the outcome counts, shared with `hashing`.
pub fn steps_report(md: &mut String, steps: &Steps, seconds: f64) {
    use std::fmt::Write as _;
    md.push_str(ROW_HEADER);
    for (name, tally) in &steps.by_step {
        let _ = writeln!(md, "{}", row(name, tally, seconds));
    }
    if !steps.sms_wait_us.is_empty() {
        let w = &steps.sms_wait_us;
        let _ = writeln!(
            md,
            "\nSMS delivery (challenge answered → code at the receiver): p50 {}, p99 {}",
            super::ms(super::percentile(w, 0.5)),
            super::ms(super::percentile(w, 0.99))
        );
    }
    let _ = writeln!(
        md,
        "\nLegitimate flows ended: {}",
        statuses(&steps.outcomes)
    );
}

pub fn steps_json(steps: &Steps, seconds: f64) -> Value {
    let per: BTreeMap<&str, Value> = steps
        .by_step
        .iter()
        .map(|(k, v)| (*k, tally_json(v, seconds)))
        .collect();
    json!({
        "steps": per,
        "flows_ended": steps.outcomes,
        "sms_wait_p50_us": super::percentile(&steps.sms_wait_us, 0.5),
        "sms_wait_p99_us": super::percentile(&steps.sms_wait_us, 0.99),
    })
}

pub async fn run(args: &Args, http: &reqwest::Client) -> anyhow::Result<(String, Value)> {
    use std::fmt::Write as _;
    let sms = Arc::new(Receiver::start().await?);
    let backends = Backends::start(Mode::MemorySqlite);
    let gateway = Gateway::start(args, &backends, http, &setup(&sms)).await?;
    let api = Api {
        http: http.clone(),
        base: gateway.base(),
        sms: sms.clone(),
    };
    eprintln!(
        "mix: {} legitimate + {} attack tasks for {} + {} s",
        args.legit, args.attackers, args.warmup, args.duration
    );
    let from = Instant::now() + Duration::from_secs(args.warmup);
    let to = from + Duration::from_secs(args.duration);
    let (legit_next, attack_next) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.legit {
        tasks.spawn(legit_task(
            api.clone(),
            legit_next.clone(),
            (args.users / 4).max(1),
            from,
            to,
        ));
    }
    for _ in 0..args.attackers {
        tasks.spawn(attack_task(
            api.clone(),
            attack_next.clone(),
            args.users,
            from,
            to,
        ));
    }
    let mut steps = Steps::recording(true);
    while let Some(done) = tasks.join_next().await {
        steps.merge(done?);
    }
    steps.sort();
    #[allow(clippy::cast_precision_loss)]
    let seconds = args.duration as f64;
    let (codes, notices) = sms.counts();
    let mut md = format!(
        "Mix on memory + SQLite: {} legitimate flows at a time (start → SMS challenge → \
         verify → complete), {} attack clients (starts for unknown and known names from \
         fresh addresses, 6 wrong-code guesses per flow), {} s warm-up + {} s measured, \
         {} users\n\n",
        args.legit, args.attackers, args.warmup, args.duration, args.users
    );
    steps_report(&mut md, &steps, seconds);
    let _ = writeln!(
        md,
        "SMS received by the driver (whole run): {codes} with a code, {notices} notices"
    );
    let out = json!({
        "scenario": "mix",
        "legit_tasks": args.legit,
        "attack_tasks": args.attackers,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "users": args.users,
        "sms_codes": codes,
        "sms_notices": notices,
        "result": steps_json(&steps, seconds),
    });
    drop(gateway);
    Ok((md, out))
}
