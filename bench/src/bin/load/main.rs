//! The HTTP load driver: `POST /v1/reset` throughput and latency on loopback
//! against the release `resetgate` binary, one private gateway per store mode
//! (`memory-sqlite`, `redis-postgres`, `cluster-postgres`), in one run; and the
//! Redis commands each reset step sends, counted with `MONITOR`.
//!
//! ```sh
//! cargo build --release -p resetgate
//! cargo run --release -p resetgate-bench --bin load -- --duration 10 --clients 32 --out target/load
//! ```
//!
//! Per mode:
//!
//! 1. Start the servers the mode needs (`resetgate-services`: a private
//!    `redis-server`, a 3-primary Redis Cluster, `PostgreSQL`), write a config
//!    in a temporary directory, import `--users` users (`resetgate users import`;
//!    every other one with a phone, so an SMS factor), start `resetgate serve`
//!    (its output goes to `resetgate.log` in that directory) and wait for
//!    `GET /readyz` to answer 200.
//! 2. Load: `--clients` tasks sharing one HTTP client send `POST /v1/reset`
//!    back to back. Names rotate over the users, every tenth an unknown name
//!    (a decoy flow); `X-Forwarded-For` rotates over 384 /24s of the
//!    benchmarking range 198.18.0.0/15, so velocity rules do not turn the
//!    traffic into refusals. `--warmup` seconds (2) are not recorded, then
//!    `--duration` seconds are: every request started in that window counts,
//!    by its status (anything but 200 is an error and is reported).
//! 3. Steps, with the load stopped: `--steps` (200) sequential requests each of
//!    `POST /v1/reset` (known users with a phone, fresh addresses), `POST
//!    /v1/reset/{id}/verify` with a wrong code for a factor the flow offers
//!    (400 `invalid_code` is the expected answer), and `GET /v1/reset/{id}`.
//!    In Redis modes a raw `MONITOR` connection to every Redis node watches the
//!    steps; an `ECHO` marker sent on a second connection between steps splits
//!    the stream exactly. Commands run inside Lua scripts (`[0 lua]`), the
//!    markers and `PING`s are not counted; everything else is one request the
//!    gateway sent.
//!
//! Prints a Markdown report and writes it to `--out DIR/load.md`, with the
//! figures as `DIR/load.json`.
//!
//! That is `--scenario stores` (the default). The others, each in its module,
//! write `DIR/<scenario>.md` and `.json` (`--scenario` takes a comma list):
//!
//! - `ceiling` ([`ceiling`]): bare axum (`src/bin/bare.rs`) and `redis-benchmark`
//!   ceilings, the gateway's closed-loop peak on memory + `SQLite`, and an open-loop
//!   run at `--rate` (default half that peak) timed from intended send times
//!   ([`drive`]).
//! - `mix` ([`mix`]): legitimate flows (start, SMS challenge, verify with the code
//!   the driver's receiver got, complete) next to attack traffic.
//! - `hashing` ([`hashing`]): `POST /v1/reset` at `--hash-rate`, alone and next to
//!   `--completers` concurrent completes (argon2id).
//! - `flood` ([`flood`]): one start from each of `--addresses` distinct addresses;
//!   the gateway's RSS during and `--settle` seconds after.
//!
//! ```sh
//! cargo build --release -p resetgate -p resetgate-bench
//! target/release/load --scenario ceiling,mix,hashing --out target/load
//! target/release/load --scenario flood --addresses 1000000 --settle 90 --out target/load
//! ```

mod ceiling;
mod drive;
mod flood;
mod hashing;
mod mix;
mod sms;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use resetgate_services::postgres::PostgresServer;
use resetgate_services::redis::{RedisCluster, RedisServer};
use serde_json::{Value, json};
use tempfile::TempDir;

const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
/// /24s the load's client addresses rotate over: 198.18.0.0/16 and 198.19.0.0/17.
const LOAD_SUBNETS: u64 = 384;
const READY_TIMEOUT: Duration = Duration::from_mins(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    MemorySqlite,
    RedisPostgres,
    ClusterPostgres,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::MemorySqlite => "memory-sqlite",
            Self::RedisPostgres => "redis-postgres",
            Self::ClusterPostgres => "cluster-postgres",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "memory-sqlite" => Self::MemorySqlite,
            "redis-postgres" => Self::RedisPostgres,
            "cluster-postgres" => Self::ClusterPostgres,
            other => bail!(
                "unknown mode {other}; modes: memory-sqlite, redis-postgres, cluster-postgres"
            ),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// `POST /v1/reset` per store mode, and the Redis commands per step.
    Stores,
    /// Bare axum and `redis-benchmark` ceilings, the gateway's peak, and an
    /// open-loop run at half of that peak.
    Ceiling,
    /// Legitimate flows end to end next to attack traffic.
    Mix,
    /// `POST /v1/reset` at a fixed rate, alone and next to concurrent completes.
    Hashing,
    /// One start from each of `--addresses` distinct addresses; the gateway's RSS.
    Flood,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Stores => "stores",
            Self::Ceiling => "ceiling",
            Self::Mix => "mix",
            Self::Hashing => "hashing",
            Self::Flood => "flood",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "stores" => Self::Stores,
            "ceiling" => Self::Ceiling,
            "mix" => Self::Mix,
            "hashing" => Self::Hashing,
            "flood" => Self::Flood,
            other => {
                bail!("unknown scenario {other}; scenarios: stores, ceiling, mix, hashing, flood")
            }
        })
    }
}

