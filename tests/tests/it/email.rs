//! "Was this you?" e-mails through a real SMTP relay: a local `aiosmtpd`
//! (`tests/smtp/`) receives what the gateway sends to `email.smtp_url`.

use resetgate_tests::api::field_str;
use resetgate_tests::fixtures::{ALICE, NEW_PASSWORD};
use resetgate_tests::flows;
use resetgate_tests::smtp::{MAIL_TIMEOUT, Mail};
use resetgate_tests::{Gateway, SmtpSink};

/// In the bundled geo sample: London, GB.
const CLIENT_IP: &str = "192.0.2.10";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn assert_no_secret(mail: &Mail, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !mail.raw.contains(secret),
            "the mail holds a secret ({secret:?}):\n{}",
            mail.raw
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_notices_after_a_factor_change_and_a_reset() {
    let sink = SmtpSink::start();
    let gw = Gateway::builder()
        .trusted_proxies(["127.0.0.0/8"])
        .smtp_url(sink.url())
        .start()
        .await;
    gw.import_users(&[ALICE]).await;
    let api = gw
        .api()
        .clone()
        .forwarded_for(CLIENT_IP)
        .user_agent(FIREFOX);

    let bearer = flows::login(&api, ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(&api, &bearer).await;
    let today = jiff_free_today();

    let added = sink
        .wait_for(ALICE.email, "factor was added", MAIL_TIMEOUT)
        .await;
    let body = added.body();
    assert!(body.contains("A sign-in factor was added"), "{body}");
    assert!(body.contains(&today), "no date {today} in:\n{body}");
    assert!(body.contains(CLIENT_IP), "no client address in:\n{body}");
    assert!(body.contains("Firefox"), "no browser in:\n{body}");
    assert!(body.contains("Contact your IT help desk."), "{body}");
    assert_no_secret(&added, &[&totp.secret, ALICE.password, &bearer]);

    let start = flows::start_reset(&api, ALICE.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    let flow = flows::flow_id(&start);
    let code = totp.device.next_code().await;
    let verified = flows::verify(&api, &flow, "totp", &code).await.ok();
    let token = field_str(&verified, "reset_token").to_owned();
    let done = flows::complete(&api, &flow, &token, NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");

    let reset = sink
        .wait_for(ALICE.email, "Your password was reset", MAIL_TIMEOUT)
        .await;
    println!("--- the reset notice as received ---\n{}", reset.raw);
    let to = reset.header("To").unwrap_or_default();
    assert!(to.contains(ALICE.email), "To: {to}");
    let body = reset.body();
    assert!(
        body.contains("password of your account was reset"),
        "{body}"
    );
    assert!(body.contains(&today), "no date {today} in:\n{body}");
    assert!(body.contains(CLIENT_IP), "no client address in:\n{body}");
    assert!(body.contains("London, GB"), "no place in:\n{body}");
    assert!(body.contains("Firefox on Linux"), "no browser in:\n{body}");
    assert!(body.contains("Contact your IT help desk."), "{body}");
    assert_no_secret(
        &reset,
        &[
            NEW_PASSWORD,
            ALICE.password,
            &code,
            &token,
            &totp.secret,
            &flow,
        ],
    );
    // The log names the masked address only.
    let log = gw.log();
    assert!(!log.contains(ALICE.email), "the full address is in the log");
}

/// Today's date in UTC as `YYYY-MM-DD` (civil-from-days, no date crate needed).
fn jiff_free_today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let days = i64::try_from(secs / 86_400).unwrap();
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
