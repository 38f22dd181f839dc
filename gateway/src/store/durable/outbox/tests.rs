//! The outbox's behaviour, on each store ([`SqliteStore`], [`PostgresStore`],
//! [`MemoryDurable`]), and the three giving the same answers to one
//! pseudo-random sequence of calls. All times are fixed milliseconds.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use super::*;
use crate::store::durable::{
    AuditRecord, Durable, MemoryDurable, PostgresStore, SqliteStore, postgres_test_database,
    postgres_test_store,
};

on_every_store!(
    alerts_are_routed_once,
    alerts_commit_with_their_record,
    route_takes_the_oldest_first,
    claim_leases_due_deliveries_once,
    claim_takes_the_oldest_due_first,
    finish_needs_the_lease,
    finish_applies_the_outcome,
    put_endpoint_keeps_gone_with_the_url,
    insert_endpoint_never_replaces_one,
    retire_config_endpoints_leaves_api_ones,
    redeliver_requeues_dead_or_listed,
    deliveries_are_filtered_and_limited,
    backlog_counts_what_is_to_send,
    purge_removes_what_is_done_and_old,
    delete_endpoint_takes_its_deliveries,
);

fn message(id: &str, kind: &str, level: Option<&str>, created_at: i64) -> OutboxMessage {
    OutboxMessage {
        id: id.to_owned(),
        kind: kind.to_owned(),
        level: level.map(str::to_owned),
        created_at,
        body: format!("{{\"id\":\"{id}\",\"type\":\"{kind}\"}}"),
    }
}

fn record(seq: i64, alert: Option<OutboxMessage>) -> AuditRecord {
    AuditRecord {
        seq,
        at: format!("2026-03-01T00:00:{:02}Z", seq.rem_euclid(60)),
        kind: "risk.assessed".into(),
        subject: format!("user{seq}"),
        data: format!("{{\"n\":{seq}}}"),
        prev_hash: format!("h{}", seq - 1),
        hash: format!("h{seq}"),
        alert,
    }
}

/// Append one audit record per entry after the head, each raising its alert.
async fn append(s: &dyn Durable, alerts: Vec<Option<OutboxMessage>>) -> Result<bool, DurableError> {
    let next = s.audit_head().await.unwrap().map_or(1, |(seq, _)| seq + 1);
    let records: Vec<_> = (next..)
        .zip(alerts)
        .map(|(seq, a)| record(seq, a))
        .collect();
    s.audit_append(&records).await
}

/// Append and route these messages to `endpoints`, due at `due`.
async fn queue(s: &dyn Durable, messages: &[OutboxMessage], endpoints: &[&str], due: i64) {
    assert!(
        append(s, messages.iter().cloned().map(Some).collect())
            .await
            .unwrap()
    );
    let to = |_: &str, _: Option<&str>| -> Vec<String> {
        endpoints.iter().map(|e| (*e).to_owned()).collect()
    };
    assert_eq!(s.route(&to, due, due, -1).await.unwrap(), messages.len());
}

fn endpoint(id: &str, url: &str, source: &str) -> EndpointRecord {
    EndpointRecord {
        id: id.to_owned(),
        url: url.to_owned(),
        events: r#"["*"]"#.to_owned(),
        min_level: "low".to_owned(),
        source: source.to_owned(),
        secrets: (source == SOURCE_API).then(|| vec![1, 2, 3]),
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        created_at: 1,
    }
}

async fn put(s: &dyn Durable, ids: &[&str]) {
    for id in ids {
        let e = endpoint(id, &format!("https://{id}.example/hook"), SOURCE_API);
        s.put_endpoint(&e).await.unwrap();
    }
}

async fn endpoint_of(s: &dyn Durable, id: &str) -> EndpointRecord {
    let all = s.endpoints().await.unwrap();
    all.into_iter().find(|e| e.id == id).expect("stored")
}

fn attempt(at: i64, status: Option<i64>, error: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        at,
        status,
        latency_ms: 12,
        error: error.map(str::to_owned),
    }
}

/// All of an endpoint's deliveries, newest first.
async fn all(s: &dyn Durable, endpoint: &str) -> Vec<DeliveryRecord> {
    s.deliveries(endpoint, None, -1).await.unwrap()
}

async fn delivery(s: &dyn Durable, endpoint: &str, id: i64) -> DeliveryRecord {
    let all = all(s, endpoint).await;
    all.into_iter().find(|d| d.id == id).expect("a delivery")
}

fn ids(claimed: &[Claimed]) -> Vec<i64> {
    claimed.iter().map(|c| c.id).collect()
}

/// The routing the dispatcher would do, by kind and level.
fn by_kind(kind: &str, level: Option<&str>) -> Vec<String> {
    let mut to: Vec<&str> = match kind {
        "risk.high" => vec!["a", "b"],
        "risk.low" => vec!["b"],
        "reset.completed" => vec!["a"],
        _ => vec![],
    };
    if level == Some("deny") {
        to.push("c");
    }
    to.into_iter().map(str::to_owned).collect()
}