struct Args {
    scenarios: Vec<Scenario>,
    bin: PathBuf,
    /// The bare axum server (`src/bin/bare.rs`).
    bare: PathBuf,
    modes: Vec<Mode>,
    duration: u64,
    warmup: u64,
    clients: usize,
    users: u64,
    steps: usize,
    out: PathBuf,
    policy: Option<PathBuf>,
    /// `ceiling`: the open-loop rate; `None` = half of the measured peak.
    rate: Option<f64>,
    /// `ceiling`: requests per `redis-benchmark` test.
    redis_requests: u64,
    /// `mix`: concurrent legitimate flows and attack clients.
    legit: usize,
    attackers: usize,
    /// `hashing`: the fixed `POST /v1/reset` rate and the concurrent completes.
    hash_rate: f64,
    completers: usize,
    /// `flood`: distinct client addresses, and how long to watch RSS after.
    addresses: u64,
    settle: u64,
    /// `directory.hash_concurrency` for the gateway; `None` = its default.
    hash_concurrency: Option<usize>,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        scenarios: vec![Scenario::Stores],
        bin: PathBuf::from("target/release/resetgate"),
        bare: PathBuf::from("target/release/bare"),
        modes: vec![Mode::MemorySqlite, Mode::RedisPostgres],
        duration: 10,
        warmup: 2,
        clients: 32,
        users: 5_000,
        steps: 200,
        out: PathBuf::from("target/load"),
        policy: None,
        rate: None,
        redis_requests: 200_000,
        legit: 8,
        attackers: 8,
        hash_rate: 100.0,
        completers: 50,
        addresses: 1_000_000,
        settle: 90,
        hash_concurrency: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--scenario" => {
                args.scenarios = value()?
                    .split(',')
                    .map(|m| Scenario::parse(m.trim()))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--bin" => args.bin = value()?.into(),
            "--bare" => args.bare = value()?.into(),
            "--rate" => args.rate = Some(value()?.parse()?),
            "--redis-requests" => args.redis_requests = value()?.parse()?,
            "--legit" => args.legit = value()?.parse()?,
            "--attackers" => args.attackers = value()?.parse()?,
            "--hash-rate" => args.hash_rate = value()?.parse()?,
            "--completers" => args.completers = value()?.parse()?,
            "--addresses" => args.addresses = value()?.parse()?,
            "--settle" => args.settle = value()?.parse()?,
            "--hash-concurrency" => args.hash_concurrency = Some(value()?.parse()?),
            "--modes" => {
                args.modes = value()?
                    .split(',')
                    .map(|m| Mode::parse(m.trim()))
                    .collect::<anyhow::Result<_>>()?;
            }
            "--duration" => args.duration = value()?.parse()?,
            "--warmup" => args.warmup = value()?.parse()?,
            "--clients" => args.clients = value()?.parse()?,
            "--users" => args.users = value()?.parse()?,
            "--steps" => args.steps = value()?.parse()?,
            "--out" => args.out = value()?.into(),
            "--policy" => args.policy = Some(PathBuf::from(value()?).canonicalize()?),
            "--help" | "-h" => {
                println!("usage: load {USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other}; usage: load {USAGE}"),
        }
    }
    if args.modes.is_empty() || args.duration == 0 || args.clients == 0 || args.users < 10 {
        bail!("--modes must name a mode, --duration and --clients be positive, --users ≥ 10");
    }
    if !args.bin.is_file() {
        bail!(
            "{} does not exist: build the gateway first with `cargo build --release -p resetgate` \
             (or point --bin at a resetgate binary)",
            args.bin.display()
        );
    }
    args.bin = args.bin.canonicalize()?;
    if args.scenarios.contains(&Scenario::Ceiling) {
        if !args.bare.is_file() {
            bail!(
                "{} does not exist: build it with `cargo build --release -p resetgate-bench` \
                 (or point --bare at it)",
                args.bare.display()
            );
        }
        args.bare = args.bare.canonicalize()?;
    }
    if args.hash_rate <= 0.0 || args.rate.is_some_and(|r| r <= 0.0) || args.addresses == 0 {
        bail!("--rate and --hash-rate must be positive, --addresses at least 1");
    }
    Ok(args)
}

// ---------------------------------------------------------------- servers --

/// The servers one mode needs; dropping it stops them.
#[derive(Default)]
struct Backends {
    redis: Option<RedisServer>,
    cluster: Option<RedisCluster>,
    postgres: Option<PostgresServer>,
}

impl Backends {
    fn start(mode: Mode) -> Self {
        match mode {
            Mode::MemorySqlite => Self::default(),
            Mode::RedisPostgres => Self {
                redis: Some(RedisServer::start()),
                postgres: Some(PostgresServer::start()),
                ..Self::default()
            },
            Mode::ClusterPostgres => Self {
                cluster: Some(RedisCluster::start(3)),
                postgres: Some(PostgresServer::start()),
                ..Self::default()
            },
        }
    }

    fn ephemeral(&self) -> String {
        if let Some(r) = &self.redis {
            r.url()
        } else if let Some(c) = &self.cluster {
            c.url()
        } else {
            "memory".into()
        }
    }

