//! E-mail through a real SMTP relay: a local `aiosmtpd` (`tests/smtp/`)
//! receives what the gateway sends to `email.smtp_url` — "was this you?"
//! notices, and one-time reset codes (the weakest factor: `low` risk only).

use std::time::Duration;

use resetgate_tests::api::field_str;
use resetgate_tests::audit;
use resetgate_tests::fixtures::{self, ALICE, BOB, NEW_PASSWORD};
use resetgate_tests::flows;
use resetgate_tests::leaks::{self, Secret};
use resetgate_tests::smtp::{MAIL_TIMEOUT, Mail};
use resetgate_tests::webhook::{WEBHOOK_TIMEOUT, WebhookReceiver};
use resetgate_tests::{Gateway, SmtpSink};
use serde_json::{Value, json};

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
    let (sink, gw, api) = relayed(&[ALICE], FIREFOX).await;

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

/// A gateway behind a trusted proxy mailing through a fresh SMTP sink, with
/// `users` imported, and a client from [`CLIENT_IP`] with `user_agent`.
async fn relayed(
    users: &[resetgate_tests::fixtures::User],
    user_agent: &str,
) -> (SmtpSink, Gateway, resetgate_tests::Api) {
    let sink = SmtpSink::start();
    let gw = Gateway::builder()
        .trusted_proxies(["127.0.0.0/8"])
        .smtp_url(sink.url())
        .start()
        .await;
    gw.import_users(users).await;
    let api = gw
        .api()
        .clone()
        .forwarded_for(CLIENT_IP)
        .user_agent(user_agent);
    (sink, gw, api)
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

/// The "this wasn't me" link of the reset notice, end to end: opened from
/// the e-mail it shows a button (opening changes nothing), pressing it locks
/// the account's resets (the next reset is a decoy that cannot succeed),
/// tells the SOC (`account.locked`), and works once; an operator unlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_link_in_the_reset_notice_locks_resets_once_and_tells_the_soc() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sink = SmtpSink::start();
    let soc = WebhookReceiver::start_with(&[SECRET]).await;
    let gw = Gateway::builder()
        .trusted_proxies(["127.0.0.0/8"])
        .smtp_url(sink.url())
        .config(format!(
            "[[webhooks]]\nurl = \"{}\"\nsecret = \"{SECRET}\"\nevents = [\"account.locked\"]\n\n\
             [webhook_delivery]\nallow_private_targets = true\n",
            soc.url()
        ))
        .start()
        .await;
    gw.import_users(&[ALICE]).await;
    let api = gw
        .api()
        .clone()
        .forwarded_for(CLIENT_IP)
        .user_agent(FIREFOX);

    // Someone resets Alice's password.
    let done = flows::reset_via_sms(&gw, &ALICE).await;
    flows::complete(&api, &done.flow, &done.reset_token, NEW_PASSWORD)
        .await
        .ok();
    let mail = sink
        .wait_for(ALICE.email, "Your password was reset", MAIL_TIMEOUT)
        .await;
    let body = mail.body();
    let link = body
        .lines()
        .map(str::trim)
        .find(|line| line.contains("/lock?t="))
        .unwrap_or_else(|| panic!("no lock link in:\n{body}"))
        .to_owned();
    assert!(link.starts_with(&gw.public_url()), "{link}");
    // The SMS notice carries the same single-use link.
    let phone = ALICE.phone.expect("Alice has a phone");
    let sms = gw
        .sms()
        .next_message(phone, resetgate_tests::sms::SMS_TIMEOUT)
        .await;
    assert!(sms.message.contains(&link), "{}", sms.message);
    assert_no_secret(&mail, &[NEW_PASSWORD, &done.reset_token, &done.code]);
    let path = &link[gw.public_url().len()..];

    // Opening the link changes nothing: a page with one button.
    let client = reqwest::Client::new();
    let (cookie, csrf, token) = open_lock_page(&client, &gw, path).await;
    let before = flows::start_reset(&api, ALICE.name).await;
    assert!(
        !decoy_of(&gw, &flows::flow_id(&before)).await,
        "a known, unlocked account is no decoy"
    );

    // Pressing it locks; a second press finds the link used.
    let press = || {
        client
            .post(gw.api().url("/lock"))
            .header("cookie", cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            // Both are URL-safe (hex, base64url): no encoding needed.
            .body(format!("csrf={csrf}&t={token}"))
            .send()
    };
    let locked = press().await.unwrap();
    assert_eq!(locked.status(), 200);
    assert!(locked.text().await.unwrap().contains("id=\"locked\""));
    let again = press().await.unwrap();
    assert_eq!(again.status(), 410);
    // A made-up token is not a link of ours.
    let forged = client
        .get(
            gw.api()
                .url("/lock?t=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);

    // The SOC hears of it once.
    let events = soc.wait_accepted(1, WEBHOOK_TIMEOUT).await.unwrap();
    assert_eq!(events.len(), 1);
    let data = &events[0].json["data"];
    assert_eq!(events[0].event_type(), Some("account.locked"));
    assert_eq!(data["class_uid"], 3001);
    assert_eq!(data["activity_id"], 9, "Lock: {data}");
    assert_eq!(data["user"]["name"], ALICE.name);

    // From now on a reset of Alice is a decoy: it looks the same, sends no
    // code, and can never succeed.
    let after = flows::start_reset(&api, ALICE.name).await;
    assert_eq!(after["status"], "challenge", "{after}");
    assert!(
        decoy_of(&gw, &flows::flow_id(&after)).await,
        "a locked account gets a decoy"
    );

    // The help desk unlocks it.
    let unlocked = gw.cli(&["users", "unlock", ALICE.name]).await;
    assert!(unlocked.success(), "{}", unlocked.combined());
    let twice = gw.cli(&["users", "unlock", ALICE.name]).await;
    assert!(!twice.success(), "{}", twice.combined());
    let back = flows::start_reset(&api, ALICE.name).await;
    assert!(
        !decoy_of(&gw, &flows::flow_id(&back)).await,
        "a known, unlocked account is no decoy"
    );
    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    let kinds: Vec<&str> = records.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert!(kinds.contains(&"account.locked"), "{kinds:?}");
    assert!(kinds.contains(&"account.unlocked"), "{kinds:?}");
}

/// GET the lock page at `path`: its CSRF cookie and the form's `csrf` and `t`.
async fn open_lock_page(
    client: &reqwest::Client,
    gw: &Gateway,
    path: &str,
) -> (String, String, String) {
    let page = client.get(gw.api().url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().filter(|c| c.contains("rg_csrf=")))
        .expect("a CSRF cookie")
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"lock-form\""), "{html}");
    let csrf = hidden(&html, "csrf");
    let token = hidden(&html, "t");
    (cookie, csrf, token)
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Whether the reset `flow` is a decoy, as its audit record says.
async fn decoy_of(gw: &Gateway, flow: &str) -> bool {
    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    resetgate_tests::audit::reset_started(&records, flow)["decoy"]
        .as_bool()
        .expect("decoy is a boolean")
}

/// The user agent of a scripted client: the `automation` signal (40 points
/// in the bundled policy) puts a new account's reset at `medium`.
const SCRIPTED: &str = "curl/8.5.0";

/// E-mail one-time codes as the factor of an account with nothing else
/// enrolled: offered at low risk (the bundled policy allows e-mail at `low`
/// only), delivered through the relay, a wrong code counted like any other,
/// the right one verifies and the reset completes; the code never reaches the
/// log, the audit or the notice that follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emailed_code_resets_an_account_with_only_an_address() {
    let (sink, gw, api) = relayed(&[BOB], FIREFOX).await;

    let start = flows::start_reset(&api, BOB.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    assert_eq!(start["factors_required"], 1, "{start}");
    assert_eq!(
        start["options"],
        json!([{"factor": "email", "hint": "b•••@example.test"}]),
        "{start}"
    );
    let flow = flows::flow_id(&start);
    let records = audit::records(&gw.audit_export().await);
    let started = audit::reset_started(&records, &flow);
    assert_eq!(started["level"], "low", "{started}");
    assert_eq!(started["decoy"], false, "{started}");

    let sent = flows::challenge(&api, &flow, "email").await.ok();
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["factor"], "email", "{sent}");
    let mail = sink
        .wait_for(BOB.email, "Your password reset code", MAIL_TIMEOUT)
        .await;
    println!("--- the code mail as received ---\n{}", mail.raw);
    let body = mail.body();
    let code = mail
        .code()
        .unwrap_or_else(|| panic!("no 6-digit code in:\n{body}"));
    assert!(body.contains("expires in 5 minutes"), "{body}");
    assert!(
        body.contains("Nobody will ever ask you for this code"),
        "{body}"
    );
    let subject = mail.header("Subject").unwrap_or_default();
    assert!(!subject.contains(&code), "the code is in the subject");

    // A wrong code is a failure like any other: it costs one of the flow's
    // tries and counts against the account.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let missed = flows::verify(&api, &flow, "email", wrong).await;
    missed.expect_error(400, "invalid_code");
    assert_eq!(missed.body["attempts_left"], 4, "{missed}");

    let verified = flows::verify(&api, &flow, "email", &code).await.ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    let token = field_str(&verified, "reset_token").to_owned();
    let done = flows::complete(&api, &flow, &token, NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");
    flows::login(&api, BOB.name, NEW_PASSWORD).await;

    let records = audit::records(&gw.audit_export().await);
    let failed: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "factor.failed" && r["data"]["flow_id"] == flow.as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["data"]["factor"], "email");
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "factor.verified" && r["data"]["factor"] == "email"),
        "no factor.verified for email"
    );
    // The next start sees the failure in the account's window.
    let next = flows::start_reset(&api, BOB.name).await;
    let records = audit::records(&gw.audit_export().await);
    let next = audit::reset_started(&records, &flows::flow_id(&next));
    assert_eq!(
        next["signals"]["velocity"]["account_failures_1h"], 1,
        "{next}"
    );

    // The notice after the reset goes to the same address, without the code.
    let notice = sink
        .wait_for(BOB.email, "Your password was reset", MAIL_TIMEOUT)
        .await;
    assert_no_secret(&notice, &[&token, NEW_PASSWORD]);
    assert!(
        !leaks::contains_code(&notice.body(), &code),
        "the code is in the notice"
    );

    let secrets = [
        Secret::code("the e-mailed code", &code),
        Secret::text("the reset token", &token),
        Secret::text("the new password", NEW_PASSWORD),
        Secret::text("the full address", BOB.email),
    ];
    let log = gw.log();
    let leaked = leaks::find_leaks(&log, &secrets);
    assert!(leaked.is_empty(), "secrets in the gateway log: {leaked:#?}");
    assert!(
        log.contains("e-mail reset code handed to the relay"),
        "the delivery is logged (masked)"
    );
    let export = gw.audit_export().await;
    let leaked = leaks::find_leaks(&export, &secrets[..2]);
    assert!(leaked.is_empty(), "secrets in the audit log: {leaked:#?}");
}