async fn alerts_are_routed_once(s: &dyn Durable) {
    put(s, &["a", "b", "c"]).await;
    let high = message("msg_1", "risk.high", Some("high"), 10);
    let low = message("msg_2", "risk.low", None, 11);
    assert!(
        append(s, vec![Some(high.clone()), None, Some(low.clone())])
            .await
            .unwrap()
    );
    // The records read back without their alert: it is in the outbox.
    let page = s.audit_page(0, 10).await.unwrap();
    assert_eq!(page.len(), 3);
    assert!(page.iter().all(|r| r.alert.is_none()));
    assert_eq!(s.backlog().await.unwrap(), 2, "two messages to route");

    let asked = Mutex::new(Vec::new());
    let route = |kind: &str, level: Option<&str>| {
        asked
            .lock()
            .unwrap()
            .push((kind.to_owned(), level.map(str::to_owned)));
        by_kind(kind, level)
    };
    assert_eq!(s.route(&route, 100, 110, 10).await.unwrap(), 2);
    assert_eq!(
        *asked.lock().unwrap(),
        [
            ("risk.high".to_owned(), Some("high".to_owned())),
            ("risk.low".to_owned(), None)
        ]
    );
    let pending = |id, message_id: &str, endpoint_id: &str, kind: &str| DeliveryRecord {
        id,
        message_id: message_id.to_owned(),
        endpoint_id: endpoint_id.to_owned(),
        kind: kind.to_owned(),
        state: PENDING.to_owned(),
        attempts: 0,
        next_at: 110,
        last_status: None,
        last_error: None,
        created_at: 100,
        updated_at: 100,
    };
    // Ids from 1, in the order of routing: msg_1 to a and b, msg_2 to b.
    assert_eq!(all(s, "a").await, [pending(1, "msg_1", "a", "risk.high")]);
    assert_eq!(
        all(s, "b").await,
        [
            pending(3, "msg_2", "b", "risk.low"),
            pending(2, "msg_1", "b", "risk.high")
        ]
    );
    assert_eq!(all(s, "c").await, []);
    assert_eq!(s.backlog().await.unwrap(), 3, "three deliveries pending");

    // Routed messages are not routed again.
    assert_eq!(s.route(&route, 200, 210, 10).await.unwrap(), 0);
    assert_eq!(asked.lock().unwrap().len(), 2, "route not asked again");
    assert_eq!(all(s, "a").await.len(), 1);
    assert_eq!(all(s, "b").await.len(), 2);

    // A later message, alone; an endpoint named twice gets it once.
    let deny = message("msg_3", "risk.high", Some("deny"), 12);
    assert!(append(s, vec![Some(deny)]).await.unwrap());
    let twice = |kind: &str, level: Option<&str>| {
        let mut to = by_kind(kind, level);
        to.extend(by_kind(kind, level));
        to
    };
    assert_eq!(s.route(&twice, 300, 300, 10).await.unwrap(), 1);
    for e in ["a", "b", "c"] {
        let deliveries = all(s, e).await;
        assert_eq!(deliveries[0].message_id, "msg_3", "{e}");
        assert_eq!(
            deliveries
                .iter()
                .filter(|d| d.message_id == "msg_3")
                .count(),
            1,
            "{e}"
        );
    }
    assert_eq!(s.route(&twice, 400, 400, 10).await.unwrap(), 0);
}

async fn alerts_commit_with_their_record(s: &dyn Durable) {
    put(s, &["a"]).await;
    let route = |_: &str, _: Option<&str>| vec!["a".to_owned()];
    // A lost race (not the next number) writes neither record nor message.
    let stale = [record(2, Some(message("msg_x", "risk.high", None, 1)))];
    assert!(!s.audit_append(&stale).await.unwrap());
    assert_eq!(s.backlog().await.unwrap(), 0);

    assert!(
        append(s, vec![Some(message("msg_1", "risk.high", None, 1))])
            .await
            .unwrap()
    );
    // A message id already queued fails the batch: nothing written.
    let head = s.audit_head().await.unwrap();
    let again = vec![None, Some(message("msg_1", "risk.low", None, 2))];
    assert!(append(s, again).await.is_err());
    let twice = vec![
        Some(message("msg_2", "risk.low", None, 2)),
        Some(message("msg_2", "risk.low", None, 2)),
    ];
    assert!(append(s, twice).await.is_err());
    assert_eq!(s.audit_head().await.unwrap(), head);
    assert_eq!(s.backlog().await.unwrap(), 1);

    // Under the audit lock too.
    let chain: std::sync::Arc<crate::store::durable::ChainFn<'static>> =
        std::sync::Arc::new(|head: Option<(i64, String)>| {
            let seq = head.map_or(1, |(seq, _)| seq + 1);
            vec![
                record(seq, Some(message("msg_3", "risk.low", Some("low"), 3))),
                record(seq + 1, None),
            ]
        });
    assert_eq!(
        s.audit_append_exclusive(chain).await.unwrap(),
        Some((3, "h3".to_owned()))
    );
    assert_eq!(s.backlog().await.unwrap(), 2);
    assert_eq!(s.route(&route, 10, 10, 10).await.unwrap(), 2);
    let routed: Vec<_> = all(s, "a")
        .await
        .into_iter()
        .map(|d| d.message_id)
        .collect();
    assert_eq!(routed, ["msg_3", "msg_1"]);
}