    fn durable(&self, dir: &Path) -> String {
        self.postgres.as_ref().map_or_else(
            || format!("sqlite://{}", dir.join("resetgate.db").display()),
            PostgresServer::url,
        )
    }

    fn redis_ports(&self) -> Vec<u16> {
        if let Some(r) = &self.redis {
            vec![r.port()]
        } else if let Some(c) = &self.cluster {
            c.ports()
        } else {
            Vec::new()
        }
    }
}

/// A TOML basic string (JSON's escapes are TOML's).
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// What a scenario changes in the gateway's config.
struct Setup {
    /// `server.rate_limit_per_second`; `None` = the default (20).
    rate_limit: Option<u32>,
    /// `sms.provider = "webhook"` to this URL; `None` = `log`.
    sms_webhook: Option<String>,
    /// `store.memory_limit_mb`; `None` = the default (160).
    memory_limit_mb: Option<u32>,
    /// TOML appended as is (whole sections).
    extra: String,
}

/// The options (`--help`); bench/RESULTS.md has what each scenario measures.
const USAGE: &str = "[--scenario stores,ceiling,mix,hashing,flood] \
    [--bin PATH] [--bare PATH] [--modes memory-sqlite,redis-postgres[,cluster-postgres]] \
    [--duration SECS] [--warmup SECS] [--clients N] [--users N] [--steps N] [--out DIR] \
    [--policy FILE] [--rate R] [--redis-requests N] [--legit N] [--attackers N] \
    [--hash-rate R] [--completers N] [--hash-concurrency N] [--addresses N] [--settle SECS]";

/// The in-memory store's budget for throughput runs: every flow started stays
/// for `reset.flow_ttl` (15 min), ~2 KB each, so 10,000 starts a second for
/// 30 s hold some 600 MB. Below that budget the node would turn starts away
/// as the store fills (the flood scenario measures that), not show its speed.
const THROUGHPUT_MEMORY_MB: u32 = 4096;

impl Setup {
    /// The store comparison's: per-address limit out of the way, SMS to the log.
    fn stores() -> Self {
        Self {
            rate_limit: Some(1_000_000),
            sms_webhook: None,
            memory_limit_mb: Some(THROUGHPUT_MEMORY_MB),
            extra: String::new(),
        }
    }
}

/// One private `resetgate serve`; killed when dropped.
struct Gateway {
    dir: TempDir,
    child: Child,
    port: u16,
}

impl Gateway {
    async fn start(
        args: &Args,
        backends: &Backends,
        http: &reqwest::Client,
        setup: &Setup,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("resetgate-load-")
            .tempdir()?;
        let port = resetgate_services::free_port();
        let rate_limit = setup
            .rate_limit
            .map_or_else(String::new, |r| format!("rate_limit_per_second = {r}\n"));
        let memory = setup
            .memory_limit_mb
            .map_or_else(String::new, |mb| format!("memory_limit_mb = {mb}\n"));
        let sms = setup.sms_webhook.as_ref().map_or_else(
            || "provider = \"log\"\n".to_owned(),
            |url| format!("provider = \"webhook\"\nwebhook_url = {}\n", quote(url)),
        );
        let config = format!(
            "[server]\nlisten = {listen}\npublic_url = {public}\n\
             trusted_proxies = [\"127.0.0.0/8\"]\n{rate_limit}\n\
             [store]\nephemeral = {ephemeral}\ndurable = {durable}\n{memory}\n\
             [secrets]\nkey_file = {key}\n\n[sms]\n{sms}{policy}{extra}",
            listen = quote(&format!("127.0.0.1:{port}")),
            public = quote(&format!("http://localhost:{port}")),
            ephemeral = quote(&backends.ephemeral()),
            durable = quote(&backends.durable(dir.path())),
            key = quote(&dir.path().join("key").to_string_lossy()),
            policy = args.policy.as_ref().map_or_else(String::new, |p| format!(
                "\n[risk]\npolicy = {}\n",
                quote(&p.to_string_lossy())
            )),
            extra = setup.extra,
        );
        let config = match args.hash_concurrency {
            Some(n) => format!("{config}\n[directory]\nhash_concurrency = {n}\n"),
            None => config,
        };
        let config_path = dir.path().join("resetgate.toml");
        std::fs::write(&config_path, config)?;
        import_users(args, dir.path(), &config_path)?;

        let log = std::fs::File::create(dir.path().join("resetgate.log"))?;
        let child = command(&args.bin, dir.path())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", args.bin.display()))?;
        let mut gateway = Self { dir, child, port };
        gateway.wait_ready(http).await?;
        Ok(gateway)
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("resetgate.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/readyz", self.base());
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "`resetgate serve` exited with {status}:\n{}",
                    self.log_tail()
                );
            }
            let ok = http
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "GET /readyz gave no 200 within {READY_TIMEOUT:?}:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `resetgate` run in `dir`, without the caller's `RESETGATE__*` overrides.
fn command(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RESETGATE__") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn user_name(i: u64) -> String {
    format!("user{i:05}")
}

/// The steps' users: none of them is in the load, so their flows start at
/// `challenge` (the load's users have had several resets in the last hour).
fn step_user(j: u64) -> String {
    format!("step{j:05}")
}

