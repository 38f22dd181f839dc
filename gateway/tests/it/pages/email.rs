//! An e-mail code reset through the pages: the masked address on the choice
//! and the code page, a new code replacing the old one, then the
//! new-password form.

use axum::http::StatusCode;
use secrecy::SecretString;

use super::browser::Browser;
use super::reset::begin;
use crate::App;
use crate::smtp::SmtpSink;

#[tokio::test]
async fn an_email_reset_through_the_pages_with_a_new_code() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = App::with(|c| c.email.smtp_url = Some(SecretString::from(url))).await;
    app.user_with_email(
        "ann",
        "ann-initial-passphrase",
        Some("ann@example.org"),
        None,
    )
    .await;
    let mut b = Browser::new(&app);
    let challenge = begin(&mut b, "ann").await;
    assert!(challenge.has_id("choose-email"), "{}", challenge.body);
    assert!(
        challenge
            .plain()
            .contains("E-mail a code to a•••@example.org"),
        "{}",
        challenge.body
    );
    let chosen = b
        .submit(&challenge, "/reset/challenge", &[("factor", "email")])
        .await;
    assert_eq!(chosen.location(), "/reset/code?factor=email");
    let code_page = b.follow(&chosen).await;
    assert!(
        code_page
            .plain()
            .contains("We sent a code to a•••@example.org."),
        "{}",
        code_page.body
    );
    assert!(code_page.has_id("resend"));
    assert!(
        code_page.body.contains("name=\"factor\" value=\"email\""),
        "the new code goes by e-mail too"
    );
    let first = sink.wait_for(1).await.code().unwrap();
    let resent = b
        .submit(&code_page, "/reset/challenge", &[("factor", "email")])
        .await;
    assert_eq!(resent.location(), "/reset/code?factor=email");
    let second = sink.wait_for(2).await.code().unwrap();
    if first != second {
        let stale = b
            .submit(
                &code_page,
                "/reset/verify",
                &[("factor", "email"), ("code", &first)],
            )
            .await;
        assert_eq!(stale.status, StatusCode::BAD_REQUEST);
        assert!(
            stale.plain().contains("That code isn't right."),
            "{}",
            stale.body
        );
        assert!(
            stale
                .plain()
                .contains("We sent a code to a•••@example.org.")
        );
    }
    let verified = b
        .submit(
            &code_page,
            "/reset/verify",
            &[("factor", "email"), ("code", &second)],
        )
        .await;
    assert_eq!(verified.location(), "/reset", "{}", verified.body);
    assert!(b.follow(&verified).await.has_id("password-form"));
}
