//! Redis ephemeral store: one node (`redis://`, `rediss://`) or a Redis Cluster
//! (`redis+cluster://h1:p1,h2:p2,…`, `redis+cluster+tls://…`), shared by every
//! gateway node.
//!
//! # One round trip per call
//! Every trait method is one request: `put` is `SET PX`, `get` is `GET`,
//! `put_new` is `SET NX PX`, `take` is `GETDEL`, `delete` is `DEL`, `ping` is
//! `PING`; `compare_and_swap`, `advance` and `windows` are Lua scripts, sent as
//! `EVALSHA`. The scripts are loaded at [`RedisStore::connect`]; when a server
//! has lost them (a restart, `SCRIPT FLUSH`) the `NOSCRIPT` answer is followed
//! by one `EVAL`, which caches the script again: the only case that costs a
//! second round trip. Values are bytes, compared byte for byte in Lua.
//!
//! # Sliding windows
//! A window key is a sorted set: member = a unique event id (the event's
//! milliseconds, a per-store random nonce and a counter, so two events in the
//! same millisecond from any gateway node both count) or the given distinct
//! member, score = the event's time in ms taken from the `now` argument, never
//! from Redis's clock. Per op the script drops members at or before
//! `now - window`, and when recording evicts the oldest members beyond
//! [`MAX_EVENTS`] (a distinct member already present evicts nothing, it is
//! refreshed), adds the member, and extends the key's TTL to the window if it
//! is shorter; then it counts with `ZCARD`. Counts are those of
//! [`MemoryStore`](super::MemoryStore). A key serves one kind (events or
//! distinct members) with one window length, which the key names in
//! [`keys::count`](super::keys::count) guarantee; expiry of a whole key follows
//! Redis's clock, which matches `now` in production.
//!
//! # Redis Cluster
//! Every command and script touches keys of one slot: all take a single key
//! except `windows`, whose ops are grouped by slot (hash tags honoured, so a
//! `{…}` in a subject only changes which slot, never correctness), one script
//! per slot. The async cluster client of redis-rs 1.x routes a pipeline to the
//! slot of its commands and refuses pipelines across slots, and the keys of one
//! call (per account, per address, per ASN…) rarely share a slot, so the slot
//! groups are sent concurrently: one round trip of latency, several requests.
//! Each group is atomic; the call as a whole is not (Redis Cluster has no
//! cross-slot atomicity), which the counters do not need: each is independent.
//! [`RedisStore::round_trips`] counts the sequential waits (a concurrent wave
//! counts once), [`RedisStore::requests`] the requests sent.
//!
//! # Failures
//! Single node: a `ConnectionManager` reconnects by itself; connection and
//! response timeouts of [`TIMEOUT`], one reconnection retry, and a bound of
//! [`CALL_TIMEOUT`] on every call make calls fail with [`StoreError`] quickly
//! while Redis is down (the gateway answers 503 `store_unavailable`). The call
//! that finds the connection lost fails and starts a reconnection, so the
//! first call after Redis returns may still fail; later calls succeed. The
//! cluster client refreshes its topology and reconnects likewise, with the
//! same timeouts. [`RedisStore::connect`] fails when Redis is unreachable.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::cluster_routing::Slot;
use ::redis::{Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, ToRedisArgs, Value};
use async_trait::async_trait;

use super::memory::MAX_EVENTS;
use super::{Ephemeral, StoreError, WindowOp};

/// Connection and per-response timeout.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// Upper bound on one call, reconnection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// `KEYS[1]` = key; `ARGV` = expected, new, ttl in ms.
const CAS: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// `KEYS[1]` = key; `ARGV` = the value as 20 zero-padded digits, ttl in ms.
/// Compared as two 10-digit halves, each exact in Lua's doubles.
const ADVANCE: &str = r"
local cur, new = redis.call('GET', KEYS[1]), ARGV[1]
if cur and string.len(cur) == 20 then
  local ch, nh = tonumber(string.sub(cur, 1, 10)), tonumber(string.sub(new, 1, 10))
  if ch > nh or (ch == nh and tonumber(string.sub(cur, 11)) >= tonumber(string.sub(new, 11))) then
    return 0
  end
