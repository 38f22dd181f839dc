//! Geo, device and account history decide how hard a reset is.
//!
//! Each test builds its own `GeoIP` databases with `resetgate geo build` from a CSV
//! ([`GEO_CSV`]: alice's home broadband in London and a Tor exit in Sydney), points
//! `[geo]` at them and trusts loopback as a proxy (`server.trusted_proxies =
//! ["127.0.0.0/8"]`), so every request's `X-Forwarded-For` is its client address.
//! Both networks lie in documentation ranges that the bundled sample does *not*
//! know (`data/geo/README.md`: `198.51.100.128/25` and `203.0.113.96` and up are
//! misses there), so a decision that sees London or a Tor exit proves the
//! configured databases are the ones in use.
//!
//! - `home_resets_stay_low_and_a_tor_exit_abroad_is_refused`: a reset from home
//!   binds the device cookie; the next one from home with that cookie is low risk
//!   with no novelty reason; a start from the Sydney Tor exit minutes later, without
//!   the cookie, is refused, and the audit shows exactly the reasons and weights the
//!   bundled policy predicts. `geo lookup --json` reports the exit as AU and Tor.
//! - `simulate_shows_decisions_a_lower_medium_threshold_steps_up`: `resetgate
//!   simulate` replays an `audit export` under a candidate policy whose `[levels]
//!   medium` is 10 instead of 30: the decision-shift table moves exactly the
//!   15-point start from low to medium ("1 step up"); the bundled policy itself
//!   moves nothing.
//!
//! The scores are predicted in comments from `data/policy.toml`; the weights used
//! there are checked against that file first ([`assert_bundled_weights`]), so a
//! policy edit fails with the weight that changed rather than a puzzling total.

use resetgate_tests::api::{field_str, field_u64};
use resetgate_tests::audit;
use resetgate_tests::fixtures::{
    self, ALICE, CAROL, CHROME_WINDOWS_UA, FIREFOX_LINUX_UA, NEW_PASSWORD,
};
use resetgate_tests::flows;
use resetgate_tests::{Api, Gateway, GeoDbs, TotpDevice};
use serde_json::Value;

/// The device cookie's name (DESIGN.md, `signals/device.rs`).
const DEVICE_COOKIE: &str = "rg_device";

/// alice's home address: London GB, AS64510 (in [`GEO_CSV`]).
const HOME_IP: &str = "198.51.100.130";
/// A Tor exit: Sydney AU, AS64511, flagged `tor` (in [`GEO_CSV`]).
const TOR_IP: &str = "203.0.113.100";

/// The test's `GeoIP` source (format: `data/geo/README.md`).
const GEO_CSV: &str = "\
# resetgate e2e: geo signals. Documentation ranges only (RFC 5737, RFC 5398 ASNs).
network,country,city,latitude,longitude,accuracy_radius,asn,asn_org,anonymous
# alice's home broadband
198.51.100.128/28,GB,London,51.5072,-0.1276,20,64510,Example Home Broadband GB,
# a Tor exit node
203.0.113.96/28,AU,Sydney,-33.8688,151.2093,50,64511,Example Onion Hosting AU,tor
";

/// A gateway that believes loopback's `X-Forwarded-For` and uses databases built
/// from [`GEO_CSV`] (built after the first start with the gateway's own CLI, then
/// configured, then restarted: nothing has happened yet, so nothing is lost).
async fn geo_gateway() -> (Gateway, GeoDbs) {
    let mut gw = Gateway::builder()
        .policy(fixtures::quiet_policy())
        .trusted_proxies(["127.0.0.0/8"])
        .start()
        .await;
    let dbs = gw.build_geo(GEO_CSV).await;
    gw.set_geo(Some(dbs.clone()));
    gw.restart().await;
    (gw, dbs)
}

