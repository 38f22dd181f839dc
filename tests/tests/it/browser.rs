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
//! - `messages`: the pages when things go wrong: no or an unknown reset
//!   (`#expired`), a wrong code, rejected new passwords, five wrong codes
//!   (`#too-many`); the start and challenge pages at 320x640 and by keyboard.
//! - `refusal`: on a gateway whose policy denies every reset, `#refused` shows the
//!   configured help-desk text and no reason.
//! - `console`: an administrator signs in at `/admin` (password and TOTP code),
//!   the overview draws the decisions as SVG with the risky attempts and their
//!   reasons, one is labelled a confirmed attack, the policy editor refuses a broken edit with its line and makes a
//!   good one live (confirmed through the API), sign-out.
//!
//! Afterwards the API confirms what the pages did. Screenshots of every page land
//! in `target/test-artifacts/browser/<scenario>/`. A missing Node.js, Chromium or
//! `tests/browser/node_modules` fails the test with the command that installs it.

use resetgate_tests::Gateway;
use resetgate_tests::audit;
use resetgate_tests::browser::{self, ScenarioRun};
use resetgate_tests::fixtures::{self, ALICE, BOB, CAROL, NEW_PASSWORD, User};
use resetgate_tests::flows;

/// `reset.help_desk` of the gateway in `refusal`, which its page must show.
const HELP_DESK: &str = "Call the service desk on 555-0100.";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_say_what_went_wrong_and_how_to_go_on() {
    // Carol also has an SMS phone: the challenge page offers two ways, the
    // longest label ("Text a code to …") is there for the 320 px check.
    let run = run("messages", CAROL, "totp").await;
    assert!(!run.screenshots().is_empty(), "no screenshots were taken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reset_names_the_help_desk_and_no_reason() {
    browser::require_prerequisites();
    let gw = Gateway::builder()
        .policy(fixtures::deny_all_policy())
        .env("RESETGATE__RESET__HELP_DESK", HELP_DESK)
        .start()
        .await;
    gw.import_users(&[ALICE]).await;

    let run = browser::run_scenario_with_env(
        &gw,
        "refusal",
        &ALICE,
        NEW_PASSWORD,
        &[("RG_HELP_DESK", HELP_DESK)],
    )
    .await;
    run.assert_success();
    assert!(!run.screenshots().is_empty(), "no screenshots were taken");

    // The policy refused it (not a decoy or an error), and nothing changed.
    let records = audit::records(&gw.audit_export().await);
    let starts: Vec<_> = records
        .iter()
        .filter(|record| record["kind"] == "reset.started")
        .collect();
    assert!(!starts.is_empty(), "no reset.started record");
    for start in starts {
        assert_eq!(start["data"]["level"], "deny", "{start}");
        assert_eq!(start["data"]["decoy"], false, "{start}");
    }
    flows::login(gw.api(), ALICE.name, ALICE.password).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_decisions_and_edits_the_policy() {
    browser::require_prerequisites();
    // Every reset is high (the attempts rule fires from the first), so the
    // overview has risky attempts with their reasons to show.
    let gw = Gateway::builder()
        .policy(fixtures::high_all_policy())
        .start()
        .await;
    gw.import_users(&[ALICE, CAROL]).await;
    for name in [ALICE.name, CAROL.name, "nobody-here", ALICE.name] {
        flows::start_reset(gw.api(), name).await;
    }
    let secret = crate::admin::create_admin_secret(&gw).await;
    let admin = User {
        name: crate::admin::ADMIN,
        password: crate::admin::ADMIN_PASSWORD,
        email: "",
        phone: None,
    };
    let before = audit::records(&gw.audit_export().await).len();
    let run = browser::run_scenario_with_env(
        &gw,
        "console",
        &admin,
        NEW_PASSWORD,
        &[("RG_ADMIN_TOTP_SECRET", secret.as_str())],
    )
    .await;
    run.assert_success();
    assert!(run.screenshots().len() >= 8, "{:?}", run.screenshots());
    // What the editor did, seen through the store: one new live version,
    // by the administrator, and a refused edit that changed nothing.
    let records = audit::records(&gw.audit_export().await);
    let activated: Vec<_> = records[before..]
        .iter()
        .filter(|r| r["kind"] == "policy.activated")
        .collect();
    assert_eq!(activated.len(), 1, "{activated:?}");
    assert_eq!(activated[0]["subject"], crate::admin::ADMIN);
    assert_eq!(activated[0]["data"]["comment"], "deny from 95");
    assert!(
        records[before..]
            .iter()
            .any(|r| r["kind"] == "admin.login_failed" && r["data"]["reason"] == "code")
    );
    assert!(
        records[before..]
            .iter()
            .any(|r| r["kind"] == "admin.logout")
    );
}
