//! SOC webhooks end to end: the real binary sends signed OCSF events to a
//! local receiver ([`WebhookReceiver`]) that refuses connections, fails and
//! throttles before it recovers; every event arrives, once, by `webhook-id`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use resetgate_tests::api::field_str;
use resetgate_tests::fixtures::{self, ALICE, BOB, CAROL, NEW_PASSWORD, UNKNOWN_NAME};
use resetgate_tests::flows;
use resetgate_tests::webhook::{
    Received, Reply, WEBHOOK_TIMEOUT, WebhookReceiver, verify_with_official_library,
};
use resetgate_tests::{Gateway, GatewayBuilder};
use serde_json::Value;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_PkaCtWZYSKMUz5tmeQp3FMvmyw2r7N5Y";

/// An endpoint table for `receiver`, and the delivery settings every test
/// uses: loopback allowed, 1 s between attempts (15 attempts), 2 s timeout.
fn endpoint(receiver: &WebhookReceiver, id: &str, events: &str, min_level: &str) -> String {
    format!(
        "[[webhooks]]\nid = \"{id}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         events = {events}\nmin_level = \"{min_level}\"\n",
        url = receiver.url(),
    )
}

fn fast_delivery() -> String {
    let mut schedule = vec!["\"0s\""];
    schedule.extend(std::iter::repeat_n("\"1s\"", 14));
    format!(
        "[webhook_delivery]\nallow_private_targets = true\ntimeout = \"2s\"\nschedule = [{}]\n",
        schedule.join(", ")
    )
}

/// The attributes OCSF 1.7.0 marks required for each class the gateway sends
/// (the base event's, the class's, and those of the objects they name), as
/// the schema at schema.ocsf.io/1.7.0 lists them; dotted for nested ones.
fn required(class_uid: u64) -> Vec<&'static str> {
    let mut fields = vec![
        "activity_id",
        "category_uid",
        "class_uid",
        "metadata",
        "metadata.product",
        "metadata.version",
        "severity_id",
        "time",
        "type_uid",
    ];
    match class_uid {
        3001 | 3002 => fields.push("user"),
        2004 => fields.extend(["finding_info", "finding_info.uid"]),
        other => panic!("unexpected class_uid {other}"),
    }
    fields
}

/// Checks one delivery's body: the envelope, the OCSF class for its type and
/// its required fields, the metadata, and the assessment where there is one.
fn check_body(received: &Received) {
    let body = &received.json;
    let kind = body["type"].as_str().expect("a type");
    let data = &body["data"];
    let class = match kind {
        "risk.high" | "reset.denied" => 3002,
        "reset.completed" | "factor.changed" | "account.locked" => 3001,
        "attack.spray_detected" => 2004,
        other => panic!("unknown event type {other}"),
    };
    assert_eq!(data["class_uid"], class, "{kind}: {data}");
    for field in required(class) {
        let value = field.split('.').fold(data, |v, part| &v[part]);
        assert!(
            !value.is_null(),
            "{kind}: required field {field} missing in {data}"
        );
    }
    assert_eq!(data["metadata"]["version"], "1.7.0", "{data}");
    assert_eq!(data["metadata"]["product"]["name"], "resetgate", "{data}");
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    if matches!(kind, "risk.high" | "reset.denied" | "reset.completed") {
        let assessment = &data["unmapped"]["assessment"];
        assert!(assessment["score"].is_u64(), "{kind}: {data}");
        assert!(assessment["level"].is_string(), "{kind}: {data}");
        assert!(assessment["reasons"].is_array(), "{kind}: {data}");
        assert!(assessment["policy_version"].is_string(), "{kind}: {data}");
    }
}

fn assert_no_secret(received: &[Received], secrets: &[&str]) {
    for r in received {
        let text = String::from_utf8_lossy(&r.body);
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "a delivery holds a secret ({secret:?}): {text}"
            );
        }
    }
}