/// The points the bundled policy gives `code`: its `[signals]` weight, or the
/// `weight` of its `[[rules]]` entry (first firing, no `per_extra` yet).
fn bundled_points(code: &str) -> i64 {
    let policy: toml::Table = fixtures::bundled_policy()
        .parse()
        .expect("data/policy.toml is TOML");
    if let Some(weight) = policy["signals"].get(code) {
        return weight
            .as_integer()
            .unwrap_or_else(|| panic!("signals.{code} is not a number"));
    }
    policy["rules"]
        .as_array()
        .and_then(|rules| {
            rules
                .iter()
                .find(|rule| rule["signal"].as_str() == Some(code))
        })
        .and_then(|rule| rule["weight"].as_integer())
        .unwrap_or_else(|| panic!("data/policy.toml has no weight for {code}"))
}

/// The weights, thresholds and caps the predictions below rely on.
fn assert_bundled_weights() {
    for (code, points) in [
        ("anonymous_tor", 50),
        ("impossible_travel", 50),
        ("new_country", 20),
        ("new_device", 15),
        ("account_attempts_1h", 15),
        ("new_asn", 10),
        ("new_browser", 10),
        ("distance_per_1000km", 5),
        ("distance_max", 25),
        ("history_lr", 10),
    ] {
        assert_eq!(
            bundled_points(code),
            points,
            "data/policy.toml changed {code}; redo the predictions in tests/it/geo.rs"
        );
    }
    let policy: toml::Table = fixtures::bundled_policy().parse().expect("TOML");
    let levels = &policy["levels"];
    assert_eq!(
        (
            levels["medium"].as_integer(),
            levels["high"].as_integer(),
            levels["deny"].as_integer()
        ),
        (Some(30), Some(60), Some(90)),
        "data/policy.toml changed [levels]; redo the predictions in tests/it/geo.rs"
    );
    assert_eq!(
        policy["rules"][0]["above"].as_integer(),
        Some(2),
        "account_attempts_1h fires above 2 starts an hour"
    );
}

/// `(code, weight)` pairs as the audit lists them: these, then the anomaly
/// model's, always explained, with 0 points under the quiet policy.
fn expected(reasons: &[(&str, u64)]) -> Vec<(String, u64)> {
    reasons
        .iter()
        .chain(&[("anomaly", 0)])
        .map(|(code, weight)| ((*code).to_owned(), *weight))
        .collect()
}

/// Passes the TOTP challenge of `flow` and sets `new_password`.
async fn reset_with_totp(api: &Api, flow: &str, totp: &mut TotpDevice, new_password: &str) {
    let code = totp.next_code().await;
    let verified = flows::verify(api, flow, "totp", &code).await.ok();
    assert_eq!(verified["status"], "verified", "{verified}");
    let token = field_str(&verified, "reset_token");
    let done = flows::complete(api, flow, token, new_password).await.ok();
    assert_eq!(done["status"], "done", "{done}");
}

