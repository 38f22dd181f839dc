//! User journeys the tests share, each asserting the contract of its own steps.
//!
//! Signing in and enrolling TOTP (`/v1/login`, `/v1/me/factors/totp[/verify]`) and the
//! reset flow (`/v1/reset`, `.../challenge`, `.../verify`, `.../complete`). Helpers
//! that can fail in interesting ways return the [`Resp`] and leave the assertion to
//! the test.

use serde_json::{Value, json};

use crate::api::{Api, Resp, field_str};
use crate::fixtures::User;
use crate::gateway::Gateway;
use crate::sms::SMS_TIMEOUT;
use crate::totp::TotpDevice;

/// `POST /v1/login`, asserting 200; returns the bearer token.
pub async fn login(api: &Api, username: &str, password: &str) -> String {
    let body = try_login(api, username, password).await.ok();
    assert!(
        body.get("expires_in").is_some(),
        "login response lacks expires_in: {body}"
    );
    field_str(&body, "token").to_owned()
}

/// `POST /v1/login` as is.
pub async fn try_login(api: &Api, username: &str, password: &str) -> Resp {
    api.post(
        "/v1/login",
        &json!({ "username": username, "password": password }),
    )
    .await
}

/// A TOTP factor enrolled through the API.
pub struct Enrolled {
    pub device: TotpDevice,
    pub id: String,
    pub secret: String,
    pub otpauth_uri: String,
}

/// Enrols TOTP for the signed-in user and confirms it with the current code;
/// asserts the documented response shapes.
pub async fn enrol_totp(api: &Api, bearer: &str) -> Enrolled {
    let begun = api
        .post_auth("/v1/me/factors/totp", bearer, &json!({}))
        .await
        .ok();
    let secret = field_str(&begun, "secret").to_owned();
    let otpauth_uri = field_str(&begun, "otpauth_uri").to_owned();
    assert!(
        otpauth_uri.starts_with("otpauth://totp/"),
        "otpauth_uri is not an otpauth://totp/ URI: {otpauth_uri}"
    );
    assert!(
        field_str(&begun, "qr_svg").contains("<svg"),
        "qr_svg is not an SVG document"
    );
    let mut device = TotpDevice::from_base32(&secret);
    let code = device.next_code().await;
    let done = api
        .post_auth(
            "/v1/me/factors/totp/verify",
            bearer,
            &json!({ "code": code }),
        )
        .await
        .ok();
    assert_eq!(done["factor"], "totp", "{done}");
    assert_eq!(done["status"], "active", "{done}");
    Enrolled {
        device,
        id: field_str(&done, "id").to_owned(),
        secret,
        otpauth_uri,
    }
}

/// Asserts `GET /v1/me/factors` lists factor `id` as an active `kind`.
pub async fn assert_factor_active(api: &Api, bearer: &str, id: &str, kind: &str) {
    let listed = api.get_auth("/v1/me/factors", bearer).await.ok();
    let factor = listed["factors"]
        .as_array()
        .unwrap_or_else(|| panic!("factors is not an array: {listed}"))
        .iter()
        .find(|factor| factor["id"] == id)
        .unwrap_or_else(|| panic!("factor {id} is not listed: {listed}"));
    assert_eq!(factor["factor"], kind, "{listed}");
    assert_eq!(factor["status"], "active", "{listed}");
}

/// `POST /v1/reset` as is.
pub async fn try_start_reset(api: &Api, username: &str) -> Resp {
    api.post("/v1/reset", &json!({ "username": username }))
        .await
}

/// `POST /v1/reset`, asserting 200 and the documented keys.
pub async fn start_reset(api: &Api, username: &str) -> Value {
    start_reset_response(api, username).await.body
}

