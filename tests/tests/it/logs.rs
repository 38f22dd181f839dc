//! Secrets never reach the log.
//!
//! One gateway goes through every journey of the other tests (enrolment, a
//! two-factor reset, rejected and accepted passwords, a reused token, wrong codes,
//! a decoy, a failed sign-in, the audit verbs). Then its captured stdout and stderr,
//! the `audit export` output and the `users import` output must contain none of the
//! passwords, SMS or TOTP codes, reset token, bearer tokens or the TOTP secret used.

use resetgate_tests::Gateway;
use resetgate_tests::api::field_str;
use resetgate_tests::fixtures::{
    self, ALICE, BOB, BREACHED_PASSWORD, NEW_PASSWORD, OTHER_NEW_PASSWORD, SHORT_PASSWORD,
    UNKNOWN_NAME,
};
use resetgate_tests::flows;
use resetgate_tests::leaks::{Secret, find_leaks};

const WRONG_PASSWORD: &str = "Not-Bobs-Password-At-All-1";

/// What the journey used that must stay secret.
#[derive(Default)]
struct Used {
    secrets: Vec<Secret>,
}

impl Used {
    fn text(&mut self, what: &str, value: &str) {
        self.secrets.push(Secret::text(what, value));
    }

    fn code(&mut self, what: &str, value: &str) {
        self.secrets.push(Secret::code(what, value));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log() {
    let gw = Gateway::builder()
        .policy(fixtures::two_factor_policy())
        .start()
        .await;
    let mut used = Used::default();
    let import = gw.import_users(&[ALICE, BOB]).await;
    for (what, password) in [
        ("alice's password", ALICE.password),
        ("bob's password", BOB.password),
        ("a wrong password", WRONG_PASSWORD),
        ("a short password", SHORT_PASSWORD),
        ("a breached password", BREACHED_PASSWORD),
        ("the new password", NEW_PASSWORD),
        ("a password tried with a used token", OTHER_NEW_PASSWORD),
    ] {
        used.text(what, password);
    }
    used.text("a common password", &fixtures::long_common_password());
    used.text(
        "a password with the user name",
        &fixtures::password_with_username(ALICE.name),
    );

    two_factor_reset(&gw, &mut used).await;
    side_journeys(&gw).await;
    let verify = gw.cli_ok(&["audit", "verify"]).await;
    let export = gw.cli_ok(&["audit", "export"]).await;

    let mut leaks = Vec::new();
    for (source, text) in [
        ("gateway log", gw.log()),
        ("`audit export`", export.combined()),
        ("`audit verify`", verify.combined()),
        ("`users import`", import.combined()),
    ] {
        leaks.extend(
            find_leaks(&text, &used.secrets)
                .into_iter()
                .map(|leak| format!("{source}: {leak}")),
        );
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// Enrolment and a two-factor reset with every password rejection, recording what
/// was used.
async fn two_factor_reset(gw: &Gateway, used: &mut Used) {
    let api = gw.api();
    let phone = ALICE.phone.expect("alice has a phone");
    let bearer = flows::login(api, ALICE.name, ALICE.password).await;
    used.text("a bearer token", &bearer);
    let mut totp = flows::enrol_totp(api, &bearer).await;
    used.text("the TOTP secret", &totp.secret);

    let start = flows::start_reset(api, ALICE.name).await;
    let flow = flows::flow_id(&start);
    let wrong = flows::verify(api, &flow, "totp", &totp.device.wrong_code()).await;
    wrong.expect_error(400, "invalid_code");
    let sms_code = flows::sms_code(gw, &flow, phone).await;
    used.code("the SMS code", &sms_code);
    flows::verify(api, &flow, "sms", &sms_code).await.ok();
    let code = totp.device.next_code().await;
    let verified = flows::verify(api, &flow, "totp", &code).await.ok();
    for code in totp.device.issued() {
        used.code("a TOTP code", code);
    }
    let token = field_str(&verified, "reset_token");
    used.text("the reset token", token);

    for candidate in [
        SHORT_PASSWORD.to_owned(),
        fixtures::long_common_password(),
        BREACHED_PASSWORD.to_owned(),
        fixtures::password_with_username(ALICE.name),
        ALICE.password.to_owned(),
    ] {
        let response = flows::complete(api, &flow, token, &candidate).await;
        response.expect_error(422, "password_rejected");
    }
    flows::complete(api, &flow, token, NEW_PASSWORD).await.ok();
    let reused = flows::complete(api, &flow, token, OTHER_NEW_PASSWORD).await;
    assert!(!reused.is_success(), "{reused}");
    let bearer = flows::login(api, ALICE.name, NEW_PASSWORD).await;
    used.text("a bearer token after the reset", &bearer);
}

/// A failed sign-in and a decoy flow with wrong codes.
async fn side_journeys(gw: &Gateway) {
    let api = gw.api();
    flows::try_login(api, BOB.name, WRONG_PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    let decoy = flows::start_reset(api, UNKNOWN_NAME).await;
    // Under the two-factor policy the decoy may be denied and offer nothing.
    let factor = flows::option_factors(&decoy)
        .into_iter()
        .next()
        .unwrap_or_else(|| "sms".to_owned());
    let flow = flows::flow_id(&decoy);
    let response = flows::verify(api, &flow, &factor, "000000").await;
    assert!(!response.is_success(), "{response}");
}

/// `[log] format = "json"`: every line of the log is one JSON object, and a
/// request's lines carry its `x-request-id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id() {
    let gw = resetgate_tests::Gateway::builder()
        .config("[log]\nformat = \"json\"\n")
        .env("RESETGATE_LOG", "info,tower_http=debug")
        .start()
        .await;
    let start = resetgate_tests::flows::try_start_reset(gw.api(), "nobody-at-all").await;
    assert_eq!(start.status, 200, "{start}");
    let log = gw.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "no JSON lines in:\n{log}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let with_id = lines
        .iter()
        .find(|l| l["span"]["path"] == "/v1/reset")
        .unwrap_or_else(|| panic!("no line of the POST /v1/reset span in:\n{log}"));
    let id = with_id["span"]["request_id"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 26, "a ULID request id: {with_id}");
}
