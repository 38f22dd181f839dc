//! The reset flow through the router: factors, replay, limits, cool-off,
//! escalation, decoys, and the single-use token under concurrency.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{App, CLIENT, request};

const GOOD: &str = "quiet lantern harbour morning";
/// A first password that every rule accepts (so that choosing it again is
/// refused as `reused` alone).
const INITIAL: &str = "violet harbour kettle initial";

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

async fn verify(app: &App, id: &str, factor: &str, code: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/reset/{id}/verify"),
        json!({"factor": factor, "code": code}),
    )
    .await
}

#[tokio::test]
async fn totp_reset_then_new_password_signs_in() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let flow = app.start("ann").await;
    assert_eq!(flow["status"], "challenge");
    assert_eq!(flow["factors_required"], 1);
    let id = flow["flow_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/challenge"),
            json!({"factor": "totp"}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let (status, body) = verify(&app, id, "totp", &app.code(&seed, 0)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["reset_token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 22, "at least 128 bits");
    let complete = |pw: &str| json!({"reset_token": token, "new_password": pw});
    let (status, body) = app
        .post(&format!("/v1/reset/{id}/complete"), complete(INITIAL))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("reused")),
        "{body}"
    );
    let (status, _) = app
        .post(&format!("/v1/reset/{id}/complete"), complete(GOOD))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(&format!("/v1/reset/{id}/complete"), complete(GOOD))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("token_used"))
    );
    let (status, _) = app
        .post("/v1/login", json!({"username": "ann", "password": INITIAL}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post("/v1/login", json!({"username": "ANN", "password": GOOD}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/v1/reset/{id}")).await.1["status"],
        "done"
    );
}

#[tokio::test]
async fn a_totp_step_is_accepted_once() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    let seed = app.totp("ann", 0, false).await;
    let code = app.code(&seed, 0);
    let first = app.start("ann").await;
    let (status, _) = verify(&app, first["flow_id"].as_str().unwrap(), "totp", &code).await;
    assert_eq!(status, StatusCode::OK);
    let second = app.start("ann").await;
    let (status, body) = verify(&app, second["flow_id"].as_str().unwrap(), "totp", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );
}

#[tokio::test]
async fn wrong_codes_lock_the_flow_after_five() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    let seed = app.totp("ann", 0, false).await;
    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for left in (1..5).rev() {
        let (status, body) = verify(&app, &id, "totp", "000000").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["attempts_left"], left);
    }
    let (status, body) = verify(&app, &id, "totp", "000000").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts"))
    );
    let (status, _) = verify(&app, &id, "totp", &app.code(&seed, 0)).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right code no longer helps"
    );
    assert_eq!(
        app.get(&format!("/v1/reset/{id}")).await.1["status"],
        "locked"
    );
}

#[tokio::test]
async fn account_failure_limit_spans_flows_and_addresses() {
    let app = App::with(|c| c.reset.account_failure_limit = 3).await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let seed = app.totp("ann", 0, false).await;
    for round in 0..3 {
        let client = format!("198.51.100.{round}:1000");
        let (_, flow) = app
            .post_from(&client, "/v1/reset", json!({"username": "ann"}))
            .await;
        let (status, _) = verify(&app, flow["flow_id"].as_str().unwrap(), "totp", "000000").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (_, flow) = app
        .post_from("203.0.113.5:1", "/v1/reset", json!({"username": "ann"}))
        .await;
    let id = flow["flow_id"].as_str().unwrap();
    let (status, body) = verify(&app, id, "totp", &app.code(&seed, 0)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "too_many_attempts");
}

#[tokio::test]
async fn sms_codes_are_single_use_and_bound_to_their_flow() {
    let app = App::demo().await; // the log provider's outbox is served in demo mode
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let a = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.start("ann").await["options"],
        json!([{"factor": "sms", "hint": "•••-•••-••42"}])
    );
    let (status, sent) = app
        .post(
            &format!("/v1/reset/{a}/challenge"),
            json!({"factor": "sms"}),
        )
        .await;
    assert_eq!(
        (status, sent["status"].as_str()),
        (StatusCode::OK, Some("sent"))
    );
    let code = sms_code(&app).await;
    let (status, _) = verify(&app, &b, "sms", &code).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a code from flow A does not verify flow B"
    );
    let (status, _) = verify(&app, &a, "sms", &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = verify(&app, &a, "sms", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_verified"))
    );
}

