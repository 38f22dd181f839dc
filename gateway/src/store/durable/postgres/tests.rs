//! What only `PostgreSQL` has to get right: a server that goes away and comes
//! back, and several nodes (stores) working on one database at once. That it
//! answers as `SQLite` does is tested in `memory/tests.rs`.

use std::time::{Duration, Instant};

use resetgate_services::postgres::PostgresServer;

use super::*;

fn user(name: &str) -> UserRecord {
    UserRecord {
        username: name.into(),
        password_hash: "h0".into(),
        email: None,
        disabled: false,
        created_at: 1,
        password_changed_at: 1,
    }
}

#[tokio::test]
async fn refuses_other_urls() {
    for url in ["sqlite://x.db", "mysql://localhost/x", "localhost:5432"] {
        assert!(PostgresStore::open(url).await.is_err(), "{url}");
    }
}

/// Stop the server: every call fails within seconds instead of hanging.
/// Start it again: the same store (the same pool) works, no reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_a_server_restart() {
    let mut server = tokio::task::spawn_blocking(PostgresServer::start)
        .await
        .unwrap();
    let store = PostgresStore::open(&server.url()).await.unwrap();
    assert!(store.create_user(&user("ann")).await.unwrap());
    store.ping().await.unwrap();

    let mut server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .unwrap();
    // Each call on its own: a connection is waited for ACQUIRE_TIMEOUT at most.
    let quick = Duration::from_secs(4);
    let started = Instant::now();
    assert!(store.ping().await.is_err(), "ping with the server down");
    assert!(
        started.elapsed() < quick,
        "ping took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert!(
        store.user("ann").await.is_err(),
        "read with the server down"
    );
    assert!(
        started.elapsed() < quick,
        "read took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert!(
        store.create_user(&user("bob")).await.is_err(),
        "write with the server down"
    );
    assert!(
        started.elapsed() < quick,
        "write took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert!(store.history("ann", &[], None).await.is_err());
    assert!(
        started.elapsed() < quick,
        "history took {:?}",
        started.elapsed()
    );

    let server = tokio::task::spawn_blocking(move || {
        server.start_again();
        server
    })
    .await
    .unwrap();
    store.ping().await.unwrap();
    assert_eq!(store.user("ann").await.unwrap().unwrap().username, "ann");
    assert!(store.create_user(&user("bob")).await.unwrap());
    drop(server);
}

/// Nodes starting together on an empty database migrate it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_opens_migrate_once() {
    let url = test_database().await;
    let opens = (0..6).map(|_| PostgresStore::open(&url));
    let stores = futures::future::try_join_all(opens).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(applied, i64::try_from(MIGRATOR.iter().count()).unwrap());
}

/// Successes recorded at once by several nodes, sharing the global rows of
/// the feature counts, neither deadlock nor lose a count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_successes_count_every_event() {
    let url = test_database().await;
    let nodes = [
        PostgresStore::open(&url).await.unwrap(),
        PostgresStore::open(&url).await.unwrap(),
    ];
    let tasks = (0..120_i64).map(|i| {
        let node = nodes[usize::try_from(i % 2).unwrap()].clone();
        tokio::spawn(async move {
            let e = SuccessEvent {
                username: ["ann", "bob", "", "cy"][usize::try_from(i % 4).unwrap()].into(),
                kind: "reset".into(),
                at: i,
                ip: Some(format!("192.0.2.{}", i % 3)),
                asn: Some(64_500 + i % 2),
                country: Some(["GB", "FR"][usize::try_from(i % 2).unwrap()].into()),
                browser: Some("Firefox".into()),
                device_id: Some(format!("dev-{}", i % 5)),
                ..SuccessEvent::default()
            };
            node.record_success(&e).await
        })
    });
    for result in futures::future::join_all(tasks).await {
        result.unwrap().unwrap();
    }
    let current = vec![("browser", Some("Firefox".to_owned()))];
    let h = nodes[0].history("ann", &current, None).await.unwrap();
    assert_eq!(h.events, 30);
    let browser = h.counts.iter().find(|c| c.level == "browser").unwrap();
    assert_eq!((browser.account, browser.global), (30, 120 + 30));
}

/// Password changes of one account from several nodes at once queue up:
/// every old hash lands in the history, newest first, trimmed to the depth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_password_changes_keep_the_history() {
    let url = test_database().await;
    let nodes = [
        PostgresStore::open(&url).await.unwrap(),
        PostgresStore::open(&url).await.unwrap(),
    ];
    nodes[0].create_user(&user("ann")).await.unwrap();
    let tasks = (1..=20_i64).map(|i| {
        let node = nodes[usize::try_from(i % 2).unwrap()].clone();
        tokio::spawn(async move { node.change_password("ann", &format!("h{i}"), i, 30).await })
    });
    for result in futures::future::join_all(tasks).await {
        result.unwrap().unwrap();
    }
    let hashes = nodes[1].password_hashes("ann", 100).await.unwrap();
    let mut sorted = hashes.clone();
    sorted.sort();
    let mut expected: Vec<String> = (0..=20).map(|i| format!("h{i}")).collect();
    expected.sort();
    assert_eq!(sorted, expected, "each hash once: {hashes:?}");
    assert_eq!(hashes.last().unwrap(), "h0", "the first hash is the oldest");
    assert_eq!(nodes[0].password_hashes("ann", 3).await.unwrap().len(), 4);
}
