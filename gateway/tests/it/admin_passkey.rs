//! Passkeys as an administrator's second factor, with a software
//! authenticator: registered after a TOTP sign-in, then a sign-in with the
//! password and the passkey; a wrong password never gets a challenge, an
//! answer is accepted once, a disabled administrator's challenge gives no
//! session, and the TOTP code keeps working.

use axum::http::StatusCode;
use resetgate::account::AccountName;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use super::{App, CLIENT, request};

const ADMIN: &str = "ops";
const PASSWORD: &str = "Lighthouse-Keeper-Morning-77";

/// An administrator made as `admin create` does; the TOTP seed.
async fn admin(app: &App) -> Vec<u8> {
    let created = resetgate::admin::create(
        app.state.durable.as_ref(),
        &app.state.key,
        &app.state.passwords,
        &AccountName::parse(ADMIN).unwrap(),
        PASSWORD,
        std::time::SystemTime::now(),
    )
    .await
    .unwrap();
    let secret = totp_rs::Secret::try_from_base32(&created.secret).unwrap();
    AsRef::<[u8]>::as_ref(&secret).to_vec()
}

async fn login(app: &App, body: Value) -> (StatusCode, Value) {
    app.post("/v1/admin/login", body).await
}

async fn authed(app: &App, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.send(request("POST", path, CLIENT, Some(body), Some(token)))
        .await
}

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

/// Sign in with a code, register `key`, sign out.
async fn register(app: &App, seed: &[u8], key: &mut SoftPasskey) {
    let code = app.code(seed, 0);
    let (status, body) = login(
        app,
        json!({"username": ADMIN, "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, body) = authed(app, "/v1/admin/webauthn", &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ccr: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": body["public_key"]})).unwrap();
    let credential = serde_json::to_value(key.do_registration(origin(), ccr).unwrap()).unwrap();
    let (status, body) = authed(
        app,
        "/v1/admin/webauthn/finish",
        &token,
        json!({"credential": credential}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["passkeys"], 1);
    let (status, _) = authed(app, "/v1/admin/logout", &token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// The password alone: a challenge; returns (challenge id, the key's answer).
async fn challenge(app: &App, key: &mut SoftPasskey) -> (String, Value) {
    let (status, body) = login(app, json!({"username": ADMIN, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "webauthn_required");
    assert!(
        body.get("token").is_none(),
        "no session before the passkey: {body}"
    );
    let rcr: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": body["public_key"]})).unwrap();
    let answer = serde_json::to_value(key.do_authentication(origin(), rcr).unwrap()).unwrap();
    (body["challenge_id"].as_str().unwrap().to_owned(), answer)
}

async fn answer(app: &App, id: &str, credential: &Value) -> (StatusCode, Value) {
    app.post(
        "/v1/admin/login/webauthn",
        json!({"challenge_id": id, "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn an_administrator_signs_in_with_the_password_and_a_passkey() {
    let app = App::new().await;
    let seed = admin(&app).await;
    let mut key = SoftPasskey::new(true);
    // Before any passkey, the password alone is refused like any failure.
    let (status, body) = login(&app, json!({"username": ADMIN, "password": PASSWORD})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    register(&app, &seed, &mut key).await;

    // A wrong password never reaches the passkey step.
    let (status, body) = login(
        &app,
        json!({"username": ADMIN, "password": "Not-It-At-All-1234"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );

    let (id, credential) = challenge(&app, &mut key).await;
    let (status, body) = answer(&app, &id, &credential).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .send(request(
            "GET",
            "/v1/admin/webhooks",
            CLIENT,
            None,
            Some(&token),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The same answer again: refused (the challenge was taken).
    let (status, body) = answer(&app, &id, &credential).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    // Another authenticator's answer to a fresh challenge: refused.
    let (id, _) = challenge(&app, &mut key).await;
    let mut stranger = SoftPasskey::new(true);
    let (_, foreign) = {
        let (status, body) = login(&app, json!({"username": ADMIN, "password": PASSWORD})).await;
        assert_eq!(status, StatusCode::OK);
        let rcr: RequestChallengeResponse =
            serde_json::from_value(json!({"publicKey": body["public_key"]})).unwrap();
        (body, stranger.do_authentication(origin(), rcr))
    };
    assert!(
        foreign.is_err(),
        "a key without the credential cannot even answer"
    );
    let (status, _) = answer(&app, &id, &json!({"id": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not an assertion");

    // The code still works; a disabled administrator's answer gives nothing.
    let code = app.code(&seed, 1);
    let (status, body) = login(
        &app,
        json!({"username": ADMIN, "password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (id, credential) = challenge(&app, &mut key).await;
    app.state
        .durable
        .set_admin_disabled(ADMIN, true)
        .await
        .unwrap();
    let (status, _) = answer(&app, &id, &credential).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut reasons = Vec::new();
    resetgate::audit::for_each(app.state.durable.as_ref(), |r| -> anyhow::Result<()> {
        if r.kind == "admin.login_failed" {
            let data: Value = serde_json::from_str(&r.data)?;
            reasons.push(data["reason"].as_str().unwrap_or_default().to_owned());
        }
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        reasons,
        ["code", "password", "passkey", "disabled"],
        "{reasons:?}"
    );
}
