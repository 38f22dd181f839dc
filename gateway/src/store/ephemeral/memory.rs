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

    /// Drop every expired entry; returns how many remain.
    pub fn purge(&self, now: SystemTime) -> usize {
        let mut map = self.lock();
        map.retain(|_, e| e.expires > now);
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
        let mut counts = Vec::with_capacity(ops.len());
        for op in ops {
            let since = now.checked_sub(op.window).unwrap_or(SystemTime::UNIX_EPOCH);
            let entry = map.entry(op.key.to_owned()).or_insert_with(|| Entry {
                value: Value::Events(VecDeque::new()),
                expires: now,
            });
            if !matches!(entry.value, Value::Events(_)) || entry.expires <= now {
                entry.value = Value::Events(VecDeque::new());
            }
            let Value::Events(events) = &mut entry.value else {
                unreachable!("just set to events")
            };
            while events.front().is_some_and(|t| *t <= since) {
                events.pop_front();
            }
            if op.record {
                if events.len() >= MAX_EVENTS {
                    events.pop_front();
                }
                events.push_back(now);
                entry.expires = entry.expires.max(now + op.window);
            }
            counts.push(events.len() as u64);
        }
        Ok(counts)
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_hours(500_000);

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + T0 + Duration::from_secs(secs)
    }

    #[tokio::test]
    async fn compare_and_swap_has_one_winner() {
        let store = MemoryStore::new();
        let ttl = Duration::from_mins(1);
        store.put("k", b"v1", ttl).await.unwrap();
        assert!(
            store
                .compare_and_swap("k", b"v1", b"v2", ttl)
                .await
                .unwrap()
        );
        assert!(
            !store
                .compare_and_swap("k", b"v1", b"v3", ttl)
                .await
                .unwrap()
        );
        assert_eq!(store.get("k").await.unwrap().unwrap(), b"v2");
        assert!(
            !store
                .compare_and_swap("missing", b"", b"x", ttl)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn take_is_single_use() {
        let store = MemoryStore::new();
        store.put("t", b"x", Duration::from_secs(5)).await.unwrap();
        assert_eq!(store.take("t").await.unwrap().unwrap(), b"x");
        assert!(store.take("t").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sliding_windows_forget_old_events() {
        let store = MemoryStore::new();
        let hour = Duration::from_hours(1);
        let op = |record| WindowOp {
            key: "w",
            window: hour,
            record,
        };
        assert_eq!(store.windows(&[op(true)], at(0)).await.unwrap(), [1]);
        assert_eq!(store.windows(&[op(true)], at(1800)).await.unwrap(), [2]);
        assert_eq!(store.windows(&[op(false)], at(3599)).await.unwrap(), [2]);
        assert_eq!(store.windows(&[op(false)], at(3600)).await.unwrap(), [1]);
        assert_eq!(store.windows(&[op(false)], at(5401)).await.unwrap(), [0]);
    }

    #[tokio::test]
    async fn advance_is_monotonic() {
        let store = MemoryStore::new();
        let ttl = Duration::from_mins(2);
        assert!(store.advance("s", 10, ttl).await.unwrap());
        assert!(!store.advance("s", 10, ttl).await.unwrap());
        assert!(!store.advance("s", 9, ttl).await.unwrap());
        assert!(store.advance("s", 11, ttl).await.unwrap());
    }

    #[tokio::test]
    async fn put_new_only_once() {
        let store = MemoryStore::new();
        let ttl = Duration::from_mins(1);
        assert!(store.put_new("n", b"a", ttl).await.unwrap());
        assert!(!store.put_new("n", b"b", ttl).await.unwrap());
    }
}
