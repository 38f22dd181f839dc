//! Enrolment through the pages: sign-in, an authenticator app, removing,
//! provisioned factors, signing out.

use axum::http::StatusCode;
use resetgate::factors::totp;

use super::browser::{Browser, Page, assert_html};
use crate::App;

const PASSWORD: &str = "ann-initial-passphrase";

async fn sign_in(app: &App) -> (Browser<'_>, Page) {
    let mut b = Browser::new(app);
    let login = b.get("/enroll").await;
    let signed = b
        .submit(
            &login,
            "/enroll/login",
            &[("username", "ann"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        (signed.status, signed.location()),
        (StatusCode::SEE_OTHER, "/enroll"),
        "{}",
        signed.body
    );
    let page = b.follow(&signed).await;
    (b, page)
}

#[tokio::test]
async fn sign_in_is_neutral_about_what_was_wrong() {
    let app = App::new().await;
    app.user("ann", PASSWORD, None).await;
    let mut b = Browser::new(&app);
    let login = b.get("/enroll").await;
    assert_html(&login);
    for id in [
        "login-form",
        "login-username",
        "login-password",
        "login-submit",
    ] {
        assert!(login.has_id(id), "#{id}");
    }
    let mut answers = Vec::new();
    for (name, password) in [("ann", "not the password at all"), ("nobody", PASSWORD)] {
        let wrong = b
            .submit(
                &login,
                "/enroll/login",
                &[("username", name), ("password", password)],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_html(&wrong);
        assert!(wrong.set_cookie("rg_session").is_none());
        assert!(!wrong.body.contains(password), "passwords are not echoed");
        answers.push((wrong.text_of("error"), wrong.body.replace(name, "NAME")));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, "Username or password is wrong.");
    let signed = b
        .submit(
            &login,
            "/enroll/login",
            &[("username", "ann"), ("password", PASSWORD)],
        )
        .await;
    let session = signed.set_cookie("rg_session").expect("a session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Strict")
            && session.contains("Max-Age=900")
    );
    assert!(
        signed.set_cookie("rg_device").is_some(),
        "sign-in sets the device cookie"
    );
}

#[tokio::test]
async fn an_authenticator_app_is_added_through_the_pages() {
    let app = App::with(|c| c.reset.factor_cooloff = std::time::Duration::ZERO).await;
    app.user("ann", PASSWORD, None).await;
    let (mut b, list) = sign_in(&app).await;
    assert_html(&list);
    assert!(list.body.contains("Your ways to verify it's you"));
    assert!(list.has_id("factor-list") && list.has_id("no-factors"));
    for id in [
        "totp-add",
        "totp-add-submit",
        "sms-form",
        "sms-phone",
        "sms-submit",
        "webauthn-add-form",
        "webauthn-name",
        "webauthn-add",
        "logout",
    ] {
        assert!(list.has_id(id), "#{id}");
    }
    let setup = b.submit(&list, "/enroll/totp", &[]).await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    assert_html(&setup);
    assert!(setup.text_of("totp-qr").contains("<svg"), "{}", setup.body);
    let secret: String = setup.text_of("totp-secret").split_whitespace().collect();
    let seed = totp_rs::Secret::try_from_base32(&secret).unwrap();
    let wrong = b
        .submit(&setup, "/enroll/totp/verify", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.text_of("error").starts_with("That code isn't right."));
    assert!(wrong.has_id("totp-verify-form") && !wrong.has_id("totp-secret"));
    let now = u64::try_from(app.state.now()).unwrap();
    let code = totp::code_at(seed.as_ref(), now);
    let added = b
        .submit(&setup, "/enroll/totp/verify", &[("code", &code)])
        .await;
    assert_eq!(
        (added.status, added.location()),
        (StatusCode::SEE_OTHER, "/enroll?done=totp"),
        "{}",
        added.body
    );
    let list = b.follow(&added).await;
    assert_eq!(list.text_of("notice"), "Authenticator app added.");
    assert!(
        list.body.contains("class=\"factor\" data-factor=\"totp\""),
        "{}",
        list.body
    );
    assert!(list.body.contains("class=\"factor-remove"));
    // The new factor can reset (no cool-off here).
    let flow = app.start("ann").await;
    assert_eq!(flow["options"][0]["factor"], "totp");

    let id_at = list.body.find("data-id=\"").unwrap() + 9;
    let id = list.body[id_at..id_at + 26].to_owned();
    let removed = b
        .submit(&list, &format!("/enroll/factors/{id}/remove"), &[])
        .await;
    assert_eq!(removed.location(), "/enroll?done=removed");
    let list = b.follow(&removed).await;
    assert!(list.has_id("no-factors") && list.text_of("notice") == "Removed.");

    let token = b.jar.get("rg_session").cloned().unwrap();
    let out = b.submit(&list, "/enroll/logout", &[]).await;
    assert_eq!(out.location(), "/enroll?done=signed_out");
    assert!(!b.jar.contains_key("rg_session"));
    // Signed out on the server too: the old token no longer works.
    let (status, _) = app
        .send(crate::request(
            "GET",
            "/v1/me/factors",
            crate::CLIENT,
            None,
            Some(&token),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let login = b.follow(&out).await;
    assert!(login.has_id("login-form") && login.text_of("notice") == "You're signed out.");
    let after = b.submit(&login, "/enroll/totp", &[]).await;
    assert_eq!(after.location(), "/enroll?done=session_ended");
}

#[tokio::test]
async fn provisioned_factors_cannot_be_removed_and_bad_phones_are_explained() {
    let app = App::new().await;
    app.user("ann", PASSWORD, Some("+15550100042")).await;
    let (mut b, list) = sign_in(&app).await;
    assert!(list.body.contains("data-factor=\"sms\""));
    assert!(
        list.body.contains("Set by your administrator")
            && !list.body.contains("class=\"factor-remove")
    );
    let bad = b
        .submit(&list, "/enroll/sms", &[("phone", "call me maybe")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_html(&bad);
    assert!(bad.text_of("error").contains("country code"));
    assert!(
        bad.body.contains("value=\"call me maybe\""),
        "kept what was typed"
    );
    let sent = b
        .submit(&list, "/enroll/sms", &[("phone", "+1 555 010 0077")])
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(
        sent.has_id("sms-verify-form")
            && sent.has_id("sms-code")
            && sent.has_id("sms-verify-submit")
    );
    let wrong = b
        .submit(&sent, "/enroll/sms/verify", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.text_of("error"),
        "That code isn't right. 4 tries left."
    );
}
