//! SMS codes through Twilio's Messages API (`sms.provider = "twilio"`), to a
//! local receiver that speaks it (`resetgate_tests::sms`): the code arrives as
//! a form with `To`, `From` and `Body` under the account's Basic auth, a
//! provider's 503s are waited out, and a refusal of the credentials is not
//! retried and leaves no secret in the log.

use std::time::Duration;

use resetgate_tests::Gateway;
use resetgate_tests::fixtures::{self, ALICE, NEW_PASSWORD};
use resetgate_tests::flows;
use resetgate_tests::sms::{SMS_TIMEOUT, TWILIO_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_code_goes_through_twilio_and_a_bad_minute_is_waited_out() {
    let gw = Gateway::builder()
        .policy(fixtures::one_factor_policy())
        .sms_twilio(TWILIO_TOKEN)
        .start()
        .await;
    let phone = ALICE.phone.expect("alice has a phone");
    gw.import_users(&[ALICE]).await;
    // The first two attempts are answered 503: the third (after 1 s and 3 s)
    // is taken.
    gw.sms().refuse_next(2);

    let start = flows::start_reset(gw.api(), ALICE.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    let flow = flows::flow_id(&start);
    let sent = flows::challenge(gw.api(), &flow, "sms").await.ok();
    assert_eq!(sent["status"], "sent", "{sent}");
    let sms = gw.sms().next_message(phone, SMS_TIMEOUT).await;
    assert_eq!(gw.sms().requests(), 3, "two refused, one taken");
    assert_eq!(sms.raw["To"], phone, "{:?}", sms.raw);
    assert_eq!(sms.raw["From"], "+15005550006", "{:?}", sms.raw);
    let code = resetgate_tests::sms::extract_code(&sms.message)
        .unwrap_or_else(|| panic!("no code in {:?}", sms.message));

    let verified = flows::verify(gw.api(), &flow, "sms", &code).await.ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    let token = verified["reset_token"].as_str().expect("a reset token");
    let done = flows::complete(gw.api(), &flow, token, NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");

    let log = gw.log();
    assert!(
        log.contains("sms handed to Twilio"),
        "the delivery is logged: {log}"
    );
    assert!(!log.contains(TWILIO_TOKEN), "the token reached the log");
    assert!(!log.contains(&code), "the code reached the log");
    assert!(!log.contains(phone), "the full number reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_twilio_credentials_are_not_retried_and_stay_out_of_the_log() {
    let wrong = "not-the-token-twilio-knows";
    let gw = Gateway::builder()
        .policy(fixtures::one_factor_policy())
        .sms_twilio(wrong)
        .start()
        .await;
    gw.import_users(&[ALICE]).await;
    let start = flows::start_reset(gw.api(), ALICE.name).await;
    let flow = flows::flow_id(&start);
    let sent = flows::challenge(gw.api(), &flow, "sms").await.ok();
    // Delivery is in the background: the person is told it was sent either way.
    assert_eq!(sent["status"], "sent", "{sent}");

    let deadline = tokio::time::Instant::now() + SMS_TIMEOUT;
    while !gw.log().contains("sms delivery failed") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failure logged: {}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Past both retry pauses: a 401 is not tried again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        gw.sms().requests(),
        1,
        "a refusal of the credentials is final"
    );
    assert!(gw.sms().messages().is_empty());
    let log = gw.log();
    assert!(
        log.contains("401") && log.contains("Twilio error 20003"),
        "the log says why: {log}"
    );
    assert!(!log.contains(wrong), "the token reached the log");
    assert!(
        !log.contains(resetgate_tests::sms::TWILIO_ACCOUNT),
        "the account's URL reached the log"
    );
}