async fn route_takes_the_oldest_first(s: &dyn Durable) {
    let to_a = |_: &str, _: Option<&str>| vec!["a".to_owned()];
    let alerts = [("msg_b", 5), ("msg_a", 5), ("msg_z", 3), ("msg_c", 7)]
        .into_iter()
        .map(|(id, at)| Some(message(id, "risk.high", None, at)))
        .collect();
    assert!(append(s, alerts).await.unwrap());
    assert_eq!(s.route(&to_a, 10, 10, 2).await.unwrap(), 2);
    let routed = |all: Vec<DeliveryRecord>| {
        all.into_iter()
            .map(|d| (d.id, d.message_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        routed(all(s, "a").await),
        [(2, "msg_a".to_owned()), (1, "msg_z".to_owned())]
    );
    assert_eq!(s.route(&to_a, 10, 10, 0).await.unwrap(), 0);
    assert_eq!(s.backlog().await.unwrap(), 2, "still to route");
    // A negative limit is none.
    assert_eq!(s.route(&to_a, 10, 10, -1).await.unwrap(), 2);
    assert_eq!(
        routed(all(s, "a").await),
        [
            (4, "msg_c".to_owned()),
            (3, "msg_b".to_owned()),
            (2, "msg_a".to_owned()),
            (1, "msg_z".to_owned())
        ]
    );
}

/// Two nodes routing at once create each delivery once; claiming at once,
/// they lease each delivery to one of them.
async fn route_and_claim_at_once(a: Arc<dyn Durable>, b: Arc<dyn Durable>) {
    put(a.as_ref(), &["x", "y"]).await;
    let alerts = (0..60)
        .map(|i| {
            Some(message(
                &format!("msg_{i:03}"),
                "risk.high",
                None,
                1000 + i / 3,
            ))
        })
        .collect();
    assert!(append(a.as_ref(), alerts).await.unwrap());

    let router = |s: Arc<dyn Durable>| {
        tokio::spawn(async move {
            let to = |_: &str, _: Option<&str>| vec!["x".to_owned(), "y".to_owned()];
            let mut routed = 0;
            loop {
                match s.route(&to, 2000, 2000, 7).await.unwrap() {
                    0 => break routed,
                    n => routed += n,
                }
            }
        })
    };
    let (one, two) = (router(a.clone()), router(b.clone()));
    let counts = (one.await.unwrap(), two.await.unwrap());
    assert_eq!(counts.0 + counts.1, 60, "{counts:?}");
    for e in ["x", "y"] {
        let deliveries = all(b.as_ref(), e).await;
        let messages: BTreeSet<_> = deliveries.iter().map(|d| d.message_id.clone()).collect();
        assert_eq!((deliveries.len(), messages.len()), (60, 60), "{e}");
    }
    assert_eq!(a.backlog().await.unwrap(), 120);

    let claimer = |s: Arc<dyn Durable>, lease: &'static str| {
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            loop {
                let batch = s.claim("x", 2000, 9000, lease, 4).await.unwrap();
                if batch.is_empty() {
                    break claimed;
                }
                claimed.extend(batch.into_iter().map(|c| c.id));
            }
        })
    };
    let (one, two) = (claimer(a.clone(), "A"), claimer(b.clone(), "B"));
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    let mut every: Vec<i64> = one.iter().chain(&two).copied().collect();
    every.sort_unstable();
    let expected: Vec<i64> = {
        let mut ids: Vec<_> = all(a.as_ref(), "x").await.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(every, expected, "each leased once: A {one:?}, B {two:?}");
    assert_eq!(a.claim("y", 2000, 9000, "C", -1).await.unwrap().len(), 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn route_and_claim_at_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("outbox.db").display());
    let a = SqliteStore::open(&url).await.unwrap();
    let b = SqliteStore::open(&url).await.unwrap();
    route_and_claim_at_once(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn route_and_claim_at_once_postgres() {
    let url = postgres_test_database().await;
    let a = PostgresStore::open(&url).await.unwrap();
    let b = PostgresStore::open(&url).await.unwrap();
    route_and_claim_at_once(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn route_and_claim_at_once_memory() {
    let store = Arc::new(MemoryDurable::new());
    route_and_claim_at_once(store.clone(), store).await;
}

async fn claim_leases_due_deliveries_once(s: &dyn Durable) {
    put(s, &["a", "b"]).await;
    let m1 = message("msg_1", "risk.high", None, 1);
    let m2 = message("msg_2", "risk.high", None, 2);
    queue(s, &[m1.clone(), m2.clone()], &["a"], 100).await;
    let leased = |id, m: &OutboxMessage, attempts| Claimed {
        id,
        message_id: m.id.clone(),
        attempts,
        body: m.body.clone(),
    };

    assert_eq!(
        s.claim("a", 99, 1000, "L1", 10).await.unwrap(),
        [],
        "not due"
    );
    let first = s.claim("a", 100, 1000, "L1", 10).await.unwrap();
    assert_eq!(first, [leased(1, &m1, 0), leased(2, &m2, 0)]);
    // Leased until 1000: no one else gets them before.
    assert_eq!(s.claim("a", 999, 2000, "L2", 10).await.unwrap(), []);
    // Only the endpoint's own deliveries.
    assert_eq!(s.claim("b", 5000, 6000, "L2", 10).await.unwrap(), []);
    // The lease ran out: again, with the same message and body.
    let again = s.claim("a", 1000, 3000, "L2", 10).await.unwrap();
    assert_eq!(again, first);
    assert!(
        !s.finish(1, "L1", &attempt(1500, Some(200), None), Outcome::Delivered)
            .await
            .unwrap(),
        "the first lease is gone"
    );
    let retry = Outcome::Retry { at: 4000 };
    let failed = attempt(1500, Some(500), Some("HTTP 500"));
    assert!(s.finish(1, "L2", &failed, retry).await.unwrap());
    // 1 is due again at 4000; 2 is leased until 3000.
    assert_eq!(s.claim("a", 2999, 5000, "L3", 10).await.unwrap(), []);
    assert_eq!(
        s.claim("a", 3000, 5000, "L3", 10).await.unwrap(),
        [leased(2, &m2, 0)]
    );
    assert_eq!(
        s.claim("a", 4000, 5000, "L3", 10).await.unwrap(),
        [leased(1, &m1, 1)],
        "with the attempt made"
    );
    // Delivered: not claimed again.
    assert!(
        s.finish(1, "L3", &attempt(4100, Some(200), None), Outcome::Delivered)
            .await
            .unwrap()
    );
    assert_eq!(ids(&s.claim("a", 9000, 9500, "L4", 10).await.unwrap()), [2]);
}

async fn claim_takes_the_oldest_due_first(s: &dyn Durable) {
    put(s, &["a"]).await;
    queue(s, &[message("msg_1", "k", None, 1)], &["a"], 300).await;
    queue(s, &[message("msg_2", "k", None, 2)], &["a"], 200).await;
    queue(s, &[message("msg_3", "k", None, 3)], &["a"], 200).await;
    queue(s, &[message("msg_4", "k", None, 4)], &["a"], 100).await;
    // Due first: 4, then 2 and 3 (by id), then 1; returned by id.
    assert_eq!(
        ids(&s.claim("a", 1000, 2000, "L", 3).await.unwrap()),
        [2, 3, 4]
    );
    assert_eq!(ids(&s.claim("a", 1000, 2000, "L", -1).await.unwrap()), [1]);
    assert!(ids(&s.claim("a", 2000, 3000, "M", 0).await.unwrap()).is_empty());
    assert!(ids(&s.claim("a", 250, 3000, "M", 2).await.unwrap()).is_empty());
    assert_eq!(
        ids(&s.claim("a", 2000, 3000, "M", -1).await.unwrap()),
        [1, 2, 3, 4]
    );
}

async fn finish_needs_the_lease(s: &dyn Durable) {
    put(s, &["a"]).await;
    queue(s, &[message("msg_1", "k", None, 1)], &["a"], 100).await;
    let before = all(s, "a").await;
    let failed = attempt(200, Some(500), Some("HTTP 500"));
    for lease in ["L", "", "other"] {
        for outcome in [Outcome::Dead, Outcome::Gone, Outcome::Delivered] {
            assert!(
                !s.finish(1, lease, &failed, outcome).await.unwrap(),
                "not leased"
            );
        }
    }
    assert_eq!(ids(&s.claim("a", 100, 1000, "L", 10).await.unwrap()), [1]);
    for (id, lease) in [(1, "M"), (1, ""), (2, "L"), (0, "L")] {
        let outcome = Outcome::Gone;
        assert!(
            !s.finish(id, lease, &failed, outcome).await.unwrap(),
            "{id} {lease}"
        );
    }
    assert_eq!(all(s, "a").await, before, "nothing written");
    assert_eq!(s.attempts(1).await.unwrap(), []);
    assert!(endpoint_of(s, "a").await.active());
    // The holder reports once.
    assert!(s.finish(1, "L", &failed, Outcome::Dead).await.unwrap());
    assert!(!s.finish(1, "L", &failed, Outcome::Dead).await.unwrap());
    assert_eq!(s.attempts(1).await.unwrap(), [failed]);
}

async fn finish_applies_the_outcome(s: &dyn Durable) {
    put(s, &["a", "b"]).await;
    let messages: Vec<_> = (1..=4)
        .map(|i| message(&format!("msg_{i}"), "risk.high", None, i))
        .collect();
    queue(s, &messages, &["a"], 100).await;
    queue(s, &[message("msg_5", "risk.low", None, 5)], &["b"], 100).await;
    assert_eq!(s.backlog().await.unwrap(), 5);
    assert_eq!(
        ids(&s.claim("a", 100, 5000, "L", 10).await.unwrap()),
        [1, 2, 3, 4]
    );

    let outcomes = [
        (attempt(1000, Some(204), None), Outcome::Delivered),
        (
            attempt(1001, Some(503), Some("HTTP 503")),
            Outcome::Retry { at: 3000 },
        ),
        (attempt(1002, None, Some("timed out")), Outcome::Dead),
        (attempt(1003, Some(410), Some("HTTP 410")), Outcome::Gone),
    ];
    for (id, (a, outcome)) in (1..).zip(&outcomes) {
        assert!(s.finish(id, "L", a, *outcome).await.unwrap(), "{id}");
    }
    let expected = [
        (1, DELIVERED, 1000, Some(204), None),
        (2, PENDING, 3000, Some(503), Some("HTTP 503")),
        (3, DEAD, 1002, None, Some("timed out")),
        (4, PENDING, 1003, Some(410), Some("HTTP 410")),
    ];
    for (id, state, next_at, status, error) in expected {
        let d = delivery(s, "a", id).await;
        let at = outcomes[usize::try_from(id - 1).unwrap()].0.at;
        assert_eq!(
            (d.state.as_str(), d.attempts, d.next_at, d.last_status),
            (state, 1, next_at, status),
            "{id}"
        );
        assert_eq!(d.last_error.as_deref(), error, "{id}");
        assert_eq!((d.created_at, d.updated_at), (100, at), "{id}");
        let recorded = s.attempts(id).await.unwrap();
        assert_eq!(
            recorded,
            [outcomes[usize::try_from(id - 1).unwrap()].0.clone()]
        );
    }
    // 410: the endpoint is disabled, its deliveries wait.
    let a = endpoint_of(s, "a").await;
    assert_eq!(
        (a.disabled_reason.as_deref(), a.disabled_at, a.enabled),
        (Some(GONE), Some(1003), true)
    );
    assert!(!a.active());
    assert!(endpoint_of(s, "b").await.active());
    assert_eq!(s.backlog().await.unwrap(), 1, "only b's");

    // Nothing is claimed while it is gone; enabled again, it is.
    assert!(s.claim("a", 3000, 6000, "M", 10).await.unwrap().is_empty());
    assert!(s.enable_endpoint("a").await.unwrap());
    assert!(!s.enable_endpoint("nobody").await.unwrap());
    assert!(endpoint_of(s, "a").await.active());
    // Another attempt: listed after the first; attempts counts on.
    assert_eq!(
        ids(&s.claim("a", 3000, 6000, "M", 10).await.unwrap()),
        [2, 4]
    );
    let second = attempt(3100, Some(500), Some("HTTP 500"));
    assert!(s.finish(2, "M", &second, Outcome::Dead).await.unwrap());
    assert_eq!(
        s.attempts(2).await.unwrap(),
        [outcomes[1].0.clone(), second]
    );
    let d = delivery(s, "a", 2).await;
    assert_eq!((d.state.as_str(), d.attempts, d.next_at), (DEAD, 2, 3100));
    assert_eq!(s.attempts(99).await.unwrap(), []);
}

async fn insert_endpoint_never_replaces_one(s: &dyn Durable) {
    let first = endpoint("a", "https://one.example/hook", SOURCE_API);
    assert!(s.insert_endpoint(&first).await.unwrap());
    let second = endpoint("a", "https://two.example/hook", SOURCE_API);
    assert!(
        !s.insert_endpoint(&second).await.unwrap(),
        "the id is taken"
    );
    assert_eq!(s.endpoints().await.unwrap(), std::slice::from_ref(&first));
}

async fn put_endpoint_keeps_gone_with_the_url(s: &dyn Durable) {
    let stored = endpoint("a", "https://one.example/hook", SOURCE_CONFIG);
    s.put_endpoint(&stored).await.unwrap();
    assert_eq!(s.endpoints().await.unwrap(), std::slice::from_ref(&stored));
    s.disable_endpoint("a", "manual", 20).await.unwrap();
    s.disable_endpoint("nobody", "manual", 20).await.unwrap();

    // The same URL, new settings (a restart, a config edit): still gone.
    let edited = EndpointRecord {
        events: r#"["risk.high"]"#.to_owned(),
        min_level: "high".to_owned(),
        source: SOURCE_API.to_owned(),
        secrets: Some(vec![9]),
        enabled: false,
        created_at: 99,
        ..stored.clone()
    };
    s.put_endpoint(&edited).await.unwrap();
    let gone = EndpointRecord {
        disabled_reason: Some("manual".to_owned()),
        disabled_at: Some(20),
        created_at: 1,
        ..edited.clone()
    };
    assert_eq!(s.endpoints().await.unwrap(), std::slice::from_ref(&gone));
    // What the caller says of `disabled_*` does not count on an update.
    let cleared = EndpointRecord {
        disabled_reason: Some("other".to_owned()),
        disabled_at: Some(30),
        ..edited.clone()
    };
    s.put_endpoint(&cleared).await.unwrap();
    assert_eq!(s.endpoints().await.unwrap(), std::slice::from_ref(&gone));

    // A new URL: on again (created_at still the first).
    let moved = EndpointRecord {
        url: "https://two.example/hook".to_owned(),
        enabled: true,
        ..cleared
    };
    s.put_endpoint(&moved).await.unwrap();
    let back = EndpointRecord {
        disabled_reason: None,
        disabled_at: None,
        created_at: 1,
        ..moved
    };
    assert_eq!(s.endpoints().await.unwrap(), std::slice::from_ref(&back));
    assert!(back.active());

    // A new endpoint is stored as given, in id order.
    let given = EndpointRecord {
        id: "B".to_owned(),
        disabled_reason: Some("imported".to_owned()),
        disabled_at: Some(5),
        ..endpoint("B", "https://b.example", SOURCE_API)
    };
    s.put_endpoint(&given).await.unwrap();
    let z = endpoint("_z", "https://z.example", SOURCE_CONFIG);
    s.put_endpoint(&z).await.unwrap();
    assert_eq!(s.endpoints().await.unwrap(), [given, z, back]);
}

async fn retire_config_endpoints_leaves_api_ones(s: &dyn Durable) {
    for (id, source) in [
        ("c1", SOURCE_CONFIG),
        ("c2", SOURCE_CONFIG),
        ("c3", SOURCE_CONFIG),
        ("x", SOURCE_API),
    ] {
        s.put_endpoint(&endpoint(id, &format!("https://{id}.example"), source))
            .await
            .unwrap();
    }
    queue(
        s,
        &[message("msg_1", "k", None, 1)],
        &["c1", "c2", "x"],
        100,
    )
    .await;
    let enabled = || async move {
        s.endpoints()
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.enabled))
            .collect::<Vec<_>>()
    };
    let state = |pairs: &[(&str, bool)]| {
        pairs
            .iter()
            .map(|(id, on)| ((*id).to_owned(), *on))
            .collect::<Vec<_>>()
    };
    s.retire_config_endpoints(&["c2".to_owned(), "x".to_owned(), "new".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        enabled().await,
        state(&[("c1", false), ("c2", true), ("c3", false), ("x", true)])
    );
    assert_eq!(s.backlog().await.unwrap(), 2, "c2's and x's");
    assert_eq!(all(s, "c1").await.len(), 1, "still visible");
    s.retire_config_endpoints(&[]).await.unwrap();
    assert_eq!(
        enabled().await,
        state(&[("c1", false), ("c2", false), ("c3", false), ("x", true)])
    );
    // Back in the configuration: put again.
    let c1 = endpoint("c1", "https://c1.example", SOURCE_CONFIG);
    s.put_endpoint(&c1).await.unwrap();
    assert!(endpoint_of(s, "c1").await.active());
}

async fn redeliver_requeues_dead_or_listed(s: &dyn Durable) {
    put(s, &["a", "b"]).await;
    let messages: Vec<_> = (1..=5)
        .map(|i| message(&format!("msg_{i}"), "k", None, i))
        .collect();
    queue(s, &messages, &["a"], 100).await;
    queue(s, &[message("msg_6", "k", None, 6)], &["b"], 100).await;
    let b_dead = 6;
    assert_eq!(
        ids(&s.claim("b", 100, 200, "L", 10).await.unwrap()),
        [b_dead]
    );
    let error = attempt(150, Some(500), Some("HTTP 500"));
    assert!(s.finish(b_dead, "L", &error, Outcome::Dead).await.unwrap());
    // a: 1 and 2 dead, 3 delivered, 4 leased, 5 pending.
    assert_eq!(
        ids(&s.claim("a", 100, 200, "L", 3).await.unwrap()),
        [1, 2, 3]
    );
    assert!(s.finish(1, "L", &error, Outcome::Dead).await.unwrap());
    assert!(s.finish(2, "L", &error, Outcome::Dead).await.unwrap());
    let ok = attempt(150, Some(200), None);
    assert!(s.finish(3, "L", &ok, Outcome::Delivered).await.unwrap());
    assert_eq!(ids(&s.claim("a", 100, 5000, "M", 1).await.unwrap()), [4]);

    assert_eq!(s.redeliver("a", None, 1000).await.unwrap(), 2);
    for id in [1, 2] {
        let d = delivery(s, "a", id).await;
        assert_eq!(
            (d.state.as_str(), d.attempts, d.next_at, d.updated_at),
            (PENDING, 0, 1000, 1000)
        );
        // The last result stays on view, and the attempts on record.
        assert_eq!(
            (d.last_status, d.last_error.as_deref()),
            (Some(500), Some("HTTP 500"))
        );
        assert_eq!(s.attempts(id).await.unwrap().len(), 1);
    }
    assert_eq!(delivery(s, "b", b_dead).await.state, DEAD, "b's left alone");
    assert_eq!(s.redeliver("a", None, 1000).await.unwrap(), 0, "none dead");

    // Listed: any state, the endpoint's own only, not while leased.
    let listed = [3, 4, 5, 5, b_dead, 99];
    assert_eq!(s.redeliver("a", Some(&listed), 2000).await.unwrap(), 2);
    let d3 = delivery(s, "a", 3).await;
    assert_eq!(
        (d3.state.as_str(), d3.attempts, d3.next_at),
        (PENDING, 0, 2000)
    );
    let d4 = delivery(s, "a", 4).await;
    assert_eq!((d4.updated_at, d4.next_at), (100, 100), "leased: untouched");
    assert_eq!(delivery(s, "a", 5).await.next_at, 2000);
    assert_eq!(delivery(s, "b", b_dead).await.state, DEAD);
    assert_eq!(s.redeliver("a", Some(&[]), 2000).await.unwrap(), 0);
    assert_eq!(s.redeliver("nobody", None, 2000).await.unwrap(), 0);

    // Once the lease ran out it is requeued, and the old lease is void.
    assert_eq!(s.redeliver("a", Some(&[4]), 5000).await.unwrap(), 1);
    assert!(!s.finish(4, "M", &ok, Outcome::Delivered).await.unwrap());
    assert_eq!(s.redeliver("b", Some(&[b_dead]), 5000).await.unwrap(), 1);
    assert_eq!(
        ids(&s.claim("a", 5000, 6000, "N", -1).await.unwrap()),
        [1, 2, 3, 4, 5]
    );
}

async fn deliveries_are_filtered_and_limited(s: &dyn Durable) {
    put(s, &["a"]).await;
    let messages: Vec<_> = ["risk.high", "risk.low", "reset.completed", "risk.high"]
        .into_iter()
        .zip(1..)
        .map(|(kind, i)| message(&format!("msg_{i}"), kind, None, i))
        .collect();
    queue(s, &messages, &["a"], 100).await;
    assert_eq!(ids(&s.claim("a", 100, 200, "L", 2).await.unwrap()), [1, 2]);
    let error = attempt(150, None, Some("refused"));
    assert!(s.finish(1, "L", &error, Outcome::Dead).await.unwrap());
    assert!(
        s.finish(2, "L", &attempt(150, Some(200), None), Outcome::Delivered)
            .await
            .unwrap()
    );

    let listed = |state: Option<&'static str>, limit| async move {
        s.deliveries("a", state, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.kind, d.state))
            .collect::<Vec<_>>()
    };
    let row = |id, kind: &str, state: &str| (id, kind.to_owned(), state.to_owned());
    assert_eq!(
        listed(None, -1).await,
        [
            row(4, "risk.high", PENDING),
            row(3, "reset.completed", PENDING),
            row(2, "risk.low", DELIVERED),
            row(1, "risk.high", DEAD)
        ]
    );
    assert_eq!(
        listed(None, 2).await,
        [
            row(4, "risk.high", PENDING),
            row(3, "reset.completed", PENDING)
        ]
    );
    assert_eq!(listed(None, 0).await, []);
    assert_eq!(
        listed(Some(PENDING), 1).await,
        [row(4, "risk.high", PENDING)]
    );
    assert_eq!(listed(Some(DEAD), -1).await, [row(1, "risk.high", DEAD)]);
    assert_eq!(
        listed(Some(DELIVERED), 10).await,
        [row(2, "risk.low", DELIVERED)]
    );
    assert_eq!(listed(Some("other"), -1).await, []);
    assert_eq!(s.deliveries("b", None, -1).await.unwrap(), []);
}

async fn purge_removes_what_is_done_and_old(s: &dyn Durable) {
    put(s, &["a", "b"]).await;
    queue(
        s,
        &[
            message("msg_1", "k", None, 1),
            message("msg_2", "k", None, 2),
        ],
        &["a", "b"],
        100,
    )
    .await;
    // msg_1: delivered to a at 150, dead at b at 160; msg_2: delivered to a
    // at 500, pending at b.
    let claimed = ids(&s.claim("a", 100, 1000, "L", -1).await.unwrap());
    assert_eq!(claimed, [1, 3]);
    assert!(ids(&s.claim("b", 100, 1000, "M", 1).await.unwrap()) == [2]);
    let ok = |at| attempt(at, Some(204), None);
    assert!(
        s.finish(1, "L", &ok(150), Outcome::Delivered)
            .await
            .unwrap()
    );
    assert!(
        s.finish(
            2,
            "M",
            &attempt(160, Some(500), Some("HTTP 500")),
            Outcome::Dead
        )
        .await
        .unwrap()
    );
    assert!(
        s.finish(3, "L", &ok(500), Outcome::Delivered)
            .await
            .unwrap()
    );
    // Nothing older than 100: nothing goes.
    assert_eq!(s.purge(100).await.unwrap(), 0);
    // Before 200: a's and b's msg_1 deliveries go, with their attempts.
    assert_eq!(s.purge(200).await.unwrap(), 2);
    assert_eq!(ids_of(&all(s, "a").await), [3]);
    assert_eq!(ids_of(&all(s, "b").await), [4]);
    assert_eq!(s.attempts(1).await.unwrap(), []);
    assert_eq!(s.attempts(2).await.unwrap(), []);
    // Later: the delivered one goes; the pending one stays, and so does the
    // message it needs.
    assert_eq!(s.purge(10_000).await.unwrap(), 1);
    assert_eq!(ids_of(&all(s, "a").await), Vec::<i64>::new());
    assert_eq!(ids_of(&all(s, "b").await), [4]);
    assert_eq!(
        ids(&s.claim("b", 10_000, 11_000, "N", -1).await.unwrap()),
        [4]
    );
    assert_eq!(s.backlog().await.unwrap(), 1);
}

async fn delete_endpoint_takes_its_deliveries(s: &dyn Durable) {
    put(s, &["a", "b"]).await;
    queue(s, &[message("msg_1", "k", None, 1)], &["a", "b"], 100).await;
    assert_eq!(ids(&s.claim("a", 100, 200, "L", -1).await.unwrap()), [1]);
    assert!(
        s.finish(
            1,
            "L",
            &attempt(150, Some(500), Some("HTTP 500")),
            Outcome::Dead
        )
        .await
        .unwrap()
    );
    assert!(s.delete_endpoint("a").await.unwrap());
    assert!(!s.delete_endpoint("a").await.unwrap());
    // Gone with it: an endpoint added again as "a" starts with nothing.
    put(s, &["a"]).await;
    assert_eq!(all(s, "a").await, []);
    assert_eq!(s.attempts(1).await.unwrap(), []);
    assert_eq!(s.redeliver("a", None, 300).await.unwrap(), 0);
    // b's delivery of the same message stays.
    assert_eq!(ids_of(&all(s, "b").await), [2]);
}

fn ids_of(deliveries: &[DeliveryRecord]) -> Vec<i64> {
    let mut ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
    ids.sort_unstable();
    ids
}

async fn backlog_counts_what_is_to_send(s: &dyn Durable) {
    assert_eq!(s.backlog().await.unwrap(), 0);
    put(s, &["a", "b", "gone"]).await;
    s.put_endpoint(&endpoint("off", "https://off.example", SOURCE_CONFIG))
        .await
        .unwrap();
    s.retire_config_endpoints(&[]).await.unwrap();
    s.disable_endpoint("gone", GONE, 5).await.unwrap();
    // To each endpoint, and to one that does not exist.
    let to = ["a", "b", "gone", "off", "unknown"];
    queue(
        s,
        &[
            message("msg_1", "k", None, 1),
            message("msg_2", "k", None, 2),
        ],
        &to,
        100,
    )
    .await;
    assert_eq!(s.backlog().await.unwrap(), 4, "a's and b's");
    assert!(
        append(s, vec![Some(message("msg_3", "k", None, 3))])
            .await
            .unwrap()
    );
    assert_eq!(s.backlog().await.unwrap(), 5, "and one to route");
    // Leased still counts; delivered and dead do not.
    assert_eq!(ids(&s.claim("a", 100, 200, "L", -1).await.unwrap()), [1, 6]);
    assert_eq!(s.backlog().await.unwrap(), 5);
    let ok = attempt(150, Some(200), None);
    assert!(s.finish(1, "L", &ok, Outcome::Delivered).await.unwrap());
    assert!(s.finish(6, "L", &ok, Outcome::Dead).await.unwrap());
    assert_eq!(s.backlog().await.unwrap(), 3);
    // Routed to nobody: the message is done.
    let nowhere = |_: &str, _: Option<&str>| -> Vec<String> { Vec::new() };
    assert_eq!(s.route(&nowhere, 200, 200, 10).await.unwrap(), 1);
    assert_eq!(s.backlog().await.unwrap(), 2);
}

// ---------------------------------------------------------------------------
// The three stores alike.

/// splitmix64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn int(&mut self, n: u64) -> i64 {
        i64::try_from(self.below(n)).unwrap()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        let n = u64::try_from(xs.len()).unwrap();
        xs[usize::try_from(self.below(n)).unwrap()].clone()
    }
}

