//! The admin API's data on each store ([`SqliteStore`], [`PostgresStore`],
//! [`MemoryDurable`]): API keys, policy versions and activations, settings,
//! decision labels, and the audit log read newest first. Every test runs on all three, with
//! the same expected answers (ids included: the memory store answers as
//! `SQLite`).

use std::sync::Arc;

use super::*;

on_every_store!(
    api_keys_are_created_once,
    api_keys_are_listed_oldest_first,
    api_keys_are_revoked_once,
    policy_versions_are_stored_once_per_version,
    policy_versions_are_listed_newest_first,
    activation_needs_a_stored_version,
    latest_activation_of_a_role_wins,
    settings_are_upserted,
    audit_recent_filters_newest_first,
    audit_record_is_found_by_seq,
    labels_are_stored_and_read,
    a_later_label_replaces_the_earlier,
    labels_of_unknown_decisions_are_absent,
    labels_of_no_decisions_are_none,
    admin_passkeys_change_by_compare_and_swap,
);

fn key(id: &str, hash: &str, created_at: i64) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.to_owned(),
        name: format!("key {id}"),
        key_hash: hash.to_owned(),
        scopes: "evaluate read".to_owned(),
        created_by: "ann".to_owned(),
        created_at,
        revoked_at: None,
    }
}

async fn api_keys_are_created_once(s: &dyn Durable) {
    let k1 = key("01K1", "aa11", 10);
    assert!(s.create_api_key(&k1).await.unwrap());
    // A taken id, a taken hash: refused, nothing changes.
    assert!(!s.create_api_key(&key("01K1", "bb22", 11)).await.unwrap());
    assert!(!s.create_api_key(&key("01K2", "aa11", 12)).await.unwrap());
    assert_eq!(s.api_keys().await.unwrap(), std::slice::from_ref(&k1));
    assert_eq!(s.api_key_by_hash("aa11").await.unwrap(), Some(k1));
    assert_eq!(s.api_key_by_hash("bb22").await.unwrap(), None);
    assert_eq!(s.api_key_by_hash("AA11").await.unwrap(), None);

    // Only the hash was taken: with a new one, that id is stored.
    let k2 = key("01K2", "bb22", 12);
    assert!(s.create_api_key(&k2).await.unwrap());
    assert_eq!(s.api_key_by_hash("bb22").await.unwrap(), Some(k2));
}

async fn api_keys_are_listed_oldest_first(s: &dyn Durable) {
    assert_eq!(s.api_keys().await.unwrap(), []);
    let keys = [
        key("01KC", "cc", 30),
        key("01KB", "bb", 10),
        key("01KA", "aa", 10),
        key("01KD", "dd", 20),
    ];
    for k in &keys {
        assert!(s.create_api_key(k).await.unwrap());
    }
    let ids: Vec<_> = s
        .api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    // By creation time, then id (bytewise).
    assert_eq!(ids, ["01KA", "01KB", "01KD", "01KC"]);
}

async fn api_keys_are_revoked_once(s: &dyn Durable) {
    assert!(s.create_api_key(&key("01K1", "aa", 10)).await.unwrap());
    assert!(s.create_api_key(&key("01K2", "bb", 11)).await.unwrap());
    assert!(s.revoke_api_key("01K1", 50).await.unwrap());
    // The first revocation's time stays.
    assert!(!s.revoke_api_key("01K1", 60).await.unwrap());
    assert!(!s.revoke_api_key("01K9", 60).await.unwrap());
    let revoked = s.api_key_by_hash("aa").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(50));
    assert_eq!(
        revoked,
        ApiKeyRecord {
            revoked_at: Some(50),
            ..key("01K1", "aa", 10)
        }
    );
    // A revoked key is still listed; the other is untouched.
    let all = s.api_keys().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|k| (k.id.as_str(), k.revoked_at))
            .collect::<Vec<_>>(),
        [("01K1", Some(50)), ("01K2", None)]
    );
}

fn version(id: i64, v: &str, created_at: i64) -> PolicyVersionRecord {
    PolicyVersionRecord {
        id,
        version: v.to_owned(),
        text: format!("policy {v}"),
        author: "ann".to_owned(),
        comment: format!("about {v}"),
        created_at,
    }
}

