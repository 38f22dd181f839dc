//! The admin API as a security team uses it: scoped API keys, the policy's
//! lifecycle (validate with the line, upload, diff, activate, roll back,
//! versions kept across a restart), recorded decisions with analysts'
//! labels (exported for retraining), the replay of a candidate policy over
//! recorded attempts, and the shadow policy beside the live one.

use std::collections::BTreeMap;

use resetgate_tests::api::field_str;
use resetgate_tests::fixtures::{ALICE, CAROL, policy_with_levels, quiet_policy};
use resetgate_tests::{Api, Gateway, flows};
use serde_json::{Value, json};

use crate::admin::{ADMIN, ADMIN_PASSWORD, create_admin, login};

/// A signed-in administrator's bearer token.
async fn admin_token(gw: &Gateway) -> String {
    let mut device = create_admin(gw).await;
    let code = device.next_code().await;
    let ok = login(gw.api(), ADMIN_PASSWORD, &code).await.ok();
    field_str(&ok, "token").to_owned()
}

/// A new API key with `scopes`, made by the administrator.
async fn key(api: &Api, token: &str, name: &str, scopes: &[&str]) -> String {
    let made = api
        .post_auth(
            "/v1/admin/api-keys",
            token,
            &json!({"name": name, "scopes": scopes}),
        )
        .await
        .expect(201);
    assert_eq!(made["name"], name);
    field_str(&made, "key").to_owned()
}

fn live_version(api_answer: &Value) -> String {
    field_str(api_answer, "version").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_scoped_revocable_and_never_shown_twice() {
    let gw = Gateway::start().await;
    let token = admin_token(&gw).await;
    let api = gw.api();
    let reader = key(api, &token, "siem", &["read"]).await;
    let evaluator = key(api, &token, "sspr", &["evaluate"]).await;
    api.post_auth(
        "/v1/admin/api-keys",
        &token,
        &json!({"name": "x", "scopes": ["root"]}),
    )
    .await
    .expect_error(400, "invalid_request");
    api.post_auth(
        "/v1/admin/api-keys",
        &token,
        &json!({"name": "SIEM", "scopes": ["read"]}),
    )
    .await
    .expect_error(409, "api_key_exists");

    // A read key reads the policy but cannot change it, nor make keys.
    let live = api.get_auth("/v1/admin/policy", &reader).await.ok();
    let stricter = policy_with_levels(&[("medium", 10)], "tests-stricter");
    api.put_auth("/v1/admin/policy", &reader, &json!({"text": stricter}))
        .await
        .expect_error(403, "insufficient_scope");
    api.post_auth(
        "/v1/admin/api-keys",
        &reader,
        &json!({"name": "more", "scopes": ["admin"]}),
    )
    .await
    .expect_error(403, "person_required");
    let after = api.get_auth("/v1/admin/policy", &reader).await.ok();
    assert_eq!(live_version(&after), live_version(&live));
    // An evaluate key scores, and reads nothing.
    let body = json!({"username": ALICE.name, "ip": "198.51.100.7"});
    api.post_auth("/v1/risk/evaluate", &evaluator, &body)
        .await
        .ok();
    api.post_auth("/v1/risk/evaluate", &reader, &body)
        .await
        .expect_error(403, "insufficient_scope");
    api.get_auth("/v1/admin/policy", &evaluator)
        .await
        .expect_error(403, "insufficient_scope");

    // Made on the command line with the admin scope: it changes the policy,
    // audited as the key.
    let cli = gw
        .cli(&["admin", "api-key", "create", "ci", "--scope", "admin"])
        .await;
    assert!(cli.success(), "{cli}");
    let admin_key = cli
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("rgk_"))
        .unwrap_or_else(|| panic!("no key in {cli}"))
        .to_owned();
    let put = api
        .put_auth(
            "/v1/admin/policy",
            &admin_key,
            &json!({"text": stricter, "comment": "lower medium"}),
        )
        .await
        .ok();
    assert!(live_version(&put).starts_with("tests-stricter+"), "{put}");

    check_list_revoke_and_disable(&gw, &token, &[&reader, &evaluator, &admin_key]).await;
}

