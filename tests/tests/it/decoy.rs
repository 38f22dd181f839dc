//! An unknown account gets a decoy flow an attacker cannot tell from a real one.
//!
//! Same status codes, JSON keys and `status` values as a known account at every
//! step; hints stable per name (across starts and across a gateway restart, since
//! they derive from the name, not from chance); any code is wrong; it never
//! reaches `verified`.

use std::collections::BTreeSet;

use resetgate_tests::Gateway;
use resetgate_tests::api::{Resp, keys};
use resetgate_tests::fixtures::{ALICE, UNKNOWN_NAME};
use resetgate_tests::flows;
use resetgate_tests::sms::SMS_TIMEOUT;

/// How many wrong codes to try before the decoy must have locked.
const MAX_WRONG: usize = 10;

fn assert_same_shape(known: &Resp, unknown: &Resp, step: &str) {
    assert_eq!(
        known.status, unknown.status,
        "{step}: HTTP status differs\n{known}\n{unknown}"
    );
    assert_eq!(
        keys(&known.body),
        keys(&unknown.body),
        "{step}: keys differ\n{known}\n{unknown}"
    );
    assert_eq!(
        known.body["status"], unknown.body["status"],
        "{step}: status differs\n{known}\n{unknown}"
    );
    assert_eq!(
        known.error(),
        unknown.error(),
        "{step}: error differs\n{known}\n{unknown}"
    );
}

/// Every key any option of a reset start has.
fn option_keys(start: &Resp) -> BTreeSet<String> {
    flows::options(&start.body).iter().flat_map(keys).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_account_is_indistinguishable_and_never_verifies() {
    let mut gw = Gateway::start().await;
    gw.import_users(&[ALICE]).await;
    let api = gw.api();

    let known = flows::try_start_reset(api, ALICE.name).await;
    // Decoy factors derive from the server key, which is new for every
    // gateway: take the first unknown name whose decoy offers a factor Alice
    // has (as an attacker comparing with a known account would), so that the
    // steps after the start can be compared one for one.
    let known_factors = flows::option_factors(&known.body);
    let mut candidates = Vec::new();
    for i in 0..20 {
        candidates.push(if i == 0 {
            UNKNOWN_NAME.to_owned()
        } else {
            format!("{UNKNOWN_NAME}{i}")
        });
    }
    let mut found = None;
    for name in candidates {
        let start = flows::try_start_reset(api, &name).await;
        if flows::option_factors(&start.body)
            .iter()
            .any(|f| known_factors.contains(f))
        {
            found = Some((name, start));
            break;
        }
    }
    let (unknown_name, unknown) = found.expect("some decoy offers a factor Alice has");
    assert_eq!(known.status, 200, "{known}");
    assert_same_shape(&known, &unknown, "POST /v1/reset");
    assert_eq!(known.body["status"], "challenge", "{known}");
    assert_eq!(
        option_keys(&known),
        option_keys(&unknown),
        "option keys differ"
    );
    assert!(
        !flows::options(&unknown.body).is_empty(),
        "the decoy offers no factor: {unknown}"
    );

    let again = flows::try_start_reset(api, &unknown_name).await;
    assert_eq!(
        unknown.body["options"], again.body["options"],
        "decoy hints change between starts"
    );
    assert_eq!(
        unknown.body["factors_required"],
        again.body["factors_required"]
    );

    // Across a restart too (a real account's would not change). Checked before
    // any wrong code: with shared stores (Redis) the failures below outlive the
    // restart and would turn the next start into a refusal, with no options.
    gw.restart().await;
    let api = gw.api();
    let after_restart = flows::try_start_reset(api, &unknown_name).await;
    assert_eq!(
        unknown.body["options"], after_restart.body["options"],
        "decoy hints change across a restart: {after_restart}"
    );

    // Fresh flows: the in-process store forgets flows on a restart.
    let known = flows::try_start_reset(api, ALICE.name).await;
    let known_flow = flows::flow_id(&known.body);
    let decoy_flow = flows::flow_id(&after_restart.body);
    let factor = flows::option_factors(&unknown.body)
        .into_iter()
        .find(|f| known_factors.contains(f))
        .expect("the decoy offers a factor Alice has");
    compare_challenge_and_wrong_code(&gw, &known_flow, &decoy_flow, &factor).await;

    assert_decoy_never_verifies(&gw, &decoy_flow, &factor).await;
    let known_status = flows::flow_status(api, &known_flow).await;
    let decoy_status = flows::flow_status(api, &decoy_flow).await;
    assert_eq!(
        known_status.status, decoy_status.status,
        "GET flow\n{known_status}\n{decoy_status}"
    );
    assert_ne!(decoy_status.body["status"], "verified", "{decoy_status}");
}

/// Challenging (when the decoy's factor needs it) and a wrong code look the same on
/// the real flow (SMS) and on the decoy.
async fn compare_challenge_and_wrong_code(gw: &Gateway, known: &str, decoy: &str, factor: &str) {
    let api = gw.api();
    let known_sent = flows::challenge(api, known, "sms").await;
    assert_eq!(known_sent.body["status"], "sent", "{known_sent}");
    if factor == "sms" || factor == "email" {
        let decoy_sent = flows::challenge(api, decoy, factor).await;
        assert_same_shape(&known_sent, &decoy_sent, "challenge");
    }
    let phone = ALICE.phone.expect("alice has a phone");
    let sent = gw.sms().next_code(phone, SMS_TIMEOUT).await;
    let wrong = if sent == "000000" { "111111" } else { "000000" };

    let known_wrong = flows::verify(api, known, "sms", wrong).await;
    let decoy_wrong = flows::verify(api, decoy, factor, wrong).await;
    known_wrong.expect_error(400, "invalid_code");
    assert_same_shape(&known_wrong, &decoy_wrong, "wrong code");
    assert_eq!(
        known_wrong.body["attempts_left"], decoy_wrong.body["attempts_left"],
        "attempts_left differs after one wrong code\n{known_wrong}\n{decoy_wrong}"
    );
}

/// Every code on the decoy is `400 invalid_code` until it locks with 429.
async fn assert_decoy_never_verifies(gw: &Gateway, flow: &str, factor: &str) {
    for attempt in 1..=MAX_WRONG {
        let code = format!("{:06}", attempt * 137_137 % 1_000_000);
        let response = flows::verify(gw.api(), flow, factor, &code).await;
        assert!(
            !response.is_success(),
            "the decoy accepted {code}: {response}"
        );
        if response.status == 429 {
            response.expect_error(429, "too_many_attempts");
            return;
        }
        response.expect_error(400, "invalid_code");
    }
    panic!("the decoy did not lock after {MAX_WRONG} more wrong codes");
}
