//! Resets through the pages: TOTP to the done page, wrong codes, refused
//! passwords, a denied flow, and an unknown account walking the same pages.

use axum::http::StatusCode;
use resetgate::account::AccountName;
use resetgate::factors::{decoy_options, sms};
use risk::Factor;
use serde_json::json;

use super::browser::{Browser, Page, assert_html};
use crate::App;

const GOOD: &str = "quiet lantern harbour morning";

/// `/`, then `POST /reset` for `name`; returns the state page.
pub async fn begin(b: &mut Browser<'_>, name: &str) -> Page {
    let start = b.get("/").await;
    let posted = b.submit(&start, "/reset", &[("username", name)]).await;
    assert_eq!(
        (posted.status, posted.location()),
        (StatusCode::SEE_OTHER, "/reset"),
        "{}",
        posted.body
    );
    b.follow(&posted).await
}

/// A first password that every rule accepts (so that choosing it again is
/// refused as `reused` alone).
const INITIAL: &str = "violet harbour kettle initial";

#[tokio::test]
async fn a_totp_reset_through_the_pages_ends_done_and_the_password_signs_in() {
    let app = App::new().await;
    app.user("ann", INITIAL, None).await;
    let seed = app.totp("ann", 0, false).await;
    let mut b = Browser::new(&app);
    let challenge = begin(&mut b, "ann").await;
    assert_html(&challenge);
    assert!(
        challenge.body.contains("Verify it's you — 1 more step"),
        "{}",
        challenge.body
    );
    assert!(challenge.has_id("choose-totp") && !challenge.has_id("choose-sms"));
    assert!(challenge.body.contains("Use your authenticator app"));
    let flow_id = b.jar["rg_flow"].clone();
    assert!(
        !challenge.body.contains(&flow_id),
        "the flow id stays in its cookie"
    );

    let code_page = choose_totp_and_miss_once(&mut b, &challenge).await;
    let code = app.code(&seed, 0);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let verified = b
        .submit(
            &code_page,
            "/reset/verify",
            &[("factor", "totp"), ("code", &spaced)],
        )
        .await;
    assert_eq!(
        (verified.status, verified.location()),
        (StatusCode::SEE_OTHER, "/reset"),
        "{}",
        verified.body
    );
    let reset_cookie = verified
        .set_cookie("rg_reset")
        .expect("the reset token cookie");
    assert!(
        reset_cookie.contains("Path=/reset")
            && reset_cookie.contains("HttpOnly")
            && reset_cookie.contains("SameSite=Strict")
    );
    let reset_token = b.jar["rg_reset"].clone();

    let form = b.follow(&verified).await;
    assert_html(&form);
    for id in [
        "password-form",
        "new-password",
        "confirm-password",
        "password-submit",
        "password-rules",
    ] {
        assert!(form.has_id(id), "#{id}");
    }
    assert!(form.body.contains("minlength=\"15\"") && form.body.contains("maxlength=\"128\""));
    assert!(
        !form.body.contains(&reset_token),
        "the reset token is not in the page"
    );

    password_refusals_are_explained(&mut b, &form).await;

    let done = b
        .submit(
            &form,
            "/reset/complete",
            &[("new_password", GOOD), ("confirm_password", GOOD)],
        )
        .await;
    assert_eq!(
        (done.status, done.location()),
        (StatusCode::SEE_OTHER, "/reset/done"),
        "{}",
        done.body
    );
    assert!(
        !b.jar.contains_key("rg_flow") && !b.jar.contains_key("rg_reset"),
        "{:?}",
        b.jar
    );
    let page = b.follow(&done).await;
    assert_html(&page);
    assert!(
        page.text_of("done")
            .starts_with("Your password has been changed")
    );
    assert!(page.body.contains("href=\"/enroll\""));
    assert_eq!(
        b.get("/reset").await.location(),
        "/",
        "no flow cookie: back to the start"
    );

    let (status, _) = app
        .post("/v1/login", json!({"username": "ann", "password": GOOD}))
        .await;
    assert_eq!(status, StatusCode::OK, "the new password signs in");
}