/// Above `low` e-mail is not enough: an account with only an address is
/// refused (`insufficient_factors` at `medium`), and nothing is mailed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_only_an_address_is_refused_above_low() {
    let (sink, gw, api) = relayed(&[BOB], SCRIPTED).await;

    let start = flows::start_reset(&api, BOB.name).await;
    assert_eq!(start["status"], "denied", "{start}");
    let flow = flows::flow_id(&start);
    let records = audit::records(&gw.audit_export().await);
    let started = audit::reset_started(&records, &flow);
    let score = started["score"].as_u64().unwrap();
    assert!((30..60).contains(&score), "a medium score: {started}");
    assert_eq!(started["decoy"], false, "{started}");
    let detail = audit::reason_detail(started, "insufficient_factors");
    assert!(detail.starts_with("medium risk needs"), "{detail}");
    assert!(!detail.contains("email,"), "{detail}");

    flows::challenge(&api, &flow, "email")
        .await
        .expect_error(403, "reset_denied");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sink.received().is_empty(),
        "nothing is mailed: {:#?}",
        sink.received()
    );
}

/// The same refusal with the threshold moved instead of the client: under the
/// quiet policy with `medium` from 1 point (0 is refused by the validator),
/// any point of risk leaves `low` — here the third start within the hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_medium_threshold_refuses_an_address_alone() {
    let sink = SmtpSink::start();
    let gw = Gateway::builder()
        .trusted_proxies(["127.0.0.0/8"])
        .smtp_url(sink.url())
        .policy(fixtures::policy_with_medium_threshold(1))
        .start()
        .await;
    gw.import_users(&[BOB]).await;
    let api = gw
        .api()
        .clone()
        .forwarded_for(CLIENT_IP)
        .user_agent(FIREFOX);
    // Low while nothing fires; the third start within the hour fires
    // `account_attempts_1h` (above 2) and leaves `low`.
    for _ in 0..2 {
        let start = flows::start_reset(&api, BOB.name).await;
        assert_eq!(start["status"], "challenge", "{start}");
        assert_eq!(flows::option_factors(&start), ["email"], "{start}");
    }
    let start = flows::start_reset(&api, BOB.name).await;
    assert_eq!(start["status"], "denied", "{start}");
    let records = audit::records(&gw.audit_export().await);
    let started = audit::reset_started(&records, &flows::flow_id(&start));
    let detail = audit::reason_detail(started, "insufficient_factors");
    assert!(detail.starts_with("medium risk needs"), "{detail}");
}