/// Store `version(_, v, at)`; its id.
async fn add(s: &dyn Durable, v: &str, at: i64) -> i64 {
    let r = version(0, v, at);
    s.add_policy_version(&r.version, &r.text, &r.author, &r.comment, r.created_at)
        .await
        .unwrap()
}

async fn policy_versions_are_stored_once_per_version(s: &dyn Durable) {
    assert_eq!(s.policy_version(1).await.unwrap(), None);
    let v1 = add(s, "1.0#aaaa", 100).await;
    assert_eq!(v1, 1);
    // The same version again: its id, and the first text, author and time stay.
    let again = s
        .add_policy_version("1.0#aaaa", "other text", "bob", "again", 200)
        .await
        .unwrap();
    assert_eq!(again, v1);
    assert_eq!(
        s.policy_version(v1).await.unwrap(),
        Some(version(v1, "1.0#aaaa", 100))
    );
    let v2 = add(s, "1.1#bbbb", 300).await;
    // Ids increase. The refused duplicate spent one (AUTOINCREMENT's
    // `sqlite_sequence`, PostgreSQL's sequence; the memory store as SQLite).
    assert!(v2 > v1);
    assert_eq!(v2, 3);
    assert_eq!(
        s.policy_version(v2).await.unwrap(),
        Some(version(v2, "1.1#bbbb", 300))
    );
    assert_eq!(add(s, "1.1#bbbb", 400).await, v2);
    assert_eq!(s.policy_version(v2 + 100).await.unwrap(), None);
    assert_eq!(s.policy_versions(10).await.unwrap().len(), 2);
}

async fn policy_versions_are_listed_newest_first(s: &dyn Durable) {
    assert_eq!(s.policy_versions(10).await.unwrap(), []);
    let ids = [
        add(s, "a", 10).await,
        add(s, "b", 20).await,
        add(s, "c", 5).await,
    ];
    assert!(ids.is_sorted_by(|a, b| a < b));
    let expected = [
        version(ids[2], "c", 5),
        version(ids[1], "b", 20),
        version(ids[0], "a", 10),
    ];
    assert_eq!(s.policy_versions(2).await.unwrap(), expected[..2]);
    assert_eq!(s.policy_versions(10).await.unwrap(), expected);
    assert_eq!(s.policy_versions(0).await.unwrap(), []);
    // A negative limit is none (as SQLite's `LIMIT -1`).
    assert_eq!(s.policy_versions(-1).await.unwrap(), expected);
}

async fn activation_needs_a_stored_version(s: &dyn Durable) {
    assert!(
        s.activate_policy(PolicyRole::Live, Some(1), "ann", 10)
            .await
            .is_err()
    );
    let v = add(s, "1.0#aaaa", 5).await;
    assert!(
        s.activate_policy(PolicyRole::Shadow, Some(v + 1), "ann", 10)
            .await
            .is_err()
    );
    // Only the shadow can be turned off.
    assert!(
        s.activate_policy(PolicyRole::Live, None, "ann", 10)
            .await
            .is_err()
    );
    // Nothing was written.
    assert_eq!(s.policy_activations(10).await.unwrap(), []);
    assert_eq!(s.policy_activation(PolicyRole::Live).await.unwrap(), None);
    assert_eq!(s.policy_activation(PolicyRole::Shadow).await.unwrap(), None);

    // Nor did the refusals spend an id.
    let id = s
        .activate_policy(PolicyRole::Live, Some(v), "ann", 20)
        .await
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(
        s.policy_activation(PolicyRole::Live).await.unwrap(),
        Some(activation(1, "live", Some(v), "ann", 20))
    );
}

fn activation(id: i64, role: &str, version_id: Option<i64>, by: &str, at: i64) -> PolicyActivation {
    PolicyActivation {
        id,
        role: role.to_owned(),
        version_id,
        activated_by: by.to_owned(),
        activated_at: at,
    }
}

