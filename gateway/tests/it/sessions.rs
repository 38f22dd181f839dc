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
