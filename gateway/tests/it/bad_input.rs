//! Malformed, oversized and out-of-order requests: a clear JSON error, a
//! fitting 4xx, and nothing changes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use super::{App, CLIENT, request};

fn raw(path: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method("POST").uri(path);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    let mut req = builder.body(Body::from(body.to_owned())).unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(
        CLIENT.parse::<std::net::SocketAddr>().unwrap(),
    ));
    req
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = App::new().await;
    let cases = [
        (
            raw("/v1/reset", Some("application/json"), "{nope"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            raw("/v1/reset", Some("text/plain"), "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw("/v1/reset", None, "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw("/v1/reset", Some("application/json"), "{}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "/v1/reset",
                Some("application/json"),
                r#"{"username":"a","admin":true}"#,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw("/v1/reset", Some("application/json"), r#"{"username":7}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "/v1/reset",
                Some("application/json"),
                &format!(r#"{{"username":"{}"}}"#, "a".repeat(300)),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            raw(
                "/v1/reset",
                Some("application/json"),
                &format!(r#"{{"username":"{}"}}"#, "a".repeat(40_000)),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw("/v1/login", Some("application/json"), r#"{"username":"a"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (req, status, code) in cases {
        let (got, body) = app.send(req).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"], code, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn unknown_routes_flows_and_methods() {
    let app = App::new().await;
    let (status, body) = app.get("/v1/nothing").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = app.get("/v1/reset/no-such-flow").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("flow_not_found"))
    );
    let (status, body) = app
        .post(
            "/v1/reset/no-such-flow/verify",
            json!({"factor": "sms", "code": "123456"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("flow_not_found"))
    );
    let (status, body) = app
        .send(request("GET", "/v1/reset", CLIENT, None, None))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn out_of_order_and_malformed_steps_change_nothing() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let flow = app.start("ann").await;
    let id = flow["flow_id"].as_str().unwrap();

    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/complete"),
            json!({"reset_token": "x", "new_password": "a fine long passphrase"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("not_verified")),
        "{body}"
    );

    for (payload, code) in [
        (
            json!({"factor": "sms", "code": "12ab56"}),
            "invalid_request",
        ),
        (json!({"factor": "sms", "code": "123"}), "invalid_request"),
        (
            json!({"factor": "sms", "code": "1".repeat(100)}),
            "invalid_request",
        ),
        (json!({"factor": "sms"}), "invalid_request"),
        (
            json!({"factor": "carrier-pigeon", "code": "123456"}),
            "invalid_request",
        ),
        (
            json!({"factor": "totp", "code": "123456"}),
            "factor_not_offered",
        ),
    ] {
        let (status, body) = app.post(&format!("/v1/reset/{id}/verify"), payload).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], code, "{body}");
    }
    // None of that counted as a wrong code.
    let (_, status) = app.get(&format!("/v1/reset/{id}")).await;
    assert_eq!(status["status"], "challenge");
    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/verify"),
            json!({"factor": "sms", "code": "000000"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["attempts_left"], 4, "{body}");
}

#[tokio::test]
async fn session_endpoints_need_a_valid_token() {
    let app = App::new().await;
    for bearer in [None, Some("made-up-token")] {
        let (status, body) = app
            .send(request("GET", "/v1/me/factors", CLIENT, None, bearer))
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
        );
    }
}