async fn latest_activation_of_a_role_wins(s: &dyn Durable) {
    let v1 = add(s, "1.0#aaaa", 5).await;
    let v2 = add(s, "2.0#bbbb", 6).await;
    let mut ids = Vec::new();
    for (role, version, by, at) in [
        (PolicyRole::Live, Some(v1), "ann", 100),
        (PolicyRole::Shadow, Some(v2), "bob", 110),
        (PolicyRole::Live, Some(v2), "key:deploy", 120),
        // The shadow turned off; at an earlier time, yet the latest by id.
        (PolicyRole::Shadow, None, "bob", 90),
    ] {
        ids.push(s.activate_policy(role, version, by, at).await.unwrap());
    }
    assert_eq!(ids, [1, 2, 3, 4]);
    assert_eq!(
        s.policy_activation(PolicyRole::Live).await.unwrap(),
        Some(activation(3, "live", Some(v2), "key:deploy", 120))
    );
    assert_eq!(
        s.policy_activation(PolicyRole::Shadow).await.unwrap(),
        Some(activation(4, "shadow", None, "bob", 90))
    );
    let expected = [
        activation(4, "shadow", None, "bob", 90),
        activation(3, "live", Some(v2), "key:deploy", 120),
        activation(2, "shadow", Some(v2), "bob", 110),
        activation(1, "live", Some(v1), "ann", 100),
    ];
    assert_eq!(s.policy_activations(3).await.unwrap(), expected[..3]);
    assert_eq!(s.policy_activations(10).await.unwrap(), expected);
    assert_eq!(s.policy_activations(-1).await.unwrap(), expected);
    assert_eq!(s.policy_activations(0).await.unwrap(), []);

    // The shadow back on.
    let id = s
        .activate_policy(PolicyRole::Shadow, Some(v1), "bob", 130)
        .await
        .unwrap();
    assert_eq!(id, 5);
    assert_eq!(
        s.policy_activation(PolicyRole::Shadow).await.unwrap(),
        Some(activation(5, "shadow", Some(v1), "bob", 130))
    );
    assert_eq!(
        s.policy_activation(PolicyRole::Live)
            .await
            .unwrap()
            .map(|a| a.id),
        Some(3)
    );
}

async fn settings_are_upserted(s: &dyn Durable) {
    assert_eq!(s.setting("risk.policy.imported").await.unwrap(), None);
    s.set_setting("risk.policy.imported", "1.0#aaaa")
        .await
        .unwrap();
    assert_eq!(
        s.setting("risk.policy.imported").await.unwrap().as_deref(),
        Some("1.0#aaaa")
    );
    s.set_setting("risk.policy.imported", "1.1#bbbb")
        .await
        .unwrap();
    s.set_setting("other", "").await.unwrap();
    assert_eq!(
        s.setting("risk.policy.imported").await.unwrap().as_deref(),
        Some("1.1#bbbb")
    );
    assert_eq!(s.setting("other").await.unwrap().as_deref(), Some(""));
    assert_eq!(s.setting("Other").await.unwrap(), None);
}

/// Audit record `seq` of `kind`, chained on record `seq - 1`.
fn record(seq: i64, kind: &str) -> AuditRecord {
    AuditRecord {
        seq,
        at: format!("2026-03-01T00:00:{:02}Z", seq.rem_euclid(60)),
        kind: kind.to_owned(),
        subject: format!("user{seq}"),
        data: format!("{{\"n\":{seq}}}"),
        prev_hash: format!("h{}", seq - 1),
        hash: format!("h{seq}"),
        alert: None,
    }
}

/// Records 1, 2, … of these kinds, in one batch.
async fn log(s: &dyn Durable, kinds: &[&str]) -> Vec<AuditRecord> {
    let records: Vec<_> = (1..).zip(kinds).map(|(seq, k)| record(seq, k)).collect();
    assert!(s.audit_append(&records).await.unwrap());
    records
}

async fn seqs(
    s: &dyn Durable,
    kind: Option<&str>,
    before: Option<i64>,
    since: Option<&str>,
    limit: i64,
) -> Vec<i64> {
    s.audit_recent(kind, before, since, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.seq)
        .collect()
}

