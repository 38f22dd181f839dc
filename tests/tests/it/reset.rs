//! The reset journey a person goes through, end to end.
//!
//! - With the bundled policy, an enrolled TOTP alone authorises a low-risk reset; the
//!   new password is checked against every rule of the default password policy
//!   before anything changes; the reset token works once.
//! - With a two-factor policy, SMS and TOTP are both needed, in either order, and the
//!   SMS hint does not disclose the phone number.
//! - Two completes racing with one token: exactly one wins.

use resetgate_tests::Gateway;
use resetgate_tests::api::{field_str, field_u64};
use resetgate_tests::fixtures::{
    self, ALICE, BOB, BREACHED_PASSWORD, NEW_PASSWORD, OTHER_NEW_PASSWORD, SHORT_PASSWORD,
};
use resetgate_tests::flows::{self, assert_rejected};

/// Passwords the default policy must refuse, with the reason code it must give.
fn rejected_candidates() -> Vec<(String, &'static str)> {
    vec![
        (SHORT_PASSWORD.to_owned(), "too_short"),
        (fixtures::long_common_password(), "common"),
        (BREACHED_PASSWORD.to_owned(), "breached"),
        (
            fixtures::password_with_username(ALICE.name),
            "contains_username",
        ),
        (ALICE.password.to_owned(), "reused"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_reset_enforces_the_password_policy_and_burns_the_token() {
    let gw = Gateway::start().await;
    let api = gw.api();
    gw.import_users(&[ALICE, BOB]).await;

    let bearer = flows::login(api, ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(api, &bearer).await;
    flows::assert_factor_active(api, &bearer, &totp.id, "totp").await;

    let start = flows::start_reset(api, ALICE.name).await;
    assert_eq!(
        start["status"], "challenge",
        "low risk is a challenge: {start}"
    );
    assert_eq!(field_u64(&start, "factors_required"), 1, "{start}");
    assert!(
        flows::option_factors(&start).iter().any(|f| f == "totp"),
        "totp is not offered: {start}"
    );
    let flow = flows::flow_id(&start);
    let code = totp.device.next_code().await;
    let verified = flows::verify(api, &flow, "totp", &code).await.ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    let token = field_str(&verified, "reset_token").to_owned();
    assert!(
        token.len() >= 22,
        "a reset token of >= 128 bits, got {token:?}"
    );

    for (candidate, reason) in rejected_candidates() {
        let response = flows::complete(api, &flow, &token, &candidate).await;
        assert_rejected(&response, reason);
    }
    let done = flows::complete(api, &flow, &token, NEW_PASSWORD).await.ok();
    assert_eq!(done["status"], "done", "{done}");

    flows::try_login(api, ALICE.name, ALICE.password)
        .await
        .expect_error(401, "invalid_credentials");
    flows::login(api, ALICE.name, NEW_PASSWORD).await;
    flows::login(api, BOB.name, BOB.password).await;

    assert_token_is_burnt(&gw, &flow, &token).await;
}

/// A second complete with a used token is refused (409 `token_used` or 410, not a
/// password rejection) and changes nothing.
async fn assert_token_is_burnt(gw: &Gateway, flow: &str, token: &str) {
    let api = gw.api();
    let reused = flows::complete(api, flow, token, OTHER_NEW_PASSWORD).await;
    assert!(
        reused.is_client_error() && reused.status != 422,
        "a used reset token must be refused with 409/410: {reused}"
    );
    flows::try_login(api, ALICE.name, OTHER_NEW_PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    flows::login(api, ALICE.name, NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_policy_needs_sms_and_totp() {
    let gw = Gateway::builder()
        .policy(fixtures::two_factor_policy())
        .start()
        .await;
    let api = gw.api();
    let phone = ALICE.phone.expect("alice has a phone");
    gw.import_users(&[ALICE, BOB]).await;
    let bearer = flows::login(api, ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(api, &bearer).await;

    let start = flows::start_reset(api, ALICE.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    assert_eq!(field_u64(&start, "factors_required"), 2, "{start}");
    let mut offered = flows::option_factors(&start);
    offered.sort();
    assert_eq!(offered, ["sms", "totp"], "{start}");
    let hint = flows::hint_for(&start, "sms");
    let national = &phone[2..];
    assert!(
        !hint.contains(phone) && !hint.contains(national),
        "the SMS hint discloses the phone number: {hint:?}"
    );

    let flow = flows::flow_id(&start);
    let code = flows::sms_code(&gw, &flow, phone).await;
    let first = flows::verify(api, &flow, "sms", &code).await.ok();
    assert_eq!(first["status"], "challenge", "{first}");
    assert_eq!(field_u64(&first, "factors_remaining"), 1, "{first}");
    assert!(
        first.get("reset_token").is_none(),
        "no token after one of two: {first}"
    );

    let code = totp.device.next_code().await;
    let second = flows::verify(api, &flow, "totp", &code).await.ok();
    assert_eq!(second["status"], "verified", "{second}");
    let token = field_str(&second, "reset_token");

    let done = flows::complete(api, &flow, token, NEW_PASSWORD).await.ok();
    assert_eq!(done["status"], "done", "{done}");
    flows::login(api, ALICE.name, NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reset_token_completes_once_under_a_race() {
    let gw = Gateway::start().await;
    let api = gw.api();
    gw.import_users(&[ALICE]).await;
    let reset = flows::reset_via_sms(&gw, &ALICE).await;

    let (a, b) = tokio::join!(
        flows::complete(api, &reset.flow, &reset.reset_token, NEW_PASSWORD),
        flows::complete(api, &reset.flow, &reset.reset_token, OTHER_NEW_PASSWORD),
    );
    let winners = [&a, &b].iter().filter(|r| r.status == 200).count();
    assert_eq!(winners, 1, "exactly one complete may win:\n{a}\n{b}");
    let (winner, loser, won, lost) = if a.status == 200 {
        (&a, &b, NEW_PASSWORD, OTHER_NEW_PASSWORD)
    } else {
        (&b, &a, OTHER_NEW_PASSWORD, NEW_PASSWORD)
    };
    assert_eq!(winner.body["status"], "done", "{winner}");
    assert!(loser.is_client_error(), "the loser gets a 4xx: {loser}");

    flows::login(api, ALICE.name, won).await;
    flows::try_login(api, ALICE.name, lost)
        .await
        .expect_error(401, "invalid_credentials");
}
