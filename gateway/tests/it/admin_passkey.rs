//! Passkeys as an administrator's second factor, with a software
//! authenticator: registered after a TOTP sign-in (with a fresh code again),
//! then a sign-in with the password and the passkey. Without a code every
//! name and password gets a challenge of the same shape (a wrong password's
//! is a decoy nothing can answer), an answer is accepted once, a counter
//! behind the stored one is a clone, a disabled administrator's challenge
//! gives no session, and `admin remove-passkeys` takes them away.

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
    // Adding a factor asks for the existing one again: the code just used
    // to sign in is spent.
    let (status, body) = authed(
        app,
        "/v1/admin/webauthn/finish",
        &token,
        json!({"credential": credential, "code": code}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code"))
    );
    let (status, body) = authed(
        app,
        "/v1/admin/webauthn/finish",
        &token,
        json!({"credential": credential, "code": app.code(seed, 1)}),
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

/// The challenge's shape: which keys and which `public_key` keys it has.
fn shape(body: &Value) -> (Vec<String>, Vec<String>) {
    let keys = |v: &Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    (keys(body), keys(&body["public_key"]))
}

/// Make the stored counter of the administrator's passkey `counter`, as a
/// copy of the key used elsewhere would have.
async fn set_stored_counter(app: &App, counter: u32) {
    let record = app.state.durable.admin(ADMIN).await.unwrap().unwrap();
    let sealed = record.webauthn.unwrap();
    let context = format!("admin-webauthn:{ADMIN}").into_bytes();
    let mut list: Value =
        serde_json::from_slice(&app.state.key.open(&sealed, &context).unwrap()).unwrap();
    list[0]["cred"]["counter"] = json!(counter);
    let resealed = app
        .state
        .key
        .seal(&serde_json::to_vec(&list).unwrap(), &context);
    assert!(
        app.state
            .durable
            .set_admin_webauthn(ADMIN, Some(&sealed), &resealed)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_administrator_signs_in_with_the_password_and_a_passkey() {
    let app = App::new().await;
    let seed = admin(&app).await;
    let mut key = SoftPasskey::new(true);
    register(&app, &seed, &mut key).await;

    // Without a code, a wrong password and an unknown name get a challenge
    // of the same shape as the right password: nothing tells them apart.
    let (status, real) = login(&app, json!({"username": ADMIN, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{real}");
    for body in [
        json!({"username": ADMIN, "password": "Not-It-At-All-1234"}),
        json!({"username": "nobody", "password": PASSWORD}),
    ] {
        let (status, decoy) = login(&app, body).await;
        assert_eq!(status, StatusCode::OK, "{decoy}");
        assert_eq!(shape(&decoy), shape(&real));
        // An answer from the real key (to the real challenge) does not open
        // the decoy.
        let rcr: RequestChallengeResponse =
            serde_json::from_value(json!({"publicKey": real["public_key"]})).unwrap();
        let answer_of_real =
            serde_json::to_value(key.do_authentication(origin(), rcr).unwrap()).unwrap();
        let (status, _) = answer(
            &app,
            decoy["challenge_id"].as_str().unwrap(),
            &answer_of_real,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

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
    let (status, _) = answer(&app, &id, &json!({"id": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not an assertion");

    // A challenge opened, then the stored counter moved past this key's
    // (a copy signed in elsewhere): the answer is a clone's.
    let (id, credential) = challenge(&app, &mut key).await;
    set_stored_counter(&app, 50).await;
    let (status, _) = answer(&app, &id, &credential).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    set_stored_counter(&app, 0).await;

    // A disabled administrator's answer gives nothing.
    let (id, credential) = challenge(&app, &mut key).await;
    app.state
        .durable
        .set_admin_disabled(ADMIN, true)
        .await
        .unwrap();
    let (status, _) = answer(&app, &id, &credential).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.state
        .durable
        .set_admin_disabled(ADMIN, false)
        .await
        .unwrap();

    // Removed (a lost key): the password alone gets only decoys.
    let removed =
        resetgate::admin_webauthn::remove_all(app.state.durable.as_ref(), &app.state.key, ADMIN)
            .await
            .unwrap();
    assert_eq!(removed, 1);
    let (status, body) = login(&app, json!({"username": ADMIN, "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK);
    let rcr: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": body["public_key"]})).unwrap();
    assert!(
        key.do_authentication(origin(), rcr).is_err(),
        "the key is not asked for any more"
    );

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
        [
            "password",
            "decoy_challenge",
            "unknown_admin",
            "decoy_challenge",
            "no_challenge",
            "counter",
            "disabled",
        ],
        "{reasons:?}"
    );
}
