//! Guessing is bounded and codes are single use.
//!
//! - Five wrong TOTP codes: `attempts_left` counts down by one, then `429
//!   too_many_attempts`; after that even the right code is refused on that flow.
//! - An SMS code verifies its own flow once: not twice, and not another flow.

use resetgate_tests::Gateway;
use resetgate_tests::api::{Resp, field_u64};
use resetgate_tests::fixtures::{ALICE, CAROL};
use resetgate_tests::flows;

/// The number of wrong codes a flow tolerates.
const MAX_WRONG: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_totp_codes_lock_the_flow() {
    let gw = Gateway::start().await;
    let api = gw.api();
    gw.import_users(&[ALICE]).await;
    let bearer = flows::login(api, ALICE.name, ALICE.password).await;
    let mut totp = flows::enrol_totp(api, &bearer).await;

    let start = flows::start_reset(api, ALICE.name).await;
    assert!(
        flows::option_factors(&start).iter().any(|f| f == "totp"),
        "totp is not offered: {start}"
    );
    let flow = flows::flow_id(&start);
    let wrong = totp.device.wrong_code();
    let mut responses = Vec::new();
    for _ in 0..=MAX_WRONG {
        let response = flows::verify(api, &flow, "totp", &wrong).await;
        let locked = response.status == 429;
        responses.push(response);
        if locked {
            break;
        }
    }
    assert_counts_down_then_locks(&responses);

    let right = totp.device.next_code().await;
    let late = flows::verify(api, &flow, "totp", &right).await;
    assert!(
        late.is_client_error() && late.body["status"] != "verified",
        "a locked flow accepted the right code: {late}"
    );
    let status = flows::flow_status(api, &flow).await;
    assert_ne!(status.body["status"], "verified", "{status}");
}

/// 400 `invalid_code` responses whose `attempts_left` drops by one each time, then
/// a 429 `too_many_attempts` no later than the sixth wrong code: either the fifth
/// wrong code itself is answered 429 (`attempts_left` went 4..1), or it is the last
/// 400 with `attempts_left` 0 and the sixth is 429.
fn assert_counts_down_then_locks(responses: &[Resp]) {
    let transcript: String = responses
        .iter()
        .map(|r| format!("\n  {r}"))
        .collect::<Vec<_>>()
        .concat();
    let (last, failures) = responses.split_last().expect("at least one response");
    last.expect_error(429, "too_many_attempts");
    let lefts: Vec<u64> = failures
        .iter()
        .map(|response| {
            response.expect_error(400, "invalid_code");
            field_u64(&response.body, "attempts_left")
        })
        .collect();
    assert!(
        !lefts.is_empty(),
        "429 before any invalid_code:{transcript}"
    );
    assert!(
        lefts.windows(2).all(|pair| pair[1] + 1 == pair[0]),
        "attempts_left does not count down by one:{transcript}"
    );
    let attempts = responses.len() as u64;
    let consistent = match attempts {
        n if n == MAX_WRONG => lefts.last() == Some(&1),
        n if n == MAX_WRONG + 1 => lefts.last() == Some(&0),
        _ => false,
    };
    assert!(
        consistent,
        "expected the flow to lock after {MAX_WRONG} wrong codes:{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_code_is_single_use() {
    let gw = Gateway::start().await;
    let api = gw.api();
    gw.import_users(&[CAROL]).await;
    let phone = CAROL.phone.expect("carol has a phone");

    let first = flows::reset_via_sms(&gw, &CAROL).await;
    let twice = flows::verify(api, &first.flow, "sms", &first.code).await;
    assert!(
        twice.is_client_error(),
        "the same SMS code verified a flow twice: {twice}"
    );

    let start = flows::start_reset(api, CAROL.name).await;
    let second_flow = flows::flow_id(&start);
    let second_code = flows::sms_code(&gw, &second_flow, phone).await;
    if second_code != first.code {
        flows::verify(api, &second_flow, "sms", &first.code)
            .await
            .expect_error(400, "invalid_code");
    }
    let verified = flows::verify(api, &second_flow, "sms", &second_code)
        .await
        .ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    assert_ne!(
        verified["reset_token"], first.reset_token,
        "two flows got the same reset token"
    );
}
