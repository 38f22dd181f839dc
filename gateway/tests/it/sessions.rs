//! Sessions, provisioned factors, and per-account limits that must hold under
//! parallel requests.

use axum::http::StatusCode;
use serde_json::json;

use super::{App, CLIENT, request};

const GOOD: &str = "quiet lantern harbour morning";

#[tokio::test]
async fn sms_sends_are_capped_per_account_across_flows() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let id = app.start("ann").await["flow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        for _ in 0..3 {
            let (status, body) = app
                .post(
                    &format!("/v1/reset/{id}/challenge"),
                    json!({"factor": "sms"}),
                )
                .await;
            statuses.push((status, body["error"].as_str().map(str::to_owned)));
        }
    }
    let sent = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!(sent, 5, "{statuses:?}");
    assert_eq!(
        statuses[5],
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_sends".into()))
    );
}

#[tokio::test]
async fn a_reset_revokes_sessions_and_provisioned_factors_stay() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let seed = app.totp("ann", 0, false).await;
    let (_, login) = app
        .post(
            "/v1/login",
            json!({"username": "ann", "password": "ann-initial-passphrase"}),
        )
        .await;
    let token = login["token"].as_str().unwrap().to_owned();
    let (_, list) = app
        .send(request("GET", "/v1/me/factors", CLIENT, None, Some(&token)))
        .await;
    let phone = list["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factor"] == "sms")
        .unwrap();
    let path = format!("/v1/me/factors/{}", phone["id"].as_str().unwrap());
    let (status, body) = app
        .send(request("DELETE", &path, CLIENT, None, Some(&token)))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("factor_provisioned"))
    );

    let id = app.start("ann").await["flow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, verified) = app
        .post(
            &format!("/v1/reset/{id}/verify"),
            json!({"factor": "totp", "code": app.code(&seed, 0)}),
        )
        .await;
    let body = json!({"reset_token": verified["reset_token"], "new_password": GOOD});
    let (status, _) = app.post(&format!("/v1/reset/{id}/complete"), body).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .send(request("GET", "/v1/me/factors", CLIENT, None, Some(&token)))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session from before the reset is revoked"
    );
    let (_, login) = app
        .post("/v1/login", json!({"username": "ann", "password": GOOD}))
        .await;
    let fresh = login["token"].as_str().unwrap();
    let (status, _) = app
        .send(request("GET", "/v1/me/factors", CLIENT, None, Some(fresh)))
        .await;
    assert_eq!(status, StatusCode::OK, "a session after the reset works");
}

#[tokio::test]
async fn parallel_password_guesses_cannot_pass_the_limit_together() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    let guesses = (0..14).map(|i| {
        let app = &app;
        async move {
            let body = json!({"username": "ann", "password": format!("guess-{i}")});
            app.post_from(&format!("198.51.100.{i}:1"), "/v1/login", body)
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((checked, limited), (10, 4), "{statuses:?}");
}

/// The "factor added" notice goes to the account's phones with the "this
/// wasn't me" link, and to the phone just added without it: whoever added
/// that phone must not be handed the power to lock the owner's resets.
#[tokio::test]
async fn the_phone_just_added_is_not_sent_the_lock_link() {
    let app = App::demo().await; // the log provider's outbox is served in demo mode
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let (_, login) = app
        .post(
            "/v1/login",
            json!({"username": "ann", "password": "ann-initial-passphrase"}),
        )
        .await;
    let token = login["token"].as_str().unwrap().to_owned();
    let post = |path: &'static str, body: serde_json::Value| {
        let token = token.clone();
        let app = &app;
        async move {
            app.send(request("POST", path, CLIENT, Some(body), Some(&token)))
                .await
        }
    };
    let (status, body) = post("/v1/me/factors/sms", json!({"phone": "+15550100077"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let messages = |to: &'static str| {
        let app = &app;
        async move {
            for _ in 0..100 {
                let list: Vec<String> = app.get("/dev/outbox.json").await.1["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["to"] == to)
                    .map(|m| m["message"].as_str().unwrap().to_owned())
                    .collect();
                if !list.is_empty() {
                    return list;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            panic!("no SMS to {to}");
        }
    };
    let code = messages("+15550100077").await[0]
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let (status, body) = post("/v1/me/factors/sms/verify", json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let notice = |list: Vec<String>| list.into_iter().find(|m| m.contains("added"));
    let mut to_old = None;
    let mut to_new = None;
    for _ in 0..100 {
        to_old = notice(messages("+15550100042").await);
        to_new = notice(messages("+15550100077").await);
        if to_old.is_some() && to_new.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (to_old, to_new) = (to_old.unwrap(), to_new.unwrap());
    assert!(to_old.contains("/lock?t="), "{to_old}");
    assert!(!to_new.contains("/lock?t="), "{to_new}");
}
