//! The behaviour every [`Ephemeral`] implementation must have, as async cases
//! over `&dyn Ephemeral`, run against [`MemoryStore`](super::MemoryStore), a
//! private Redis server and a private 3-node Redis Cluster.
//!
//! Each case prefixes its keys with `ns`, so cases can share one store (the
//! cluster runs them all on one cluster). Windows take made-up times; TTLs are
//! real and short.

use std::time::{Duration, SystemTime};

use futures::future::join_all;

use super::memory::MAX_EVENTS;
use super::{Ephemeral, WindowOp};

const T0: Duration = Duration::from_hours(500_000);
const HOUR: Duration = Duration::from_hours(1);
const MINUTE: Duration = Duration::from_mins(1);

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + T0 + Duration::from_secs(secs)
}

fn at_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + T0 + Duration::from_millis(ms)
}

/// Redis Cluster's hash slot of a key without hash tag (CRC16/XMODEM mod 16384).
pub(super) fn slot(key: &str) -> u16 {
    let mut crc: u16 = 0;
    for &byte in key.as_bytes() {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc % 16_384
}

pub(super) async fn put_get_delete(s: &dyn Ephemeral, ns: &str) {
    let k = format!("{ns}k");
    let bytes = [0xff, 0x00, b'\r', b'\n', 0x80];
    assert!(s.get(&k).await.unwrap().is_none());
    s.put(&k, &bytes, MINUTE).await.unwrap();
    assert_eq!(s.get(&k).await.unwrap().unwrap(), bytes);
    s.put(&k, b"", MINUTE).await.unwrap();
    assert_eq!(
        s.get(&k).await.unwrap().unwrap(),
        b"",
        "empty values are values"
    );
    s.delete(&k).await.unwrap();
    assert!(s.get(&k).await.unwrap().is_none());
    s.delete(&k).await.unwrap();
    s.ping().await.unwrap();
}

pub(super) async fn compare_and_swap_has_one_winner(s: &dyn Ephemeral, ns: &str) {
    let (k, missing) = (format!("{ns}k"), format!("{ns}missing"));
    s.put(&k, b"v1", MINUTE).await.unwrap();
    assert!(s.compare_and_swap(&k, b"v1", b"v2", MINUTE).await.unwrap());
    assert!(!s.compare_and_swap(&k, b"v1", b"v3", MINUTE).await.unwrap());
    assert_eq!(s.get(&k).await.unwrap().unwrap(), b"v2");
    assert!(
        !s.compare_and_swap(&missing, b"", b"x", MINUTE)
            .await
            .unwrap()
    );
    assert!(s.get(&missing).await.unwrap().is_none());
    // Bytes, not text: a value differing only past a NUL does not match.
    s.put(&k, b"a\0b", MINUTE).await.unwrap();
    assert!(!s.compare_and_swap(&k, b"a\0c", b"x", MINUTE).await.unwrap());
    assert!(
        s.compare_and_swap(&k, b"a\0b", b"\xff", MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(s.get(&k).await.unwrap().unwrap(), b"\xff");
}

pub(super) async fn compare_and_swap_race_has_one_winner(s: &dyn Ephemeral, ns: &str) {
    let k = format!("{ns}race");
    s.put(&k, b"start", MINUTE).await.unwrap();
    let values: Vec<String> = (0..50).map(|i| format!("swapper-{i}")).collect();
    let results = join_all(
        values
            .iter()
            .map(|v| s.compare_and_swap(&k, b"start", v.as_bytes(), MINUTE)),
    )
    .await;
    let winners: Vec<&String> = values
        .iter()
        .zip(&results)
        .filter(|(_, r)| *r.as_ref().unwrap())
        .map(|(v, _)| v)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one of 50 swappers wins");
    assert_eq!(s.get(&k).await.unwrap().unwrap(), winners[0].as_bytes());
}

pub(super) async fn take_is_single_use(s: &dyn Ephemeral, ns: &str) {
    let k = format!("{ns}t");
    s.put(&k, b"x", Duration::from_secs(5)).await.unwrap();
    assert_eq!(s.take(&k).await.unwrap().unwrap(), b"x");
    assert!(s.take(&k).await.unwrap().is_none());
    assert!(s.get(&k).await.unwrap().is_none());

    s.put(&k, b"once", MINUTE).await.unwrap();
    let taken = join_all((0..20).map(|_| s.take(&k))).await;
    let got: Vec<Vec<u8>> = taken.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(
        got,
        [b"once".to_vec()],
        "one of 20 concurrent takes gets it"
    );
}

pub(super) async fn put_new_only_once(s: &dyn Ephemeral, ns: &str) {
    let (k, race) = (format!("{ns}n"), format!("{ns}n-race"));
    assert!(s.put_new(&k, b"a", MINUTE).await.unwrap());
    assert!(!s.put_new(&k, b"b", MINUTE).await.unwrap());
    assert_eq!(s.get(&k).await.unwrap().unwrap(), b"a");
    let created = join_all((0..20).map(|_| s.put_new(&race, b"x", MINUTE))).await;
    assert_eq!(
        created.into_iter().filter(|r| *r.as_ref().unwrap()).count(),
        1
    );
}

pub(super) async fn advance_is_monotonic(s: &dyn Ephemeral, ns: &str) {
    let (k, big) = (format!("{ns}s"), format!("{ns}big"));
    let ttl = Duration::from_mins(2);
    assert!(s.advance(&k, 10, ttl).await.unwrap());
    assert!(!s.advance(&k, 10, ttl).await.unwrap());
    assert!(!s.advance(&k, 9, ttl).await.unwrap());
    assert!(s.advance(&k, 11, ttl).await.unwrap());
    assert!(
        s.advance(&k, 1_000_000_000_000, ttl).await.unwrap(),
        "past 10 digits"
    );
    assert!(!s.advance(&k, 999_999_999_999, ttl).await.unwrap());
    // Exact beyond 2^53 and up to u64::MAX.
    let p = 1_u64 << 53;
    assert!(s.advance(&big, p, ttl).await.unwrap());
    assert!(s.advance(&big, p + 1, ttl).await.unwrap());
    assert!(!s.advance(&big, p + 1, ttl).await.unwrap());
    assert!(s.advance(&big, u64::MAX - 1, ttl).await.unwrap());
    assert!(s.advance(&big, u64::MAX, ttl).await.unwrap());
    assert!(!s.advance(&big, u64::MAX - 1, ttl).await.unwrap());
    assert!(!s.advance(&big, 0, ttl).await.unwrap());
}

pub(super) async fn values_expire(s: &dyn Ephemeral, ns: &str) {
    let ttl = Duration::from_secs(1);
    let [put, new, cas, take, mark] =
        ["put", "new", "cas", "take", "mark"].map(|x| format!("{ns}{x}"));
    s.put(&put, b"v", ttl).await.unwrap();
    assert!(s.put_new(&new, b"v", ttl).await.unwrap());
    s.put(&cas, b"v", MINUTE).await.unwrap();
    assert!(
        s.compare_and_swap(&cas, b"v", b"w", ttl).await.unwrap(),
        "CAS sets a fresh TTL"
    );
    s.put(&take, b"v", ttl).await.unwrap();
    assert!(s.advance(&mark, 5, ttl).await.unwrap());
    assert_eq!(s.get(&put).await.unwrap().unwrap(), b"v");

    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(s.get(&put).await.unwrap().is_none());
    assert!(s.get(&cas).await.unwrap().is_none());
    assert!(s.take(&take).await.unwrap().is_none());
    assert!(!s.compare_and_swap(&put, b"v", b"x", MINUTE).await.unwrap());
    assert!(
        s.put_new(&new, b"again", MINUTE).await.unwrap(),
        "an expired key is free"
    );
    assert!(
        s.advance(&mark, 1, MINUTE).await.unwrap(),
        "an expired marker is gone"
    );
}

pub(super) async fn sliding_windows_forget_old_events(s: &dyn Ephemeral, ns: &str) {
    let k = format!("{ns}w");
    let op = |record| {
        if record {
            WindowOp::hit(&k, HOUR)
        } else {
            WindowOp::peek(&k, HOUR)
        }
    };
    assert_eq!(s.windows(&[op(false)], at(0)).await.unwrap(), [0]);
    assert_eq!(s.windows(&[op(true)], at(0)).await.unwrap(), [1]);
    assert_eq!(s.windows(&[op(true)], at(1800)).await.unwrap(), [2]);
    assert_eq!(s.windows(&[op(false)], at(3599)).await.unwrap(), [2]);
    assert_eq!(s.windows(&[op(false)], at(3600)).await.unwrap(), [1]);
    assert_eq!(s.windows(&[op(false)], at(5401)).await.unwrap(), [0]);
    assert_eq!(s.windows(&[op(true)], at(5402)).await.unwrap(), [1]);
}

pub(super) async fn same_millisecond_events_all_count(s: &dyn Ephemeral, ns: &str) {
    let k = format!("{ns}same");
    let hit = WindowOp::hit(&k, HOUR);
    assert_eq!(s.windows(&[hit, hit], at(0)).await.unwrap(), [1, 2]);
    assert_eq!(s.windows(&[hit], at(0)).await.unwrap(), [3]);
    let one = [hit];
    let counts = join_all((0..10).map(|_| s.windows(&one, at_ms(1)))).await;
    let mut counts: Vec<u64> = counts.into_iter().map(|c| c.unwrap()[0]).collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (4..=13).collect::<Vec<u64>>(),
        "concurrent hits each count"
    );
    assert_eq!(
        s.windows(&[WindowOp::peek(&k, HOUR)], at_ms(1))
            .await
            .unwrap(),
        [13]
    );
}

pub(super) async fn distinct_members_are_counted_once_and_age_out(s: &dyn Ephemeral, ns: &str) {
    let k = format!("{ns}d");
    let add = |m| [WindowOp::distinct(&k, HOUR, m)];
    let peek = [WindowOp::peek_distinct(&k, HOUR)];
    assert_eq!(s.windows(&peek, at(0)).await.unwrap(), [0]);
    assert_eq!(s.windows(&add("ann"), at(0)).await.unwrap(), [1]);
    assert_eq!(s.windows(&add("bob"), at(10)).await.unwrap(), [2]);
    assert_eq!(
        s.windows(&add("ann"), at(3000)).await.unwrap(),
        [2],
        "ann again"
    );
    assert_eq!(s.windows(&peek, at(3000)).await.unwrap(), [2]);
    // bob (t=10) ages out at 3610; ann was refreshed at 3000.
    assert_eq!(s.windows(&add("cid"), at(3700)).await.unwrap(), [2]);
    assert_eq!(
        s.windows(&peek, at(6601)).await.unwrap(),
        [1],
        "cid (t=3700) remains"
    );
    assert_eq!(s.windows(&peek, at(7300)).await.unwrap(), [0]);
}

pub(super) async fn several_windows_in_one_call(s: &dyn Ephemeral, ns: &str) {
    let (a, d) = (format!("{ns}a"), format!("{ns}d"));
    assert_eq!(s.windows(&[], at(0)).await.unwrap(), Vec::<u64>::new());
    let ops = [
        WindowOp::hit(&a, HOUR),
        WindowOp::distinct(&d, HOUR, "ann"),
        WindowOp::peek(&a, HOUR),
        WindowOp::peek_distinct(&d, HOUR),
        WindowOp::distinct(&d, HOUR, "bob"),
        WindowOp::hit(&a, HOUR),
    ];
    assert_eq!(s.windows(&ops, at(0)).await.unwrap(), [1, 1, 1, 1, 2, 2]);
    assert_eq!(s.windows(&ops, at(60)).await.unwrap(), [3, 2, 3, 2, 2, 4]);
}

/// Keys whose slots lie in each third of the slot space: on three different
/// nodes of a 3-primary cluster made by `redis-cli --cluster create`.
fn keys_on_every_node(ns: &str) -> Vec<String> {
    let mut keys: [Option<String>; 3] = [None, None, None];
    for i in 0.. {
        let key = format!("{ns}spread-{i}");
        let third = usize::from(slot(&key) / 5462);
        keys[third].get_or_insert(key);
        if keys.iter().all(Option::is_some) {
            break;
        }
    }
    keys.into_iter().flatten().collect()
}

pub(super) async fn windows_across_nodes(s: &dyn Ephemeral, ns: &str) {
    let keys = keys_on_every_node(ns);
    let d = &keys[1];
    let ops = [
        WindowOp::hit(&keys[0], HOUR),
        WindowOp::distinct(d, HOUR, "ann"),
        WindowOp::hit(&keys[2], MINUTE),
        WindowOp::hit(&keys[0], HOUR),
        WindowOp::peek_distinct(d, HOUR),
    ];
    assert_eq!(s.windows(&ops, at(0)).await.unwrap(), [1, 1, 1, 2, 1]);
    assert_eq!(s.windows(&ops, at(30)).await.unwrap(), [3, 1, 2, 4, 1]);
    assert_eq!(s.windows(&ops, at(90)).await.unwrap(), [5, 1, 1, 6, 1]);
}

pub(super) async fn windows_saturate_at_max_events(s: &dyn Ephemeral, ns: &str) {
    let (e, d) = (format!("{ns}cap-events"), format!("{ns}cap-members"));
    let hits = vec![WindowOp::hit(&e, HOUR); MAX_EVENTS + 3];
    let counts = s.windows(&hits, at(0)).await.unwrap();
    assert_eq!(counts[MAX_EVENTS - 1], MAX_EVENTS as u64);
    assert_eq!(counts.last(), Some(&(MAX_EVENTS as u64)));
    // Still capped a minute later: recording drops the oldest.
    assert_eq!(
        s.windows(&[WindowOp::hit(&e, HOUR)], at(60)).await.unwrap(),
        [MAX_EVENTS as u64]
    );

    let names: Vec<String> = (0..MAX_EVENTS + 2).map(|i| format!("m{i}")).collect();
    let ops: Vec<WindowOp<'_>> = names
        .iter()
        .map(|m| WindowOp::distinct(&d, HOUR, m))
        .collect();
    assert_eq!(
        s.windows(&ops, at(0)).await.unwrap().last(),
        Some(&(MAX_EVENTS as u64))
    );
    // A member already present is refreshed without evicting anyone.
    let again = [WindowOp::distinct(&d, HOUR, &names[MAX_EVENTS + 1])];
    assert_eq!(s.windows(&again, at(1)).await.unwrap(), [MAX_EVENTS as u64]);
}

/// Calls `$then!` with the list of every case.
macro_rules! with_cases {
    ($then:ident) => {
        $then!(
            put_get_delete,
            compare_and_swap_has_one_winner,
            compare_and_swap_race_has_one_winner,
            take_is_single_use,
            put_new_only_once,
            advance_is_monotonic,
            values_expire,
            sliding_windows_forget_old_events,
            same_millisecond_events_all_count,
            distinct_members_are_counted_once_and_age_out,
            several_windows_in_one_call,
            windows_across_nodes,
            windows_saturate_at_max_events,
        );
    };
}

/// One test per case, each on a store (and guard) from `setup()`.
macro_rules! test_per_case {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (store, _guard) = setup().await;
                super::$case(&store, "").await;
            }
        )*
    };
}

