//! `OpenLDAP` as the identity store: a private `slapd` (mdb, ppolicy overlay,
//! `StartTLS` with a throwaway CA) started by the test, the gateway pointed at
//! it with `directory.kind = "ldap"`.
//!
//! - Sign in with the LDAP password, enrol TOTP, reset: the directory takes
//!   the new password (a bind succeeds with it and fails with the old one).
//! - A password the directory's policy refuses (ppolicy history) is
//!   `password_rejected` with the directory's reason, and the old password
//!   still works; the same token then completes with a good one.
//! - Names that would widen the search filter are inert; a locked directory
//!   account gets a decoy like an unknown name.
//! - `slapd` stopped: 503; back: resets work again without a restart.

use std::time::{Duration, Instant};

use resetgate_tests::api::field_str;
use resetgate_tests::fixtures::{NEW_PASSWORD, OTHER_NEW_PASSWORD};
use resetgate_tests::services::ldap::{self, LdapServer};
use resetgate_tests::{Gateway, audit, flows};

fn ldap_config(server: &LdapServer) -> String {
    format!(
        "[directory]\nkind = \"ldap\"\n\n\
         [ldap]\nurl = \"{url}\"\nstarttls = true\nca_file = \"{ca}\"\n\
         bind_dn = \"{bind}\"\nbind_password = \"{password}\"\n\
         base_dn = \"{base}\"\npassword_policy_dn = \"{policy}\"\ntimeout = \"2s\"\n\
         mobile_as_factor = true\n",
        url = server.url(),
        ca = server
            .ca_cert_path()
            .expect("a StartTLS server has a CA")
            .display(),
        bind = server.service_dn(),
        password = server.service_password(),
        base = ldap::PEOPLE_DN,
        policy = ldap::POLICY_DN,
    )
}

async fn gateway(server: &LdapServer) -> Gateway {
    Gateway::builder().config(ldap_config(server)).start().await
}