end
redis.call('SET', KEYS[1], new, 'PX', ARGV[2])
return 1
";

/// `KEYS` = the window keys; `ARGV[1]` = now in ms, `ARGV[2]` = the cap, then
/// per key: forget at or before (ms), window (ms), '1' to record or '0', member.
const WINDOWS: &str = r"
local now, cap = ARGV[1], tonumber(ARGV[2])
local counts = {}
for i, key in ipairs(KEYS) do
  local a = 4 * i - 1
  local window, member = tonumber(ARGV[a + 1]), ARGV[a + 3]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[a])
  if ARGV[a + 2] == '1' then
    local n = redis.call('ZCARD', key)
    if n >= cap and not redis.call('ZSCORE', key, member) then
      redis.call('ZREMRANGEBYRANK', key, 0, n - cap)
    end
    redis.call('ZADD', key, now, member)
    if redis.call('PTTL', key) < window then
      redis.call('PEXPIRE', key, ARGV[a + 1])
    end
  end
  counts[i] = redis.call('ZCARD', key)
end
return counts
";

/// A Lua script and its SHA-1.
struct Lua {
    code: &'static str,
    sha: String,
}

impl Lua {
    fn new(code: &'static str) -> Self {
        Self {
            code,
            sha: ::redis::Script::new(code).get_hash().to_owned(),
        }
    }

    /// `EVALSHA` (or `EVAL` when `by_code`) of this script over `keys` and `args`.
    fn cmd(&self, by_code: bool, keys: &[&str], args: &ScriptArgs) -> Cmd {
        let mut cmd = if by_code {
            let mut c = ::redis::cmd("EVAL");
            c.arg(self.code);
            c
        } else {
            let mut c = ::redis::cmd("EVALSHA");
            c.arg(&self.sha);
            c
        };
        cmd.arg(keys.len()).arg(keys);
        for a in &args.0 {
            cmd.arg(a.as_slice());
        }
        cmd
    }
}

/// A script's `ARGV`, as bytes.
#[derive(Default)]
struct ScriptArgs(Vec<Vec<u8>>);

impl ScriptArgs {
    fn push(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.0.extend(arg.to_redis_args());
        self
    }
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        match self {
            Self::Single(c) => cmd.query_async(&mut c.clone()).await,
            Self::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}

/// The Redis implementation of [`Ephemeral`].
pub struct RedisStore {
    conn: Conn,
    cas: Lua,
    advance: Lua,
    windows: Lua,
    /// Makes event ids unique across gateway nodes.
    nonce: u64,
    events: AtomicU64,
    round_trips: AtomicU64,
    requests: AtomicU64,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.conn {
            Conn::Single(_) => "single",
            Conn::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("mode", &mode)
            .field("round_trips", &self.round_trips())
            .finish_non_exhaustive()
    }
}

/// What a URL names: one server or a cluster's seed nodes.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Single(String),
    Cluster(Vec<String>),
}

/// Parse `redis://…`, `rediss://…`, `redis+cluster://[user:pass@]h1:p1,h2:p2,…`
/// and `redis+cluster+tls://…` (each seed becomes a `redis://` or `rediss://` URL).
fn parse_url(url: &str) -> Result<Target, StoreError> {
    let bad = |why: &str| StoreError(format!("bad Redis URL {}: {why}", redact(url)));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let seed_scheme = match scheme {
        "redis" | "rediss" => return Ok(Target::Single(url.to_owned())),
        "redis+cluster" => "redis",
        "redis+cluster+tls" => "rediss",
        _ => {
            return Err(bad(
                "the scheme is not redis, rediss, redis+cluster or redis+cluster+tls",
            ));
        }
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), rest),
    };
    if hosts.contains(['/', '?', '#']) {
        return Err(bad("a cluster URL has no database, path or options"));
    }
    let seeds: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("{seed_scheme}://{userinfo}{h}"))
        .collect();
    if seeds.is_empty() {
        return Err(bad("no cluster nodes"));
    }
    Ok(Target::Cluster(seeds))
}

/// The URL without its user information, for messages.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

