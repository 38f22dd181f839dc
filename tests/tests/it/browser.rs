//! The reset and enrolment pages in a real browser.
//!
//! Each test starts its own gateway (one factor per reset at every risk level, no
//! cool-off for new factors, `server.public_url` = `http://localhost:{port}`),
//! imports one account and runs a scenario of `tests/browser/` in headless
//! Chromium driven by playwright-core:
//!
//! - `passkey`: sign in on `/enroll`, add a passkey (Chromium's virtual
//!   authenticator), sign out; reset on `/` with the passkey; the new password
//!   signs in, the old one does not.
//! - `totp`: the same with an authenticator app: the scenario reads the secret
//!   under the QR code and computes RFC 6238 codes.
//!
//! Afterwards the API confirms what the pages did. Screenshots of every page land
//! in `target/test-artifacts/browser/<scenario>/`. A missing Node.js, Chromium or
//! `tests/browser/node_modules` fails the test with the command that installs it.

use resetgate_tests::Gateway;
use resetgate_tests::browser::{self, ScenarioRun};
use resetgate_tests::fixtures::{self, ALICE, BOB, NEW_PASSWORD, User};
use resetgate_tests::flows;

/// A gateway for the pages: one factor per reset whatever the risk (a headless
/// browser counts as automation), and new factors count at once.
async fn gateway_for_pages() -> Gateway {
    Gateway::builder()
        .policy(fixtures::one_factor_policy())
        .env("RESETGATE__RESET__FACTOR_COOLOFF", "0s")
        .start()
        .await
}

/// Runs `scenario` for `user` and asserts it passed; then checks through the API
/// that the password changed and that the account has a `factor`.
async fn run(scenario: &str, user: User, factor: &str) -> ScenarioRun {
    browser::require_prerequisites();
    let gw = gateway_for_pages().await;
    gw.import_users(&[user]).await;

    let run = browser::run_scenario(&gw, scenario, &user, NEW_PASSWORD).await;
    run.assert_success();
    eprintln!(
        "{scenario}: {} screenshots in {}",
        run.screenshots().len(),
        run.artifacts.display()
    );

    let api = gw.api();
    flows::try_login(api, user.name, user.password)
        .await
        .expect_error(401, "invalid_credentials");
    let bearer = flows::login(api, user.name, NEW_PASSWORD).await;
    let listed = api.get_auth("/v1/me/factors", &bearer).await.ok();
    let kinds: Vec<&str> = listed["factors"]
        .as_array()
        .unwrap_or_else(|| panic!("factors is not an array: {listed}"))
        .iter()
        .filter_map(|f| f["factor"].as_str())
        .collect();
    assert!(
        kinds.contains(&factor),
        "the account has no {factor} factor after the scenario: {listed}"
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_added_on_the_enrolment_page_resets_the_password() {
    // Bob has no phone: the passkey is his only factor.
    let run = run("passkey", BOB, "webauthn").await;
    assert!(!run.screenshots().is_empty(), "no screenshots were taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticator_app_added_on_the_enrolment_page_resets_the_password() {
    // Alice also has an SMS phone: the reset page offers both, the scenario picks TOTP.
    let run = run("totp", ALICE, "totp").await;
    assert!(!run.screenshots().is_empty(), "no screenshots were taken");
}
