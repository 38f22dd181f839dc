//! In-process ephemeral store for a single node: a map split into shards,
//! each behind its own mutex, with a memory budget.
//!
//! A std `Mutex` (not tokio's) because no critical section awaits: every
//! operation is a few map operations (the mini-redis reasoning). A key lives in
//! one shard (by hash), so operations on different keys rarely wait for each
//! other, and [`MemoryStore::purge`] — which the gateway runs every minute —
//! sweeps one shard at a time: a request never waits for a sweep of the whole
//! map (with a million keys that took a quarter of a second under one lock).
//! Expired entries are also dropped lazily on access. Each sliding window keeps
//! at most [`MAX_EVENTS`] timestamps: counts saturate there, far above every
//! policy threshold. A call's window operations are atomic per key, as on a
//! Redis Cluster (whose keys of one call may live on different nodes).
//!
//! **Budget.** The store keeps an estimate of the memory its entries hold
//! (keys, values, table slots). Past nine tenths of `limit` it is *crowded*:
//! the gateway turns new reset flows away (503 `store_unavailable`). At
//! `limit`, an operation that would make a new key is refused with a
//! [`StoreError`] (503 too), while what is already stored keeps working and may
//! change size (a flow being challenged, verified or completed; counters being
//! counted): Redis's `maxmemory` with `noeviction`, in process, with the last
//! tenth kept for the flows already started. A flood of distinct
//! addresses therefore cannot grow the process without bound; once its entries
//! expire and are purged, the space is reused, and the purge hands emptied
//! tables back to the allocator.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{Ephemeral, StoreError, WindowOp};

/// Upper bound on remembered events per window key.
pub const MAX_EVENTS: usize = 10_000;

/// Shards of the map: enough that two requests rarely share one on two cores
/// or twenty, few enough that sweeping them all stays cheap.
const SHARDS: usize = 64;

/// What one entry costs beside its key and value: the table slot (key
/// `String`, `Entry`), the allocator's headers, and the table's spare capacity.
const ENTRY_OVERHEAD: usize = 128;

/// The default budget (`store.memory_limit_mb`).
pub const DEFAULT_LIMIT_BYTES: usize = 160 << 20;

#[derive(Debug)]
enum Value {
    Bytes(Vec<u8>),
    Events(VecDeque<SystemTime>),
    Members(Members),
    Marker(u64),
}

/// A window of distinct members (accounts per address, per network): each
/// member's latest time, and every recording in time order, so that what
/// leaves the window is taken from the front a recording at a time. (A scan
/// of every member at every count cost each start from a busy network — an
/// ISP's: thousands of accounts an hour — up to [`MAX_EVENTS`] steps.)
#[derive(Debug, Default)]
struct Members {
    latest: HashMap<Arc<str>, SystemTime>,
    /// (time, member), times never decreasing; a member's earlier
    /// recordings stay until they reach the front or a compaction.
    order: VecDeque<(SystemTime, Arc<str>)>,
}

impl Members {
    /// Forget the members last seen at or before `since`.
    fn expire(&mut self, since: SystemTime) {
        while self.order.front().is_some_and(|(t, _)| *t <= since) {
            if let Some((t, member)) = self.order.pop_front() {
                self.forget_if_latest(&member, t);
            }
        }
    }

    /// Forget `member` if `t` is still its latest time.
    fn forget_if_latest(&mut self, member: &str, t: SystemTime) -> bool {
        let latest = self.latest.get(member) == Some(&t);
        if latest {
            self.latest.remove(member);
        }
        latest
    }