async fn sms_code(app: &App) -> String {
    // The log provider keeps messages in the outbox; delivery is asynchronous.
    for _ in 0..100 {
        let (status, body) = app.get("/dev/outbox.json").await;
        if status == StatusCode::OK
            && let Some(m) = body["messages"][0]["message"].as_str()
        {
            return m.split_whitespace().next().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no SMS in the outbox");
}

#[tokio::test]
async fn concurrent_completes_with_one_token_have_one_winner() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    let seed = app.totp("ann", 0, false).await;
    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = verify(&app, &id, "totp", &app.code(&seed, 0)).await.1["reset_token"].clone();
    let path = format!("/v1/reset/{id}/complete");
    let body = |pw: &str| json!({"reset_token": token, "new_password": pw});
    let (a, b) = tokio::join!(
        app.post(&path, body("first concurrent passphrase")),
        app.post(&path, body("second concurrent passphrase")),
    );
    let statuses = [a.0, b.0];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(statuses.contains(&StatusCode::CONFLICT), "{a:?} {b:?}");
}

#[tokio::test]
async fn new_factors_cool_off_before_they_can_reset() {
    let app = App::new().await; // default reset.factor_cooloff = 24h
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let now = app.state.now();
    app.totp("ann", now - 3600, false).await;
    let flow = app.start("ann").await;
    let factors: Vec<&str> = flow["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["factor"].as_str().unwrap())
        .collect();
    assert_eq!(
        factors,
        ["sms"],
        "the TOTP added an hour ago is still cooling off"
    );

    app.user("bob", "bob-initial-passphrase", None).await;
    app.totp("bob", now - 60, false).await;
    let flow = app.start("bob").await;
    assert_eq!(
        flow["status"], "challenge",
        "no usable factor: a decoy, since \"denied\" at low risk would reveal the account"
    );
    let id = flow["flow_id"].as_str().unwrap();
    let factor = flow["options"][0]["factor"].as_str().unwrap();
    let (status, _) = verify(&app, id, factor, "123456").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "and it can never verify");
}

#[tokio::test]
async fn repeated_starts_escalate_to_two_factors_then_deny() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    app.totp("ann", 0, false).await;
    let required: Vec<(String, u64)> = {
        let mut out = Vec::new();
        for _ in 0..9 {
            let flow = app.start("ann").await;
            out.push((
                flow["status"].as_str().unwrap().to_owned(),
                flow["factors_required"].as_u64().unwrap(),
            ));
        }
        out
    };
    assert_eq!(required[0], ("challenge".into(), 1));
    assert_eq!(required[5], ("challenge".into(), 2), "{required:?}");
    assert_eq!(required[8], ("denied".into(), 0), "{required:?}");
}