fn unavailable(e: &RedisError) -> StoreError {
    StoreError(format!("redis: {e}"))
}

/// Milliseconds since the epoch (0 before it).
fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A duration in whole ms for `PX`/`PEXPIRE`: rounded up, at least 1 ms (Redis
/// refuses 0), at most a century.
fn ttl_ms(ttl: Duration) -> u64 {
    const CENTURY_MS: u64 = 100 * 365 * 24 * 3600 * 1000;
    u64::try_from(ttl.as_nanos().div_ceil(1_000_000))
        .unwrap_or(u64::MAX)
        .clamp(1, CENTURY_MS)
}

impl RedisStore {
    /// Connect to `redis://host:port[/db]`, `rediss://…`,
    /// `redis+cluster://host1:port1,host2:port2,…` or `redis+cluster+tls://…`,
    /// and load the scripts. Fails (within a few seconds) when Redis does not
    /// answer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let cannot = |e: &RedisError| StoreError(format!("cannot connect to {}: {e}", redact(url)));
        let conn = match parse_url(url)? {
            Target::Single(single) => {
                let client = ::redis::Client::open(single.as_str()).map_err(|e| cannot(&e))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(TIMEOUT))
                    .set_response_timeout(Some(TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(200));
                let manager = ConnectionManager::new_with_config(client, config);
                let manager = tokio::time::timeout(CALL_TIMEOUT * 2, manager)
                    .await
                    .map_err(|_| {
                        StoreError(format!("cannot connect to {}: timed out", redact(url)))
                    })?
                    .map_err(|e| cannot(&e))?;
                Conn::Single(manager)
            }
            Target::Cluster(seeds) => {
                let client = ClusterClientBuilder::new(seeds)
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    .overall_response_timeout(Some(CALL_TIMEOUT))
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(200)
                    .build()
                    .map_err(|e| cannot(&e))?;
                let conn = tokio::time::timeout(CALL_TIMEOUT * 2, client.get_async_connection())
                    .await
                    .map_err(|_| {
                        StoreError(format!("cannot connect to {}: timed out", redact(url)))
                    })?
                    .map_err(|e| cannot(&e))?;
                Conn::Cluster(conn)
            }
        };
        let store = Self {
            conn,
            cas: Lua::new(CAS),
            advance: Lua::new(ADVANCE),
            windows: Lua::new(WINDOWS),
            nonce: rand::random(),
            events: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        };
        // SCRIPT LOAD goes to every primary of a cluster.
        for lua in [&store.cas, &store.advance, &store.windows] {
            let mut load = ::redis::cmd("SCRIPT");
            load.arg("LOAD").arg(lua.code);
            store
                .bounded(store.conn.query::<String>(&load))
                .await
                .map_err(|e| {
                    StoreError(format!("cannot load scripts into {}: {}", redact(url), e.0))
                })?;
        }
        store.check_eviction_policy().await;
        Ok(store)
    }

    /// Warn unless Redis refuses writes when it is full (`maxmemory-policy
    /// noeviction`). Every key here has a TTL, so an evicting policy (`allkeys-*`
    /// and `volatile-*` alike) lets a full Redis silently drop counters, TOTP
    /// step markers and flows: the limits would fail open. With `noeviction` a
    /// full Redis refuses the write and the request fails closed (503). Only a
    /// warning: managed services may refuse `CONFIG`, and the operator decides.
    async fn check_eviction_policy(&self) {
        let mut get = ::redis::cmd("CONFIG");
        get.arg("GET").arg("maxmemory-policy");
        match self.bounded(self.conn.query::<Vec<String>>(&get)).await {
            Ok(reply) if reply.get(1).is_some_and(|p| p == "noeviction") => {}
            Ok(reply) => tracing::warn!(
                maxmemory_policy = reply.get(1).map_or("(unknown)", String::as_str),
                "Redis may evict keys when full, which drops rate-limit counters and \
                 single-use markers (limits fail open); set maxmemory-policy noeviction"
            ),
            Err(e) => tracing::warn!(
                error = %e.0,
                "could not read Redis maxmemory-policy; make sure it is noeviction"
            ),
        }
    }

    /// Sequential round trips to Redis since connecting (the concurrent requests
    /// of a cluster `windows` call count once; a `NOSCRIPT` retry counts).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Requests sent to Redis since connecting (equal to
    /// [`round_trips`](Self::round_trips) on a single node).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Bound a call by [`CALL_TIMEOUT`] and turn its error into a [`StoreError`].
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(result) => result.map_err(|e| unavailable(&e)),
            Err(_) => Err(StoreError(format!(
                "redis: no answer within {CALL_TIMEOUT:?}"
            ))),
        }
    }

    /// One command, one round trip.
    async fn command<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bounded(self.conn.query(cmd)).await
    }

    /// `EVALSHA`, then `EVAL` if the server lost the script. Counts requests;
    /// the caller counts the round trip, this the retry's.
    async fn script<T: FromRedisValue>(
        &self,
        lua: &Lua,
        keys: &[&str],
        args: &ScriptArgs,
    ) -> Result<T, RedisError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match self.conn.query(&lua.cmd(false, keys, args)).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.round_trips.fetch_add(1, Ordering::Relaxed);
                self.requests.fetch_add(1, Ordering::Relaxed);
                self.conn.query(&lua.cmd(true, keys, args)).await
            }
            other => other,
        }
    }

    /// One script call, one round trip (two after a lost script).
    async fn eval<T: FromRedisValue>(
        &self,
        lua: &Lua,
        key: &str,
        args: &ScriptArgs,
    ) -> Result<T, StoreError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.bounded(self.script(lua, &[key], args)).await
    }

    /// The `windows` script's arguments for `ops`.
    fn window_args(&self, ops: &[&WindowOp<'_>], now_ms: u64) -> ScriptArgs {
        let mut args = ScriptArgs::default();
        args.push(now_ms).push(MAX_EVENTS);
        for op in ops {
            let window = ttl_ms(op.window);
            args.push(now_ms.saturating_sub(window)).push(window);
            match (op.record, op.member) {
                (false, _) => args.push(0).push(""),
                (true, Some(member)) => args.push(1).push(member),
                (true, None) => {
                    let n = self.events.fetch_add(1, Ordering::Relaxed);
                    args.push(1)
                        .push(format!("{now_ms}:{:016x}:{n}", self.nonce))
                }
            };
        }
        args
    }

    async fn cluster_windows(
        &self,
        ops: &[WindowOp<'_>],
        now_ms: u64,
    ) -> Result<Vec<u64>, StoreError> {
        // Group op indices by slot, in order of first appearance.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_slot: HashMap<Slot, usize> = HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            let g = *by_slot.entry(Slot::for_key(op.key)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        let calls = groups.iter().map(|group| {
            let keys: Vec<&str> = group.iter().map(|&i| ops[i].key).collect();
            let group_ops: Vec<&WindowOp<'_>> = group.iter().map(|&i| &ops[i]).collect();
            let args = self.window_args(&group_ops, now_ms);
            async move { self.script::<Vec<u64>>(&self.windows, &keys, &args).await }
        });
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let results = self.bounded(futures::future::try_join_all(calls)).await?;
        let mut counts = vec![0; ops.len()];
        for (group, result) in groups.iter().zip(results) {
            if result.len() != group.len() {
                return Err(StoreError(
                    "redis: windows script answered the wrong number of counts".into(),
                ));
            }
            for (&i, count) in group.iter().zip(result) {
                counts[i] = count;
            }
        }
        Ok(counts)
    }
}

