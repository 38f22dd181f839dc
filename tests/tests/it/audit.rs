//! The audit log is a hash chain that `resetgate audit verify` checks.
//!
//! After real flows the chain verifies and `audit export` prints one JSON object per
//! record. Altering one row's `data`, or deleting a middle row, directly in the
//! `SQLite` file makes `audit verify` exit non-zero with a message.

use resetgate_tests::Gateway;
use resetgate_tests::fixtures::{ALICE, BOB, NEW_PASSWORD, UNKNOWN_NAME};
use resetgate_tests::flows;
use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

/// Audit-worthy activity: a completed reset, a decoy start, a failed sign-in.
async fn make_history(gw: &Gateway) {
    gw.import_users(&[ALICE, BOB]).await;
    let reset = flows::reset_via_sms(gw, &ALICE).await;
    let done = flows::complete(gw.api(), &reset.flow, &reset.reset_token, NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");
    flows::start_reset(gw.api(), UNKNOWN_NAME).await;
    flows::start_reset(gw.api(), BOB.name).await;
    flows::try_login(gw.api(), BOB.name, "Not-Bobs-Password-At-All-1")
        .await
        .expect_error(401, "invalid_credentials");
}

async fn open_db(gw: &Gateway) -> SqliteConnection {
    let options = SqliteConnectOptions::new()
        .filename(gw.sqlite_path())
        .create_if_missing(false);
    SqliteConnection::connect_with(&options)
        .await
        .unwrap_or_else(|err| panic!("cannot open {}: {err}", gw.sqlite_path().display()))
}

/// `(seq, data, hash)` of every audit row, in order.
async fn audit_rows(db: &mut SqliteConnection) -> Vec<(i64, String, String)> {
    sqlx::query_as("SELECT seq, data, hash FROM audit_log ORDER BY seq")
        .fetch_all(db)
        .await
        .expect("audit_log(seq, data, hash) is readable")
}

/// Clean chain: `audit verify` exits 0; `audit export` gives one JSON object per
/// record with `seq`, `kind` and the stored `hash`.
async fn assert_clean(gw: &Gateway, db: &mut SqliteConnection) -> Vec<(i64, String, String)> {
    gw.cli_ok(&["audit", "verify"]).await;
    let rows = audit_rows(db).await;
    assert!(
        rows.len() >= 3,
        "expected several audit rows after the flows, got {}",
        rows.len()
    );
    let export = gw.cli_ok(&["audit", "export"]).await;
    let records: Vec<Value> = export
        .stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"))
        })
        .collect();
    assert!(
        !records.is_empty(),
        "audit export printed nothing: {export}"
    );
    let mut last_seq = None;
    for record in &records {
        let seq = record["seq"]
            .as_i64()
            .unwrap_or_else(|| panic!("no integer seq: {record}"));
        assert!(record["kind"].is_string(), "no kind: {record}");
        assert!(
            last_seq < Some(seq),
            "export is not in seq order at {record}"
        );
        last_seq = Some(seq);
        let stored = rows.iter().find(|row| row.0 == seq);
        let stored = stored.unwrap_or_else(|| panic!("exported seq {seq} is not in audit_log"));
        assert_eq!(
            record["hash"],
            stored.2.as_str(),
            "export hash differs from the table: {record}"
        );
    }
    rows
}

/// `audit verify` on a broken chain: non-zero with something said.
async fn assert_detected(gw: &Gateway, what: &str) {
    let output = gw.cli(&["audit", "verify"]).await;
    assert!(
        !output.success(),
        "audit verify passed after {what}:\n{output}"
    );
    assert!(
        !output.combined().trim().is_empty(),
        "audit verify failed silently after {what}"
    );
}

/// The row in the middle of the chain (neither first nor last).
fn middle(rows: &[(i64, String, String)]) -> &(i64, String, String) {
    &rows[rows.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chain_verifies_and_detects_an_altered_row() {
    let mut gw = Gateway::start().await;
    make_history(&gw).await;
    let mut db = open_db(&gw).await;
    let rows = assert_clean(&gw, &mut db).await;

    gw.stop();
    let (seq, data, _) = middle(&rows);
    let altered = match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(mut object)) => {
            object.insert("tampered".into(), Value::Bool(true));
            Value::Object(object).to_string()
        }
        _ => format!("{data} (tampered)"),
    };
    let changed = sqlx::query("UPDATE audit_log SET data = ? WHERE seq = ?")
        .bind(altered)
        .bind(seq)
        .execute(&mut db)
        .await
        .expect("audit_log is writable");
    assert_eq!(changed.rows_affected(), 1);
    db.close().await.expect("the database closes");
    assert_detected(&gw, &format!("altering row {seq}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chain_detects_a_deleted_row() {
    let mut gw = Gateway::start().await;
    make_history(&gw).await;
    let mut db = open_db(&gw).await;
    let rows = assert_clean(&gw, &mut db).await;

    gw.stop();
    let (seq, _, _) = middle(&rows);
    let deleted = sqlx::query("DELETE FROM audit_log WHERE seq = ?")
        .bind(seq)
        .execute(&mut db)
        .await
        .expect("audit_log is writable");
    assert_eq!(deleted.rows_affected(), 1);
    db.close().await.expect("the database closes");
    assert_detected(&gw, &format!("deleting row {seq}")).await;
}