async fn audit_recent_filters_newest_first(s: &dyn Durable) {
    assert_eq!(seqs(s, None, None, None, 10).await, [0_i64; 0]);
    let (a, b) = ("risk.assessed", "reset.completed");
    let records = log(s, &[a, b, a, a, b, a, b]).await;

    assert_eq!(
        s.audit_recent(None, None, None, 100).await.unwrap(),
        records.iter().rev().cloned().collect::<Vec<_>>()
    );
    assert_eq!(seqs(s, None, None, None, 3).await, [7, 6, 5]);
    assert_eq!(seqs(s, None, None, None, 0).await, [0_i64; 0]);
    assert_eq!(seqs(s, None, None, None, -1).await, [7, 6, 5, 4, 3, 2, 1]);

    // By kind, page by page.
    assert_eq!(seqs(s, Some(a), None, None, 100).await, [6, 4, 3, 1]);
    assert_eq!(seqs(s, Some(a), None, None, 2).await, [6, 4]);
    assert_eq!(seqs(s, Some(a), Some(4), None, 2).await, [3, 1]);
    assert_eq!(seqs(s, Some(a), Some(1), None, 2).await, [0_i64; 0]);
    assert_eq!(seqs(s, Some(b), None, None, 100).await, [7, 5, 2]);
    assert_eq!(seqs(s, Some("risk"), None, None, 100).await, [0_i64; 0]);

    // Before: strictly.
    assert_eq!(seqs(s, None, Some(4), None, 100).await, [3, 2, 1]);
    assert_eq!(seqs(s, None, Some(100), None, 2).await, [7, 6]);

    // Since: at or after, as text.
    let since = "2026-03-01T00:00:04Z";
    assert_eq!(seqs(s, None, None, Some(since), 100).await, [7, 6, 5, 4]);
    assert_eq!(
        seqs(s, None, None, Some("2026-03-01T00:00:04"), 100).await,
        [7, 6, 5, 4]
    );
    assert_eq!(
        seqs(s, None, None, Some("2026-03-01T00:00:04Zz"), 100).await,
        [7, 6, 5]
    );
    assert_eq!(seqs(s, None, None, Some("2027"), 100).await, [0_i64; 0]);
    assert_eq!(seqs(s, None, None, Some(""), 100).await.len(), 7);

    // All three at once.
    assert_eq!(seqs(s, Some(a), Some(6), Some(since), 100).await, [4]);
    assert_eq!(seqs(s, Some(b), Some(7), Some(since), 100).await, [5]);
    assert_eq!(
        seqs(s, Some(a), Some(7), Some("2026-03-01T00:00:03Z"), 1).await,
        [6]
    );
}

async fn audit_record_is_found_by_seq(s: &dyn Durable) {
    assert_eq!(s.audit_record(1).await.unwrap(), None);
    let records = log(s, &["a", "b", "c"]).await;
    for r in &records {
        assert_eq!(s.audit_record(r.seq).await.unwrap().as_ref(), Some(r));
    }
    assert_eq!(s.audit_record(0).await.unwrap(), None);
    assert_eq!(s.audit_record(4).await.unwrap(), None);
    assert_eq!(s.audit_record(-1).await.unwrap(), None);
}

fn label(seq: i64, label: &str, by: &str, at: i64) -> LabelRecord {
    LabelRecord {
        seq,
        label: label.to_owned(),
        note: format!("{label} by {by}"),
        labelled_by: by.to_owned(),
        labelled_at: at,
    }
}

/// The labels of `seqs`, by seq (the stores answer in any order).
async fn labels_of(s: &dyn Durable, seqs: &[i64]) -> Vec<LabelRecord> {
    let mut labels = s.labels(seqs).await.unwrap();
    labels.sort_by_key(|l| l.seq);
    labels
}

async fn labels_are_stored_and_read(s: &dyn Durable) {
    let (a, b) = (
        label(7, "attack", "ann", 100),
        label(3, "legitimate", "bob", 90),
    );
    s.set_label(&a).await.unwrap();
    s.set_label(&b).await.unwrap();
    assert_eq!(labels_of(s, &[7]).await, std::slice::from_ref(&a));
    assert_eq!(labels_of(s, &[3]).await, std::slice::from_ref(&b));
    assert_eq!(labels_of(s, &[7, 3]).await, [b.clone(), a.clone()]);
    assert_eq!(labels_of(s, &[3, 7]).await, [b, a]);
}

