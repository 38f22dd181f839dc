//! The admin API as an operator uses it: `resetgate admin create`, sign-in
//! with password and TOTP code, and the SOC webhook endpoints — added,
//! listed, a receiver's 410 disabling one, re-enabled, dead letters listed
//! with their attempts and redelivered, deleted.

use std::time::Duration;

use resetgate_tests::api::field_str;
use resetgate_tests::fixtures::BOB;
use resetgate_tests::webhook::{Reply, WEBHOOK_TIMEOUT, WebhookReceiver};
use resetgate_tests::{Api, Gateway, TotpDevice, flows};
use serde_json::{Value, json};

const CONFIG_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const API_SECRET: &str = "whsec_PkaCtWZYSKMUz5tmeQp3FMvmyw2r7N5Y";
pub(crate) const ADMIN: &str = "ops";
pub(crate) const ADMIN_PASSWORD: &str = "Lighthouse-Keeper-Morning-77";

/// `admin create` with the password on standard input: the TOTP device of
/// the secret it prints.
pub(crate) async fn create_admin(gw: &Gateway) -> TotpDevice {
    TotpDevice::from_base32(&create_admin_secret(gw).await)
}

/// `admin create` as [`create_admin`]; the base32 secret it prints.
pub(crate) async fn create_admin_secret(gw: &Gateway) -> String {
    let out = gw
        .cli_with_input(
            &["admin", "create", ADMIN],
            Some(&format!("{ADMIN_PASSWORD}\n")),
        )
        .await;
    assert!(out.success(), "{out}");
    assert!(!out.combined().contains(ADMIN_PASSWORD), "{out}");
    let secret = out
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        })
        .unwrap_or_else(|| panic!("no base32 secret in {out}"))
        .to_owned();
    assert!(out.stdout.contains("otpauth://totp/"), "{out}");
    secret
}