    /// `member` seen at `now` (or at the last recording's time, if the clock
    /// went back: the order stays sorted). At [`MAX_EVENTS`] members a new
    /// one replaces the one seen longest ago.
    fn record(&mut self, member: &str, now: SystemTime) {
        let at = self.order.back().map_or(now, |(last, _)| now.max(*last));
        let name = match self.latest.get_key_value(member) {
            Some((_, seen)) if *seen == at => return,
            Some((name, _)) => Arc::clone(name),
            None => {
                if self.latest.len() >= MAX_EVENTS {
                    while let Some((t, oldest)) = self.order.pop_front() {
                        if self.forget_if_latest(&oldest, t) {
                            break;
                        }
                    }
                }
                Arc::from(member)
            }
        };
        self.latest.insert(Arc::clone(&name), at);
        // Most windows hold one member (an address's accounts): room for
        // one, not the four a first push would make.
        if self.order.capacity() == 0 {
            self.order.reserve_exact(1);
        }
        self.order.push_back((at, name));
        // Earlier recordings of members seen again: dropped once they
        // outnumber the members (and 16), so the order stays within twice
        // its members.
        if self.order.len() > 2 * self.latest.len().max(16) {
            let latest = &self.latest;
            self.order.retain(|(t, m)| latest.get(m) == Some(t));
        }
    }

    fn len(&self) -> usize {
        self.latest.len()
    }

    /// What the two tables hold: a slot per member and per recording, and
    /// each name once (a typical account name).
    fn cost(&self) -> usize {
        const TIME: usize = std::mem::size_of::<SystemTime>();
        const NAME: usize = std::mem::size_of::<Arc<str>>();
        self.latest.capacity() * (NAME + TIME + 32) + self.order.capacity() * (NAME + TIME)
    }
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires: SystemTime,
}

type Shard = HashMap<String, Entry>;

/// The estimated memory an entry holds.
fn cost(key: &str, entry: &Entry) -> usize {
    const TIME: usize = std::mem::size_of::<SystemTime>();
    let value = match &entry.value {
        Value::Bytes(bytes) => bytes.capacity(),
        Value::Events(events) => events.capacity() * TIME,
        Value::Members(members) => members.cost(),
        Value::Marker(_) => 0,
    };
    ENTRY_OVERHEAD + key.len() + value
}

/// The memory implementation of [`Ephemeral`].
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    /// The estimate of what the entries hold ([`cost`]), kept up to date by every change.
    bytes: AtomicUsize,
    limit: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_limit(DEFAULT_LIMIT_BYTES)
    }
}

fn clock() -> SystemTime {
    SystemTime::now()
}

