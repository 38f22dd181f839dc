//! A passkey through the pages, with a software authenticator standing in for
//! the browser's `navigator.credentials` (what `static/webauthn.js` does): the
//! options from the JSON helpers (CSRF token in `X-CSRF-Token`), the answer
//! posted in the forms' hidden `credential` field.

use axum::http::StatusCode;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use super::browser::{Browser, Page, assert_html};
use crate::App;

const PASSWORD: &str = "ann-initial-passphrase";

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

/// The `data-csrf` of the button with `id`.
fn data_csrf(page: &Page, id: &str) -> String {
    let at = page.body.find(&format!("id=\"{id}\"")).unwrap();
    let marker = "data-csrf=\"";
    let start = at + page.body[at..].find(marker).unwrap() + marker.len();
    let end = start + page.body[start..].find('"').unwrap();
    page.body[start..end].to_owned()
}

async fn options(b: &mut Browser<'_>, path: &str, token: &str, body: &str) -> Value {
    let answer = b
        .post_json(
            path,
            body,
            &[
                ("content-type", "application/json"),
                ("x-csrf-token", token),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let value: Value = serde_json::from_str(&answer.body).unwrap();
    value["public_key"].clone()
}

#[tokio::test]
async fn a_passkey_added_and_used_through_the_pages() {
    let app = App::with(|c| c.reset.factor_cooloff = std::time::Duration::ZERO).await;
    app.user("ann", PASSWORD, None).await;
    let mut key = SoftPasskey::new(true);
    let mut b = Browser::new(&app);
    let login = b.get("/enroll").await;
    let signed = b
        .submit(
            &login,
            "/enroll/login",
            &[("username", "ann"), ("password", PASSWORD)],
        )
        .await;
    let list = b.follow(&signed).await;
    assert!(
        list.body
            .contains("<script src=\"/static/webauthn.js\" defer></script>")
    );

    let token = data_csrf(&list, "webauthn-add");
    let public_key = options(
        &mut b,
        "/enroll/webauthn/options",
        &token,
        r#"{"name":"My laptop"}"#,
    )
    .await;
    let creation: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": public_key })).unwrap();
    let credential = key.do_registration(origin(), creation).unwrap();
    let credential = serde_json::to_string(&credential).unwrap();
    let broken = b
        .submit(
            &list,
            "/enroll/webauthn/finish",
            &[("name", "My laptop"), ("credential", "")],
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(broken.body.contains("value=\"My laptop\""), "kept the name");
    let added = b
        .submit(
            &list,
            "/enroll/webauthn/finish",
            &[("name", "My laptop"), ("credential", &credential)],
        )
        .await;
    assert_eq!(added.location(), "/enroll?done=webauthn", "{}", added.body);
    let list = b.follow(&added).await;
    assert_eq!(list.text_of("notice"), "Passkey added.");
    assert!(list.body.contains("data-factor=\"webauthn\"") && list.body.contains("My laptop"));

    let start = b.get("/").await;
    let posted = b.submit(&start, "/reset", &[("username", "ann")]).await;
    let challenge = b.follow(&posted).await;
    assert!(challenge.has_id("choose-webauthn"), "{}", challenge.body);
    assert!(challenge.body.contains("Use your passkey or security key"));
    let chosen = b
        .submit(&challenge, "/reset/challenge", &[("factor", "webauthn")])
        .await;
    assert_eq!(chosen.location(), "/reset/code?factor=webauthn");
    let page = b.follow(&chosen).await;
    assert_html(&page);
    assert!(page.has_id("webauthn-start") && page.has_id("webauthn-form"));
    assert!(page.body.contains("name=\"credential\""));

    let token = data_csrf(&page, "webauthn-start");
    let refused = b
        .post_json("/reset/webauthn/options", "", &[("x-csrf-token", "nope")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let public_key = options(&mut b, "/reset/webauthn/options", &token, "").await;
    let request: RequestChallengeResponse =
        serde_json::from_value(json!({ "publicKey": public_key })).unwrap();
    let assertion = key.do_authentication(origin(), request).unwrap();
    let assertion = serde_json::to_string(&assertion).unwrap();
    let verified = b
        .submit(
            &page,
            "/reset/verify",
            &[("factor", "webauthn"), ("credential", &assertion)],
        )
        .await;
    assert_eq!(verified.location(), "/reset", "{}", verified.body);
    assert!(verified.set_cookie("rg_reset").is_some());
    assert!(b.follow(&verified).await.has_id("password-form"));
}