/// `users import`, split over one process per core (each hashes passwords
/// with Argon2id); a first small file creates the schema alone.
fn import_users(args: &Args, dir: &Path, config: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // The load's users (every other one with a phone), then the steps' (all
    // with a phone, never touched by the load).
    let rows: Vec<(String, Option<String>)> = (0..args.users)
        .map(|i| (user_name(i), (i % 2 == 0).then(|| format!("+1555{i:07}"))))
        .chain((0..args.steps as u64).map(|j| (step_user(j), Some(format!("+1556{j:07}")))))
        .collect();
    let total = rows.len();
    let first = 10.min(total);
    let mut chunks = vec![(0, first)];
    let per = (total - first).div_ceil(cores);
    let mut from = first;
    while from < total {
        chunks.push((from, (from + per).min(total)));
        from += per;
    }
    let mut files = Vec::new();
    for (n, (from, to)) in chunks.iter().enumerate() {
        let mut csv = String::from("username,password,email,phone\n");
        for (name, phone) in &rows[*from..*to] {
            let phone = phone.as_deref().unwrap_or_default();
            writeln!(
                csv,
                "{name},bench passphrase of {name},{name}@example.org,{phone}"
            )?;
        }
        let path = dir.join(format!("users-{n}.csv"));
        std::fs::write(&path, csv)?;
        files.push(path);
    }
    let run = |path: &Path| -> anyhow::Result<Child> {
        Ok(command(&args.bin, dir)
            .args(["users", "import"])
            .arg(path)
            .arg("--config")
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?)
    };
    let wait = |child: Child| -> anyhow::Result<()> {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "resetgate users import failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    wait(run(&files[0])?)?;
    let children = files[1..]
        .iter()
        .map(|f| run(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for child in children {
        wait(child)?;
    }
    eprintln!(
        "  imported {total} users in {:.1?} ({} processes)",
        started.elapsed(),
        files.len() - 1
    );
    Ok(())
}

// ------------------------------------------------------------------- load --

/// The name and client address of load request `i`: every tenth name is
/// unknown (a decoy); addresses walk 384 /24s, then the hosts within them.
fn load_request(i: u64, users: u64) -> (String, String) {
    let name = if i % 10 == 9 {
        format!("ghost{:05}", (i / 10) % users)
    } else {
        user_name(i % users)
    };
    let subnet = i % LOAD_SUBNETS;
    let host = (i / LOAD_SUBNETS) % 254 + 1;
    (
        name,
        format!("198.{}.{}.{host}", 18 + subnet / 256, subnet % 256),
    )
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    /// Status code (or "transport error: …") → count.
    statuses: BTreeMap<String, u64>,
    /// The flow's `status` in a 200 answer → count.
    outcomes: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
    }
}

fn outcome_of(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "(no status)".into())
}

/// The body of a `POST /v1/reset` for `name`: the same for both clients.
fn reset_body(name: &str) -> String {
    format!(r#"{{"username":"{name}"}}"#)
}

/// `POST /v1/reset` for `name` from `addr` (as `X-Forwarded-For`).
async fn start_reset(http: &reqwest::Client, base: &str, name: &str, addr: &str) -> drive::Answer {
    let body = reset_body(name);
    post_json(
        http,
        format!("{base}/v1/reset"),
        body,
        Some(addr.to_owned()),
    )
    .await
}

/// The `POST /v1/reset` of [`start_reset`], to the server at `authority`
/// (`host:port`), for a client that sends its own requests (the open loop).
fn reset_request(authority: &str, name: &str, addr: &str) -> hyper::Request<String> {
    hyper::Request::post("/v1/reset")
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, USER_AGENT)
        .header("x-forwarded-for", addr)
        .body(reset_body(name))
        .expect("the request's parts are valid")
}

/// `POST url` with a JSON `body`, from `xff` (as `X-Forwarded-For`) when given.
async fn post_json(
    http: &reqwest::Client,
    url: String,
    body: String,
    xff: Option<String>,
) -> drive::Answer {
    let mut request = http
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", USER_AGENT)
        .body(body);
    if let Some(addr) = xff {
        request = request.header("x-forwarded-for", addr);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("transport error: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("transport error: {e}"))?;
    Ok((status, body.to_vec()))
}

/// Append [`row`] and a line break to `md`.
fn push_row(md: &mut String, name: &str, tally: &Tally, seconds: f64) {
    md.push_str(&row(name, tally, seconds));
    md.push('\n');
}

/// A Markdown table row: name, requests, throughput over `seconds`, p50,
/// p99, p999, max, and the statuses.
fn row(name: &str, tally: &Tally, seconds: f64) -> String {
    let lat = &tally.latencies_us;
    format!(
        "| {name} | {} | {:.0} /s | {} | {} | {} | {} | {} |",
        lat.len(),
        tally.rate(seconds),
        ms(percentile(lat, 0.5)),
        ms(percentile(lat, 0.99)),
        ms(percentile(lat, 0.999)),
        ms(lat.last().copied().unwrap_or(0)),
        statuses(&tally.statuses),
    )
}

const ROW_HEADER: &str = "| | requests | throughput | p50 | p99 | p999 | max | statuses |\n\
                          |---|---|---|---|---|---|---|---|\n";

fn statuses(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tally's figures as JSON.
fn tally_json(tally: &Tally, seconds: f64) -> Value {
    let lat = &tally.latencies_us;
    json!({
        "requests": lat.len(),
        "seconds": seconds,
        "throughput_per_s": tally.rate(seconds),
        "p50_us": percentile(lat, 0.5),
        "p99_us": percentile(lat, 0.99),
        "p999_us": percentile(lat, 0.999),
        "max_us": lat.last(),
        "statuses": tally.statuses,
        "outcomes": tally.outcomes,
    })
}

/// `VmRSS` and `VmHWM` (peak) of a process in bytes, from `/proc/PID/status`.
fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.0} MiB")
}

/// CPU seconds a process has used (user + system), from `/proc/PID/stat`.
fn process_cpu(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    #[allow(clippy::cast_precision_loss)]
    Some(ticks as f64 / 100.0)
}

/// CPU seconds used by every process named `redis-server` or `postgres`
/// (the private servers; other users' servers of those names would count too).
fn server_cpu() -> BTreeMap<String, f64> {
    let mut used = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return used;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if (comm == "redis-server" || comm == "postgres")
            && let Some(cpu) = process_cpu(&pid)
        {
            *used.entry(comm.to_owned()).or_default() += cpu;
        }
    }
    used
}

/// (busy, total) jiffies of the whole machine, from `/proc/stat`.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let values: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

struct LoadResult {
    tally: Tally,
    seconds: f64,
    gateway_cpu: Option<f64>,
    driver_cpu: Option<f64>,
    /// `redis-server` / `postgres` → cores used while measured.
    server_cpu: BTreeMap<String, f64>,
    machine_busy: Option<f64>,
}

async fn run_load(args: &Args, http: &reqwest::Client, gateway: &Gateway) -> LoadResult {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + Duration::from_secs(args.warmup);
    let measure_to = measure_from + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (http, next, base, users) = (http.clone(), next.clone(), gateway.base(), args.users);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let t0 = Instant::now();
                if t0 >= measure_to {
                    break tally;
                }
                let (name, addr) = load_request(next.fetch_add(1, Ordering::Relaxed), users);
                let result = start_reset(&http, &base, &name, &addr).await;
                let elapsed = t0.elapsed();
                if t0 < measure_from {
                    continue;
                }
                tally
                    .latencies_us
                    .push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
                match result {
                    Ok((status, body)) => {
                        *tally.statuses.entry(status.to_string()).or_default() += 1;
                        if status == 200 {
                            *tally.outcomes.entry(outcome_of(&body)).or_default() += 1;
                        }
                    }
                    Err(e) => *tally.statuses.entry(e).or_default() += 1,
                }
            }
        }));
    }
    let pid = gateway.pid().to_string();
    tokio::time::sleep_until(measure_from.into()).await;
    let (g0, d0, m0, s0) = (
        process_cpu(&pid),
        process_cpu("self"),
        machine_cpu(),
        server_cpu(),
    );
    tokio::time::sleep_until(measure_to.into()).await;
    let (g1, d1, m1, s1) = (
        process_cpu(&pid),
        process_cpu("self"),
        machine_cpu(),
        server_cpu(),
    );
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.expect("a load task does not panic"));
    }
    tally.latencies_us.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let seconds = args.duration as f64;
    #[allow(clippy::cast_precision_loss)]
    LoadResult {
        tally,
        seconds,
        gateway_cpu: g0.zip(g1).map(|(a, b)| (b - a) / seconds),
        driver_cpu: d0.zip(d1).map(|(a, b)| (b - a) / seconds),
        server_cpu: s1
            .iter()
            .map(|(k, b)| (k.clone(), (b - s0.get(k).unwrap_or(&0.0)) / seconds))
            .collect(),
        machine_busy: m0
            .zip(m1)
            .map(|((b0, t0), (b1, t1))| (b1 - b0) as f64 / (t1 - t0).max(1) as f64),
    }
}

