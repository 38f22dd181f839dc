//! Several gateway nodes on one Redis and one `PostgreSQL`, and what happens when
//! a store or a node fails. Every server is private to its test (free ports).
//!
//! - A flow started on node A is verified and completed on node B; a session
//!   made on B works on A; the audit of both nodes is one chain.
//! - Velocity and spray counters seen by both nodes add up exactly under
//!   concurrent load from both: every start's count is a distinct number
//!   from 1 to the number of starts.
//! - Redis stopped in the middle of a load: only 503 `store_unavailable`, no
//!   other 5xx, no panic, `/readyz` red; Redis back: new flows succeed within
//!   seconds, without a gateway restart. The same for `PostgreSQL`, where
//!   additionally no acknowledged start lacks its audit record.
//! - A node killed with SIGKILL mid-flow: the flow completes on the other node.
//! - A Redis that hangs (SIGSTOP) gives a 503 within seconds, not a hung request.
//! - SIGTERM: the node drains and exits 0.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use resetgate_tests::api::field_str;
use resetgate_tests::audit;
use resetgate_tests::fixtures::{ALICE, BOB, NEW_PASSWORD};
use resetgate_tests::flows;
use resetgate_tests::services::postgres::PostgresServer;
use resetgate_tests::services::redis::RedisServer;
use resetgate_tests::{Api, Gateway};
use serde_json::Value;

/// How long service may take to come back once its store is back.
const RECOVERY: Duration = Duration::from_secs(15);
/// The load comes from here, for an account that does not exist (a decoy
/// touches the stores as a real account does); the owner resets from
/// elsewhere, so the load's counters do not refuse her.
const LOAD_ADDRESS: &str = "198.51.100.7";
const LOAD_ACCOUNT: &str = "nobody-here";
const OWNER_ADDRESS: &str = "203.0.113.77";