#[async_trait]
impl Ephemeral for RedisStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(key).arg(value).arg("PX").arg(ttl_ms(ttl));
        self.command::<()>(&cmd).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.command(::redis::cmd("GET").arg(key)).await
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX").arg("PX").arg(ttl_ms(ttl));
        let answer: Value = self.command(&cmd).await?;
        Ok(!matches!(answer, Value::Nil))
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut args = ScriptArgs::default();
        args.push(expected).push(new).push(ttl_ms(ttl));
        self.eval(&self.cas, key, &args).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.command(::redis::cmd("GETDEL").arg(key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.command::<()>(::redis::cmd("DEL").arg(key)).await
    }

    async fn windows(&self, ops: &[WindowOp<'_>], now: SystemTime) -> Result<Vec<u64>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let now_ms = millis(now);
        match self.conn {
            Conn::Single(_) => {
                let keys: Vec<&str> = ops.iter().map(|op| op.key).collect();
                let all: Vec<&WindowOp<'_>> = ops.iter().collect();
                let args = self.window_args(&all, now_ms);
                self.round_trips.fetch_add(1, Ordering::Relaxed);
                self.bounded(self.script(&self.windows, &keys, &args)).await
            }
            Conn::Cluster(_) => self.cluster_windows(ops, now_ms).await,
        }
    }

    async fn advance(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        let mut args = ScriptArgs::default();
        args.push(format!("{value:020}")).push(ttl_ms(ttl));
        self.eval(&self.advance, key, &args).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.command::<String>(&::redis::cmd("PING"))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use resetgate_services::free_port;
    use resetgate_services::redis::{RedisCluster, RedisServer};

    use super::super::conformance::slot;
    use super::*;

    const HOUR: Duration = Duration::from_hours(1);

    async fn raw(url: &str) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    #[test]
    fn urls_name_a_server_or_cluster_seeds() {
        let single = |u: &str| Target::Single(u.to_owned());
        assert_eq!(parse_url("redis://h:1/2").unwrap(), single("redis://h:1/2"));
        assert_eq!(
            parse_url("rediss://u:p@h:1").unwrap(),
            single("rediss://u:p@h:1")
        );
        assert_eq!(
            parse_url("redis+cluster://a:1,b:2/").unwrap(),
            Target::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        assert_eq!(
            parse_url("redis+cluster+tls://u:p@a:1,[::1]:2").unwrap(),
            Target::Cluster(vec![
                "rediss://u:p@a:1".into(),
                "rediss://u:p@[::1]:2".into()
            ])
        );
        for bad in [
            "memory",
            "http://h:1",
            "redis+cluster://",
            "redis+cluster://a:1/0",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        let e = parse_url("redis+cluster://user:secret@a:1/0").unwrap_err();
        assert!(!e.0.contains("secret"), "{e}");
    }

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1)), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1001)), 2);
        assert_eq!(ttl_ms(HOUR), 3_600_000);
    }

    #[tokio::test]
    async fn connect_fails_quickly_when_redis_is_unreachable() {
        let started = Instant::now();
        let url = format!("redis://127.0.0.1:{}", free_port());
        let e = RedisStore::connect(&url).await.unwrap_err();
        assert!(e.0.contains("cannot connect"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        let cluster = format!("redis+cluster://127.0.0.1:{}", free_port());
        assert!(RedisStore::connect(&cluster).await.is_err());
    }

    #[tokio::test]
    async fn outage_fails_fast_and_recovers_by_itself() {
        let mut server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.unwrap();
        store.put("k", b"v", HOUR).await.unwrap();

        server.stop();
        let bound = CALL_TIMEOUT + Duration::from_millis(500);
        for _ in 0..3 {
            let started = Instant::now();
            assert!(store.get("k").await.is_err());
            let hits = [WindowOp::hit("w", HOUR)];
            assert!(store.windows(&hits, SystemTime::now()).await.is_err());
            assert!(store.compare_and_swap("k", b"v", b"w", HOUR).await.is_err());
            eprintln!("three failing calls took {:?}", started.elapsed());
            assert!(started.elapsed() < 3 * bound, "{:?}", started.elapsed());
        }

        server.restart();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut failures = 0;
        while store.ping().await.is_err() {
            failures += 1;
            assert!(
                Instant::now() < deadline,
                "no recovery after {failures} calls"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("{failures} calls failed after the restart");
        assert!(failures <= 2, "{failures} calls failed after the restart");
        // Nothing persisted; the scripts are loaded again on first use.
        assert!(store.get("k").await.unwrap().is_none());
        assert!(store.put_new("k", b"v", HOUR).await.unwrap());
        assert!(store.compare_and_swap("k", b"v", b"w", HOUR).await.unwrap());
    }

    #[tokio::test]
    async fn every_call_is_one_round_trip() {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.unwrap();
        let now = SystemTime::now();
        let ops = [
            WindowOp::hit("a", HOUR),
            WindowOp::distinct("b", HOUR, "ann"),
            WindowOp::peek_distinct("b", HOUR),
        ];
        let before = store.round_trips();
        let mut expect = before;
        macro_rules! one {
            ($call:expr) => {
                $call.await.unwrap();
                expect += 1;
                assert_eq!(store.round_trips(), expect, "{}", stringify!($call));
                assert_eq!(store.requests(), expect);
            };
        }
        one!(store.put("k", b"v", HOUR));
        one!(store.get("k"));
        one!(store.put_new("n", b"v", HOUR));
        one!(store.compare_and_swap("k", b"v", b"w", HOUR));
        one!(store.take("k"));
        one!(store.delete("n"));
        one!(store.windows(&ops, now));
        one!(store.advance("m", 7, HOUR));
        one!(store.ping());
    }

    #[tokio::test]
    async fn lost_scripts_are_sent_again() {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.unwrap();
        let mut admin = raw(&server.url()).await;
        let () = ::redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut admin)
            .await
            .unwrap();
        store.put("k", b"v", HOUR).await.unwrap();
        let before = store.round_trips();
        assert!(store.compare_and_swap("k", b"v", b"w", HOUR).await.unwrap());
        assert_eq!(store.round_trips(), before + 2, "EVALSHA, NOSCRIPT, EVAL");
        assert!(store.compare_and_swap("k", b"w", b"x", HOUR).await.unwrap());
        assert_eq!(store.round_trips(), before + 3, "cached again by EVAL");
    }

    #[tokio::test]
    async fn window_keys_live_as_long_as_their_window() {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.unwrap();
        let mut admin = raw(&server.url()).await;
        let now = SystemTime::now();
        store
            .windows(&[WindowOp::peek("p", HOUR)], now)
            .await
            .unwrap();
        let exists: bool = ::redis::cmd("EXISTS")
            .arg("p")
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(!exists, "counting creates nothing");

        store
            .windows(&[WindowOp::hit("w", HOUR)], now)
            .await
            .unwrap();
        let ttl: i64 = ::redis::cmd("PTTL")
            .arg("w")
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(ttl > 3_590_000 && ttl <= 3_600_000, "{ttl}");
        let short = Duration::from_millis(200);
        store
            .windows(&[WindowOp::hit("s", short)], now)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let exists: bool = ::redis::cmd("EXISTS")
            .arg("s")
            .query_async(&mut admin)
            .await
            .unwrap();
        assert!(!exists, "the key expired with its window");
    }

    #[tokio::test]
    async fn cluster_windows_are_one_concurrent_round_trip() {
        let cluster = RedisCluster::start(3);
        let store = RedisStore::connect(&cluster.url()).await.unwrap();
        let mut node = raw(&format!("redis://127.0.0.1:{}", cluster.ports()[0])).await;
        let keys = ["alpha", "beta", "gamma", "delta"];
        for key in keys {
            let keyslot: u16 = ::redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query_async(&mut node)
                .await
                .unwrap();
            assert_eq!(slot(key), keyslot, "{key}");
        }
        let ops: Vec<WindowOp<'_>> = keys.iter().map(|k| WindowOp::hit(k, HOUR)).collect();
        let slots: std::collections::HashSet<u16> = keys.iter().map(|k| slot(k)).collect();
        let (trips, requests) = (store.round_trips(), store.requests());
        assert_eq!(
            store.windows(&ops, SystemTime::now()).await.unwrap(),
            [1; 4]
        );
        assert_eq!(store.round_trips(), trips + 1);
        assert_eq!(store.requests(), requests + slots.len() as u64);

        let (trips, requests) = (store.round_trips(), store.requests());
        store.put("k", b"v", HOUR).await.unwrap();
        assert!(store.compare_and_swap("k", b"v", b"w", HOUR).await.unwrap());
        assert!(store.advance("m", 1, HOUR).await.unwrap());
        assert_eq!(
            (store.round_trips(), store.requests()),
            (trips + 3, requests + 3)
        );
    }
}
