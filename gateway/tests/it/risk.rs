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
        (StatusCode::UNAUTHORIZED, Some("invalid_api_key"))
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

/// A small model unlike the bundled one (trained on made-up features).
fn other_model(seed: u64) -> models::model::Model {
    use models::features::N;
    let rows = 400;
    let data: Vec<f64> = (0..rows * N)
        .map(|i| {
            let (r, c) = (i / N, i % N);
            #[allow(clippy::cast_precision_loss)]
            let x = ((r * 31 + c * 17 + 7) % 97) as f64 / 97.0;
            x + if r % 2 == 0 { 0.0 } else { 3.0 }
        })
        .collect();
    let x = ndarray::Array2::from_shape_vec((rows, N), data).unwrap();
    let config = models::train::TrainConfig {
        gmm_components: vec![2],
        kmeans_clusters: vec![2],
        ..models::train::TrainConfig::new(seed, jiff::Timestamp::UNIX_EPOCH)
    };
    models::train::train(&x, None, &config).unwrap().model
}

#[tokio::test]
async fn the_anomaly_model_is_served_explained_and_hot_swapped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::write(&path, models::model::BUNDLED).unwrap();
    let app = App::with(|c| {
        c.risk.api_key = Some("sspr-key-123".into());
        c.risk.reload_interval = std::time::Duration::from_millis(100);
        c.models.anomaly = Some(path.clone());
    })
    .await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let body = json!({"username": "ann", "ip": "192.0.2.10", "user_agent": super::BROWSER_UA});
    let bundled = models::model::bundled().unwrap().version().to_owned();

    // Every assessment names the model and explains its score, 0 points too.
    let explained = |reply: &Value, version: &str| {
        assert_eq!(reply["model_version"], version, "{reply}");
        let anomaly = reply["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["code"] == "anomaly")
            .unwrap_or_else(|| panic!("an anomaly reason: {reply}"));
        let detail = anomaly["detail"].as_str().unwrap();
        assert!(
            detail.contains(version) && detail.contains("scores this attempt 0.")
                || detail.contains("scores this attempt 1.00"),
            "{detail}"
        );
    };
    let (status, reply) = app.send(evaluate(Some("sspr-key-123"), &body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    explained(&reply, &bundled);

    // A new file, written aside and renamed in, is picked up by the watcher.
    let other = other_model(7);
    assert_ne!(other.version(), bundled);
    let aside = dir.path().join("model.json.new");
    std::fs::write(&aside, other.save()).unwrap();
    std::fs::rename(&aside, &path).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.state.model().version() != other.version() {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher did not swap the model in"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, reply) = app.send(evaluate(Some("sspr-key-123"), &body)).await;
    explained(&reply, other.version());

    // A model of other features, or an edited one, is refused; the live one stays.
    let mut foreign: Value = serde_json::from_slice(&other.save()).unwrap();
    foreign["schema"][0] = "hour_of_day".into();
    std::fs::write(&path, serde_json::to_vec(&foreign).unwrap()).unwrap();
    let refused = app.state.reload_model().unwrap_err().to_string();
    assert!(
        refused.contains("model.json") && refused.contains("hour_of_day"),
        "{refused}"
    );
    std::fs::write(&path, b"{\"format\": \"resetgate-anomaly/1\"").unwrap();
    assert!(app.state.reload_model().is_err());
    assert_eq!(app.state.model().version(), other.version());
    let (_, reply) = app.send(evaluate(Some("sspr-key-123"), &body)).await;
    explained(&reply, other.version());
}

#[tokio::test]
async fn under_the_bundled_policy_the_anomaly_score_adds_its_points() {
    let app = App::with(|c| {
        c.risk.api_key = Some("sspr-key-123".into());
        c.risk.policy = None; // the bundled policy, anomaly weight on
    })
    .await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    // A data-centre address unknown to every training attempt's geo.
    let body = json!({"username": "ann", "ip": "192.0.2.10", "user_agent": "curl/8.5.0"});
    let (status, reply) = app.send(evaluate(Some("sspr-key-123"), &body)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let reasons = reply["reasons"].as_array().unwrap();
    let anomaly = reasons.iter().find(|r| r["code"] == "anomaly").unwrap();
    let detail = anomaly["detail"].as_str().unwrap();
    let shown: f64 = detail
        .split("scores this attempt ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{detail}"));
    // Points: the weight × the policy's share for the score, which is shown
    // to 2 decimals: within the shares of its rounding interval.
    let policy = ::risk::Policy::bundled();
    let weights = policy.signals();
    let points_at = |score: f64| f64::from(weights.anomaly) * weights.anomaly_share(score);
    let points = anomaly["weight"].as_f64().unwrap();
    assert!(
        points_at(shown - 0.005) - 1.0 <= points && points <= points_at(shown + 0.005) + 1.0,
        "{points} points for a score of {shown}: {detail}"
    );
    assert!(
        points > 0.0,
        "an automated client from nowhere is unusual: {detail}"
    );
    let sum: u64 = reasons.iter().map(|r| r["weight"].as_u64().unwrap()).sum();
    assert_eq!(reply["score"].as_u64().unwrap(), sum.min(100), "{reply}");
}

#[tokio::test]
async fn under_the_bundled_policy_unknown_names_score_like_known_ones() {
    // The anomaly model reads the history signals, which a decoy fabricates:
    // its score must not tell a decoy from a real account without history.
    let app = App::with(|c| {
        c.risk.api_key = Some("sspr-key-123".into());
        c.risk.policy = None;
    })
    .await;
    for name in ["ann", "bob", "carol"] {
        app.user(name, "an-initial-passphrase", Some("+15550100042"))
            .await;
        app.totp(name, 0, false).await;
    }
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for (i, name) in ["ann", "nobody-1", "bob", "nobody-2", "carol", "nobody-3"]
        .iter()
        .enumerate()
    {
        let body = json!({"username": name, "ip": format!("198.51.100.{}", 10 + i), "user_agent": super::BROWSER_UA});
        let (status, reply) = app.send(evaluate(Some("sspr-key-123"), &body)).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        // The score, not the level: a level the account's factors cannot
        // meet becomes `deny`, for a real account as for a decoy whose
        // (made-up) factors cannot.
        let score = reply["score"].as_u64().unwrap();
        if name.starts_with("nobody") {
            unknown.push(score);
        } else {
            known.push(score);
        }
    }
    assert_eq!(known, unknown, "scores of known vs unknown names");
}