// ---------------------------------------------------------------- monitor --

/// `MONITOR` on one Redis node, and a second connection that sends markers.
struct NodeMonitor {
    lines: Arc<Mutex<Vec<String>>>,
    reader: TcpStream,
    control: BufReader<TcpStream>,
    consumed: usize,
}

impl NodeMonitor {
    fn open(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        (&stream).write_all(b"MONITOR\r\n")?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut ok = String::new();
        reader.read_line(&mut ok)?;
        if ok.trim_end() != "+OK" {
            bail!("MONITOR on port {port} answered {ok:?}");
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock()
                    .expect("not poisoned")
                    .push(line.trim_end().to_owned());
                line.clear();
            }
        });
        let control = BufReader::new(TcpStream::connect(("127.0.0.1", port))?);
        Ok(Self {
            lines,
            reader: stream,
            control,
            consumed: 0,
        })
    }

    /// Send marker `tag` and return every line seen since the previous marker.
    fn mark(&mut self, tag: &str) -> anyhow::Result<Vec<String>> {
        self.control
            .get_mut()
            .write_all(format!("ECHO {tag}\r\n").as_bytes())?;
        let mut reply = String::new();
        for _ in 0..2 {
            self.control.read_line(&mut reply)?;
        }
        let needle = format!("\"ECHO\" \"{tag}\"");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            {
                let lines = self.lines.lock().expect("not poisoned");
                if let Some(at) = lines[self.consumed..]
                    .iter()
                    .position(|l| l.ends_with(&needle))
                {
                    let found = lines[self.consumed..self.consumed + at].to_vec();
                    self.consumed += at + 1;
                    return Ok(found);
                }
            }
            if Instant::now() > deadline {
                bail!("marker {tag} did not show up in MONITOR within 10 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for NodeMonitor {
    fn drop(&mut self) {
        let _ = self.reader.shutdown(std::net::Shutdown::Both);
    }
}

/// The quoted arguments of a `MONITOR` line, unescaped enough to read.
fn monitor_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        arg.push(n);
                    }
                }
                '"' => break,
                c => arg.push(c),
            }
        }
        args.push(arg);
    }
    args
}