fn full(limit: usize) -> StoreError {
    StoreError(format!(
        "the in-memory store is at its budget of {} MiB (store.memory_limit_mb); \
         it frees space as entries expire",
        limit >> 20
    ))
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that holds at most about `limit` bytes of entries.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: RandomState::new(),
            bytes: AtomicUsize::new(0),
            limit,
        }
    }

    /// The estimated bytes the entries hold now.
    pub fn used_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Past nine tenths of the budget: new reset flows are turned away there
    /// ([`Ephemeral::crowded`]), so the last tenth is left to the flows already
    /// started (their code counters, TOTP step markers, sessions).
    fn crowded_now(&self) -> bool {
        self.used_bytes() > self.limit / 10 * 9
    }

    /// Drop every expired entry, one shard at a time; returns how many remain.
    /// A shard left under a quarter full (after a flood of distinct addresses
    /// has expired) is shrunk too, and when anything was dropped the allocator
    /// is asked to return free pages (glibc's `malloc_trim`), so the process
    /// does not stay sized for the peak.
    pub fn purge(&self, now: SystemTime) -> usize {
        let mut remaining = 0;
        for shard in &self.shards {
            let mut map = lock(shard);
            let mut freed = 0;
            map.retain(|key, e| {
                let keep = e.expires > now;
                if !keep {
                    freed += cost(key, e);
                }
                keep
            });
            self.bytes.fetch_sub(freed, Ordering::Relaxed);
            if map.len() < map.capacity() / 4 {
                map.shrink_to_fit();
            }
            remaining += map.len();
        }
        remaining
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        lock(&self.shards[index])
    }

    /// May a change that adds `growth` bytes go ahead?
    fn admit(&self, growth: usize) -> Result<(), StoreError> {
        if growth > 0 && self.bytes.load(Ordering::Relaxed) + growth > self.limit {
            return Err(full(self.limit));
        }
        Ok(())
    }

    /// Account for an entry that went from `before` to `after` bytes.
    fn account(&self, before: usize, after: usize) {
        if after >= before {
            self.bytes.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.bytes.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Store `value` under `key` in a locked shard. A new key must fit the
    /// budget; an existing one may change size (a flow in progress gains a code,
    /// its token or its next state) so that what was started can finish.
    fn insert(
        &self,
        map: &mut Shard,
        key: &str,
        value: Value,
        expires: SystemTime,
    ) -> Result<(), StoreError> {
        let entry = Entry { value, expires };
        let after = cost(key, &entry);
        let before = if let Some(old) = map.get(key) {
            cost(key, old)
        } else {
            self.admit(after)?;
            0
        };
        map.insert(key.to_owned(), entry);
        self.account(before, after);
        Ok(())
    }

    fn remove(&self, map: &mut Shard, key: &str) -> Option<Entry> {
        let old = map.remove(key)?;
        self.account(cost(key, &old), 0);
        Some(old)
    }

    fn live_bytes(map: &Shard, key: &str, now: SystemTime) -> Option<Vec<u8>> {
        match map.get(key) {
            Some(Entry {
                value: Value::Bytes(b),
                expires,
            }) if *expires > now => Some(b.clone()),
            _ => None,
        }
    }

    /// What recording `ops` adds in new keys, for one check of the budget
    /// before any of them counts. A dead key made anew reuses what it was
    /// charged, as in [`Self::window`]. Looked up only near the budget: while
    /// every recorded key could be new and still fit, the sum of their sizes
    /// (the most they can add) is the answer the check needs, and a start's
    /// nine keys are not looked up twice.
    fn new_keys_cost(&self, ops: &[WindowOp<'_>]) -> usize {
        let most: usize = ops
            .iter()
            .filter(|op| op.record)
            .map(|op| ENTRY_OVERHEAD + op.key.len())
            .sum();
        if self.used_bytes() + most <= self.limit {
            return most;
        }
        ops.iter()
            .filter(|op| op.record && !self.shard(op.key).contains_key(op.key))
            .map(|op| ENTRY_OVERHEAD + op.key.len())
            .sum()
    }

    /// Apply one window op under its shard's lock; the budget was checked for
    /// the whole call already ([`Self::new_keys_cost`]). A key that is there
    /// is looked up once; a missing one is made only when the op records
    /// (counting a window that holds nothing leaves nothing behind: every
    /// start peeks at its address's failure window, and an entry made for
    /// that would be one more key per distinct address until the next purge).
    fn window(&self, op: &WindowOp<'_>, now: SystemTime) -> u64 {
        let mut map = self.shard(op.key);
        if let Some(entry) = map.get_mut(op.key) {
            if !op.record && entry.expires <= now {
                return 0;
            }
            // A dead key made anew reuses what it was charged.
            let before = cost(op.key, entry);
            let count = count_window(entry, op, now);
            self.account(before, cost(op.key, entry));
            return count;
        }
        if !op.record {
            return 0;
        }
        let mut entry = Entry {
            value: Value::Events(VecDeque::new()),
            expires: now,
        };
        let count = count_window(&mut entry, op, now);
        let after = cost(op.key, &entry);
        map.insert(op.key.to_owned(), entry);
        self.account(0, after);
        count
    }
}

/// Count `op`'s window in `entry` (recording first when the op records); an
/// entry that expired or holds the other kind of window starts empty.
fn count_window(entry: &mut Entry, op: &WindowOp<'_>, now: SystemTime) -> u64 {
    let since = now.checked_sub(op.window).unwrap_or(SystemTime::UNIX_EPOCH);
    let right_kind = matches!(
        (&entry.value, op.member),
        (Value::Events(_), None) | (Value::Members(_), Some(_))
    );
    if !right_kind || entry.expires <= now {
        entry.value = match op.member {
            None => Value::Events(VecDeque::new()),
            Some(_) => Value::Members(Members::default()),
        };
    }
    if op.record {
        entry.expires = entry.expires.max(now + op.window);
    }
    match (&mut entry.value, op.member) {
        (Value::Events(events), None) => {
            while events.front().is_some_and(|t| *t <= since) {
                events.pop_front();
            }
            if op.record {
                if events.len() >= MAX_EVENTS {
                    events.pop_front();
                }
                events.push_back(now);
            }
            events.len() as u64
        }
        (Value::Members(members), Some(member)) => {
            members.expire(since);
            if op.record {
                members.record(member, now);
            }
            members.len() as u64
        }
        _ => unreachable!("the entry was just made the right kind"),
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    // A panic while holding the lock cannot leave a half-written entry (every
    // mutation is a single insert/remove), so a poisoned lock is still usable.
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Ephemeral for MemoryStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = clock();
        let mut map = self.shard(key);
        self.insert(&mut map, key, Value::Bytes(value.to_vec()), now + ttl)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(Self::live_bytes(&self.shard(key), key, clock()))
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let now = clock();
        let mut map = self.shard(key);
        if map.get(key).is_some_and(|e| e.expires > now) {
            return Ok(false);
        }
        self.insert(&mut map, key, Value::Bytes(value.to_vec()), now + ttl)?;
        Ok(true)
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = clock();
        let mut map = self.shard(key);
        if Self::live_bytes(&map, key, now).as_deref() != Some(expected) {
            return Ok(false);
        }
        self.insert(&mut map, key, Value::Bytes(new.to_vec()), now + ttl)?;
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = clock();
        let mut map = self.shard(key);
        let value = Self::live_bytes(&map, key, now);
        self.remove(&mut map, key);
        Ok(value)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut map = self.shard(key);
        self.remove(&mut map, key);
        Ok(())
    }

    async fn windows(&self, ops: &[WindowOp<'_>], now: SystemTime) -> Result<Vec<u64>, StoreError> {
        // All or nothing: refused at the budget before any window counts, so
        // a refusal never leaves some of an attempt's counters moved. (Two
        // calls racing past the check may overshoot it by their few keys.)
        self.admit(self.new_keys_cost(ops))?;
        Ok(ops.iter().map(|op| self.window(op, now)).collect())
    }

    async fn advance(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        let now = clock();
        let mut map = self.shard(key);
        let current = match map.get(key) {
            Some(Entry {
                value: Value::Marker(m),
                expires,
            }) if *expires > now => Some(*m),
            _ => None,
        };
        if current.is_some_and(|m| m >= value) {
            return Ok(false);
        }
        self.insert(&mut map, key, Value::Marker(value), now + ttl)?;
        Ok(true)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn crowded(&self) -> bool {
        self.crowded_now()
    }

    fn dies_with_the_process(&self) -> bool {
        true
    }
}

// The behaviour shared with the Redis store is tested in `../conformance.rs`.
#[cfg(test)]
mod tests {
    use super::*;

    /// A distinct-members window forgets each member at its latest time,
    /// without scanning: the order of recordings stays sorted when the clock
    /// goes back and bounded when members are seen again and again, and at
    /// [`MAX_EVENTS`] the member seen longest ago makes room.
    #[test]
    fn distinct_members_leave_by_their_latest_time_and_stay_bounded() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + s);
        let mut m = Members::default();
        m.record("a", at(0));
        m.record("b", at(1));
        m.record("a", at(2));
        m.expire(at(0));
        assert_eq!(m.len(), 2, "a was seen again at 2");
        m.expire(at(1));
        assert_eq!(m.len(), 1, "b left at 1");
        m.expire(at(2));
        assert_eq!(m.len(), 0);

        for i in 0..10_000 {
            m.record("a", at(10 + i));
            m.record("b", at(10 + i));
        }
        assert_eq!(m.len(), 2);
        assert!(m.order.len() <= 2 * 16 + 1, "{} recordings", m.order.len());
        m.record("c", at(5));
        assert_eq!(m.order.back().map(|(t, _)| *t), Some(at(10_009)));
        assert!(
            m.order
                .iter()
                .zip(m.order.iter().skip(1))
                .all(|(x, y)| x.0 <= y.0)
        );

        let mut m = Members::default();
        for i in 0..MAX_EVENTS {
            m.record(&format!("m{i}"), at(u64::try_from(i).unwrap()));
        }
        m.record("m0", at(20_000));
        m.record("new", at(20_001));
        assert_eq!(m.len(), MAX_EVENTS);
        assert!(m.latest.contains_key("m0") && m.latest.contains_key("new"));
        assert!(
            !m.latest.contains_key("m1"),
            "the one seen longest ago made room"
        );
    }

    #[tokio::test]
    async fn purge_drops_expired_entries() {
        let store = MemoryStore::new();
        store.put("short", b"x", Duration::ZERO).await.unwrap();
        store
            .put("long", b"x", Duration::from_mins(1))
            .await
            .unwrap();
        let now = SystemTime::now() + Duration::from_secs(1);
        let hour = Duration::from_hours(1);
        store
            .windows(&[WindowOp::hit("w", hour)], now)
            .await
            .unwrap();
        assert_eq!(store.purge(now), 2, "long and w remain");
        assert_eq!(store.purge(now + hour), 0);
    }

    #[tokio::test]
    async fn counting_an_empty_window_stores_nothing() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let hour = Duration::from_hours(1);
        let counts = store
            .windows(
                &[
                    WindowOp::peek("fail-addr", hour),
                    WindowOp::peek_distinct("accounts-addr", hour),
                ],
                now,
            )
            .await
            .unwrap();
        assert_eq!(counts, [0, 0]);
        assert_eq!(store.used_bytes(), 0, "a peek made no entry");
        // A peek still counts what was recorded, and does not extend it.
        store
            .windows(&[WindowOp::hit("fail-addr", hour)], now)
            .await
            .unwrap();
        let later = now + Duration::from_mins(59);
        let peeked = store
            .windows(&[WindowOp::peek("fail-addr", hour)], later)
            .await
            .unwrap();
        assert_eq!(peeked, [1]);
        assert_eq!(store.purge(now + hour + Duration::from_secs(1)), 0);
    }

    /// A key looked up once per op: a window whose time is up counts from
    /// empty when it records, reads 0 when it only peeks, and the bytes it
    /// is charged stay those of one live entry.
    #[tokio::test]
    async fn an_expired_window_starts_again_in_place() {
        let store = MemoryStore::new();
        let hour = Duration::from_hours(1);
        let now = SystemTime::now();
        let hit = [WindowOp::hit("count:start-addr:1h:198.18.0.1", hour)];
        for _ in 0..3 {
            store.windows(&hit, now).await.unwrap();
        }
        let charged = store.used_bytes();
        let later = now + hour + Duration::from_secs(1);
        let peek = [WindowOp::peek("count:start-addr:1h:198.18.0.1", hour)];
        assert_eq!(store.windows(&peek, later).await.unwrap(), [0]);
        assert_eq!(store.windows(&hit, later).await.unwrap(), [1]);
        assert_eq!(store.windows(&peek, later).await.unwrap(), [1]);
        assert!(
            store.used_bytes() <= charged,
            "{} > {charged}",
            store.used_bytes()
        );
        assert_eq!(store.purge(later + hour + Duration::from_secs(1)), 0);
        assert_eq!(store.used_bytes(), 0);
    }

    #[tokio::test]
    async fn purge_after_a_flood_gives_the_table_back() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let minute = Duration::from_mins(1);
        for i in 0..20_000 {
            let key = format!("count:start-addr:10.0.{}.{}:1h", i / 256, i % 256);
            store
                .windows(&[WindowOp::hit(&key, minute)], now)
                .await
                .unwrap();
        }
        let capacity = |store: &MemoryStore| -> usize {
            store.shards.iter().map(|s| lock(s).capacity()).sum()
        };
        let flooded = capacity(&store);
        assert!(flooded >= 20_000);
        assert!(store.used_bytes() > 20_000 * ENTRY_OVERHEAD);
        assert_eq!(store.purge(now + minute + Duration::from_secs(1)), 0);
        assert!(capacity(&store) < flooded / 4, "the tables were shrunk");
        assert_eq!(
            store.used_bytes(),
            0,
            "every byte accounted for is given back"
        );
    }

    #[tokio::test]
    async fn a_full_store_refuses_new_keys_and_keeps_serving_what_it_holds() {
        let store = MemoryStore::with_limit(64 * 1024);
        assert!(!store.crowded());
        let now = SystemTime::now();
        let hour = Duration::from_hours(1);
        let ttl = Duration::from_mins(10);
        store.put("flow:kept", &[7; 512], ttl).await.unwrap();
        store
            .windows(&[WindowOp::hit("count:start:1h:ann", hour)], now)
            .await
            .unwrap();
        // A flood of new keys: refused once the budget is spent, never beyond it.
        let mut refused = 0;
        for i in 0..1_000 {
            let key = format!("flow:{i}");
            if store.put(&key, &[1; 512], ttl).await.is_err() {
                refused += 1;
            }
            let window = format!("count:start-addr:1h:198.18.0.{i}");
            if store
                .windows(&[WindowOp::hit(&window, hour)], now)
                .await
                .is_err()
            {
                refused += 1;
            }
        }
        assert!(refused > 900, "{refused}");
        assert!(store.used_bytes() <= 64 * 1024, "{}", store.used_bytes());
        assert!(
            store.used_bytes() > 64 * 1024 / 10 * 9,
            "{}",
            store.used_bytes()
        );
        let error = store.put("flow:new", b"x", ttl).await.unwrap_err();
        assert!(error.0.contains("store.memory_limit_mb"), "{error:?}");
        // What is stored keeps working: read, swap in place, count, take.
        assert_eq!(store.get("flow:kept").await.unwrap(), Some(vec![7; 512]));
        assert!(store.crowded(), "new flows are turned away before this");
        // A flow in progress may grow (a code added, its next state).
        assert!(
            store
                .compare_and_swap("flow:kept", &[7; 512], &[8; 600], ttl)
                .await
                .unwrap()
        );
        let counted = store
            .windows(&[WindowOp::hit("count:start:1h:ann", hour)], now)
            .await
            .unwrap();
        assert_eq!(counted, [2]);
        // A call that needs a new key is refused whole: the existing window it
        // names as well does not count.
        let both = [
            WindowOp::hit("count:start:1h:ann", hour),
            WindowOp::hit("count:start-addr:1h:203.0.113.9", hour),
        ];
        assert!(store.windows(&both, now).await.is_err());
        let counted = store
            .windows(&[WindowOp::peek("count:start:1h:ann", hour)], now)
            .await
            .unwrap();
        assert_eq!(counted, [2], "nothing of the refused call counted");
        assert_eq!(store.take("flow:kept").await.unwrap(), Some(vec![8; 600]));
        // Space freed is space again.
        assert!(store.put("flow:new", b"x", ttl).await.is_ok());
        // Once the flood expires, the whole budget is back.
        assert_eq!(store.purge(now + hour + Duration::from_secs(1)), 0);
        assert_eq!(store.used_bytes(), 0);
    }
}