/// The list shows no key and no hash; a revoked key is refused at once; the
/// keys of a disabled administrator stop with them; the audit names keys.
async fn check_list_revoke_and_disable(gw: &Gateway, token: &str, keys: &[&String; 3]) {
    let api = gw.api();
    let [reader, evaluator, admin_key] = *keys;
    let body = json!({"username": ALICE.name, "ip": "198.51.100.7"});
    let list = api.get_auth("/v1/admin/api-keys", token).await.ok();
    let text = list.to_string();
    for secret in keys {
        assert!(!text.contains(secret.as_str()), "{text}");
    }
    let siem = list["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "siem")
        .unwrap();
    assert_eq!(siem["scopes"], json!(["read"]));
    assert_eq!(
        api.delete_auth(
            &format!("/v1/admin/api-keys/{}", field_str(siem, "id")),
            token
        )
        .await
        .status,
        204
    );
    api.get_auth("/v1/admin/policy", reader)
        .await
        .expect_error(401, "invalid_api_key");
    // The keys of a disabled administrator stop with them (the CLI's do not).
    api.get_auth("/v1/admin/policy", evaluator)
        .await
        .expect_error(403, "insufficient_scope");
    assert!(gw.cli(&["admin", "disable", ADMIN]).await.success());
    api.post_auth("/v1/risk/evaluate", evaluator, &body)
        .await
        .expect_error(401, "invalid_api_key");
    api.get_auth("/v1/admin/policy", admin_key).await.ok();
    assert!(gw.cli(&["admin", "enable", ADMIN]).await.success());
    api.post_auth("/v1/risk/evaluate", evaluator, &body)
        .await
        .ok();

    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "risk.evaluated" && r["data"]["by"] == "key:sspr")
    );
    assert!(records.iter().any(|r| r["kind"] == "policy.activated"
        && r["subject"] == "key:ci"
        && r["data"]["comment"] == "lower medium"));
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "api_key.revoked" && r["subject"] == ADMIN)
    );
    let log = gw.log();
    for secret in keys {
        assert!(!log.contains(secret.as_str()), "a key in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_is_validated_diffed_activated_and_rolled_back() {
    let mut gw = Gateway::builder()
        .env("RESETGATE__RISK__RELOAD_INTERVAL", "100ms")
        .start()
        .await;
    let token = admin_token(&gw).await;
    let api = gw.api();
    let first = api.get_auth("/v1/admin/policy", &token).await.ok();
    assert_eq!(first["author"], "file");
    assert_eq!(first["text"], quiet_policy());

    check_refusals(api, &token, &first).await;

    // The candidate's diff against the live one, then the upload.
    // Edited as text, so the diff is the one line.
    let candidate = quiet_policy().replacen("medium = 30", "medium = 10", 1);
    let diff = api
        .post_auth("/v1/admin/policy/diff", &token, &json!({"text": candidate}))
        .await
        .ok();
    let unified = field_str(&diff, "diff");
    assert!(
        unified.contains("-medium = 30\n+medium = 10\n"),
        "{unified}"
    );
    assert_eq!(diff["candidate"]["valid"], true);
    let put = api
        .put_auth("/v1/admin/policy", &token, &json!({"text": candidate}))
        .await
        .ok();
    let candidate_version = live_version(&put);
    // Decisions are taken under it at once.
    let start = flows::start_reset(api, ALICE.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    let decisions = api
        .get_auth("/v1/admin/decisions?limit=1", &token)
        .await
        .ok();
    assert_eq!(
        decisions["decisions"][0]["policy_version"], candidate_version,
        "{decisions}"
    );

    // The policy file rewritten unchanged (a deployment touching it) does
    // not undo the activation: a few refreshes later it is still live.
    let file = gw.root().join("policy.toml");
    std::fs::write(&file, quiet_policy()).unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let still = api.get_auth("/v1/admin/policy", &token).await.ok();
    assert_eq!(live_version(&still), candidate_version);

    // Rolled back: the first version is live again, and stays so after a
    // restart (the unchanged file is not imported again).
    let versions = api.get_auth("/v1/admin/policy/versions", &token).await.ok();
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{versions}");
    assert_eq!(list[0]["author"], ADMIN);
    assert_eq!(list[0]["live"], true);
    let first_id = first["id"].as_i64().unwrap();
    api.post_auth(
        &format!("/v1/admin/policy/versions/{first_id}/activate"),
        &token,
        &json!({}),
    )
    .await
    .ok();
    // Sessions live in the (here in-memory) ephemeral store; a key lasts.
    let token = key(api, &token, "after-restart", &["admin"]).await;
    gw.restart().await;
    let api = gw.api();
    let after_restart = api.get_auth("/v1/admin/policy", &token).await.ok();
    assert_eq!(live_version(&after_restart), live_version(&first));
    flows::start_reset(api, ALICE.name).await;
    let decisions = api
        .get_auth("/v1/admin/decisions?limit=1", &token)
        .await
        .ok();
    assert_eq!(
        decisions["decisions"][0]["policy_version"],
        live_version(&first)
    );
    api.post_auth("/v1/admin/policy/versions/999/activate", &token, &json!({}))
        .await
        .expect_error(404, "not_found");
}

/// Refused uploads name their line and change nothing; a large policy is
/// accepted by validation.
async fn check_refusals(api: &Api, token: &str, first: &Value) {
    // A refused upload names its line; the live policy stays.
    let bad = quiet_policy().replacen("high = 60", "high = 20", 1);
    let line = bad.lines().position(|l| l == "high = 20").unwrap() + 1;
    for path in ["/v1/admin/policy/validate", "/v1/admin/policy/versions"] {
        let refused = api.post_auth(path, token, &json!({"text": bad})).await;
        refused.expect_error(422, "invalid_policy");
        assert_eq!(refused.body["line"], line, "{refused}");
    }
    let refused = api
        .put_auth("/v1/admin/policy", token, &json!({"text": bad}))
        .await;
    refused.expect_error(422, "invalid_policy");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{line}:")),
        "{refused}"
    );
    let syntax = api
        .post_auth(
            "/v1/admin/policy/validate",
            token,
            &json!({"text": "version = \"x\"\n[levels\n"}),
        )
        .await;
    syntax.expect_error(422, "invalid_policy");
    assert_eq!(syntax.body["line"], 2, "{syntax}");
    let still = api.get_auth("/v1/admin/policy", token).await.ok();
    assert_eq!(live_version(&still), live_version(first));

    // A policy larger than other bodies (a long comment block): accepted.
    let big = format!(
        "{}\n{}",
        quiet_policy(),
        "# a long explanation\n".repeat(3_000)
    );
    assert!(big.len() > 60_000);
    let valid = api
        .post_auth("/v1/admin/policy/validate", token, &json!({"text": big}))
        .await
        .ok();
    assert_eq!(valid["valid"], true, "{valid}");
}

/// Levels by name, as `(live, candidate)` pairs counted.
type Matrix = BTreeMap<(String, String), u64>;

fn matrix_of(simulated: &Value) -> Matrix {
    let mut out = Matrix::new();
    for (old, row) in simulated["matrix"].as_object().unwrap() {
        for (new, n) in row.as_object().unwrap() {
            let n = n.as_u64().unwrap();
            if n > 0 {
                out.insert((old.clone(), new.clone()), n);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_matches_the_shadow_decisions_and_labels_are_exported() {
    let gw = Gateway::start().await;
    gw.import_users(&[ALICE, CAROL]).await;
    let token = admin_token(&gw).await;
    let api = gw.api();
    // The candidate, stored and put in the shadow.
    let candidate = policy_with_levels(&[("medium", 10), ("high", 25)], "tests-shadow");
    let stored = api
        .post_auth(
            "/v1/admin/policy/versions",
            &token,
            &json!({"text": candidate, "comment": "try"}),
        )
        .await
        .expect(201);
    assert_eq!(stored["live"], false);
    let id = stored["id"].as_i64().unwrap();
    api.put_auth("/v1/admin/policy/shadow", &token, &json!({"id": id}))
        .await
        .ok();

    // Attempts at rising velocity, for known and unknown names.
    for name in [ALICE.name, CAROL.name, "nobody-here"] {
        for _ in 0..5 {
            flows::start_reset(api, name).await;
        }
    }
    let decisions = api
        .get_auth("/v1/admin/decisions?limit=500", &token)
        .await
        .ok();
    let decisions = decisions["decisions"].as_array().unwrap().clone();
    assert_eq!(decisions.len(), 15);
    // What the shadow decided live, beside the live decision.
    let mut live_pairs = Matrix::new();
    for d in &decisions {
        let shadow = &d["shadow"];
        assert_eq!(shadow["version_id"], id, "{d}");
        *live_pairs
            .entry((
                d["level"].as_str().unwrap().to_owned(),
                shadow["level"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    let disagreeing = live_pairs
        .iter()
        .filter(|((a, b), _)| a != b)
        .map(|(_, n)| n)
        .sum::<u64>();
    assert!(
        disagreeing > 0,
        "the candidate decides otherwise: {live_pairs:?}"
    );

    check_replay(api, &token, id, &live_pairs, disagreeing).await;
    // The command line agrees, over the store, for the last day.
    let file = gw.root().join("candidate.toml");
    std::fs::write(&file, &candidate).unwrap();
    let cli = gw
        .cli_ok(&[
            "simulate",
            "--policy",
            file.to_str().unwrap(),
            "--days",
            "1",
        ])
        .await;
    assert!(cli.stdout.contains("replayed 15 attempts"), "{cli}");
    assert!(
        cli.stdout.contains(&format!("\n{disagreeing} decision")),
        "{disagreeing} changes: {cli}"
    );
    check_shadow_view(api, &token, id, disagreeing).await;
    let seq = decisions[0]["seq"].as_i64().unwrap();
    check_labels(&gw, &token, seq).await;
}

/// The replay of the recorded attempts under the candidate (version `id`)
/// gives the same matrix as the shadow's live decisions; under the live
/// policy nothing changes.
async fn check_replay(api: &Api, token: &str, id: i64, live_pairs: &Matrix, disagreeing: u64) {
    let simulated = api
        .post_auth(
            "/v1/admin/simulate",
            token,
            &json!({"version_id": id, "days": 1}),
        )
        .await
        .ok();
    assert_eq!(simulated["replayed"], 15, "{simulated}");
    assert_eq!(&matrix_of(&simulated), live_pairs);
    assert_eq!(simulated["changed"], disagreeing);
    let ups = simulated["extra_step_ups"].as_u64().unwrap();
    let blocks = simulated["extra_blocks"].as_u64().unwrap();
    assert_eq!(
        ups + blocks,
        disagreeing,
        "a stricter candidate only steps up"
    );
    let change = &simulated["changes"][0];
    assert!(
        change["gained"].is_array() && change["seq"].is_i64(),
        "{change}"
    );
    let same = api
        .post_auth(
            "/v1/admin/simulate",
            token,
            &json!({"policy": quiet_policy(), "days": 1}),
        )
        .await
        .ok();
    assert_eq!(same["changed"], 0, "{same}");
    assert_eq!(same["replayed"], 15);
}

/// The shadow's disagreements as the console lists them; turned off, new
/// decisions carry no shadow.
async fn check_shadow_view(api: &Api, token: &str, id: i64, disagreeing: u64) {
    let shadow = api.get_auth("/v1/admin/policy/shadow", token).await.ok();
    assert_eq!(shadow["shadow"]["id"], id);
    assert_eq!(
        shadow["disagreements"].as_array().unwrap().len() as u64,
        disagreeing
    );
    assert_eq!(
        api.delete_auth("/v1/admin/policy/shadow", token)
            .await
            .status,
        204
    );
    flows::start_reset(api, ALICE.name).await;
    let newest = api
        .get_auth("/v1/admin/decisions?limit=1", token)
        .await
        .ok();
    assert!(newest["decisions"][0].get("shadow").is_none(), "{newest}");
}

/// An analyst's label on decision `seq`: shown with it, audited, exported.
async fn check_labels(gw: &Gateway, token: &str, seq: i64) {
    let api = gw.api();
    api.post_auth(
        &format!("/v1/admin/decisions/{seq}/label"),
        token,
        &json!({"label": "attack", "note": "known bad ASN"}),
    )
    .await
    .ok();
    api.post_auth(
        "/v1/admin/decisions/999999/label",
        token,
        &json!({"label": "attack"}),
    )
    .await
    .expect_error(404, "not_found");
    let labelled = api
        .get_auth(
            &format!("/v1/admin/decisions?before={}&limit=1", seq + 1),
            token,
        )
        .await
        .ok();
    assert_eq!(labelled["decisions"][0]["label"]["label"], "attack");
    assert_eq!(labelled["decisions"][0]["label"]["by"], ADMIN);
    // A second opinion replaces the first, on the list and in the export.
    api.post_auth(
        &format!("/v1/admin/decisions/{seq}/label"),
        token,
        &json!({"label": "legitimate", "note": "the owner travelling"}),
    )
    .await
    .ok();
    let relabelled = api
        .get_auth(
            &format!("/v1/admin/decisions?before={}&limit=1", seq + 1),
            token,
        )
        .await
        .ok();
    assert_eq!(relabelled["decisions"][0]["label"]["label"], "legitimate");
    assert_eq!(
        relabelled["decisions"][0]["label"]["note"],
        "the owner travelling"
    );
    let export = resetgate_tests::audit::records(&gw.audit_export().await);
    let line = export.iter().find(|r| r["seq"] == seq).unwrap();
    assert_eq!(line["label"], "legitimate", "{line}");
    let verify = api.get_auth("/v1/admin/audit/verify", token).await.ok();
    assert_eq!(verify["intact"], true, "{verify}");
    let audit = api
        .get_auth("/v1/admin/audit?kind=decision.labelled", token)
        .await
        .ok();
    assert_eq!(audit["records"][0]["data"]["by"], ADMIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_an_account_that_resets_by_its_provisioned_phone() {
    let gw = Gateway::start().await;
    let token = admin_token(&gw).await;
    let api = gw.api();
    let dana = resetgate_tests::fixtures::User {
        name: "dana",
        password: "Copper-Harbour-Window-81",
        email: "dana@example.test",
        phone: Some("+15550100077"),
    };
    let body = json!({"username": dana.name, "password": dana.password,
                      "email": dana.email, "phone": dana.phone});
    // Refusals change nothing: a weak password (every reason), a bad phone,
    // a read key.
    let weak = api
        .post_auth(
            "/v1/admin/users",
            &token,
            &json!({"username": "dana", "password": "dana2026"}),
        )
        .await;
    weak.expect_error(422, "password_rejected");
    assert!(
        weak.body["reasons"].as_array().unwrap().len() >= 2,
        "{weak}"
    );
    api.post_auth(
        "/v1/admin/users",
        &token,
        &json!({"username": "dana", "password": dana.password, "phone": "555-0100"}),
    )
    .await
    .expect_error(400, "invalid_request");
    let reader = key(api, &token, "siem", &["read"]).await;
    api.post_auth("/v1/admin/users", &reader, &body)
        .await
        .expect_error(403, "insufficient_scope");

    let made = api
        .post_auth("/v1/admin/users", &token, &body)
        .await
        .expect(201);
    assert_eq!(made["username"], "dana");
    assert!(made["phone"].as_str().unwrap().ends_with("77"), "{made}");
    assert!(
        !made.to_string().contains("0100077"),
        "the phone is masked: {made}"
    );
    api.post_auth("/v1/admin/users", &token, &body)
        .await
        .expect_error(409, "user_exists");

    // The account signs in with its password and resets at once by SMS to
    // the provisioned phone (no cool-off).
    flows::login(api, dana.name, dana.password).await;
    let reset = flows::reset_via_sms(&gw, &dana).await;
    let done = flows::complete(
        api,
        &reset.flow,
        &reset.reset_token,
        "Lantern-Quarry-Meadow-55",
    )
    .await
    .ok();
    assert_eq!(done["status"], "done");
    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    let created = records
        .iter()
        .find(|r| r["kind"] == "user.created")
        .expect("audited");
    assert_eq!(created["subject"], ADMIN);
    assert!(!created.to_string().contains(dana.password));
    assert!(!gw.log().contains(dana.password));
}