async fn a_later_label_replaces_the_earlier(s: &dyn Durable) {
    s.set_label(&label(5, "attack", "ann", 100)).await.unwrap();
    s.set_label(&label(6, "attack", "ann", 101)).await.unwrap();
    // Every field replaced, even with an earlier time.
    let later = LabelRecord {
        note: String::new(),
        ..label(5, "legitimate", "key:triage", 50)
    };
    s.set_label(&later).await.unwrap();
    assert_eq!(
        labels_of(s, &[5, 6]).await,
        [later, label(6, "attack", "ann", 101)]
    );
}

async fn labels_of_unknown_decisions_are_absent(s: &dyn Durable) {
    assert_eq!(labels_of(s, &[1, 2, 3]).await, []);
    let l = label(2, "attack", "ann", 100);
    s.set_label(&l).await.unwrap();
    assert_eq!(labels_of(s, &[1, 2, 3]).await, std::slice::from_ref(&l));
    assert_eq!(labels_of(s, &[0, -2, 20, i64::MAX]).await, []);
    // A seq asked for twice: its label once.
    assert_eq!(labels_of(s, &[2, 2]).await, [l]);
    // As many as a caller may ask for.
    let many: Vec<i64> = (1..=1000).collect();
    assert_eq!(labels_of(s, &many).await.len(), 1);
}

async fn labels_of_no_decisions_are_none(s: &dyn Durable) {
    assert_eq!(s.labels(&[]).await.unwrap(), []);
    s.set_label(&label(1, "attack", "ann", 100)).await.unwrap();
    assert_eq!(s.labels(&[]).await.unwrap(), []);
}

/// Two nodes storing the same versions at once: one row per version, and
/// every caller told its id.
async fn two_nodes_store_a_version_once(a: Arc<dyn Durable>, b: Arc<dyn Durable>) {
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                let v = format!("v{}", i % 4);
                let id = store
                    .add_policy_version(&v, "text", "file", "", i)
                    .await
                    .unwrap();
                (v, id)
            })
        })
        .collect();
    let mut ids = std::collections::BTreeMap::new();
    for call in calls {
        let (v, id) = call.await.unwrap();
        assert_eq!(*ids.entry(v.clone()).or_insert(id), id, "{v}: one id");
    }
    let stored = a.policy_versions(100).await.unwrap();
    assert_eq!(stored.len(), 4);
    for r in stored {
        assert_eq!(ids.get(&r.version), Some(&r.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_store_a_version_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("policies.db").display());
    let a = SqliteStore::open(&url).await.unwrap();
    let b = SqliteStore::open(&url).await.unwrap();
    two_nodes_store_a_version_once(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_store_a_version_once_postgres() {
    let url = postgres_test_database().await;
    let a = PostgresStore::open(&url).await.unwrap();
    let b = PostgresStore::open(&url).await.unwrap();
    two_nodes_store_a_version_once(Arc::new(a), Arc::new(b)).await;
}

async fn admin_passkeys_change_by_compare_and_swap(s: &dyn Durable) {
    let admin = AdminRecord {
        username: "ops".to_owned(),
        password_hash: "$argon2id$x".to_owned(),
        totp_secret: vec![1, 2, 3],
        disabled: false,
        created_at: 1,
        webauthn: None,
    };
    assert!(s.create_admin(&admin).await.unwrap());
    // From none: only a writer that expected none wins.
    assert!(
        !s.set_admin_webauthn("ops", Some(b"x"), b"first")
            .await
            .unwrap()
    );
    assert!(s.set_admin_webauthn("ops", None, b"first").await.unwrap());
    assert!(!s.set_admin_webauthn("ops", None, b"second").await.unwrap());
    assert!(
        s.set_admin_webauthn("ops", Some(b"first"), b"second")
            .await
            .unwrap()
    );
    let stored = s.admin("ops").await.unwrap().unwrap();
    assert_eq!(stored.webauthn.as_deref(), Some(b"second".as_slice()));
    assert!(!s.set_admin_webauthn("nobody", None, b"x").await.unwrap());
}