/// All answered alike: the same value, or all failed.
fn same<T: PartialEq + Debug>(answers: Vec<Result<T, DurableError>>, what: &str) -> Option<T> {
    const NAMES: [&str; 3] = ["SQLite", "memory", "PostgreSQL"];
    if answers.iter().all(Result::is_err) {
        return None;
    }
    let mut answers = answers.into_iter();
    let Some(Ok(first)) = answers.next() else {
        panic!("{what}: SQLite failed, not all others");
    };
    for (name, answer) in NAMES[1..].iter().zip(answers) {
        match answer {
            Ok(a) => assert_eq!(first, a, "{what}: SQLite left, {name} right"),
            Err(e) => panic!("{what}: {name} failed ({e}), SQLite answered {first:?}"),
        }
    }
    Some(first)
}

/// The same call on each store in turn, compared with [`same`].
macro_rules! alike {
    ($stores:expr, $what:expr, |$s:ident| $call:expr) => {{
        let mut answers = Vec::new();
        for $s in $stores {
            answers.push($call.await);
        }
        same(answers, $what)
    }};
}

const ENDPOINTS: [&str; 5] = ["a", "b", "c", "d", "zz"];
const KINDS: [&str; 4] = ["risk.high", "risk.low", "reset.completed", "factor.added"];
const LEVELS: [Option<&str>; 4] = [None, Some("low"), Some("high"), Some("deny")];
const LEASES: [&str; 3] = ["L0", "L1", "L2"];