#[tokio::test]
async fn unknown_accounts_look_like_known_ones() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    app.totp("ann", 0, false).await;
    let known = app.start("ann").await;
    let unknown = app.start("nobody-here").await;
    assert_eq!(keys(&known), keys(&unknown));
    assert_eq!(known["status"], unknown["status"]);
    assert_eq!(
        unknown["options"],
        app.start("nobody-here").await["options"],
        "stable hints"
    );
    let id = unknown["flow_id"].as_str().unwrap();
    for option in unknown["options"].as_array().unwrap() {
        let factor = option["factor"].as_str().unwrap();
        let (status, _) = app
            .post(
                &format!("/v1/reset/{id}/challenge"),
                json!({"factor": factor}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // A code factor (every decoy offers one; a passkey's decoy is tested
    // with assertions in webauthn.rs).
    let coded = unknown["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["factor"].as_str().unwrap())
        .find(|f| *f != "webauthn")
        .unwrap();
    for code in ["000000", "123456", "999999"] {
        let (status, body) = verify(&app, id, coded, code).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_code"))
        );
    }
}

#[tokio::test]
async fn enrol_totp_after_sign_in() {
    let app = App::with(|c| c.reset.factor_cooloff = std::time::Duration::ZERO).await;
    app.user("ann", "ann-initial-passphrase", None).await;
    let (status, login) = app
        .post(
            "/v1/login",
            json!({"username": "ann", "password": "ann-initial-passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let token = login["token"].as_str().unwrap();
    let (status, started) = app
        .send(request(
            "POST",
            "/v1/me/factors/totp",
            CLIENT,
            None,
            Some(token),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert!(
        started["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(started["qr_svg"].as_str().unwrap().contains("<svg"));
    let seed = totp_rs::Secret::try_from_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = app.code(seed.as_ref(), 0);
    let (status, body) = app
        .send(request(
            "POST",
            "/v1/me/factors/totp/verify",
            CLIENT,
            Some(json!({"code": code})),
            Some(token),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, list) = app
        .send(request("GET", "/v1/me/factors", CLIENT, None, Some(token)))
        .await;
    assert_eq!(list["factors"][0]["factor"], "totp");
    assert_eq!(list["factors"][0]["status"], "active");
    let flow = app.start("ann").await;
    assert_eq!(flow["options"][0]["factor"], "totp");
}

/// A verified flow answers at most `MAX_PASSWORD_TRIES` new passwords: a
/// refusal that says `reused` would otherwise let whoever passed the factors
/// test guesses of the current password without end. `reused` is only said
/// of a password every other rule accepts.
#[tokio::test]
async fn a_verified_flow_tries_ten_passwords_then_locks() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = verify(&app, &id, "totp", &app.code(&seed, 0)).await.1["reset_token"].clone();
    let path = format!("/v1/reset/{id}/complete");
    let complete = |pw: &str| json!({"reset_token": token, "new_password": pw});

    // Too short and the current password: only `too_short` is said.
    let (status, body) = app.post(&path, complete("violet")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(!body["reasons"].to_string().contains("reused"), "{body}");
    let (status, body) = app.post(&path, complete(INITIAL)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["reasons"], json!(["reused"]), "{body}");
    for _ in 2..10 {
        let (status, body) = app.post(&path, complete("short")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    // The eleventh try, with a good password, finds the flow locked.
    let (status, body) = app.post(&path, complete(GOOD)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
        "{body}"
    );
    assert_eq!(
        app.get(&format!("/v1/reset/{id}")).await.1["status"],
        "locked"
    );
    let (status, _) = app
        .post("/v1/login", json!({"username": "ann", "password": INITIAL}))
        .await;
    assert_eq!(status, StatusCode::OK, "the password did not change");
    app.state.audit.settled().await;
    let audit = app.state.durable.audit_page(0, 1000).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.kind == "reset.locked" && r.data.contains("password_tries")),
        "the lock is audited"
    );
}

/// Wrong codes sent in parallel to one flow: each is answered `invalid_code`
/// and counted in the flow's five tries, or 409 `flow_busy`. (In process the
/// guesses run one after another, so this holds the accounting of the charge
/// and its refund; `a_flow_with_its_tries_used_up_checks_no_more_codes` holds
/// the limit against the state that interleaved guesses leave.)
#[tokio::test]
async fn parallel_wrong_codes_cannot_share_a_try() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    app.totp("ann", 0, false).await;
    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let guesses = ["000001", "000002", "000003"];
    let answers =
        futures::future::join_all(guesses.iter().map(|code| verify(&app, &id, "totp", code))).await;
    let mut checked = 0;
    for (status, body) in &answers {
        match (*status, body["error"].as_str()) {
            (StatusCode::BAD_REQUEST, Some("invalid_code")) => checked += 1,
            (StatusCode::CONFLICT, Some("flow_busy")) => {}
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert!(checked >= 1, "{answers:?}");
    // The next wrong code is told exactly what is left.
    let (status, body) = verify(&app, &id, "totp", "000005").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["attempts_left"], 5 - checked - 1, "{answers:?}");
}

/// Refused code requests do not count against the account: its five codes
/// an hour come back an hour after the codes that went, however often more
/// were asked for meanwhile (else a stranger asking for codes could keep the
/// owner's SMS and e-mail codes refused for good).
#[tokio::test]
async fn refused_code_requests_do_not_prolong_the_refusal() {
    let clock = super::TestClock::new();
    let app = App::with_clock(clock.clone(), |config| {
        // Levels out of reach: every start here is offered SMS.
        let policy = super::quiet_policy().replace(
            "[levels]\nmedium = 30\nhigh = 60\ndeny = 90",
            "[levels]\nmedium = 97\nhigh = 98\ndeny = 99",
        );
        let path = config.risk.policy.clone().unwrap();
        std::fs::write(path, policy).unwrap();
    })
    .await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let challenge = |id: String| {
        let app = &app;
        async move {
            let (status, body) = app
                .post(
                    &format!("/v1/reset/{id}/challenge"),
                    json!({"factor": "sms"}),
                )
                .await;
            (status, body["error"].as_str().map(str::to_owned))
        }
    };
    let start = || async {
        app.start("ann").await["flow_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let sent = (StatusCode::OK, None);
    let refused = (
        StatusCode::TOO_MANY_REQUESTS,
        Some("too_many_sends".to_owned()),
    );

    let a = start().await;
    for _ in 0..3 {
        assert_eq!(challenge(a.clone()).await, sent);
    }
    let b = start().await;
    for _ in 0..2 {
        assert_eq!(challenge(b.clone()).await, sent);
    }
    assert_eq!(challenge(b).await, refused, "five an hour");

    clock.advance(Duration::from_mins(30));
    let c = start().await;
    for _ in 0..6 {
        assert_eq!(challenge(c.clone()).await, refused);
    }

    clock.advance(Duration::from_mins(31));
    let d = start().await;
    assert_eq!(
        challenge(d).await,
        sent,
        "an hour after the codes that went, the refused requests do not count"
    );
}

/// Once a reset completes, a flow of the same account started before it
/// cannot complete, even verified: the owner's new password is not
/// overwritten by an older flow (OWASP: a reset invalidates the others).
#[tokio::test]
async fn a_completed_reset_ends_the_account_s_older_flows() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let older = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = verify(&app, &older, "totp", &app.code(&seed, 0)).await;
    let older_token = body["reset_token"].clone();
    // A second start, a second later, verified with the next step.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = verify(&app, &newer, "totp", &app.code(&seed, 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let newer_token = body["reset_token"].clone();
    let (status, body) = app
        .post(
            &format!("/v1/reset/{newer}/complete"),
            json!({"reset_token": newer_token, "new_password": GOOD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app
        .post(
            &format!("/v1/reset/{older}/complete"),
            json!({"reset_token": older_token, "new_password": "another quiet harbour morning"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("flow_superseded")),
        "{body}"
    );
    let (status, _) = app
        .post("/v1/login", json!({"username": "ann", "password": GOOD}))
        .await;
    assert_eq!(status, StatusCode::OK, "the newer reset's password stands");
}

/// An account disabled after its reset was verified is not reset (403
/// `reset_denied`), and its password stays.
#[tokio::test]
async fn a_user_disabled_meanwhile_is_not_reset() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = verify(&app, &id, "totp", &app.code(&seed, 0)).await;
    let token = body["reset_token"].clone();
    let file = app
        .state
        .config
        .store
        .durable
        .strip_prefix("sqlite://")
        .unwrap()
        .to_owned();
    rusqlite::Connection::open(file)
        .unwrap()
        .execute("UPDATE users SET disabled = 1 WHERE username = 'ann'", [])
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/complete"),
            json!({"reset_token": token, "new_password": GOOD}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reset_denied")),
        "{body}"
    );
    let user = app.state.durable.user("ann").await.unwrap().unwrap();
    assert!(
        app.state
            .hasher
            .verify(INITIAL, Some(user.password_hash))
            .await,
        "the password stays"
    );
}

/// A flow whose tries are used up is not checked again, even when the last
/// wrong tries lost their race to lock it (each stayed charged, the flow not
/// yet locked): the next code, right or not, finds it locked.
#[tokio::test]
async fn a_flow_with_its_tries_used_up_checks_no_more_codes() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The state overlapping wrong guesses leave: five charged, still open.
    let key = resetgate::store::ephemeral::keys::flow(&id);
    let stored = app.state.ephemeral.get(&key).await.unwrap().unwrap();
    let mut flow: Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(flow["state"], "challenge");
    flow["failures"] = json!(5);
    app.state
        .ephemeral
        .put(
            &key,
            &serde_json::to_vec(&flow).unwrap(),
            Duration::from_mins(10),
        )
        .await
        .unwrap();

    let (status, body) = verify(&app, &id, "totp", &app.code(&seed, 0)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")),
        "{body}"
    );
    assert_eq!(
        app.get(&format!("/v1/reset/{id}")).await.1["status"],
        "locked"
    );
}

/// Two verified flows of one account completing at once: one sets its
/// password, the other is refused (409 `flow_busy` while the first holds the
/// account's completion lease, or `flow_superseded` after), and the password
/// that stands is the winner's.
#[tokio::test]
async fn two_flows_of_one_account_completing_at_once_have_one_winner() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let mut verified = Vec::new();
    for step in [0, 1] {
        let id = app.start("ann").await["flow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, body) = verify(&app, &id, "totp", &app.code(&seed, step)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        verified.push((id, body["reset_token"].clone()));
    }
    let complete = |(id, token): &(String, Value), password: &'static str| {
        let app = &app;
        let (path, body) = (
            format!("/v1/reset/{id}/complete"),
            json!({"reset_token": token, "new_password": password}),
        );
        async move { app.post(&path, body).await }
    };
    let first = "first concurrent quiet passphrase";
    let second = "second concurrent quiet passphrase";
    let (a, b) = tokio::join!(
        complete(&verified[0], first),
        complete(&verified[1], second)
    );
    let won: Vec<&str> = [(&a, first), (&b, second)]
        .iter()
        .filter(|((status, _), _)| *status == StatusCode::OK)
        .map(|(_, password)| *password)
        .collect();
    assert_eq!(won.len(), 1, "{a:?} {b:?}");
    let loser = if a.0 == StatusCode::OK { &b } else { &a };
    assert_eq!(loser.0, StatusCode::CONFLICT, "{loser:?}");
    assert!(
        matches!(
            loser.1["error"].as_str(),
            Some("flow_busy" | "flow_superseded")
        ),
        "{loser:?}"
    );
    let (status, _) = app
        .post("/v1/login", json!({"username": "ann", "password": won[0]}))
        .await;
    assert_eq!(status, StatusCode::OK, "the winner's password stands");
}
