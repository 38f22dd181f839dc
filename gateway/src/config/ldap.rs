//! `[ldap]`: the directory when `directory.kind = "ldap"` (OpenLDAP or Active
//! Directory), validated only then.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid, read_secret_file};

/// Which directory server: how passwords are set and accounts disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LdapFlavor {
    /// Password Modify extended operation (RFC 3062); ppolicy's
    /// `pwdAccountLockedTime` marks a locked account.
    #[default]
    Openldap,
    /// `unicodePwd` replaced over a protected connection;
    /// `userAccountControl` ACCOUNTDISABLE and `lockoutTime` mark a disabled
    /// or locked account.
    Ad,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ldap {
    /// `ldap://HOST[:389]` (with StartTLS unless `starttls = false`) or
    /// `ldaps://HOST[:636]`.
    pub url: Option<url::Url>,
    /// Upgrade `ldap://` with StartTLS (default). `false` is allowed only for a
    /// loopback host (tests, a directory on the same machine).
    pub starttls: bool,
    /// PEM file of the CA(s) to trust for the directory's certificate
    /// (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// The service account the gateway searches and sets passwords as.
    pub bind_dn: String,
    #[serde(skip_serializing)]
    pub bind_password: Option<SecretString>,
    pub bind_password_file: Option<PathBuf>,
    /// Where accounts are searched (subtree).
    pub base_dn: String,
    /// The filter that finds one account; `{username}` is replaced by the
    /// name, escaped per RFC 4515. Default `(uid={username})`, or
    /// `(sAMAccountName={username})` for Active Directory.
    pub user_filter: Option<String>,
    /// The account's e-mail address (notices, e-mail codes).
    pub email_attribute: String,
    /// The account's mobile number, E.164: with `mobile_as_factor`, an
    /// administrator-provisioned SMS factor that also gets notices.
    pub mobile_attribute: String,
    /// Use the directory's mobile number as a provisioned SMS factor (no
    /// cool-off). Only where people cannot edit their own mobile attribute
    /// (Active Directory lets them by default): whoever can write it could
    /// otherwise reset the password with it.
    pub mobile_as_factor: bool,
    /// The attribute holding the account name (`uid`, AD `sAMAccountName`):
    /// an entry is the account only if this value is the name asked for, so
    /// a filter that also matches other attributes (mail) cannot give one
    /// entry a second name in the gateway.
    pub name_attribute: Option<String>,
    pub flavor: LdapFlavor,
    /// Longest wait for one directory operation (connect, bind, search, write).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// OpenLDAP: a ppolicy entry (e.g. `cn=default,ou=policies,dc=example,dc=com`)
    /// whose `pwdMinLength` is checked with the gateway's own rules, before
    /// anything is written.
    pub password_policy_dn: Option<String>,
}

impl Default for Ldap {
    fn default() -> Self {
        Self {
            url: None,
            starttls: true,
            ca_file: None,
            bind_dn: String::new(),
            bind_password: None,
            bind_password_file: None,
            base_dn: String::new(),
            user_filter: None,
            email_attribute: "mail".into(),
            mobile_attribute: "mobile".into(),
            mobile_as_factor: false,
            name_attribute: None,
            flavor: LdapFlavor::Openldap,
            timeout: Duration::from_secs(5),
            password_policy_dn: None,
        }
    }
}

impl Ldap {
    /// The filter with its `{username}` placeholder.
    pub fn filter_template(&self) -> &str {
        self.user_filter.as_deref().unwrap_or(match self.flavor {
            LdapFlavor::Openldap => "(uid={username})",
            LdapFlavor::Ad => "(sAMAccountName={username})",
        })
    }

    /// The attribute holding the account name.
    pub fn name_attribute(&self) -> &str {
        self.name_attribute.as_deref().unwrap_or(match self.flavor {
            LdapFlavor::Openldap => "uid",
            LdapFlavor::Ad => "sAMAccountName",
        })
    }

    /// Whether the connection is protected (ldaps, or StartTLS).
    pub fn tls(&self) -> bool {
        self.url
            .as_ref()
            .is_some_and(|u| u.scheme() == "ldaps" || self.starttls)
    }

    pub(super) fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.bind_password_file {
            if self.bind_password.is_some() {
                return Err(invalid(
                    "ldap.bind_password",
                    "set bind_password or bind_password_file, not both",
                ));
            }
            self.bind_password = Some(read_secret_file("ldap.bind_password_file", path)?);
        }
        Ok(())
    }

    /// Checks for `directory.kind = "ldap"`.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.url else {
            return Err(invalid(
                "ldap.url",
                "is required when directory.kind = \"ldap\"",
            ));
        };
        if !matches!(url.scheme(), "ldap" | "ldaps") || url.host_str().is_none() {
            return Err(invalid(
                "ldap.url",
                "must be ldap://HOST[:PORT] (StartTLS) or ldaps://HOST[:PORT]",
            ));
        }
        if url.scheme() == "ldap" && !self.starttls && !loopback(url) {
            return Err(invalid(
                "ldap.starttls",
                "may be false only for a loopback directory: passwords would cross the \
                 network in clear",
            ));
        }
        if self.flavor == LdapFlavor::Ad && !self.tls() {
            return Err(invalid(
                "ldap.flavor",
                "Active Directory sets passwords only over a protected connection: use \
                 ldaps:// or StartTLS",
            ));
        }
        for (key, value) in [
            ("ldap.bind_dn", &self.bind_dn),
            ("ldap.base_dn", &self.base_dn),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(key, "is required when directory.kind = \"ldap\""));
            }
        }
        // An empty simple bind is an anonymous bind, which directories accept.
        if self
            .bind_password
            .as_ref()
            .is_none_or(|p| secrecy::ExposeSecret::expose_secret(p).is_empty())
        {
            return Err(invalid(
                "ldap.bind_password",
                "is required and may not be empty (or ldap.bind_password_file) when \
                 directory.kind = \"ldap\"",
            ));
        }
        let filter = self.filter_template();
        if !(filter.starts_with('(') && filter.ends_with(')') && filter.contains("{username}")) {
            return Err(invalid(
                "ldap.user_filter",
                "must be an LDAP filter in parentheses containing {username}",
            ));
        }
        if self.timeout < Duration::from_millis(100) || self.timeout > Duration::from_mins(1) {
            return Err(invalid("ldap.timeout", "must be between 100ms and 1m"));
        }
        Ok(())
    }
}

fn loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