/// Routing with duplicates and an endpoint that is not stored.
fn routing(kind: &str, level: Option<&str>) -> Vec<String> {
    let mut to: Vec<&str> = match kind {
        "risk.high" => vec!["a", "b", "a"],
        "risk.low" => vec!["b", "zz"],
        "reset.completed" => vec!["c"],
        _ => vec![],
    };
    if level == Some("deny") {
        to.extend(["d", "c"]);
    }
    to.into_iter().map(str::to_owned).collect()
}

/// Everything the stores show, compared after each step.
async fn compare_all(stores: [&dyn Durable; 3], step: &str, with_attempts: bool) -> i64 {
    alike!(stores, &format!("{step}: endpoints"), |s| s.endpoints());
    alike!(stores, &format!("{step}: backlog"), |s| s.backlog());
    let mut last = 0;
    for e in ENDPOINTS {
        let d = alike!(stores, &format!("{step}: deliveries {e}"), |s| s
            .deliveries(e, None, -1))
        .unwrap();
        last = d.iter().map(|d| d.id).fold(last, i64::max);
    }
    if with_attempts {
        for id in 0..=last + 1 {
            alike!(stores, &format!("{step}: attempts {id}"), |s| s
                .attempts(id));
        }
    }
    last
}

fn random_endpoint(rng: &mut Rng, now: i64) -> EndpointRecord {
    EndpointRecord {
        id: rng.pick(&ENDPOINTS[..4]).to_owned(),
        url: rng.pick(&["https://one", "https://two"]).to_owned(),
        events: r#"["*"]"#.to_owned(),
        min_level: rng.pick(&["low", "high"]).to_owned(),
        source: rng.pick(&[SOURCE_CONFIG, SOURCE_API]).to_owned(),
        secrets: rng.pick(&[None, Some(vec![]), Some(vec![7, 8])]),
        enabled: rng.chance(80),
        disabled_reason: rng.chance(20).then(|| "given".to_owned()),
        disabled_at: rng.chance(20).then_some(now),
        created_at: now,
    }
}