/// Like [`start_reset`], returning the whole response (for its `Set-Cookie`).
pub async fn start_reset_response(api: &Api, username: &str) -> Resp {
    let response = try_start_reset(api, username).await;
    assert_eq!(response.status, 200, "{response}: expected HTTP 200");
    for key in [
        "flow_id",
        "status",
        "factors_required",
        "options",
        "expires_in",
    ] {
        assert!(
            response.body.get(key).is_some(),
            "reset start lacks {key:?}: {response}"
        );
    }
    response
}

/// The flow id of a reset start.
pub fn flow_id(start: &Value) -> String {
    field_str(start, "flow_id").to_owned()
}

/// The `factor` of every option, in order.
pub fn option_factors(start: &Value) -> Vec<String> {
    options(start)
        .iter()
        .map(|option| field_str(option, "factor").to_owned())
        .collect()
}

/// The `hint` offered for `factor`.
pub fn hint_for(start: &Value, factor: &str) -> String {
    options(start)
        .iter()
        .find(|option| option["factor"] == factor)
        .map_or_else(
            || panic!("no {factor:?} option in {start}"),
            |option| option["hint"].as_str().unwrap_or_default().to_owned(),
        )
}

/// The `options` array of a reset start.
pub fn options(start: &Value) -> &[Value] {
    start["options"]
        .as_array()
        .unwrap_or_else(|| panic!("options is not an array: {start}"))
}

pub async fn challenge(api: &Api, flow: &str, factor: &str) -> Resp {
    api.post(
        &format!("/v1/reset/{flow}/challenge"),
        &json!({ "factor": factor }),
    )
    .await
}

pub async fn verify(api: &Api, flow: &str, factor: &str, code: &str) -> Resp {
    api.post(
        &format!("/v1/reset/{flow}/verify"),
        &json!({ "factor": factor, "code": code }),
    )
    .await
}

pub async fn complete(api: &Api, flow: &str, reset_token: &str, new_password: &str) -> Resp {
    api.post(
        &format!("/v1/reset/{flow}/complete"),
        &json!({ "reset_token": reset_token, "new_password": new_password }),
    )
    .await
}

/// `GET /v1/reset/{flow}`.
pub async fn flow_status(api: &Api, flow: &str) -> Resp {
    api.get(&format!("/v1/reset/{flow}")).await
}

/// Asks for an SMS code on `flow` and returns the code the receiver got.
pub async fn sms_code(gateway: &Gateway, flow: &str, phone: &str) -> String {
    let sent = challenge(gateway.api(), flow, "sms").await.ok();
    assert_eq!(sent["status"], "sent", "{sent}");
    gateway.sms().next_code(phone, SMS_TIMEOUT).await
}

/// A verified single-factor reset through the user's SMS factor.
pub struct SmsReset {
    pub flow: String,
    pub code: String,
    pub reset_token: String,
}

/// Starts a reset for `user` (who has a phone), passes the SMS challenge and
/// asserts the flow is verified (a one-factor policy level).
pub async fn reset_via_sms(gateway: &Gateway, user: &User) -> SmsReset {
    let phone = user.phone.expect("the user has an SMS factor");
    let start = start_reset(gateway.api(), user.name).await;
    assert_eq!(start["status"], "challenge", "{start}");
    assert!(
        option_factors(&start).iter().any(|f| f == "sms"),
        "sms is not offered: {start}"
    );
    let flow = flow_id(&start);
    let code = sms_code(gateway, &flow, phone).await;
    let verified = verify(gateway.api(), &flow, "sms", &code).await.ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    SmsReset {
        reset_token: field_str(&verified, "reset_token").to_owned(),
        flow,
        code,
    }
}

/// Asserts a `422 password_rejected` whose `reasons` include `reason`.
pub fn assert_rejected(response: &Resp, reason: &str) {
    response.expect_error(422, "password_rejected");
    let reasons: Vec<&str> = response.body["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}: reasons is not an array"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons.contains(&reason),
        "{response}: expected reason {reason:?} among {reasons:?}"
    );
}