/// Whether the reset `flow` is a decoy, as its audit record says.
async fn decoy(gw: &Gateway, flow: &str) -> bool {
    let records = audit::records(&gw.audit_export().await);
    audit::reset_started(&records, flow)["decoy"]
        .as_bool()
        .expect("decoy is a boolean")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_sets_the_password_in_openldap_and_its_policy_is_obeyed() {
    let server = LdapServer::start_tls();
    let gw = gateway(&server).await;
    let alice = ldap::ALICE;
    let api = gw.api();

    // Enrolment sign-in checks the LDAP password (a bind as alice).
    flows::try_login(api, alice.uid, "Not-Her-Password-1")
        .await
        .expect_error(401, "invalid_credentials");
    // An empty password would be an anonymous bind, which slapd accepts: it
    // must not sign anyone in.
    flows::try_login(api, alice.uid, "")
        .await
        .expect_error(401, "invalid_credentials");
    let bearer = flows::login(api, alice.uid, alice.password).await;
    let mut totp = flows::enrol_totp(api, &bearer).await;

    let start = flows::start_reset(api, alice.uid).await;
    assert_eq!(start["status"], "challenge", "{start}");
    let flow = flows::flow_id(&start);
    assert!(!decoy(&gw, &flow).await);
    let code = totp.device.next_code().await;
    let verified = flows::verify(api, &flow, "totp", &code).await.ok();
    let token = field_str(&verified, "reset_token").to_owned();

    // Her current password is in the directory's history: refused, with the
    // directory's reason, and nothing changed.
    let refused = flows::complete(api, &flow, &token, alice.password).await;
    flows::assert_rejected(&refused, "directory_policy");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("used before"), "{refused}");
    assert!(server.whoami(&alice.dn(), alice.password));

    // The same token completes with a good password.
    let done = flows::complete(api, &flow, &token, NEW_PASSWORD).await.ok();
    assert_eq!(done["status"], "done", "{done}");
    assert!(
        server.whoami(&alice.dn(), NEW_PASSWORD),
        "the new password binds"
    );
    assert!(
        !server.whoami(&alice.dn(), alice.password),
        "the old one does not"
    );
    // And signs in to the gateway.
    flows::login(api, alice.uid, NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_would_widen_the_filter_are_inert_and_locked_entries_are_decoys() {
    let server = LdapServer::start_tls();
    let gw = gateway(&server).await;
    let api = gw.api();
    for name in [
        "*",
        "a*",
        ")(uid=*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice\0",
        "(uid=*)",
    ] {
        let start = flows::try_start_reset(api, name).await;
        if start.status == 200 {
            assert!(
                decoy(&gw, &flows::flow_id(&start.body)).await,
                "{name:?} matched an entry: {start}"
            );
        } else {
            start.expect_error(400, "invalid_request");
        }
        // Nor does it sign in with anyone's password.
        for user in ldap::USERS {
            let login = flows::try_login(api, name, user.password).await;
            assert!(
                login.status == 400 || login.status == 401,
                "{name:?}: {login}"
            );
        }
    }
    // Carol is locked in the directory (pwdAccountLockedTime): a decoy.
    let carol = flows::start_reset(api, ldap::CAROL.uid).await;
    assert!(decoy(&gw, &flows::flow_id(&carol)).await);
    flows::try_login(api, ldap::CAROL.uid, ldap::CAROL.password)
        .await
        .expect_error(401, "invalid_credentials");
    // No search widened: slapd saw only escaped filters.
    let log = server.log();
    assert!(
        !log.contains("filter=\"(uid=*)\""),
        "an unescaped wildcard reached slapd"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_directory_gives_503_and_recovery_needs_no_restart() {
    let mut server = LdapServer::start_tls();
    let gw = gateway(&server).await;
    let api = gw.api();
    let bob = ldap::BOB;
    assert_eq!(flows::try_start_reset(api, bob.uid).await.status, 200);

    server.stop();
    let down = flows::try_start_reset(api, bob.uid).await;
    down.expect_error(503, "store_unavailable");
    flows::try_login(api, bob.uid, bob.password)
        .await
        .expect_error(503, "store_unavailable");

    server.start_again();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let start = flows::try_start_reset(api, bob.uid).await;
        if start.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {start}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let bearer = flows::login(api, bob.uid, bob.password).await;
    let mut totp = flows::enrol_totp(api, &bearer).await;
    let start = flows::start_reset(api, bob.uid).await;
    let flow = flows::flow_id(&start);
    let code = totp.device.next_code().await;
    let verified = flows::verify(api, &flow, "totp", &code).await.ok();
    let token = field_str(&verified, "reset_token");
    let done = flows::complete(api, &flow, token, OTHER_NEW_PASSWORD)
        .await
        .ok();
    assert_eq!(done["status"], "done", "{done}");
    assert!(server.whoami(&bob.dn(), OTHER_NEW_PASSWORD));
    assert!(!gw.log().contains(OTHER_NEW_PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_mobile_number_is_a_provisioned_phone() {
    let server = LdapServer::start_tls();
    let gw = gateway(&server).await;
    let api = gw.api();
    let alice = ldap::ALICE;
    let phone = alice.mobile.expect("alice has a mobile in the directory");
    // Nothing enrolled in resetgate: the directory's mobile is the factor.
    let start = flows::start_reset(api, alice.uid).await;
    assert_eq!(flows::option_factors(&start), ["sms"], "{start}");
    assert!(flows::hint_for(&start, "sms").ends_with("01"), "{start}");
    let flow = flows::flow_id(&start);
    let code = flows::sms_code(&gw, &flow, phone).await;
    let verified = flows::verify(api, &flow, "sms", &code).await.ok();
    let token = field_str(&verified, "reset_token");
    let done = flows::complete(api, &flow, token, NEW_PASSWORD).await.ok();
    assert_eq!(done["status"], "done", "{done}");
    assert!(server.whoami(&alice.dn(), NEW_PASSWORD));
    // The notice reaches that number, with its lock link.
    let notice = gw
        .sms()
        .next_message(phone, resetgate_tests::sms::SMS_TIMEOUT)
        .await;
    assert!(notice.message.contains("/lock?t="), "{}", notice.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_minimum_length_and_history_are_checked() {
    let server = LdapServer::start_tls();
    // The gateway's own minimum lowered below the directory's (12), so the
    // directory's is the one that decides.
    let gw = Gateway::builder()
        .config(ldap_config(&server))
        .env("RESETGATE__PASSWORD__MIN_LENGTH", "8")
        .start()
        .await;
    let api = gw.api();
    let alice = ldap::ALICE;
    let phone = alice.mobile.expect("alice has a mobile in the directory");
    // Resets by SMS to the directory's mobile (no TOTP step to wait for).
    let reset_to = async |password: &str| {
        let start = flows::start_reset(api, alice.uid).await;
        let flow = flows::flow_id(&start);
        let code = flows::sms_code(&gw, &flow, phone).await;
        let verified = flows::verify(api, &flow, "sms", &code).await.ok();
        let token = field_str(&verified, "reset_token").to_owned();
        flows::complete(api, &flow, &token, password).await
    };
    // 10 characters: fine for the gateway, short for ppolicy's pwdMinLength
    // — refused before anything is written.
    let short = reset_to("Kx7-pr!Lq2").await;
    flows::assert_rejected(&short, "too_short");
    assert!(server.whoami(&alice.dn(), alice.password));
    assert!(
        !server.log().contains("PASSMOD"),
        "nothing was sent to write"
    );

    // A new password (written: slapd logs the Password Modify), then the
    // old one again: in ppolicy's history.
    let done = reset_to(NEW_PASSWORD).await.ok();
    assert_eq!(done["status"], "done", "{done}");
    assert!(
        server.log().contains("PASSMOD"),
        "slapd logs Password Modify"
    );
    let back = reset_to(alice.password).await;
    flows::assert_rejected(&back, "directory_policy");
    assert!(
        back.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("used before")),
        "{back}"
    );
    assert!(server.whoami(&alice.dn(), NEW_PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_has_one_name_even_when_the_filter_matches_its_mail() {
    let server = LdapServer::start_tls();
    let gw = Gateway::builder()
        .config(format!(
            "{}user_filter = \"(|(uid={{username}})(mail={{username}}))\"\n",
            ldap_config(&server)
        ))
        .start()
        .await;
    let api = gw.api();
    let alice = ldap::ALICE;
    // By her name: her entry. By her address: the same entry, so no account
    // (it would otherwise be a second identity with its own factors, lock
    // and counters).
    let by_name = flows::start_reset(api, alice.uid).await;
    assert!(!decoy(&gw, &flows::flow_id(&by_name)).await);
    let by_mail = flows::start_reset(api, alice.mail).await;
    assert!(decoy(&gw, &flows::flow_id(&by_mail)).await, "{by_mail}");
    flows::try_login(api, alice.mail, alice.password)
        .await
        .expect_error(401, "invalid_credentials");
    flows::login(api, alice.uid, alice.password).await;
}