/// Audit records, most raising a message: created out of order, with ties,
/// and now and then under an id already taken (the batch fails).
fn random_records(rng: &mut Rng, seqs: std::ops::Range<i64>, now: i64) -> Vec<AuditRecord> {
    seqs.map(|seq| {
        let alert = (!rng.chance(25)).then(|| {
            let id = format!("msg_{:03}", rng.below(400));
            message(&id, rng.pick(&KINDS), rng.pick(&LEVELS), now - rng.int(5))
        });
        record(seq, alert)
    })
    .collect()
}

fn random_attempt(rng: &mut Rng, now: i64) -> (AttemptRecord, Outcome) {
    let retry_at = now + rng.int(800);
    let outcome = rng.pick(&[
        Outcome::Delivered,
        Outcome::Retry { at: retry_at },
        Outcome::Dead,
        Outcome::Gone,
    ]);
    let status = rng.pick(&[None, Some(200), Some(410), Some(503)]);
    let attempt = AttemptRecord {
        at: now,
        status,
        latency_ms: rng.int(100),
        error: status.is_none_or(|s| s >= 300).then(|| "failed".to_owned()),
    };
    (attempt, outcome)
}

/// About 60 % of [`ENDPOINTS`], at random.
fn some_endpoints(rng: &mut Rng) -> Vec<String> {
    ENDPOINTS
        .iter()
        .filter(|_| rng.chance(60))
        .map(|e| (*e).to_owned())
        .collect()
}