/// alice signs in at home to enrol TOTP: her first success (London, AS64510,
/// Chrome on Windows). The sign-in sets a device cookie too; it is not kept, so
/// the device the test follows is the one the first reset start issues.
async fn enrol_at_home(home: &Api) -> TotpDevice {
    let login = flows::try_login(home, ALICE.name, ALICE.password).await;
    assert!(
        login.cookie(DEVICE_COOKIE).is_some(),
        "POST /v1/login sets no {DEVICE_COOKIE} cookie: {:?}",
        login.set_cookies
    );
    let signed_in = login.ok();
    flows::enrol_totp(home, field_str(&signed_in, "token"))
        .await
        .device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_resets_stay_low_and_a_tor_exit_abroad_is_refused() {
    assert_bundled_weights();
    let (gw, dbs) = geo_gateway().await;
    gw.import_users(&[ALICE]).await;
    let home = gw
        .api()
        .clone()
        .forwarded_for(HOME_IP)
        .user_agent(CHROME_WINDOWS_UA);
    let mut totp = enrol_at_home(&home).await;

    // 1. A full reset from home, without a cookie: the start issues one.
    let first = flows::start_reset_response(&home, ALICE.name).await;
    let set_cookie = first
        .set_cookie(DEVICE_COOKIE)
        .unwrap_or_else(|| panic!("the reset start sets no {DEVICE_COOKIE}: {first}"))
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{DEVICE_COOKIE} lacks {attribute}: {set_cookie}"
        );
    }
    let cookie = first
        .cookie(DEVICE_COOKIE)
        .expect("a set cookie has a value")
        .to_owned();
    let first = first.body;
    assert_eq!(first["status"], "challenge", "{first}");
    assert_eq!(field_u64(&first, "factors_required"), 1, "{first}");
    let first_flow = flows::flow_id(&first);
    // Completing it records the success and binds the cookie's device to alice.
    reset_with_totp(&home, &first_flow, &mut totp, NEW_PASSWORD).await;

    // 2. Home again, with that cookie.
    let device = home.clone().cookie(DEVICE_COOKIE, &cookie);
    let second = flows::start_reset(&device, ALICE.name).await;
    assert_eq!(second["status"], "challenge", "{second}");
    assert_eq!(field_u64(&second, "factors_required"), 1, "{second}");
    assert!(
        flows::option_factors(&second).iter().any(|f| f == "totp"),
        "totp is not offered: {second}"
    );
    let second_flow = flows::flow_id(&second);

    // 3. Seconds later from the Sydney Tor exit: another browser, no cookie.
    let tor = gw
        .api()
        .clone()
        .forwarded_for(TOR_IP)
        .user_agent(FIREFOX_LINUX_UA);
    let third = flows::start_reset_response(&tor, ALICE.name).await;
    let tor_cookie = third.cookie(DEVICE_COOKIE).map(str::to_owned);
    assert!(
        tor_cookie.is_some_and(|issued| issued != cookie),
        "a start without a cookie gets a new {DEVICE_COOKIE}: {:?}",
        third.set_cookies
    );
    let third = third.body;
    // Deny, not two factors: see the prediction in `assert_tor_exit_decision`.
    assert_eq!(third["status"], "denied", "{third}");
    assert_eq!(field_u64(&third, "factors_required"), 0, "{third}");

    let records = audit::records(&gw.audit_export().await);
    assert_home_decisions(&records, &first_flow, &second_flow);
    assert_tor_exit_decision(&records, &flows::flow_id(&third));
    assert_lookup_finds_the_tor_exit(&gw, &dbs).await;
}

/// The audited decisions of the two resets from home.
fn assert_home_decisions(records: &[Value], first_flow: &str, second_flow: &str) {
    // Reset 1. No history: the sign-in before it was password-only, and
    // password-only sign-ins do not feed the history (a stolen password must not
    // teach the model). Novelty and the LR have nothing to compare with, and
    // account_attempts_1h = 1 (not above 2). Score 0: low, one factor.
    let data = audit::reset_started(records, first_flow);
    assert_eq!(
        data["address"], HOME_IP,
        "X-Forwarded-For is believed: {data}"
    );
    assert_eq!(data["signals"]["geo"]["country"], "GB", "{data}");
    assert_eq!(audit::reasons(data), expected(&[]), "{data}");
    assert_eq!(
        (data["score"].as_u64(), data["level"].as_str()),
        (Some(0), Some("low"))
    );

    // Reset 2. History: reset 1, London/AS64510/Chrome; the cookie is reset 1's
    // device, now bound. Nothing is new (no new_country, new_asn, new_device,
    // new_browser), London to London is no distance or travel, every level is
    // seen 1 of 1 (LR = 1, 0 points), and account_attempts_1h = 2 is not above 2.
    // Score 0: low, one factor.
    let data = audit::reset_started(records, second_flow);
    assert_eq!(data["address"], HOME_IP, "{data}");
    assert_eq!(data["signals"]["device"]["has_cookie"], true, "{data}");
    assert_eq!(data["signals"]["device"]["known"], true, "{data}");
    assert_eq!(audit::reasons(data), expected(&[]), "{data}");
    assert_eq!(
        (data["score"].as_u64(), data["level"].as_str()),
        (Some(0), Some("low"))
    );
}

