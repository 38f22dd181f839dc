//! The risk engine through the router: the evaluate API, the device cookie and
//! history, and hot reload of the policy under concurrent requests.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::{App, CLIENT, request};

fn evaluate(key: Option<&str>, body: &Value) -> Request<Body> {
    request("POST", "/v1/risk/evaluate", CLIENT, Some(body.clone()), key)
}

#[tokio::test]
async fn evaluate_needs_the_key_and_counts_nothing() {
    let off = App::new().await;
    let body = json!({"username": "ann", "ip": "192.0.2.10", "user_agent": super::BROWSER_UA});
    let (status, reply) = off.send(evaluate(Some("k"), &body)).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("api_disabled"))
    );

    let app = App::with(|c| c.risk.api_key = Some("sspr-key-123".into())).await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    app.totp("ann", 0, false).await;
    for key in [None, Some("wrong")] {
        let (status, reply) = app.send(evaluate(key, &body)).await;
        assert_eq!(
            (status, reply["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
        );
    }
    for _ in 0..3 {
        let (status, reply) = app.send(evaluate(Some("sspr-key-123"), &body)).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        assert_eq!(reply["level"], "low");
        assert_eq!(reply["factors_required"], 1);
        assert!(
            reply["policy_version"].as_str().unwrap().contains('+'),
            "version + content hash"
        );
    }
    // Evaluations did not count as starts: the first real start is still quiet.
    let flow = app.start("ann").await;
    assert_eq!(flow["factors_required"], 1);
    let (status, reply) = app
        .send(evaluate(
            Some("sspr-key-123"),
            &json!({"username": "ann", "ip": "nope"}),
        ))
        .await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn a_device_cookie_is_issued_and_kept() {
    let app = App::new().await;
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        request(
            "POST",
            "/v1/reset",
            CLIENT,
            Some(json!({"username": "ann"})),
            None,
        ),
    )
    .await
    .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("rg_device=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    assert!(!cookie.contains("Secure"), "http public_url: not Secure");
    let value = cookie.split(';').next().unwrap().to_owned();
    let mut again = request(
        "POST",
        "/v1/reset",
        CLIENT,
        Some(json!({"username": "ann"})),
        None,
    );
    again.headers_mut().insert("cookie", value.parse().unwrap());
    let response = tower::ServiceExt::oneshot(app.router.clone(), again)
        .await
        .unwrap();
    assert!(
        response.headers().get("set-cookie").is_none(),
        "a valid cookie is not replaced"
    );
}

#[tokio::test]
async fn policy_hot_reload_swaps_good_files_and_keeps_the_live_one_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, risk::Policy::BUNDLED_TOML).unwrap();
    let app = App::with(|c| c.risk.policy = Some(path.clone())).await;
    let before = app.state.policy().version().to_owned();

    // Requests keep flowing while the policy changes under them.
    let load = async {
        let mut statuses = Vec::new();
        for i in 0..60 {
            let client = format!("198.51.100.{}:1", i % 50);
            let (status, _) = app
                .post_from(&client, "/v1/reset", json!({"username": format!("u{i}")}))
                .await;
            statuses.push(status);
            tokio::task::yield_now().await;
        }
        statuses
    };
    let change = async {
        let stricter = risk::Policy::BUNDLED_TOML
            .replace("version = \"", "version = \"stricter-")
            .replace("[levels]\nmedium = 30", "[levels]\nmedium = 25");
        std::fs::write(&path, &stricter).unwrap();
        let good = app.state.reload_policy().unwrap();
        tokio::task::yield_now().await;
        std::fs::write(
            &path,
            "version = \"broken\"\n[levels]\nmedium = 95\nhigh = 60\n",
        )
        .unwrap();
        let bad = app.state.reload_policy().unwrap_err().to_string();
        (good, bad)
    };
    let (statuses, (good, bad)) = tokio::join!(load, change);
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_ne!(good, before);
    assert!(good.starts_with("stricter-"), "{good}");
    assert!(
        bad.contains("policy.toml"),
        "the error names the file: {bad}"
    );
    assert_eq!(
        app.state.policy().version(),
        good,
        "the broken file did not replace the live policy"
    );
}