#[tokio::test]
async fn stores_answer_alike() {
    let sqlite = SqliteStore::open("sqlite::memory:").await.unwrap();
    let memory = MemoryDurable::new();
    let postgres = postgres_test_store().await;
    let stores: [&dyn Durable; 3] = [&sqlite, &memory, &postgres];

    let mut rng = Rng(2026);
    let mut now: i64 = 1_000;
    let mut next_seq = 1;
    let mut last_delivery = 0;
    let (mut claimed, mut finished, mut redelivered) = (0, 0, 0);
    // Leases handed out, to report on (most reports are the holder's).
    let mut held: Vec<(i64, &str)> = Vec::new();
    for i in 0..900 {
        now += rng.int(300);
        let step = match rng.below(12) {
            0 => {
                let e = random_endpoint(&mut rng, now);
                let step = format!("#{i} put_endpoint {e:?}");
                alike!(stores, &step, |s| s.put_endpoint(&e));
                step
            }
            1 => {
                let keep = some_endpoints(&mut rng);
                let step = format!("#{i} retire_config_endpoints {keep:?}");
                alike!(stores, &step, |s| s.retire_config_endpoints(&keep));
                step
            }
            2 => {
                let (id, off) = (rng.pick(&ENDPOINTS), rng.chance(50));
                let step = format!("#{i} {} {id}", if off { "disable" } else { "enable" });
                if off {
                    alike!(stores, &step, |s| s.disable_endpoint(id, "manual", now));
                } else {
                    alike!(stores, &step, |s| s.enable_endpoint(id));
                }
                step
            }
            3 | 4 => {
                let n = 1 + rng.int(3);
                let records = random_records(&mut rng, next_seq..next_seq + n, now);
                let step = format!("#{i} audit_append {records:?}");
                if alike!(stores, &step, |s| s.audit_append(&records)) == Some(true) {
                    next_seq += n;
                }
                step
            }
            5 => {
                let limit = rng.pick(&[-1, 0, 1, 2, 5]);
                let due = now + rng.pick(&[0, 100, 500]);
                let step = format!("#{i} route {limit} due {due}");
                alike!(stores, &step, |s| s.route(&routing, now, due, limit));
                step
            }
            6 | 7 => {
                let e = rng.pick(&ENDPOINTS);
                let until = now + rng.pick(&[0, 100, 1000]);
                let lease = rng.pick(&LEASES);
                let limit = rng.pick(&[-1, 0, 1, 3]);
                let step = format!("#{i} claim {e} until {until} {lease} limit {limit}");
                let c = alike!(stores, &step, |s| s.claim(e, now, until, lease, limit));
                claimed += c.as_ref().map_or(0, Vec::len);
                held.extend(c.iter().flatten().map(|c| (c.id, lease)));
                step
            }
            8..=10 => {
                let (id, lease) = if let Some(last) = held.pop()
                    && rng.chance(80)
                {
                    last
                } else {
                    let id = rng.int(u64::try_from(last_delivery).unwrap() + 2);
                    (id, rng.pick(&LEASES))
                };
                let (a, outcome) = random_attempt(&mut rng, now);
                let step = format!("#{i} finish {id} {lease} {a:?} {outcome:?}");
                if alike!(stores, &step, |s| s.finish(id, lease, &a, outcome)) == Some(true) {
                    finished += 1;
                }
                step
            }
            _ => {
                let e = rng.pick(&ENDPOINTS);
                let ids: Option<Vec<i64>> = rng.chance(50).then(|| {
                    (0..rng.below(4))
                        .map(|_| rng.int(u64::try_from(last_delivery).unwrap() + 2))
                        .collect()
                });
                let step = format!("#{i} redeliver {e} {ids:?}");
                let n = alike!(stores, &step, |s| s.redeliver(e, ids.as_deref(), now));
                redelivered += n.unwrap_or(0);
                step
            }
        };
        last_delivery = compare_all(stores, &step, i % 25 == 0).await;
    }
    compare_all(stores, "the end", true).await;
    // The sequence reached what it is meant to cover.
    assert!(
        last_delivery > 100 && claimed > 100 && finished > 40 && redelivered > 10,
        "{last_delivery} deliveries, {claimed} claimed, {finished} finished, \
         {redelivered} redelivered"
    );
}