/// What one `MONITOR` line was: `None` for a command run inside a Lua script.
fn classify(line: &str) -> Option<String> {
    let (client, rest) = line.split_once('[')?.1.split_once(']')?;
    if client.split_whitespace().nth(1) == Some("lua") {
        return None;
    }
    let args = monitor_args(rest);
    let command = args.first()?.to_uppercase();
    let prefix = |key: &str| key.split(':').next().unwrap_or(key).to_owned() + ":…";
    Some(match command.as_str() {
        "EVALSHA" | "EVAL" => {
            let keys: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(0);
            let mut kinds: Vec<String> =
                args.iter().skip(3).take(keys).map(|k| prefix(k)).collect();
            kinds.dedup();
            let sha = args.get(1).map_or("", |s| s.get(..8).unwrap_or(s));
            format!("{command} {sha} ({keys} keys: {})", kinds.join(", "))
        }
        "SET" => {
            let flags: Vec<String> = args
                .iter()
                .skip(3)
                .map(|a| a.to_uppercase())
                .filter(|a| ["NX", "XX", "PX", "EX", "GET", "KEEPTTL"].contains(&a.as_str()))
                .collect();
            format!(
                "SET {} {}",
                args.get(1).map_or(String::new(), |k| prefix(k)),
                flags.join(" ")
            )
        }
        _ => match args.get(1) {
            Some(key) if !command.starts_with("CLUSTER") && command != "ECHO" => {
                format!("{command} {}", prefix(key))
            }
            _ => command,
        },
    })
}

/// Commands that are not a request for data: not counted as the step's.
fn housekeeping(label: &str) -> bool {
    [
        "PING", "ECHO", "CLUSTER", "INFO", "CLIENT", "HELLO", "READONLY", "SELECT", "SCRIPT",
    ]
    .iter()
    .any(|c| label.split_whitespace().next() == Some(c))
}

#[derive(Default)]
struct StepCount {
    requests: usize,
    /// Label → count, for the gateway's requests.
    commands: BTreeMap<String, u64>,
    /// Label → count, for what is not counted (pings, topology, …).
    housekeeping: BTreeMap<String, u64>,
    lua: u64,
}

impl StepCount {
    fn add(&mut self, lines: &[String]) {
        for line in lines {
            match classify(line) {
                None => self.lua += 1,
                Some(label) if housekeeping(&label) => {
                    *self.housekeeping.entry(label).or_default() += 1;
                }
                Some(label) => *self.commands.entry(label).or_default() += 1,
            }
        }
    }

    fn per_request(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.requests > 0)
            .then(|| self.commands.values().sum::<u64>() as f64 / self.requests as f64)
    }

    fn json(&self) -> Value {
        json!({
            "requests": self.requests,
            "redis_commands_per_request": self.per_request(),
            "commands": self.commands,
            "not_counted": self.housekeeping,
            "commands_inside_lua": self.lua,
        })
    }
}

// ------------------------------------------------------------------ steps --

struct Step {
    name: &'static str,
    tally: Tally,
    redis: Option<StepCount>,
}

struct Monitors(Vec<NodeMonitor>);

impl Monitors {
    fn mark(&mut self, tag: &str, count: Option<&mut StepCount>) -> anyhow::Result<()> {
        let mut lines = Vec::new();
        for node in &mut self.0 {
            lines.extend(node.mark(tag)?);
        }
        if let Some(count) = count {
            count.add(&lines);
        }
        Ok(())
    }
}

fn record(tally: &mut Tally, started: Instant, status: u16, body: &[u8]) {
    tally
        .latencies_us
        .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    *tally.statuses.entry(status.to_string()).or_default() += 1;
    if status == 200 || status == 400 {
        let outcome = if status == 200 {
            outcome_of(body)
        } else {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default()
        };
        *tally.outcomes.entry(outcome).or_default() += 1;
    }
}