/// Every accepted id once, and each id's type, by id.
fn accepted_once(receiver: &WebhookReceiver) -> BTreeMap<String, String> {
    let accepted = receiver.accepted();
    let mut types = BTreeMap::new();
    for r in &accepted {
        assert!(r.valid_signature, "bad signature on {}", r.id);
        let kind = r.event_type().unwrap_or_default().to_owned();
        assert!(
            types.insert(r.id.clone(), kind).is_none(),
            "{} was accepted twice",
            r.id
        );
    }
    types
}

fn count<'a>(types: impl IntoIterator<Item = &'a String>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for t in types {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    counts
}

/// Resets `user`'s password by SMS (a one-factor level), completing it.
async fn reset(gw: &Gateway, user: &fixtures::User) -> String {
    let done = flows::reset_via_sms(gw, user).await;
    flows::complete(gw.api(), &done.flow, &done.reset_token, NEW_PASSWORD)
        .await
        .ok();
    done.reset_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_then_fails_then_throttles_gets_every_event_once() {
    // Refuses connections until it listens; then 500, 500, 429 with
    // Retry-After: 3, and 204 from then on.
    let receiver = WebhookReceiver::reserve_with(&[SECRET]).await;
    receiver.plan([
        Reply::Status(500),
        Reply::Status(500),
        Reply::RetryAfter {
            status: 429,
            secs: 3,
        },
    ]);
    let gw = Gateway::builder()
        .config(endpoint(&receiver, "soc", "[\"*\"]", "low"))
        .config(fast_delivery())
        .start()
        .await;
    gw.import_users(&[ALICE, BOB, CAROL]).await;

    // Three events: two completed resets and a factor added.
    let alice_token = reset(&gw, &ALICE).await;
    let carol_token = reset(&gw, &CAROL).await;
    let bearer = flows::login(gw.api(), BOB.name, BOB.password).await;
    let totp = flows::enrol_totp(gw.api(), &bearer).await;

    // Some attempts meet a closed port first.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(receiver.received().is_empty());
    receiver.listen().await;

    receiver
        .wait_accepted(3, WEBHOOK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- gateway log ---\n{}", gw.log()));
    // Nothing more is coming: a late duplicate would show up here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let types = accepted_once(&receiver);
    assert_eq!(
        count(types.values()),
        BTreeMap::from([("factor.changed", 1), ("reset.completed", 2)]),
        "{types:?}"
    );

    let all = receiver.received();
    assert_eq!(
        all.iter().map(|r| r.reply).filter(|s| *s >= 400).count(),
        3,
        "the planned failures were each answered once"
    );
    for r in &all {
        assert!(r.valid_signature, "{} is not signed with the secret", r.id);
        check_body(r);
    }
    // A retry sends the same bytes under the same id.
    for r in &all {
        let first = all.iter().find(|o| o.id == r.id).unwrap();
        assert_eq!(first.body, r.body, "{} changed between attempts", r.id);
    }
    // Retry-After: 3 was honoured (the schedule alone would retry after 1 s).
    let throttled = all.iter().find(|r| r.reply == 429).unwrap();
    let next = all
        .iter()
        .find(|r| r.id == throttled.id && r.at > throttled.at)
        .expect("the throttled delivery was sent again");
    let waited = next.at - throttled.at;
    assert!(
        waited >= Duration::from_millis(2_500),
        "retried {waited:?} after a 429 asking for 3 s"
    );
    // The reset events name the account; no body holds a code, token or password.
    let completed: HashSet<String> = all
        .iter()
        .filter(|r| r.event_type() == Some("reset.completed"))
        .map(|r| field_str(&r.json["data"]["user"], "name").to_owned())
        .collect();
    assert_eq!(
        completed,
        HashSet::from(["alice".to_owned(), "carol".to_owned()])
    );
    assert_no_secret(
        &all,
        &[
            NEW_PASSWORD,
            ALICE.password,
            &alice_token,
            &carol_token,
            &totp.secret,
            &bearer,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_while_its_receiver_is_down_loses_nothing() {
    let receiver = WebhookReceiver::reserve_with(&[SECRET]).await;
    // Subscribed to completed resets only: the refusals are not for it.
    let other = WebhookReceiver::start_with(&[SECRET]).await;
    let mut gw = GatewayBuilder::default()
        .policy(fixtures::deny_all_policy())
        .config(endpoint(&receiver, "soc", "[\"reset.denied\"]", "high"))
        .config(endpoint(
            &other,
            "completions",
            "[\"reset.completed\"]",
            "low",
        ))
        .config(fast_delivery())
        .start()
        .await;
    gw.import_users(&[ALICE, BOB]).await;

    // Every start is refused: a reset.denied each, known account or not.
    for name in [ALICE.name, BOB.name, UNKNOWN_NAME] {
        let start = flows::start_reset(gw.api(), name).await;
        assert_eq!(start["status"], "denied", "{start}");
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Killed (SIGKILL) with the deliveries pending, and started again.
    gw.restart().await;
    for name in [ALICE.name, UNKNOWN_NAME] {
        let start = flows::start_reset(gw.api(), name).await;
        assert_eq!(start["status"], "denied", "{start}");
    }
    receiver.listen().await;

    receiver
        .wait_accepted(5, WEBHOOK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- gateway log ---\n{}", gw.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let types = accepted_once(&receiver);
    assert_eq!(
        count(types.values()),
        BTreeMap::from([("reset.denied", 5)]),
        "{types:?}"
    );
    let users: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|r| {
            check_body(r);
            assert_eq!(r.json["data"]["unmapped"]["assessment"]["level"], "deny");
            field_str(&r.json["data"]["user"], "name").to_owned()
        })
        .collect();
    assert_eq!(
        users.iter().filter(|u| *u == UNKNOWN_NAME).count(),
        2,
        "{users:?}"
    );
    assert!(other.received().is_empty(), "{:?}", other.received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_with_both_and_the_python_verifier_agrees() {
    let receiver = WebhookReceiver::start_with(&[OLD_SECRET]).await;
    let gw = Gateway::builder()
        .config(format!(
            "{}previous_secret = \"{OLD_SECRET}\"\n",
            endpoint(&receiver, "soc", "[\"factor.changed\"]", "low")
        ))
        .config(fast_delivery())
        .start()
        .await;
    gw.import_users(&[BOB]).await;
    let bearer = flows::login(gw.api(), BOB.name, BOB.password).await;
    flows::enrol_totp(gw.api(), &bearer).await;

    let got = receiver
        .wait_accepted(1, WEBHOOK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- gateway log ---\n{}", gw.log()));
    let r = &got[0];
    // Verified by the old secret alone (the receiver trusts only it), and
    // the header carries two signatures.
    assert!(r.valid_signature);
    assert_eq!(r.signatures.split(' ').count(), 2, "{}", r.signatures);
    // The official library agrees, with either secret.
    for secret in [SECRET, OLD_SECRET] {
        verify_with_official_library(secret, r)
            .unwrap_or_else(|why| panic!("standardwebhooks rejects it with {secret}: {why}"));
    }
    assert!(verify_with_official_library("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", r).is_err());
    assert_eq!(r.event_type(), Some("factor.changed"));
    check_body(r);
    let data: &Value = &r.json["data"];
    assert_eq!(data["activity_id"], 10, "MFA Factor Enable: {data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_send_each_event_once() {
    use resetgate_tests::services::postgres::PostgresServer;
    use resetgate_tests::services::redis::RedisServer;

    let (redis, postgres) = (RedisServer::start(), PostgresServer::start());
    let receiver = WebhookReceiver::start_with(&[SECRET]).await;
    let hooks = format!(
        "{}{}",
        endpoint(&receiver, "soc", "[\"reset.denied\"]", "low"),
        fast_delivery()
    );
    let a = GatewayBuilder::default()
        .stores(redis.url(), postgres.url())
        .policy(fixtures::deny_all_policy())
        .config(&hooks)
        .start()
        .await;
    let b = GatewayBuilder::default()
        .node_of(&a)
        .config(&hooks)
        .start()
        .await;
    // Both nodes raise events and both dispatchers poll the one outbox.
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        let start = flows::start_reset(node.api(), &format!("user{i}")).await;
        assert_eq!(start["status"], "denied", "{start}");
    }
    receiver
        .wait_accepted(12, WEBHOOK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- a ---\n{}\n--- b ---\n{}", a.log(), b.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Not only once by id: sent once, in this normal case (leases).
    let all = receiver.received();
    assert_eq!(
        all.len(),
        12,
        "{:?}",
        all.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    assert_eq!(accepted_once(&receiver).len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spray_is_reported_once_per_burst() {
    const SPRAYER: &str = "198.51.100.9";
    let receiver = WebhookReceiver::start_with(&[SECRET]).await;
    let gw = Gateway::builder()
        .trusted_proxies(["127.0.0.0/8"])
        .config(endpoint(
            &receiver,
            "soc",
            "[\"attack.spray_detected\"]",
            "low",
        ))
        .config(fast_delivery())
        .start()
        .await;
    // The bundled address_accounts_1h rule fires past 5 distinct accounts
    // from one address: from the 6th start on, every start is a spray.
    let sprayer = gw.api().clone().forwarded_for(SPRAYER);
    for i in 0..12 {
        flows::start_reset(&sprayer, &format!("victim{i}")).await;
    }
    // Someone else elsewhere is not part of it.
    let other = gw.api().clone().forwarded_for("203.0.113.40");
    flows::start_reset(&other, "victim0").await;

    receiver
        .wait_accepted(1, WEBHOOK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- gateway log ---\n{}", gw.log()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = receiver.received();
    assert_eq!(all.len(), 1, "one report per burst: {all:?}");
    let r = &all[0];
    check_body(r);
    let data = &r.json["data"];
    assert_eq!(data["class_uid"], 2004);
    assert_eq!(
        data["evidences"][0]["src_endpoint"]["ip"], SPRAYER,
        "{data}"
    );
    assert!(
        data["finding_info"]["desc"]
            .as_str()
            .is_some_and(|d| d.starts_with("6 distinct accounts")),
        "{data}"
    );
    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    let reported: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "attack.spray_detected")
        .collect();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(reported[0]["subject"], SPRAYER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stepped_up_reset_raises_risk_high_for_endpoints_that_want_it() {
    let wants_high = WebhookReceiver::start_with(&[SECRET]).await;
    let wants_deny_only = WebhookReceiver::start_with(&[SECRET]).await;
    let gw = Gateway::builder()
        .policy(fixtures::high_all_policy())
        .config(endpoint(&wants_high, "soc", "[\"*\"]", "high"))
        .config(endpoint(&wants_deny_only, "deny-only", "[\"*\"]", "deny"))
        .config(fast_delivery())
        .start()
        .await;
    gw.import_users(&[ALICE]).await;
    // Alice can meet `high` (two factors, one an app): SMS and TOTP.
    let bearer = flows::login(gw.api(), ALICE.name, ALICE.password).await;
    flows::enrol_totp(gw.api(), &bearer).await;
    let start = flows::start_reset(gw.api(), ALICE.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    assert_eq!(start["factors_required"], 2, "{start}");

    // factor.changed (no level: always past min_level) and risk.high.
    let got = wants_high
        .wait_accepted(2, WEBHOOK_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- gateway log ---\n{}", gw.log()));
    let high = got
        .iter()
        .find(|r| r.event_type() == Some("risk.high"))
        .expect("a risk.high event");
    check_body(high);
    let data = &high.json["data"];
    assert_eq!(data["class_uid"], 3002);
    assert_eq!(data["unmapped"]["assessment"]["level"], "high", "{data}");
    assert_eq!(data["user"]["name"], ALICE.name);
    // min_level = deny: only the event without a level reaches it.
    let deny_only = wants_deny_only
        .wait_accepted(1, WEBHOOK_TIMEOUT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let types: Vec<_> = wants_deny_only
        .received()
        .iter()
        .map(|r| r.event_type().map(str::to_owned))
        .collect();
    assert_eq!(types, [Some("factor.changed".to_owned())], "{deny_only:?}");
}
