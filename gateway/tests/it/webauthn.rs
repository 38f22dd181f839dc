//! WebAuthn ceremonies through the router with a software authenticator
//! (webauthn-authenticator-rs `SoftPasskey`): enrolment, a reset with the
//! passkey, replayed and foreign assertions, a cloned authenticator, decoys,
//! and a policy whose `high` level demands WebAuthn.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use resetgate::factors::webauthn;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use super::{App, CLIENT, request};

const PASSWORD: &str = "ann-initial-passphrase";
const NEW_PASSWORD: &str = "quiet lantern harbour morning";

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

/// A gateway whose new factors count for resets at once.
async fn app() -> App {
    App::with(|c| c.reset.factor_cooloff = std::time::Duration::ZERO).await
}

async fn login(app: &App, name: &str, password: &str) -> String {
    let (status, body) = app
        .post("/v1/login", json!({"username": name, "password": password}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn authed(app: &App, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let method = if body.is_some() { "POST" } else { "GET" };
    app.send(request(method, path, CLIENT, body, Some(token)))
        .await
}

/// Enrol `key` for `name` under `label`; returns the credential id (base64url).
async fn enrol(app: &App, name: &str, key: &mut SoftPasskey, label: &str) -> String {
    let token = login(app, name, PASSWORD).await;
    let (status, body) = authed(
        app,
        "/v1/me/factors/webauthn",
        &token,
        Some(json!({"name": label})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["public_key"]["rp"]["id"], "localhost");
    let ccr: CreationChallengeResponse =
        serde_json::from_value(json!({"publicKey": body["public_key"]})).unwrap();
    let credential = key.do_registration(origin(), ccr).unwrap();
    let credential = serde_json::to_value(&credential).unwrap();
    let (status, body) = authed(
        app,
        "/v1/me/factors/webauthn/finish",
        &token,
        Some(json!({"credential": credential})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["factor"], "webauthn");
    credential["id"].as_str().unwrap().to_owned()
}

/// Start a reset and ask for the WebAuthn challenge; returns (flow id, options).
async fn challenge(app: &App, name: &str) -> (String, Value) {
    let flow = app.start(name).await;
    let id = flow["flow_id"].as_str().unwrap().to_owned();
    let public_key = rechallenge(app, &id).await;
    (id, public_key)
}

async fn rechallenge(app: &App, id: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/challenge"),
            json!({"factor": "webauthn"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["public_key"].clone()
}

fn assert(key: &mut SoftPasskey, public_key: &Value) -> Value {
    let rcr: RequestChallengeResponse =
        serde_json::from_value(json!({"publicKey": public_key})).unwrap();
    serde_json::to_value(key.do_authentication(origin(), rcr).unwrap()).unwrap()
}

async fn verify(app: &App, id: &str, credential: &Value) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/reset/{id}/verify"),
        json!({"factor": "webauthn", "credential": credential}),
    )
    .await
}

/// The stored credential's signature counter, read from the sealed record.
async fn stored_counter(app: &App, name: &str) -> u64 {
    let record = webauthn_record(app, name).await;
    let plain = app
        .state
        .key
        .open(
            record.secret.as_deref().unwrap(),
            &webauthn::seal_context(&record.id),
        )
        .unwrap();
    let passkey: Value = serde_json::from_slice(&plain).unwrap();
    passkey["cred"]["counter"].as_u64().unwrap()
}

async fn webauthn_record(app: &App, name: &str) -> resetgate::store::durable::FactorRecord {
    app.state
        .durable
        .factors(name)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "webauthn")
        .unwrap()
}

#[tokio::test]
async fn enrol_a_passkey_then_reset_with_it() {
    let app = app().await;
    app.user("ann", PASSWORD, None).await;
    let mut key = SoftPasskey::new(true);
    enrol(&app, "ann", &mut key, "Work laptop").await;

    let token = login(&app, "ann", PASSWORD).await;
    let (_, list) = authed(&app, "/v1/me/factors", &token, None).await;
    let factor = &list["factors"][0];
    assert_eq!(
        (factor["factor"].as_str(), factor["label"].as_str()),
        (Some("webauthn"), Some("Work laptop"))
    );
    assert!(factor["last_used_at"].is_null());

    let flow = app.start("ann").await;
    assert_eq!(
        flow["options"],
        json!([{"factor": "webauthn", "hint": "passkey or security key"}])
    );
    let id = flow["flow_id"].as_str().unwrap();
    let public_key = rechallenge(&app, id).await;
    assert_eq!(public_key["rpId"], "localhost");
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(public_key["allowCredentials"].as_array().unwrap().len(), 1);
    let (status, body) = verify(&app, id, &assert(&mut key, &public_key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "verified");
    assert!(stored_counter(&app, "ann").await >= 1, "counter kept");

    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/complete"),
            json!({"reset_token": body["reset_token"], "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    login(&app, "ann", NEW_PASSWORD).await;
    let token = login(&app, "ann", NEW_PASSWORD).await;
    let (_, list) = authed(&app, "/v1/me/factors", &token, None).await;
    assert!(list["factors"][0]["last_used_at"].is_string());
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let app = app().await;
    app.user("ann", PASSWORD, None).await;
    let mut key = SoftPasskey::new(true);
    enrol(&app, "ann", &mut key, "Phone").await;
    let (first, options) = challenge(&app, "ann").await;
    let used = assert(&mut key, &options);
    assert_eq!(verify(&app, &first, &used).await.0, StatusCode::OK);

    // The same answer against a new flow's challenge, then again with no
    // challenge outstanding: both refused, both counted.
    let (second, _) = challenge(&app, "ann").await;
    let (status, body) = verify(&app, &second, &used).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        (body["error"].as_str(), body["attempts_left"].as_u64()),
        (Some("invalid_code"), Some(4))
    );
    let (status, body) = verify(&app, &second, &used).await;
    assert_eq!(
        (status, body["attempts_left"].as_u64()),
        (StatusCode::BAD_REQUEST, Some(3))
    );
    // A fresh challenge answered fresh still works.
    let options = rechallenge(&app, &second).await;
    let (status, body) = verify(&app, &second, &assert(&mut key, &options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A valid answer submitted twice in one flow: the second finds the flow verified.
    let (status, _) = verify(&app, &second, &used).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn another_accounts_credential_is_refused() {
    let app = app().await;
    app.user("ann", PASSWORD, None).await;
    app.user("bob", PASSWORD, None).await;
    let mut ann_key = SoftPasskey::new(true);
    let mut bob_key = SoftPasskey::new(true);
    enrol(&app, "ann", &mut ann_key, "Ann's key").await;
    let bob_id = enrol(&app, "bob", &mut bob_key, "Bob's key").await;

    // Bob's authenticator signs Ann's challenge with Bob's credential.
    let (id, mut options) = challenge(&app, "ann").await;
    options["allowCredentials"] = json!([{"type": "public-key", "id": bob_id}]);
    let (status, body) = verify(&app, &id, &assert(&mut bob_key, &options)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );
    // Garbage is a clear 400, not a crash, and Ann's own key still works.
    let (status, body) = verify(&app, &id, &json!({"id": "x"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let options = rechallenge(&app, &id).await;
    let (status, _) = verify(&app, &id, &assert(&mut ann_key, &options)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_a_clone() {
    let app = app().await;
    app.user("ann", PASSWORD, None).await;
    let mut key = SoftPasskey::new(true);
    enrol(&app, "ann", &mut key, "Key").await;
    // A copy of the key has been used 50 times elsewhere: the server saw
    // counter 50; this key's next signature carries a lower one.
    let record = webauthn_record(&app, "ann").await;
    let context = webauthn::seal_context(&record.id);
    let sealed = record.secret.clone().unwrap();
    let mut passkey: Value =
        serde_json::from_slice(&app.state.key.open(&sealed, &context).unwrap()).unwrap();
    passkey["cred"]["counter"] = json!(50);
    let resealed = app
        .state
        .key
        .seal(&serde_json::to_vec(&passkey).unwrap(), &context);
    assert!(
        app.state
            .durable
            .update_factor_secret(&record.id, &sealed, &resealed)
            .await
            .unwrap()
    );
    let (id, options) = challenge(&app, "ann").await;
    let (status, body) = verify(&app, &id, &assert(&mut key, &options)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_code"))
    );
    assert_eq!(stored_counter(&app, "ann").await, 50, "not lowered");
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn a_decoy_offers_plausible_options_and_never_verifies() {
    let app = app().await;
    app.user("ann", PASSWORD, None).await;
    let mut key = SoftPasskey::new(true);
    enrol(&app, "ann", &mut key, "Key").await;
    let (_, real) = challenge(&app, "ann").await;

    let mut decoy = None;
    for i in 0..40 {
        let name = format!("nobody{i}");
        let flow = app.start(&name).await;
        if flow["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["factor"] == "webauthn")
        {
            decoy = Some((name, flow["flow_id"].as_str().unwrap().to_owned()));
            break;
        }
    }
    let (name, id) = decoy.expect("some unknown names are offered a passkey");
    let options = rechallenge(&app, &id).await;
    assert_eq!(keys(&options), keys(&real));
    assert_eq!(options["rpId"], real["rpId"]);
    let allowed = options["allowCredentials"].as_array().unwrap();
    assert!(!allowed.is_empty());
    assert_eq!(keys(&allowed[0]), keys(&real["allowCredentials"][0]));
    // Stable per name: a second flow lists the same credentials.
    let again = app.start(&name).await;
    let again = rechallenge(&app, again["flow_id"].as_str().unwrap()).await;
    assert_eq!(again["allowCredentials"], options["allowCredentials"]);
    // Whatever comes back fails, exactly like a wrong credential.
    let (status, body) = verify(&app, &id, &assert(&mut key, &real)).await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["attempts_left"].as_u64()
        ),
        (StatusCode::BAD_REQUEST, Some("invalid_code"), Some(4))
    );
}

/// The quiet policy (bundled, anomaly points off), with every attempt at
/// `high` and `high` asking for WebAuthn alone.
fn webauthn_at_high_policy(dir: &std::path::Path) -> std::path::PathBuf {
    let text = crate::quiet_policy()
        .replace(
            "medium = 30\nhigh = 60\ndeny = 90",
            "medium = 1\nhigh = 2\ndeny = 100",
        )
        .replacen("above = 2\nweight = 15", "above = 0\nweight = 15", 1)
        .replace(
            "[ladder.high]\nfactors = 2\nallowed = [\"webauthn\", \"totp\", \"sms\"]\nrequire_one_of = [\"webauthn\", \"totp\"]",
            "[ladder.high]\nfactors = 1\nallowed = [\"webauthn\"]",
        );
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_high_level_that_requires_webauthn_cannot_be_passed_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let policy = webauthn_at_high_policy(dir.path());
    let app = App::with(|c| {
        c.reset.factor_cooloff = std::time::Duration::ZERO;
        c.risk.policy = Some(policy);
    })
    .await;
    // Only an app and a phone: refused outright.
    app.user("carl", PASSWORD, Some("+15550100077")).await;
    app.totp("carl", 0, false).await;
    let flow = app.start("carl").await;
    assert_eq!(flow["status"], "denied", "{flow}");

    // A passkey as well: only the passkey is offered, and TOTP is not taken.
    app.user("ann", PASSWORD, None).await;
    let seed = app.totp("ann", 0, false).await;
    let mut key = SoftPasskey::new(true);
    enrol(&app, "ann", &mut key, "Key").await;
    let flow = app.start("ann").await;
    assert_eq!(flow["status"], "challenge", "{flow}");
    assert_eq!(
        flow["options"],
        json!([{"factor": "webauthn", "hint": "passkey or security key"}])
    );
    let id = flow["flow_id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/reset/{id}/verify"),
            json!({"factor": "totp", "code": app.code(&seed, 0)}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("factor_not_offered")),
        "{body}"
    );
    let options = rechallenge(&app, id).await;
    let (status, body) = verify(&app, id, &assert(&mut key, &options)).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("verified"))
    );
}