/// The audited decision of the start from the Tor exit.
fn assert_tor_exit_decision(records: &[Value], flow: &str) {
    // Reset 3, from 203.0.113.100 (Sydney AU, AS64511, Tor), Firefox on Linux, no
    // cookie, seconds after reset 1 completed in London:
    //   anonymous_tor                                             50
    //   impossible_travel  London -> Sydney ~16,990 km great circle, ~16,920 km
    //                      net of the 20 + 50 km radii, in seconds  50
    //   distance           5 per 1,000 km beyond 100 km = 84, capped at 25
    //   new_country        AU, the account knows GB                20
    //   account_attempts_1h  3rd start this hour, above 2          15
    //   new_device         no cookie                               15
    //   new_asn            AS64511, the account knows AS64510      10
    //   new_browser        Firefox, the account knows Chrome       10
    //   history_lr         one success on record: network new at every level
    //                      (x2), agent: class pc seen 1 of 1, the UA new (x2);
    //                      LR = 4, 10 x log10(4)/3 = 2.01                2
    //   sum 197, capped at 100 >= deny 90: level deny, refused outright (the high
    //   rung's two factors never come into play). Reasons by weight, then code.
    let data = audit::reset_started(records, flow);
    assert_eq!(data["address"], TOR_IP, "{data}");
    assert_eq!(data["signals"]["geo"]["country"], "AU", "{data}");
    assert_eq!(data["signals"]["geo"]["anonymous"]["tor"], true, "{data}");
    assert_eq!(data["signals"]["device"]["has_cookie"], false, "{data}");
    assert_eq!(data["signals"]["history"]["events"], 1, "{data}");
    assert_eq!(
        audit::reasons(data),
        expected(&[
            ("anonymous_tor", 50),
            ("impossible_travel", 50),
            ("distance", 25),
            ("new_country", 20),
            ("account_attempts_1h", 15),
            ("new_device", 15),
            ("new_asn", 10),
            ("new_browser", 10),
            ("history_lr", 2),
        ]),
        "{data}"
    );
    assert_eq!(
        (data["score"].as_u64(), data["level"].as_str()),
        (Some(100), Some("deny"))
    );
    for (code, _) in audit::reasons(data) {
        assert!(
            !audit::reason_detail(data, &code).trim().is_empty(),
            "{code} has an empty detail: {data}"
        );
    }
    assert!(
        audit::reason_detail(data, "new_country").contains("AU"),
        "{data}"
    );
}

/// `geo lookup --json` on the built City database (and the ASN and Anonymous IP
/// databases beside it) reports the exit as Sydney AU, AS64511, Tor.
async fn assert_lookup_finds_the_tor_exit(gw: &Gateway, dbs: &GeoDbs) {
    let city_db = dbs.city.to_str().expect("temporary paths are UTF-8");
    let lookup = gw
        .cli_ok(&["geo", "lookup", TOR_IP, "--db", city_db, "--json"])
        .await;
    let info: Value = serde_json::from_str(lookup.stdout.trim())
        .unwrap_or_else(|err| panic!("geo lookup --json is not JSON ({err}):\n{lookup}"));
    assert_eq!(info["country"], "AU", "{info}");
    assert_eq!(info["city"], "Sydney", "{info}");
    assert_eq!(info["asn"], 64511, "{info}");
    assert_eq!(info["anonymous"]["tor"], true, "{info}");
    assert_eq!(info["anonymous"]["vpn"], false, "{info}");
}