mod memory {
    use crate::store::ephemeral::MemoryStore;

    fn setup() -> std::future::Ready<(MemoryStore, ())> {
        std::future::ready((MemoryStore::new(), ()))
    }

    with_cases!(test_per_case);
}

/// A private Redis server per case.
mod redis_server {
    use resetgate_services::redis::RedisServer;

    use crate::store::ephemeral::RedisStore;

    async fn setup() -> (RedisStore, RedisServer) {
        let server = RedisServer::start();
        let store = RedisStore::connect(&server.url()).await.unwrap();
        (store, server)
    }

    with_cases!(test_per_case);
}

/// One private 3-node cluster for all cases (a cluster takes seconds to form).
mod redis_cluster {
    use resetgate_services::redis::RedisCluster;

    use crate::store::ephemeral::RedisStore;

    macro_rules! all_cases {
        ($($case:ident),* $(,)?) => {
            #[tokio::test]
            async fn every_case_on_a_3_node_cluster() {
                let cluster = RedisCluster::start(3);
                let store = RedisStore::connect(&cluster.url()).await.unwrap();
                $(
                    eprintln!("cluster case {}", stringify!($case));
                    super::$case(&store, concat!(stringify!($case), ":")).await;
                )*
            }
        };
    }

    with_cases!(all_cases);
}