/// Sequential start, verify (wrong code) and status, counted with `MONITOR`
/// on every Redis node when `ports` is not empty.
async fn run_steps(
    args: &Args,
    http: &reqwest::Client,
    base: &str,
    ports: &[u16],
) -> anyhow::Result<Vec<Step>> {
    let mut monitors = Monitors(
        ports
            .iter()
            .map(|&p| NodeMonitor::open(p))
            .collect::<anyhow::Result<_>>()?,
    );
    let counting = !ports.is_empty();
    let mut steps: Vec<Step> = ["start", "verify", "status"]
        .into_iter()
        .map(|name| Step {
            name,
            tally: Tally::default(),
            redis: counting.then(StepCount::default),
        })
        .collect();
    monitors.mark("resetgate-bench-begin", None)?;

    // Known users with a phone that the load did not touch, each from its own
    // address.
    let mut flows: Vec<(String, Option<String>)> = Vec::new();
    for j in 0..args.steps as u64 {
        let name = step_user(j);
        let addr = format!("198.19.{}.{}", 128 + j % 100, j / 100 + 1);
        let t0 = Instant::now();
        let (status, body) = start_reset(http, base, &name, &addr)
            .await
            .map_err(anyhow::Error::msg)?;
        record(&mut steps[0].tally, t0, status, &body);
        let answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(id) = answer.get("flow_id").and_then(Value::as_str) {
            let factor = answer["options"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.get("factor").and_then(Value::as_str))
                .find(|f| *f == "sms" || *f == "totp")
                .map(str::to_owned);
            flows.push((id.to_owned(), factor));
        }
    }
    if let Some(count) = &mut steps[0].redis {
        count.requests = args.steps;
    }
    monitors.mark("resetgate-bench-start", steps[0].redis.as_mut())?;

    let mut verified = 0;
    for (id, factor) in &flows {
        let Some(factor) = factor else { continue };
        let t0 = Instant::now();
        let response = http
            .post(format!("{base}/v1/reset/{id}/verify"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"factor":"{factor}","code":"000000"}}"#))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        record(&mut steps[1].tally, t0, status, &body);
        verified += 1;
    }
    if let Some(count) = &mut steps[1].redis {
        count.requests = verified;
    }
    monitors.mark("resetgate-bench-verify", steps[1].redis.as_mut())?;

    for (id, _) in &flows {
        let t0 = Instant::now();
        let response = http.get(format!("{base}/v1/reset/{id}")).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        record(&mut steps[2].tally, t0, status, &body);
    }
    if let Some(count) = &mut steps[2].redis {
        count.requests = flows.len();
    }
    monitors.mark("resetgate-bench-status", steps[2].redis.as_mut())?;
    for step in &mut steps {
        step.tally.latencies_us.sort_unstable();
    }
    Ok(steps)
}

// ---------------------------------------------------------------- report --

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn ms(us: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let ms = us as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

struct ModeResult {
    mode: Mode,
    load: LoadResult,
    steps: Vec<Step>,
}

impl ModeResult {
    fn throughput(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.load.tally.latencies_us.len() as f64;
        n / self.load.seconds
    }

    fn non_200(&self) -> u64 {
        self.load
            .tally
            .statuses
            .iter()
            .filter(|(k, _)| k.as_str() != "200")
            .map(|(_, v)| v)
            .sum()
    }

    fn json(&self) -> Value {
        let lat = &self.load.tally.latencies_us;
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| {
                json!({
                    "step": s.name,
                    "statuses": s.tally.statuses,
                    "outcomes": s.tally.outcomes,
                    "p50_us": percentile(&s.tally.latencies_us, 0.5),
                    "p99_us": percentile(&s.tally.latencies_us, 0.99),
                    "redis": s.redis.as_ref().map(StepCount::json),
                })
            })
            .collect();
        json!({
            "mode": self.mode.name(),
            "requests": lat.len(),
            "seconds": self.load.seconds,
            "throughput_per_s": self.throughput(),
            "p50_us": percentile(lat, 0.5),
            "p99_us": percentile(lat, 0.99),
            "p999_us": percentile(lat, 0.999),
            "max_us": lat.last(),
            "statuses": self.load.tally.statuses,
            "outcomes": self.load.tally.outcomes,
            "gateway_cpu_cores": self.load.gateway_cpu,
            "driver_cpu_cores": self.load.driver_cpu,
            "server_cpu_cores": self.load.server_cpu,
            "machine_busy_fraction": self.load.machine_busy,
            "steps": steps,
        })
    }
}

fn per_step(result: &ModeResult, step: &str) -> String {
    result
        .steps
        .iter()
        .find(|s| s.name == step)
        .and_then(|s| s.redis.as_ref())
        .and_then(StepCount::per_request)
        .map_or_else(|| "—".into(), |n| format!("{n:.2}"))
}