/// The four counts of the decision-shift table's row for `old`.
fn shift_row(table: &str, old: &str) -> Vec<u64> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.len() == 5 && cells[0] == old)
        .and_then(|cells| cells[1..].iter().map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| panic!("no table row `{old} n n n n` in:\n{table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_shows_decisions_a_lower_medium_threshold_steps_up() {
    assert_bundled_weights();
    let (gw, _) = geo_gateway().await;
    gw.import_users(&[ALICE, CAROL]).await;
    let home = gw
        .api()
        .clone()
        .forwarded_for(HOME_IP)
        .user_agent(CHROME_WINDOWS_UA);

    // alice signs in at home and keeps the cookie. A password-only sign-in
    // does not feed the history, and no reset below completes, so alice and
    // carol have no history: novelty and the LR have nothing to compare with.
    let login = flows::try_login(&home, ALICE.name, ALICE.password).await;
    let cookie = login
        .cookie(DEVICE_COOKIE)
        .unwrap_or_else(|| panic!("POST /v1/login sets no {DEVICE_COOKIE}: {login}"))
        .to_owned();
    login.ok();
    let device = home.clone().cookie(DEVICE_COOKIE, &cookie);
    let tor = gw
        .api()
        .clone()
        .forwarded_for(TOR_IP)
        .user_agent(FIREFOX_LINUX_UA);

    // alice_1: at home with the cookie, 1st start this hour: score 0, low.
    // alice_2: at home, 2nd start: 0, low.
    // alice_3: at home, 3rd start: account_attempts_1h 15. Score 15, low.
    // carol (SMS factor): 0, low.
    // alice_tor: from the Sydney Tor exit, 4th start: anonymous_tor 50 +
    //    account_attempts_1h 25 = 75: high, whose two factors with one of
    //    webauthn/totp alice (SMS only) cannot meet: deny.
    let alice_1 = flows::start_reset(&device, ALICE.name).await;
    let alice_2 = flows::start_reset(&home, ALICE.name).await;
    let alice_3 = flows::start_reset(&home, ALICE.name).await;
    let carol = flows::start_reset(&home, CAROL.name).await;
    let alice_tor = flows::start_reset(&tor, ALICE.name).await;
    assert_eq!(alice_tor["status"], "denied", "{alice_tor}");

    let export = gw.audit_export().await;
    let records = audit::records(&export);
    for (start, score, level) in [
        (&alice_1, 0, "low"),
        (&alice_2, 0, "low"),
        (&alice_3, 15, "low"),
        (&carol, 0, "low"),
        (&alice_tor, 75, "deny"),
    ] {
        let data = audit::reset_started(&records, &flows::flow_id(start));
        assert_eq!(
            (data["score"].as_u64(), data["level"].as_str()),
            (Some(score), Some(level)),
            "{data}"
        );
    }
    let started = records
        .iter()
        .filter(|record| record["kind"] == "reset.started")
        .count();
    assert_eq!(started, 5, "{export}");

    let export_path = gw.root().join("audit-export.jsonl");
    std::fs::write(&export_path, &export).expect("the export file is writable");
    let export_path = export_path.to_str().expect("UTF-8 path");

    // The live policy replays every decision unchanged.
    let bundled = gw.root().join("bundled-policy.toml");
    std::fs::write(&bundled, fixtures::quiet_policy()).expect("writable");
    let bundled = bundled.to_str().expect("UTF-8 path");
    let same = gw
        .cli_ok(&["simulate", "--policy", bundled, "--from", export_path])
        .await;
    assert!(same.stdout.contains("replayed 5 attempts"), "{same}");
    assert_eq!(shift_row(&same.stdout, "low"), [4, 0, 0, 0], "{same}");
    assert_eq!(shift_row(&same.stdout, "deny"), [0, 0, 0, 1], "{same}");
    assert!(same.stdout.contains("0 step up"), "{same}");

    // medium at 10 instead of 30: alice_3's 15 points now reach medium; the
    // zero scores stay low, alice_tor stays refused. Only thresholds differ, so reasons do not.
    let candidate = gw.root().join("candidate-policy.toml");
    // (With the live policy's anomaly weight: 0.)
    let mut text: toml::Table = fixtures::policy_with_medium_threshold(10)
        .parse()
        .expect("TOML");
    text["signals"]["anomaly"] = 0.into();
    std::fs::write(&candidate, text.to_string()).expect("writable");
    let candidate = candidate.to_str().expect("UTF-8 path");
    gw.cli_ok(&["policy", "validate", candidate]).await;
    let shifted = gw
        .cli_ok(&["simulate", "--policy", candidate, "--from", export_path])
        .await;
    let table = &shifted.stdout;
    assert!(table.contains("replayed 5 attempts"), "{shifted}");
    assert!(
        table.contains("old \\ new"),
        "no decision-shift table:\n{shifted}"
    );
    assert_eq!(shift_row(table, "low"), [3, 1, 0, 0], "{shifted}");
    assert_eq!(shift_row(table, "medium"), [0, 0, 0, 0], "{shifted}");
    assert_eq!(shift_row(table, "high"), [0, 0, 0, 0], "{shifted}");
    assert_eq!(shift_row(table, "deny"), [0, 0, 0, 1], "{shifted}");
    assert!(table.contains("1 step up"), "{shifted}");
    assert!(table.contains("0 step down"), "{shifted}");
}