/// From the challenge page: choose the app, see the code form, enter a wrong
/// code (told the tries left, the code not echoed); returns the code page.
async fn choose_totp_and_miss_once(b: &mut Browser<'_>, challenge: &Page) -> Page {
    let chosen = b
        .submit(challenge, "/reset/challenge", &[("factor", "totp")])
        .await;
    assert_eq!(chosen.location(), "/reset/code?factor=totp");
    let code_page = b.follow(&chosen).await;
    assert_html(&code_page);
    assert!(code_page.has_id("code-form") && code_page.has_id("code-submit"));
    assert!(code_page.body.contains("autocomplete=\"one-time-code\""));

    let wrong = b
        .submit(
            &code_page,
            "/reset/verify",
            &[("factor", "totp"), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_html(&wrong);
    assert_eq!(
        wrong.text_of("error"),
        "That code isn't right. 4 tries left."
    );
    assert!(!wrong.body.contains("000000"), "codes are not echoed");
    code_page
}

/// On the password form: a mismatch, a weak and a reused password are each
/// refused with sentences saying why (422), and nothing typed is echoed.
async fn password_refusals_are_explained(b: &mut Browser<'_>, form: &Page) {
    let differ = b
        .submit(
            form,
            "/reset/complete",
            &[
                ("new_password", GOOD),
                ("confirm_password", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.text_of("error").contains("The two passwords differ"));
    assert!(!differ.body.contains(GOOD), "passwords are not echoed");

    let weak = "password";
    let rejected = b
        .submit(
            form,
            "/reset/complete",
            &[("new_password", weak), ("confirm_password", weak)],
        )
        .await;
    assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_html(&rejected);
    let errors = rejected.text_of("password-errors");
    assert!(
        errors.contains("Use at least 15 characters."),
        "{}",
        rejected.body
    );
    assert!(
        rejected.plain().contains("most common passwords"),
        "{}",
        rejected.body
    );
    assert!(
        rejected
            .body
            .contains("aria-describedby=\"password-rules password-errors error\"")
    );
    // `reused` is said only of a password that passes every other rule.
    let reused = INITIAL;
    let again = b
        .submit(
            form,
            "/reset/complete",
            &[("new_password", reused), ("confirm_password", reused)],
        )
        .await;
    assert!(
        again.plain().contains("You used this password recently"),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn too_many_wrong_codes_show_the_too_many_page() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", None).await;
    app.totp("ann", 0, false).await;
    let mut b = Browser::new(&app);
    begin(&mut b, "ann").await;
    let code_page = b.get("/reset/code?factor=totp").await;
    let mut last = None;
    for _ in 0..5 {
        last = Some(
            b.submit(
                &code_page,
                "/reset/verify",
                &[("factor", "totp"), ("code", "000000")],
            )
            .await,
        );
    }
    let locked = last.unwrap();
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_html(&locked);
    assert!(
        locked.has_id("too-many") && locked.body.contains("Try again in"),
        "{}",
        locked.body
    );
    let state = b.get("/reset").await;
    assert!(state.has_id("too-many"));
    assert_eq!(state.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_denied_reset_shows_the_help_desk_and_never_why() {
    let app = App::with(|c| c.reset.help_desk = "Call the service desk on 555-0100.".into()).await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    app.totp("ann", 0, false).await;
    let mut b = Browser::new(&app);
    let mut page = begin(&mut b, "ann").await;
    for _ in 0..8 {
        page = begin(&mut b, "ann").await;
    }
    assert_html(&page);
    assert!(page.has_id("refused"), "{}", page.body);
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.plain().contains("Call the service desk on 555-0100."));
    assert!(page.plain().contains("can't reset your password online"));
    let lower = page.body.to_lowercase();
    for word in [
        "score", "reason", "risk", "level", "velocity", "policy", "denied",
    ] {
        assert!(!lower.contains(word), "{word:?} in {}", page.body);
    }
}

#[tokio::test]
async fn an_unknown_account_walks_the_same_pages_as_a_known_one() {
    let app = App::new().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    app.totp("ann", 0, false).await;
    // An unknown name whose decoy offers what ann has: an app and a phone.
    let (unknown, decoy_hint) = (0..)
        .map(|i| format!("nobody{i}"))
        .find_map(|name| {
            let options = decoy_options(&app.state.key, &AccountName::parse(&name).unwrap(), None);
            let sms = options.iter().find(|o| o.factor == Factor::Sms)?;
            let app_too = options.iter().any(|o| o.factor == Factor::Totp);
            (options.len() == 2 && app_too).then(|| (name.clone(), sms.hint.clone()))
        })
        .unwrap();
    let known_hint = sms::mask("+15550100042");
    let mut pages = Vec::new();
    for (name, hint) in [
        ("ann", known_hint.as_str()),
        (unknown.as_str(), decoy_hint.as_str()),
    ] {
        let mut b = Browser::new(&app);
        let start = b.get("/").await;
        let posted = b.submit(&start, "/reset", &[("username", name)]).await;
        let challenge = b.follow(&posted).await;
        let code_page = b.get("/reset/code?factor=totp").await;
        let wrong = b
            .submit(
                &code_page,
                "/reset/verify",
                &[("factor", "totp"), ("code", "000000")],
            )
            .await;
        let normal = |p: &Page| {
            (
                p.status,
                p.body.replace(&p.csrf(), "CSRF").replace(hint, "HINT"),
            )
        };
        pages.push([
            (posted.status, posted.location().to_owned()),
            normal(&challenge),
            normal(&code_page),
            normal(&wrong),
        ]);
    }
    assert_eq!(pages[0], pages[1]);
    assert!(
        pages[0][1].1.contains("id=\"choose-sms\"")
            && pages[0][1].1.contains("Text a code to HINT")
    );
    assert!(pages[0][3].1.contains("4 tries left"));
}
