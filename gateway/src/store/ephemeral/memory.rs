//! In-process ephemeral store: one mutex over a map, for a single node.
//!
//! A std `Mutex` (not tokio's) because no critical section awaits: every
//! operation is a few map operations (the mini-redis reasoning). Expired entries
//! are dropped lazily on access and by [`MemoryStore::purge`], which the gateway
//! runs periodically, so memory stays bounded by live state. Each sliding window
//! keeps at most [`MAX_EVENTS`] timestamps: counts saturate there, which is far
//! above every policy threshold.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{Ephemeral, StoreError, WindowOp};

/// Upper bound on remembered events per window key.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug)]
enum Value {
    Bytes(Vec<u8>),
    Events(VecDeque<SystemTime>),
    Members(HashMap<String, SystemTime>),
    Marker(u64),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    expires: SystemTime,
}

/// The memory implementation of [`Ephemeral`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Entry>>,
}

fn clock() -> SystemTime {
    SystemTime::now()
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drop every expired entry; returns how many remain. When fewer than a
    /// quarter of the map's capacity remain (after a flood of distinct
    /// addresses has expired), the table is shrunk too, so its memory can go
    /// back to the allocator instead of staying sized for the peak.
    pub fn purge(&self, now: SystemTime) -> usize {
        let mut map = self.lock();
        map.retain(|_, e| e.expires > now);
        if map.len() < map.capacity() / 4 {
            map.shrink_to_fit();
        }
        map.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave a half-written entry (every
        // mutation is a single insert/remove), so a poisoned lock is still usable.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn live_bytes(map: &HashMap<String, Entry>, key: &str, now: SystemTime) -> Option<Vec<u8>> {
        match map.get(key) {
            Some(Entry {
                value: Value::Bytes(b),
                expires,
            }) if *expires > now => Some(b.clone()),
            _ => None,
        }
    }
}

/// Apply one window op under the lock.
fn window(map: &mut HashMap<String, Entry>, op: &WindowOp<'_>, now: SystemTime) -> u64 {
    // Counting a window that holds nothing leaves nothing behind: every start
    // peeks at its address's failure window, and an entry made for that would
    // be one more key per distinct address until the next purge.
    if !op.record && map.get(op.key).is_none_or(|e| e.expires <= now) {
        return 0;
    }
    let since = now.checked_sub(op.window).unwrap_or(SystemTime::UNIX_EPOCH);
    let entry = map.entry(op.key.to_owned()).or_insert_with(|| Entry {
        value: Value::Events(VecDeque::new()),
        expires: now,
    });
    let right_kind = matches!(
        (&entry.value, op.member),
        (Value::Events(_), None) | (Value::Members(_), Some(_))
    );
    if !right_kind || entry.expires <= now {
        entry.value = match op.member {
            None => Value::Events(VecDeque::new()),
            Some(_) => Value::Members(HashMap::new()),
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
            members.retain(|_, seen| *seen > since);
            if op.record {
                if members.len() >= MAX_EVENTS && !members.contains_key(member) {
                    let oldest = members
                        .iter()
                        .min_by_key(|(_, t)| **t)
                        .map(|(m, _)| m.clone());
                    if let Some(oldest) = oldest {
                        members.remove(&oldest);
                    }
                }
                members.insert(member.to_owned(), now);
            }
            members.len() as u64
        }
        _ => unreachable!("the entry was just made the right kind"),
    }
}

#[async_trait]
impl Ephemeral for MemoryStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = clock();
        self.lock().insert(
            key.to_owned(),
            Entry {
                value: Value::Bytes(value.to_vec()),
                expires: now + ttl,
            },
        );
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(Self::live_bytes(&self.lock(), key, clock()))
    }

    async fn put_new(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, StoreError> {
        let now = clock();
        let mut map = self.lock();
        if map.get(key).is_some_and(|e| e.expires > now) {
            return Ok(false);
        }
        map.insert(
            key.to_owned(),
            Entry {
                value: Value::Bytes(value.to_vec()),
                expires: now + ttl,
            },
        );
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
        let mut map = self.lock();
        if Self::live_bytes(&map, key, now).as_deref() != Some(expected) {
            return Ok(false);
        }
        map.insert(
            key.to_owned(),
            Entry {
                value: Value::Bytes(new.to_vec()),
                expires: now + ttl,
            },
        );
        Ok(true)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = clock();
        let mut map = self.lock();
        let value = Self::live_bytes(&map, key, now);
        map.remove(key);
        Ok(value)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn windows(&self, ops: &[WindowOp<'_>], now: SystemTime) -> Result<Vec<u64>, StoreError> {
        let mut map = self.lock();
        Ok(ops.iter().map(|op| window(&mut map, op, now)).collect())
    }

    async fn advance(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        let now = clock();
        let mut map = self.lock();
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
        map.insert(
            key.to_owned(),
            Entry {
                value: Value::Marker(value),
                expires: now + ttl,
            },
        );
        Ok(true)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

// The behaviour shared with the Redis store is tested in `../conformance.rs`.
#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(store.lock().is_empty(), "a peek made no entry");
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
        let flooded = store.lock().capacity();
        assert!(flooded >= 20_000);
        assert_eq!(store.purge(now + minute + Duration::from_secs(1)), 0);
        assert!(
            store.lock().capacity() < flooded / 4,
            "the table was shrunk"
        );
    }
}
