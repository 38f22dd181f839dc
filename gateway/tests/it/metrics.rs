//! `GET /metrics`: Prometheus text with bounded labels.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::App;

async fn metrics(app: &App) -> String {
    let response = app
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the sample whose line starts with `series` (name and labels);
/// the counts here are whole numbers.
fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn requests_decisions_factors_and_store_calls_are_counted() {
    let app = App::new().await;
    app.user("ann", "a-long-enough-password-1", Some("+15550100009"))
        .await;
    let seed = app.totp("ann", 0, false).await;
    let start = app.start("ann").await;
    let flow = start["flow_id"].as_str().unwrap().to_owned();
    // A wrong code, then the right one.
    let verify = |code: String| {
        let path = format!("/v1/reset/{flow}/verify");
        let app = &app;
        async move {
            app.post(&path, serde_json::json!({"factor": "totp", "code": code}))
                .await
        }
    };
    assert_eq!(verify("000000".into()).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(verify(app.code(&seed, 0)).await.0, StatusCode::OK);
    app.get(&format!("/v1/reset/{flow}")).await;
    app.get("/no/such/page").await;
    // A made-up method is counted as "other", not as a series of its own.
    app.send(super::request(
        "BREW",
        "/healthz",
        super::CLIENT,
        None,
        None,
    ))
    .await;

    let text = metrics(&app).await;
    let has =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        has(r#"resetgate_http_requests_total{method="POST",route="/v1/reset",status="200"}"#),
        1
    );
    // A flow's id never becomes a label: its route template does.
    assert!(
        has(
            r#"resetgate_http_requests_total{method="GET",route="/v1/reset/{flow_id}",status="200"}"#
        ) >= 1
    );
    assert!(!text.contains(&flow), "a flow id in the metrics");
    assert!(
        has(r#"resetgate_http_requests_total{method="GET",route="unmatched",status="404"}"#) >= 1
    );
    assert_eq!(has(r#"resetgate_reset_decisions_total{level="low"}"#), 1);
    assert!(has(r#"resetgate_http_requests_total{method="other","#) >= 1);
    assert!(!text.contains("BREW"), "a made-up method minted a series");
    assert_eq!(
        has(r#"resetgate_factor_verifications_total{factor="totp",result="failure"}"#),
        1
    );
    assert_eq!(
        has(r#"resetgate_factor_verifications_total{factor="totp",result="success"}"#),
        1
    );
    assert!(
        has(r#"resetgate_store_duration_seconds_count{store="ephemeral",op="velocity_windows"}"#)
            >= 1
    );
    assert!(
        has(r#"resetgate_store_duration_seconds_count{store="durable",op="audit_commit"}"#) >= 1
    );
    assert!(text.contains("resetgate_http_request_duration_seconds_bucket"));
}