/// Two nodes of one deployment on private Redis and `PostgreSQL` servers.
async fn two_nodes(redis: &RedisServer, postgres: &PostgresServer) -> (Gateway, Gateway) {
    let a = Gateway::builder()
        .stores(redis.url(), postgres.url())
        .start()
        .await;
    let b = Gateway::builder().node_of(&a).start().await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_node_completes_on_the_other() {
    let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let (a, b) = two_nodes(&redis, &postgres).await;
    a.import_users(&[ALICE, BOB]).await;

    // A session made on B works on A (sessions live in Redis).
    let bearer = flows::login(b.api(), ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(a.api(), &bearer).await;
    flows::assert_factor_active(b.api(), &bearer, &totp.id, "totp").await;

    let start = flows::start_reset(a.api(), ALICE.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    let flow = flows::flow_id(&start);
    let seen_on_b = flows::flow_status(b.api(), &flow).await;
    assert_eq!(seen_on_b.status, 200, "{seen_on_b}");

    let code = totp.device.next_code().await;
    let verified = flows::verify(b.api(), &flow, "totp", &code).await.ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    let token = field_str(&verified, "reset_token").to_owned();
    // The same TOTP step is spent for the account on every node: a new flow
    // on A does not take the code B accepted.
    let second = flows::start_reset(a.api(), ALICE.name).await;
    let second = flows::flow_id(&second);
    flows::verify(a.api(), &second, "totp", &code)
        .await
        .expect_error(400, "invalid_code");

    let done = flows::complete(b.api(), &flow, &token, NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");
    flows::login(a.api(), ALICE.name, NEW_PASSWORD).await;
    flows::try_login(b.api(), ALICE.name, ALICE.password)
        .await
        .expect_error(401, "invalid_credentials");

    // Both nodes wrote to one audit chain, and it verifies from either.
    let verified = a.cli_ok(&["audit", "verify"]).await;
    assert!(verified.stdout.contains("intact"), "{verified}");
    // A wrote the starts, B the verification and the completion.
    let records = audit::records(&b.audit_export().await);
    let kinds = |kind: &str| records.iter().filter(|r| r["kind"] == kind).count();
    assert_eq!(kinds("reset.started"), 2, "{records:#?}");
    assert!(kinds("factor.verified") >= 1, "{records:#?}");
    assert_eq!(kinds("reset.completed"), 1, "{records:#?}");
}

/// The `signals.velocity.<counter>` of every `reset.started` record whose
/// subject is in `subjects`.
fn counts(records: &[Value], counter: &str, subjects: &[String]) -> Vec<u64> {
    let mut counts: Vec<u64> = records
        .iter()
        .filter(|r| r["kind"] == "reset.started")
        .filter(|r| {
            r["subject"]
                .as_str()
                .is_some_and(|s| subjects.iter().any(|n| n == s))
        })
        .map(|r| {
            r["data"]["signals"]["velocity"][counter]
                .as_u64()
                .unwrap_or_else(|| panic!("no velocity.{counter} in {r}"))
        })
        .collect();
    counts.sort_unstable();
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn velocity_and_spray_counts_from_both_nodes_add_up_exactly() {
    const PER_NODE: usize = 12;
    let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let (a, b) = two_nodes(&redis, &postgres).await;
    a.import_users(&[ALICE]).await;

    // One account, started concurrently from both nodes.
    let mut starts = Vec::new();
    for api in [a.api().clone(), b.api().clone()] {
        for _ in 0..PER_NODE {
            let api = api.clone();
            starts.push(tokio::spawn(async move {
                flows::try_start_reset(&api, ALICE.name).await
            }));
        }
    }
    for start in starts {
        let response = start.await.expect("a start task");
        assert_eq!(response.status, 200, "{response}");
    }

    // Many accounts (unknown ones: decoys count the same) from one address.
    let names: Vec<String> = (0..2 * PER_NODE).map(|i| format!("sprayed{i}")).collect();
    let mut starts = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let api = if i % 2 == 0 { a.api() } else { b.api() }.clone();
        let name = name.clone();
        starts.push(tokio::spawn(async move {
            flows::try_start_reset(&api, &name).await
        }));
    }
    for start in starts {
        let response = start.await.expect("a start task");
        assert_eq!(response.status, 200, "{response}");
    }

    let records = audit::records(&a.audit_export().await);
    let every: Vec<u64> = (1..=(2 * PER_NODE) as u64).collect();
    assert_eq!(
        counts(&records, "account_attempts_1h", &[ALICE.name.to_owned()]),
        every,
        "each start of one account, on either node, sees its own place in the count"
    );
    let spray = counts(&records, "address_accounts_1h", &names);
    assert_eq!(
        spray,
        (2..=(2 * PER_NODE + 1) as u64).collect::<Vec<_>>(),
        "distinct accounts from one address (Alice's starts came first)"
    );
}

/// What a load loop saw: status → count, and the error codes of the 5xx.
#[derive(Default, Debug)]
struct Seen {
    statuses: BTreeMap<u16, u32>,
    server_errors: BTreeMap<String, u32>,
    acknowledged: Vec<String>,
}

/// Starts resets for `username` from `workers` loops until `stop` is set.
async fn load(api: &Api, username: &str, workers: usize, stop: Arc<AtomicBool>) -> Seen {
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (api, stop, name) = (api.clone(), stop.clone(), username.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut seen = Seen::default();
            while !stop.load(Ordering::Relaxed) {
                let response = flows::try_start_reset(&api, &name).await;
                *seen.statuses.entry(response.status).or_default() += 1;
                if response.status >= 500 {
                    let code = response.error().unwrap_or("(none)").to_owned();
                    *seen.server_errors.entry(code).or_default() += 1;
                } else if response.status == 200 {
                    seen.acknowledged.push(flows::flow_id(&response.body));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    let mut all = Seen::default();
    for task in tasks {
        let seen = task.await.expect("a load task");
        for (status, n) in seen.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
        for (code, n) in seen.server_errors {
            *all.server_errors.entry(code).or_default() += n;
        }
        all.acknowledged.extend(seen.acknowledged);
    }
    all
}

/// Only 200 and 503 `store_unavailable`, and some of each.
fn assert_only_store_unavailable(seen: &Seen) {
    let unexpected: Vec<_> = seen
        .statuses
        .keys()
        .filter(|s| **s != 200 && **s != 503)
        .collect();
    assert!(unexpected.is_empty(), "unexpected statuses: {seen:?}");
    assert!(
        seen.server_errors.keys().all(|c| c == "store_unavailable"),
        "5xx other than store_unavailable: {seen:?}"
    );
    assert!(
        seen.statuses.contains_key(&503),
        "the outage was not seen: {seen:?}"
    );
    assert!(
        seen.statuses.contains_key(&200),
        "nothing succeeded: {seen:?}"
    );
}

/// Polls until a whole reset of Alice's (start, TOTP, complete) succeeds,
/// within `RECOVERY`, from an address the load did not use.
async fn a_reset_succeeds(gw: &Gateway, device: &mut resetgate_tests::TotpDevice, password: &str) {
    let deadline = Instant::now() + RECOVERY;
    let api = gw.api().clone().forwarded_for(OWNER_ADDRESS);
    loop {
        let start = flows::try_start_reset(&api, ALICE.name).await;
        if start.status == 200 && start.body["status"] == "challenge" {
            let flow = flows::flow_id(&start.body);
            let code = device.next_code().await;
            let verified = flows::verify(gw.api(), &flow, "totp", &code).await.ok();
            let token = field_str(&verified, "reset_token").to_owned();
            let done = flows::complete(gw.api(), &flow, &token, password)
                .await
                .ok();
            assert_eq!(done["status"], "done", "{done}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no reset succeeded within {RECOVERY:?} of the store's return: {start}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn readyz(gw: &Gateway) -> u16 {
    gw.api().get("/readyz").await.status
}

fn assert_no_panic(gw: &Gateway) {
    let log = gw.log();
    assert!(!log.contains("panicked"), "the gateway panicked:\n{log}");
}

/// A gateway whose limiter does not get in the way of a load from loopback,
/// and which believes the tests' `X-Forwarded-For`.
async fn loaded_gateway(redis: &RedisServer, postgres: &PostgresServer) -> Gateway {
    Gateway::builder()
        .stores(redis.url(), postgres.url())
        .trusted_proxies(["127.0.0.0/8"])
        .env("RESETGATE__SERVER__RATE_LIMIT_PER_SECOND", "10000")
        .start()
        .await
}

/// A store outage in the middle of a load: `outage(false)` takes the store
/// down, `outage(true)` brings it back. Checks `/readyz` both ways and that the
/// load saw only 200 and 503 `store_unavailable`, then that a whole reset of
/// Alice's goes through; returns what the load saw.
async fn outage_under_load(gw: &Gateway, store: &str, mut outage: impl FnMut(bool)) -> Seen {
    gw.import_users(&[ALICE]).await;
    let bearer = flows::login(gw.api(), ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(gw.api(), &bearer).await;

    let stop = Arc::new(AtomicBool::new(false));
    let loader = {
        let (api, stop) = (gw.api().clone().forwarded_for(LOAD_ADDRESS), stop.clone());
        tokio::spawn(async move { load(&api, LOAD_ACCOUNT, 3, stop).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    outage(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(readyz(gw).await, 503, "/readyz while {store} is down");
    outage(true);
    let back = Instant::now();
    while readyz(gw).await != 200 {
        assert!(
            back.elapsed() < RECOVERY,
            "/readyz stayed red after {store} returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = loader.await.expect("the loader");
    assert_only_store_unavailable(&seen);
    // A restarted Redis (no persistence) lost the flows and counters, not the
    // factors: a whole reset goes through again, without a gateway restart.
    a_reset_succeeds(gw, &mut totp.device, NEW_PASSWORD).await;
    assert_no_panic(gw);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_mid_load_gives_503_only_and_service_resumes_by_itself() {
    let (mut redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let gw = loaded_gateway(&redis, &postgres).await;
    outage_under_load(&gw, "Redis", |up| {
        if up { redis.restart() } else { redis.stop() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_mid_load_gives_503_only_loses_no_audit_and_resumes() {
    let (redis, mut postgres) = (RedisServer::start(), PostgresServer::start());
    let gw = loaded_gateway(&redis, &postgres).await;
    let seen = outage_under_load(&gw, "PostgreSQL", |up| {
        if up {
            postgres.start_again();
        } else {
            postgres.stop();
        }
    })
    .await;

    // Every start that was answered 200 was audited first: none is missing.
    let records = audit::records(&gw.audit_export().await);
    let audited: std::collections::HashSet<&str> = records
        .iter()
        .filter(|r| r["kind"] == "reset.started")
        .filter_map(|r| r["data"]["flow_id"].as_str())
        .collect();
    let missing: Vec<&String> = seen
        .acknowledged
        .iter()
        .filter(|f| !audited.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged starts without an audit record: {missing:?}"
    );
    let verified = gw.cli_ok(&["audit", "verify"]).await;
    assert!(verified.stdout.contains("intact"), "{verified}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_flow_leaves_the_flow_to_the_other() {
    let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let (mut a, b) = two_nodes(&redis, &postgres).await;
    a.import_users(&[ALICE]).await;
    let bearer = flows::login(a.api(), ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(a.api(), &bearer).await;
    let start = flows::start_reset(a.api(), ALICE.name).await;
    let flow = flows::flow_id(&start);
    let code = totp.device.next_code().await;
    let verified = flows::verify(a.api(), &flow, "totp", &code).await.ok();
    let token = field_str(&verified, "reset_token").to_owned();

    a.stop(); // SIGKILL
    let done = flows::complete(b.api(), &flow, &token, NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");
    flows::login(b.api(), ALICE.name, NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_cleanly() {
    let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let mut gw = Gateway::builder()
        .stores(redis.url(), postgres.url())
        .start()
        .await;
    gw.import_users(&[ALICE]).await;
    flows::start_reset(gw.api(), ALICE.name).await;
    let status = gw
        .terminate(Duration::from_secs(15))
        .expect("the gateway exits within 15 s of SIGTERM");
    assert!(status.success(), "exit status {status}\n{}", gw.log());
    assert!(gw.log().contains("resetgate stopped"), "{}", gw.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_node_limiter_holds_while_redis_is_down() {
    let (mut redis, postgres) = (RedisServer::start(), PostgresServer::start());
    // 1 request per second per address, bursts of 3: the limiter, not the
    // timing of 150 requests, decides how many pass.
    let gw = Gateway::builder()
        .stores(redis.url(), postgres.url())
        .env("RESETGATE__SERVER__RATE_LIMIT_PER_SECOND", "1")
        .start()
        .await;
    redis.stop();
    let mut statuses = BTreeMap::<u16, u32>::new();
    let mut tasks = Vec::new();
    for _ in 0..150 {
        let api = gw.api().clone();
        tasks.push(tokio::spawn(async move {
            let response = flows::try_start_reset(&api, LOAD_ACCOUNT).await;
            (response.status, response.error().map(ToOwned::to_owned))
        }));
    }
    for task in tasks {
        let (status, error) = task.await.expect("a request task");
        *statuses.entry(status).or_default() += 1;
        let expected = match status {
            429 => "rate_limited",
            503 => "store_unavailable",
            other => panic!("status {other} ({error:?}) while Redis is down"),
        };
        assert_eq!(error.as_deref(), Some(expected), "{statuses:?}");
    }
    assert!(
        statuses.get(&429).copied().unwrap_or(0) >= 140,
        "a flood from one address is throttled by the node itself: {statuses:?}"
    );
    assert_no_panic(&gw);
}

/// The process id of the Redis server on `port` (from `INFO server`).
fn redis_pid(port: u16) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "INFO", "server"])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .map(|pid| pid.trim().to_owned())
        .expect("INFO server names the process id")
}

fn signal(pid: &str, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_hangs_gives_a_prompt_503_not_a_hung_request() {
    let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let gw = Gateway::builder()
        .stores(redis.url(), postgres.url())
        .start()
        .await;
    gw.import_users(&[ALICE]).await;
    flows::start_reset(gw.api(), ALICE.name).await;
    // Frozen, not gone: connections stay open and nothing answers.
    let pid = redis_pid(redis.port());
    signal(&pid, "STOP");
    let asked = Instant::now();
    let frozen = flows::try_start_reset(gw.api(), ALICE.name).await;
    let waited = asked.elapsed();
    signal(&pid, "CONT");
    frozen.expect_error(503, "store_unavailable");
    assert!(
        waited < Duration::from_secs(5),
        "a frozen Redis held the request for {waited:?} (calls are capped at 2 s)"
    );
    let back = Instant::now();
    loop {
        let start = flows::try_start_reset(gw.api(), ALICE.name).await;
        if start.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < RECOVERY,
            "no recovery after SIGCONT: {start}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_no_panic(&gw);
}
