//! An SMS reset through the pages: the masked number, a new code replacing
//! the old one, then the new-password form.

use axum::http::StatusCode;

use super::browser::Browser;
use super::reset::begin;
use crate::App;

/// The newest code in the demo outbox.
async fn texted_code(app: &App, sent: usize) -> String {
    for _ in 0..100 {
        let (_, body) = app.get("/dev/outbox.json").await;
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() >= sent {
            let text = messages[0]["message"].as_str().unwrap();
            return text.split_whitespace().next().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no SMS in the outbox");
}

#[tokio::test]
async fn an_sms_reset_through_the_pages_with_a_new_code() {
    let app = App::demo().await;
    app.user("ann", "ann-initial-passphrase", Some("+15550100042"))
        .await;
    let mut b = Browser::new(&app);
    let challenge = begin(&mut b, "ann").await;
    assert!(
        challenge.plain().contains("Text a code to •••-•••-••42"),
        "{}",
        challenge.body
    );
    let chosen = b
        .submit(&challenge, "/reset/challenge", &[("factor", "sms")])
        .await;
    assert_eq!(chosen.location(), "/reset/code?factor=sms");
    let code_page = b.follow(&chosen).await;
    assert!(
        code_page
            .plain()
            .contains("We texted a 6-digit code to •••-•••-••42")
    );
    assert!(code_page.has_id("resend"));
    let first = texted_code(&app, 1).await;
    let resent = b
        .submit(&code_page, "/reset/challenge", &[("factor", "sms")])
        .await;
    assert_eq!(resent.location(), "/reset/code?factor=sms");
    let second = texted_code(&app, 2).await;
    let stale = b
        .submit(
            &code_page,
            "/reset/verify",
            &[("factor", "sms"), ("code", &first)],
        )
        .await;
    if first != second {
        assert_eq!(
            stale.status,
            StatusCode::BAD_REQUEST,
            "the new code replaced the old one"
        );
    }
    let verified = b
        .submit(
            &code_page,
            "/reset/verify",
            &[("factor", "sms"), ("code", &second)],
        )
        .await;
    assert_eq!(verified.location(), "/reset", "{}", verified.body);
    assert!(b.follow(&verified).await.has_id("password-form"));
    // Once verified, the state page stays on the password form.
    let again = b.get("/reset").await;
    assert!(
        again.has_id("password-form"),
        "verified flows send nothing more"
    );
}
