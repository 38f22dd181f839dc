//! E-mail reset codes through the router, delivered to a local SMTP sink:
//! offered only with a relay and an address, never above `low` (bundled
//! policy), counted like SMS codes, and sent nowhere for decoys.

use axum::http::{StatusCode, header};
use resetgate::account::AccountName;
use resetgate::factors::decoy_options;
use risk::Factor;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::smtp::SmtpSink;
use super::{App, CLIENT, request};

const PASSWORD: &str = "ann-initial-passphrase";
const GOOD: &str = "quiet lantern harbour morning";
const ADDRESS: &str = "ann@example.org";

async fn with_relay(sink: &SmtpSink) -> App {
    let url = sink.url();
    App::with(|c| {
        c.email.smtp_url = Some(SecretString::from(url));
        c.email.from = "IT <it@example.org>".into();
    })
    .await
}

async fn challenge(app: &App, id: &str, factor: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/reset/{id}/challenge"),
        json!({"factor": factor}),
    )
    .await
}

async fn verify(app: &App, id: &str, factor: &str, code: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/reset/{id}/verify"),
        json!({"factor": factor, "code": code}),
    )
    .await
}

fn id(flow: &Value) -> String {
    flow["flow_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_address_alone_resets_at_low_risk_by_an_emailed_code() {
    let sink = SmtpSink::start().await;
    let app = with_relay(&sink).await;
    app.user_with_email("ann", PASSWORD, Some(ADDRESS), None)
        .await;
    let flow = app.start("ann").await;
    assert_eq!(flow["status"], "challenge", "{flow}");
    assert_eq!(
        flow["options"],
        json!([{"factor": "email", "hint": "a•••@example.org"}])
    );
    let id = id(&flow);
    let (status, sent) = challenge(&app, &id, "email").await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(
        sent,
        json!({"status": "sent", "factor": "email", "expires_in": 300})
    );
    let mail = sink.wait_for(1).await;
    assert_eq!(mail.to, [ADDRESS]);
    assert_eq!(mail.subject(), "Your password reset code");
    let body = mail.body();
    assert!(body.contains("expires in 5 minutes"), "{body}");
    assert!(
        body.contains("Nobody will ever ask you for this code"),
        "{body}"
    );
    let code = mail.code().expect("a 6-digit code in the mail");

    // A wrong code counts like a wrong SMS code.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = verify(&app, &id, "email", wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_code");
    assert_eq!(body["attempts_left"], 4);
    // The code is bound to its factor.
    let (status, body) = verify(&app, &id, "sms", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("factor_not_offered"))
    );

    let (status, body) = verify(&app, &id, "email", &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "verified");
    let token = body["reset_token"].as_str().unwrap();
    // Single use: the flow has moved on.
    let (status, _) = verify(&app, &id, "email", &code).await;
    assert_ne!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/complete"),
            json!({"reset_token": token, "new_password": GOOD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .post("/v1/login", json!({"username": "ann", "password": GOOD}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Starts' records are committed just after their answers.
    app.state.audit.settled().await;
    let audit = app.state.durable.audit_page(0, 1000).await.unwrap();
    let text: String = audit.iter().map(|r| r.data.as_str()).collect();
    assert!(
        !text.contains(&format!("\"{code}\"")),
        "the code is in the audit log"
    );
    assert!(text.contains("\"factor\":\"email\""), "{text}");
}

#[tokio::test]
async fn email_codes_share_the_per_flow_send_limit_and_replace_each_other() {
    let sink = SmtpSink::start().await;
    let app = with_relay(&sink).await;
    app.user_with_email("ann", PASSWORD, Some(ADDRESS), Some("+15550100042"))
        .await;
    let flow = app.start("ann").await;
    let factors: Vec<&str> = flow["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["factor"].as_str().unwrap())
        .collect();
    assert_eq!(factors, ["sms", "email"], "e-mail last");
    let id = id(&flow);
    assert_eq!(challenge(&app, &id, "sms").await.0, StatusCode::OK);
    assert_eq!(challenge(&app, &id, "email").await.0, StatusCode::OK);
    let first = sink.wait_for(1).await.code().unwrap();
    assert_eq!(challenge(&app, &id, "email").await.0, StatusCode::OK);
    let second = sink.wait_for(2).await.code().unwrap();
    let (status, body) = challenge(&app, &id, "email").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("too_many_sends")),
        "3 codes per flow, SMS and e-mail together"
    );
    if first != second {
        let (status, _) = verify(&app, &id, "email", &first).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a new code replaces the old"
        );
    }
    let (status, body) = verify(&app, &id, "email", &second).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn without_a_relay_or_an_address_email_is_not_offered() {
    // No relay: nobody could deliver the code.
    let app = App::new().await;
    app.user_with_email("ann", PASSWORD, Some(ADDRESS), None)
        .await;
    app.totp("ann", 0, false).await;
    let flow = app.start("ann").await;
    assert_eq!(
        flow["options"],
        json!([{"factor": "totp", "hint": "authenticator app"}])
    );
    let (status, body) = challenge(&app, &id(&flow), "email").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("factor_not_offered"))
    );

    // A relay but no address.
    let sink = SmtpSink::start().await;
    let app = with_relay(&sink).await;
    app.user_with_email("bob", PASSWORD, None, None).await;
    app.totp("bob", 0, false).await;
    let flow = app.start("bob").await;
    assert_eq!(
        flow["options"],
        json!([{"factor": "totp", "hint": "authenticator app"}])
    );
}

/// `POST /v1/reset` from a scripted client (`curl`: automation, 40 points,
/// `medium` under the bundled policy); returns the flow and its
/// `reset.started` audit data.
async fn start_scripted(app: &App, name: &str) -> (Value, Value) {
    let mut req = request(
        "POST",
        "/v1/reset",
        CLIENT,
        Some(json!({"username": name})),
        None,
    );
    req.headers_mut()
        .insert(header::USER_AGENT, "curl/8.5.0".parse().unwrap());
    let (status, flow) = app.send(req).await;
    assert_eq!(status, StatusCode::OK, "{flow}");
    // Starts' records are committed just after their answers.
    app.state.audit.settled().await;
    let audit = app.state.durable.audit_page(0, 1000).await.unwrap();
    let started: Value = audit
        .iter()
        .filter(|r| r.kind == "reset.started")
        .map(|r| serde_json::from_str::<Value>(&r.data).unwrap())
        .find(|d| d["flow_id"] == flow["flow_id"])
        .expect("the flow's reset.started record");
    let score = started["score"].as_u64().unwrap();
    assert!((30..60).contains(&score), "a medium score: {started}");
    (flow, started)
}

#[tokio::test]
async fn email_is_never_enough_above_low() {
    let sink = SmtpSink::start().await;
    let app = with_relay(&sink).await;
    app.user_with_email("ann", PASSWORD, Some(ADDRESS), None)
        .await;
    let (flow, started) = start_scripted(&app, "ann").await;
    assert_eq!(flow["status"], "denied", "{flow}");
    let refusal = started["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "insufficient_factors")
        .unwrap_or_else(|| panic!("refused for want of factors: {started}"));
    let detail = refusal["detail"].as_str().unwrap();
    assert!(detail.starts_with("medium risk needs"), "{detail}");
    let (status, body) = challenge(&app, &id(&flow), "email").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("reset_denied"))
    );
    // With an app too, the app is asked for and e-mail is not offered.
    app.user_with_email("bob", PASSWORD, Some("bob@example.org"), None)
        .await;
    app.totp("bob", 0, false).await;
    let (flow, started) = start_scripted(&app, "bob").await;
    assert_eq!(started["level"], "medium");
    assert_eq!(flow["status"], "challenge", "{flow}");
    assert_eq!(
        flow["options"],
        json!([{"factor": "totp", "hint": "authenticator app"}])
    );
    let (status, body) = challenge(&app, &id(&flow), "email").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("factor_not_offered"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_decoy_offering_email_answers_the_same_and_sends_nothing() {
    let sink = SmtpSink::start().await;
    let app = with_relay(&sink).await;
    app.user_with_email("ann", PASSWORD, Some(ADDRESS), None)
        .await;
    // One name in four offers e-mail only (see `decoy_options`).
    let name = (0..1000)
        .map(|i| format!("nobody{i}"))
        .find(|name| {
            let options = decoy_options(
                &app.state.key,
                &AccountName::parse(name).unwrap(),
                Some("example.org"),
            );
            options.len() == 1 && options[0].factor == Factor::Email
        })
        .expect("an e-mail-only decoy among 1000 names");
    let known = app.start("ann").await;
    let decoy = app.start(&name).await;
    assert_eq!(decoy["status"], "challenge", "{decoy}");
    assert_eq!(decoy["options"][0]["factor"], "email", "{decoy}");
    let hint = decoy["options"][0]["hint"].as_str().unwrap();
    assert!(hint.ends_with("•••@example.org"), "{hint}");
    assert_eq!(
        app.start(&name).await["options"],
        decoy["options"],
        "stable per name"
    );

    let known_sent = challenge(&app, &id(&known), "email").await;
    let decoy_sent = challenge(&app, &id(&decoy), "email").await;
    assert_eq!(known_sent, decoy_sent);
    let code = sink.wait_for(1).await.code().unwrap();
    let (status, body) = verify(&app, &id(&decoy), "email", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mails = sink.received();
    assert_eq!(mails.len(), 1, "the decoy sent nothing: {mails:#?}");
    assert_eq!(mails[0].to, [ADDRESS]);
}
