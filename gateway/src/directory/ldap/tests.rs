//! The requests the LDAP connector builds, without a server (Active Directory
//! cannot run here; OpenLDAP is exercised end to end in `tests/it/ldap.rs`).

use super::*;

fn config(flavor: LdapFlavor, filter: Option<&str>) -> config::Ldap {
    config::Ldap {
        url: Some("ldaps://dc1.corp.example:636".parse().unwrap()),
        bind_dn: "cn=svc,dc=corp,dc=example".into(),
        bind_password: Some(SecretString::from("secret")),
        base_dn: "dc=corp,dc=example".into(),
        user_filter: filter.map(str::to_owned),
        flavor,
        ..config::Ldap::default()
    }
}

fn name(text: &str) -> AccountName {
    AccountName::parse(text).unwrap()
}

#[test]
fn the_filter_escapes_the_name_per_rfc_4515() {
    let d = LdapDirectory::new(&config(LdapFlavor::Openldap, None)).unwrap();
    assert_eq!(d.filter(&name("alice")), "(uid=alice)");
    let ad = LdapDirectory::new(&config(LdapFlavor::Ad, None)).unwrap();
    assert_eq!(ad.filter(&name("alice")), "(sAMAccountName=alice)");
    let custom = LdapDirectory::new(&config(
        LdapFlavor::Openldap,
        Some("(&(objectClass=inetOrgPerson)(|(uid={username})(mail={username})))"),
    ))
    .unwrap();
    assert_eq!(
        custom.filter(&name("a.b@example.org")),
        "(&(objectClass=inetOrgPerson)(|(uid=a.b@example.org)(mail=a.b@example.org)))"
    );
    // Whatever a name may hold, it stays one value inside its parentheses.
    for (raw, escaped) in [
        ("a*", "(uid=a\\2a)"),
        ("x)(uid=*", "(uid=x\\29\\28uid=\\2a)"),
        ("back\\slash", "(uid=back\\5cslash)"),
    ] {
        if let Ok(n) = AccountName::parse(raw) {
            assert_eq!(d.filter(&n), escaped, "{raw}");
        }
    }
    assert_eq!(ldap_escape("nul\0"), "nul\\00");
}

#[test]
fn ad_passwords_are_quoted_utf16le_replacements() {
    assert_eq!(
        ad_password_value("Pä55"),
        [0x22, 0, b'P', 0, 0xe4, 0, b'5', 0, b'5', 0, 0x22, 0]
    );
    let change = ad_password_change("new-Password-1");
    let [Mod::Replace(attr, values)] = change.as_slice() else {
        panic!("one replace: {change:?}");
    };
    assert_eq!(attr.as_slice(), b"unicodePwd");
    assert_eq!(values.len(), 1);
    assert!(values.contains(&ad_password_value("new-Password-1")));
}

#[test]
fn ad_account_state() {
    assert!(ad_enabled(Some("512"), None));
    assert!(ad_enabled(Some("512"), Some("0")));
    assert!(!ad_enabled(Some("514"), None), "ACCOUNTDISABLE");
    assert!(!ad_enabled(Some("66050"), Some("0")), "disabled, no expiry");
    assert!(
        !ad_enabled(Some("512"), Some("133464000000000000")),
        "locked out"
    );
    assert!(ad_enabled(None, None));
}

#[test]
fn directory_refusals_read_as_reasons() {
    assert!(refusal("Password is in history of old passwords").starts_with("it was used before"));
    assert!(
        refusal("Password is not being changed from existing value")
            .starts_with("it was used before")
    );
    assert!(refusal("Password fails quality checking policy").contains("quality"));
    assert!(
        refusal("0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria")
            .contains("quality")
    );
    assert!(refusal("Password is too short for policy").contains("shorter"));
    assert_eq!(refusal(""), "the directory's password policy refused it");
}

#[test]
fn which_failures_are_the_policy_refusing_the_password() {
    use LdapFlavor::{Ad, Openldap};
    assert!(is_policy_refusal(
        Openldap,
        19,
        "Password fails quality checking policy"
    ));
    // OpenLDAP's "unwilling" is never a policy verdict.
    assert!(!is_policy_refusal(
        Openldap,
        53,
        "unwilling to verify old password"
    ));
    assert!(!is_policy_refusal(Openldap, 50, "no write access"));
    let restrictions = "0000052D: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0";
    assert!(is_policy_refusal(Ad, 53, restrictions));
    assert!(is_policy_refusal(Ad, 19, "0000052D: Constraint violation"));
    // AD refusing because the connection is not protected is a setup fault.
    let unprotected = "0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0";
    assert!(!is_policy_refusal(Ad, 53, unprotected));
}

#[test]
fn ad_resets_ask_for_the_policy_hints() {
    let control = ad_policy_hints();
    assert_eq!(control.ctype, "1.2.840.113556.1.4.2239");
    assert!(!control.crit);
    // SEQUENCE { INTEGER 1 }
    assert_eq!(
        control.val.as_deref(),
        Some([0x30, 0x03, 0x02, 0x01, 0x01].as_slice())
    );
}

#[test]
fn the_naming_attribute_follows_the_flavor() {
    assert_eq!(config(LdapFlavor::Openldap, None).name_attribute(), "uid");
    assert_eq!(
        config(LdapFlavor::Ad, None).name_attribute(),
        "sAMAccountName"
    );
    let custom = config::Ldap {
        name_attribute: Some("cn".into()),
        ..config(LdapFlavor::Openldap, None)
    };
    assert_eq!(custom.name_attribute(), "cn");
}