pub(crate) async fn login(api: &Api, password: &str, code: &str) -> resetgate_tests::Resp {
    api.post(
        "/v1/admin/login",
        &json!({"username": ADMIN, "password": password, "code": code}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sign_in_needs_the_password_and_a_fresh_code() {
    let gw = Gateway::start().await;
    let mut device = create_admin(&gw).await;
    let again = gw
        .cli_with_input(
            &["admin", "create", ADMIN],
            Some(&format!("{ADMIN_PASSWORD}\n")),
        )
        .await;
    assert!(!again.success(), "a second admin of the same name: {again}");
    let weak = gw
        .cli_with_input(&["admin", "create", "weak"], Some("password\n"))
        .await;
    assert!(
        !weak.success() && weak.combined().contains("choose another password"),
        "{weak}"
    );

    let api = gw.api();
    // A wrong second factor, a wrong password: the same 401.
    let code = device.next_code().await;
    // Without a code: a passkey challenge, as for every name and password —
    // here a decoy (no passkey registered) that no answer opens, and no
    // session.
    let no_code = login(api, ADMIN_PASSWORD, "").await.ok();
    assert_eq!(no_code["status"], "webauthn_required", "{no_code}");
    assert!(no_code.get("token").is_none(), "{no_code}");
    login(api, ADMIN_PASSWORD, &device.wrong_code())
        .await
        .expect_error(401, "invalid_credentials");
    login(api, "Not-The-Password-At-All-1", &code)
        .await
        .expect_error(401, "invalid_credentials");
    api.get("/v1/admin/webhooks")
        .await
        .expect_error(401, "unauthenticated");

    let ok = login(api, ADMIN_PASSWORD, &code).await.ok();
    let token = field_str(&ok, "token").to_owned();
    // The same code does not sign in twice.
    login(api, ADMIN_PASSWORD, &code)
        .await
        .expect_error(401, "invalid_credentials");
    let list = api.get_auth("/v1/admin/webhooks", &token).await.ok();
    assert_eq!(list["webhooks"], json!([]));
    // A user's session is not an admin's.
    gw.import_users(&[BOB]).await;
    let user = flows::login(api, BOB.name, BOB.password).await;
    api.get_auth("/v1/admin/webhooks", &user)
        .await
        .expect_error(401, "unauthenticated");

    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    let failed: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "admin.login_failed")
        .collect();
    let reasons: Vec<&str> = failed
        .iter()
        .filter_map(|r| r["data"]["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["no_passkey", "code", "password", "code_reused"],
        "{failed:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "admin.login" && r["subject"] == ADMIN)
    );
    assert!(!gw.log().contains(ADMIN_PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_and_disable_end_an_administrators_sessions() {
    let gw = Gateway::start().await;
    let mut device = create_admin(&gw).await;
    let api = gw.api();
    let sign_in = async |device: &mut TotpDevice| {
        let code = device.next_code().await;
        let ok = login(api, ADMIN_PASSWORD, &code).await.ok();
        field_str(&ok, "token").to_owned()
    };
    // Signing out ends that session.
    let first = sign_in(&mut device).await;
    assert_eq!(
        api.post_auth("/v1/admin/logout", &first, &json!({}))
            .await
            .status,
        204
    );
    api.get_auth("/v1/admin/webhooks", &first)
        .await
        .expect_error(401, "unauthenticated");
    // Disabling ends every session at its next request and refuses sign-in.
    let second = sign_in(&mut device).await;
    let off = gw.cli(&["admin", "disable", ADMIN]).await;
    assert!(off.success(), "{off}");
    api.get_auth("/v1/admin/webhooks", &second)
        .await
        .expect_error(401, "unauthenticated");
    let code = device.next_code().await;
    login(api, ADMIN_PASSWORD, &code)
        .await
        .expect_error(401, "invalid_credentials");
    assert!(!gw.cli(&["admin", "disable", "nobody"]).await.success());
    // Enabled again, a new sign-in works.
    assert!(gw.cli(&["admin", "enable", ADMIN]).await.success());
    let third = sign_in(&mut device).await;
    api.get_auth("/v1/admin/webhooks", &third).await.ok();
    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    for kind in ["admin.logout", "admin.disabled", "admin.enabled"] {
        assert!(
            records
                .iter()
                .any(|r| r["kind"] == kind && r["subject"] == ADMIN),
            "no {kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_managed_gone_receivers_disable_them_and_dead_letters_redeliver() {
    // The config endpoint's receiver fails every attempt until told otherwise.
    let config_receiver = WebhookReceiver::start_with(&[CONFIG_SECRET]).await;
    config_receiver.set_default(Reply::Status(500));
    // The API endpoint's receiver first says it is gone.
    let api_receiver = WebhookReceiver::start_with(&[API_SECRET]).await;
    api_receiver.plan([Reply::Gone]);
    let gw = Gateway::builder()
        .config(format!(
            "[[webhooks]]\nid = \"soc\"\nurl = \"{}\"\nsecret = \"{CONFIG_SECRET}\"\n\
             events = [\"factor.changed\"]\n\n\
             [webhook_delivery]\nallow_private_targets = true\ntimeout = \"2s\"\n\
             schedule = [\"0s\", \"1s\", \"1s\"]\n",
            config_receiver.url()
        ))
        .start()
        .await;
    gw.import_users(&[BOB]).await;
    let mut device = create_admin(&gw).await;
    let code = device.next_code().await;
    let token = field_str(&login(gw.api(), ADMIN_PASSWORD, &code).await.ok(), "token").to_owned();
    let api = gw.api();

    add_endpoints(api, &token, &api_receiver.url()).await;

    // One event: the API receiver answers 410, the config one 500s until dead.
    let bearer = flows::login(api, BOB.name, BOB.password).await;
    flows::enrol_totp(api, &bearer).await;
    api_receiver
        .wait_received(1, WEBHOOK_TIMEOUT)
        .await
        .unwrap();
    let dead = wait_for(|| async {
        let got = api
            .get_auth("/v1/admin/webhooks/soc/deliveries?state=dead", &token)
            .await
            .ok();
        (got["deliveries"].as_array().map_or(0, Vec::len) == 1).then_some(got)
    })
    .await;
    let letter = &dead["deliveries"][0];
    assert_eq!(letter["attempts"], 3, "{letter}");
    assert_eq!(letter["type"], "factor.changed");
    assert_eq!(letter["last_status"], 500);
    let history = letter["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{letter}");
    assert!(
        history
            .iter()
            .all(|a| a["status"] == 500 && a["latency_ms"].is_u64())
    );
    assert_eq!(config_receiver.received().len(), 3);

    let siem = wait_for(|| async {
        let list = api.get_auth("/v1/admin/webhooks", &token).await.ok();
        let siem = list["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == "siem")
            .cloned()
            .unwrap();
        siem["disabled_reason"].is_string().then_some(siem)
    })
    .await;
    assert!(siem["disabled_at"].is_string(), "{siem}");

    // Disabled: a second event is not sent to it. (Each node re-reads the
    // endpoints every second: past that, nothing is even queued for it.)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let factors = api.get_auth("/v1/me/factors", &bearer).await.ok();
    let id = field_str(&factors["factors"][0], "id").to_owned();
    api.delete_auth(&format!("/v1/me/factors/{id}"), &bearer)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(api_receiver.received().len(), 1);

    // Enabled again, the delivery that met the 410 goes out (and only it).
    post(api, &token, "/v1/admin/webhooks/siem/enable", json!({}))
        .await
        .ok();
    let accepted = api_receiver
        .wait_accepted(1, WEBHOOK_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(accepted[0].id, api_receiver.received()[0].id);

    // The factor removal went to the failing config endpoint too: wait until
    // it is a dead letter as well (else its last retry could reach the
    // receiver once it works), then redeliver the first one only.
    wait_for(|| async {
        let got = api
            .get_auth("/v1/admin/webhooks/soc/deliveries?state=dead", &token)
            .await
            .ok();
        (got["deliveries"].as_array().map_or(0, Vec::len) == 2).then_some(())
    })
    .await;
    config_receiver.set_default(Reply::Status(204));
    let queued = post(
        api,
        &token,
        "/v1/admin/webhooks/soc/redeliver",
        json!({"delivery_ids": [letter["id"]]}),
    )
    .await
    .expect(202);
    assert_eq!(queued["queued"], 1);
    let got = config_receiver
        .wait_accepted(1, WEBHOOK_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(got[0].id, field_str(letter, "webhook_id"));

    delete_and_audit(&gw, &token).await;
}

/// POST `body` to `path` as the administrator.
async fn post(api: &Api, token: &str, path: &str, body: Value) -> resetgate_tests::Resp {
    api.post_auth(path, token, &body).await
}

/// Bad input refused; `siem` (to `url`, with [`API_SECRET`]) and one with a
/// generated secret added; the list shows three and no secret.
async fn add_endpoints(api: &Api, token: &str, url: &str) {
    // Bad input is refused with the field named; nothing is added.
    post(
        api,
        token,
        "/v1/admin/webhooks",
        json!({"url": "ftp://x.example/hook"}),
    )
    .await
    .expect_error(400, "invalid_request");
    post(
        api,
        token,
        "/v1/admin/webhooks",
        json!({"url": url, "events": ["risk.nope"]}),
    )
    .await
    .expect_error(400, "invalid_request");
    let created = post(
        api,
        token,
        "/v1/admin/webhooks",
        json!({"id": "siem", "url": url, "secret": API_SECRET,
               "events": ["factor.changed"], "min_level": "low"}),
    )
    .await
    .expect(201);
    assert_eq!(created["secret"], API_SECRET);
    assert_eq!(created["source"], "api");
    post(
        api,
        token,
        "/v1/admin/webhooks",
        json!({"id": "siem", "url": url}),
    )
    .await
    .expect_error(409, "webhook_exists");
    let generated = post(
        api,
        token,
        "/v1/admin/webhooks",
        json!({"url": format!("{url}?token=query-s3cr3t"), "events": ["account.locked"]}),
    )
    .await
    .expect(201);
    assert!(
        field_str(&generated, "secret").starts_with("whsec_"),
        "{generated}"
    );
    let list = api.get_auth("/v1/admin/webhooks", token).await.ok();
    let ids: Vec<&str> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "{list}");
    assert!(ids.contains(&"soc") && ids.contains(&"siem"), "{ids:?}");
    assert!(
        !list.to_string().contains("whsec_"),
        "a secret is listed: {list}"
    );
    // A token in the query is neither shown nor audited.
    assert!(!list.to_string().contains("query-s3cr3t"), "{list}");
    assert!(list.to_string().contains("/hook?…"), "{list}");
    assert!(
        !generated.to_string().contains("query-s3cr3t"),
        "{generated}"
    );
}

/// Config endpoints cannot be deleted here, API ones can; every change is
/// audited with the administrator.
async fn delete_and_audit(gw: &Gateway, token: &str) {
    let api = gw.api();
    // Config endpoints belong to the config; API ones can go.
    api.delete_auth("/v1/admin/webhooks/soc", token)
        .await
        .expect_error(409, "webhook_in_config");
    assert_eq!(
        api.delete_auth("/v1/admin/webhooks/siem", token)
            .await
            .status,
        204
    );
    api.delete_auth("/v1/admin/webhooks/siem", token)
        .await
        .expect_error(404, "webhook_not_found");

    let records = resetgate_tests::audit::records(&gw.audit_export().await);
    for kind in [
        "admin.webhook_created",
        "admin.webhook_enabled",
        "admin.webhook_redelivered",
        "admin.webhook_deleted",
    ] {
        assert!(
            records
                .iter()
                .any(|r| r["kind"] == kind && r["subject"] == ADMIN),
            "no {kind} by {ADMIN}"
        );
    }
    assert!(
        !gw.audit_export().await.contains("query-s3cr3t"),
        "a URL's query token reached the audit log"
    );
}

/// Poll `probe` every 200 ms until it gives a value (at most 30 s).
async fn wait_for<T, F, Fut>(probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WEBHOOK_TIMEOUT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