fn report(args: &Args, results: &[ModeResult]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`POST /v1/reset`, {} clients, {} s warm-up + {} s measured, {} users \
         (+10 % unknown names), {} sequential requests per step\n",
        args.clients, args.warmup, args.duration, args.users, args.steps
    );
    md.push_str(
        "| mode | requests | throughput | p50 | p99 | p999 | non-200 | \
         Redis commands per start / verify / status |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let lat = &r.load.tally.latencies_us;
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} /s | {} | {} | {} | {} | {} / {} / {} |",
            r.mode.name(),
            lat.len(),
            r.throughput(),
            ms(percentile(lat, 0.5)),
            ms(percentile(lat, 0.99)),
            ms(percentile(lat, 0.999)),
            r.non_200(),
            per_step(r, "start"),
            per_step(r, "verify"),
            per_step(r, "status"),
        );
    }
    let memory = results.iter().find(|r| r.mode == Mode::MemorySqlite);
    for r in results.iter().filter(|r| r.mode != Mode::MemorySqlite) {
        if let Some(m) = memory {
            let ratio = r.throughput() / m.throughput();
            let _ = writeln!(
                md,
                "\n{} / memory-sqlite throughput: **{:.0} %** (target ≥ 50 %: {})",
                r.mode.name(),
                ratio * 100.0,
                if ratio >= 0.5 { "met" } else { "not met" }
            );
        }
    }
    md.push_str("\nDetails:\n\n");
    for r in results {
        let l = &r.load;
        let cores = |v: Option<f64>| v.map_or_else(|| "?".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            md,
            "- {}: statuses {:?}; flows {:?}; CPU cores used while measured: gateway {}, \
             driver {}{}, machine busy {}",
            r.mode.name(),
            l.tally.statuses,
            l.tally.outcomes,
            cores(l.gateway_cpu),
            cores(l.driver_cpu),
            l.server_cpu
                .iter()
                .fold(String::new(), |acc, (k, v)| format!("{acc}, {k} {v:.2}")),
            l.machine_busy
                .map_or_else(|| "?".into(), |b| format!("{:.0} %", b * 100.0)),
        );
        for s in &r.steps {
            let _ = writeln!(
                md,
                "  - {} (sequential, load stopped): statuses {:?}, answers {:?}, p50 {}, p99 {}",
                s.name,
                s.tally.statuses,
                s.tally.outcomes,
                ms(percentile(&s.tally.latencies_us, 0.5)),
                ms(percentile(&s.tally.latencies_us, 0.99)),
            );
            if let Some(count) = &s.redis {
                #[allow(clippy::cast_precision_loss)]
                let per = |n: u64| n as f64 / count.requests.max(1) as f64;
                for (label, n) in &count.commands {
                    let _ = writeln!(md, "    - `{label}`: {:.2} per request ({n})", per(*n));
                }
                for (label, n) in &count.housekeeping {
                    let _ = writeln!(md, "    - not counted: `{label}` ({n})");
                }
                let _ = writeln!(
                    md,
                    "    - not counted: {:.1} commands per request inside Lua scripts",
                    per(count.lua)
                );
            }
        }
    }
    md
}

// ------------------------------------------------------------------- main --

async fn run_mode(args: &Args, mode: Mode, http: &reqwest::Client) -> anyhow::Result<ModeResult> {
    eprintln!("{}: starting servers", mode.name());
    let backends = Backends::start(mode);
    let gateway = Gateway::start(args, &backends, http, &Setup::stores()).await?;
    eprintln!(
        "{}: gateway ready on {}; load for {} + {} s",
        mode.name(),
        gateway.base(),
        args.warmup,
        args.duration
    );
    let load = run_load(args, http, &gateway).await;
    eprintln!(
        "{}: {} requests measured; steps",
        mode.name(),
        load.tally.latencies_us.len()
    );
    let steps = run_steps(args, http, &gateway.base(), &backends.redis_ports())
        .await
        .with_context(|| format!("steps; gateway log:\n{}", gateway.log_tail()))?;
    drop(gateway);
    drop(backends);
    Ok(ModeResult { mode, load, steps })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients.max(args.completers) * 4)
        .timeout(Duration::from_secs(30))
        .build()?;
    for &scenario in &args.scenarios {
        eprintln!("== scenario {}", scenario.name());
        let (md, out) = match scenario {
            Scenario::Stores => {
                run_stores(&args, &http).await?;
                continue;
            }
            Scenario::Ceiling => ceiling::run(&args, &http).await?,
            Scenario::Mix => mix::run(&args, &http).await?,
            Scenario::Hashing => hashing::run(&args, &http).await?,
            Scenario::Flood => flood::run(&args, &http).await?,
        };
        println!("{md}");
        let name = scenario.name();
        std::fs::write(args.out.join(format!("{name}.md")), &md)?;
        std::fs::write(
            args.out.join(format!("{name}.json")),
            serde_json::to_string_pretty(&out)? + "\n",
        )?;
        eprintln!("wrote {}", args.out.join(format!("{name}.md")).display());
    }
    Ok(())
}

/// The store comparison (`--scenario stores`, the default).
async fn run_stores(args: &Args, http: &reqwest::Client) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for &mode in &args.modes {
        results.push(run_mode(args, mode, http).await?);
    }
    let md = report(args, &results);
    println!("{md}");
    std::fs::write(args.out.join("load.md"), &md)?;
    let modes: Vec<Value> = results.iter().map(ModeResult::json).collect();
    let throughput: HashMap<&str, f64> = results
        .iter()
        .map(|r| (r.mode.name(), r.throughput()))
        .collect();
    let ratio = |m: &str| {
        throughput
            .get(m)
            .zip(throughput.get("memory-sqlite"))
            .map(|(a, b)| a / b)
    };
    let out = json!({
        "clients": args.clients,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "users": args.users,
        "steps": args.steps,
        "modes": modes,
        "ratio_redis_postgres_to_memory_sqlite": ratio("redis-postgres"),
        "ratio_cluster_postgres_to_memory_sqlite": ratio("cluster-postgres"),
    });
    std::fs::write(
        args.out.join("load.json"),
        serde_json::to_string_pretty(&out)? + "\n",
    )?;
    eprintln!("wrote {}", args.out.join("load.md").display());
    Ok(())
}
