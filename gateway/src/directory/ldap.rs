//! OpenLDAP and Active Directory as the identity store (`directory.kind =
//! "ldap"`), with ldap3 over StartTLS or ldaps (rustls).
//!
//! - **Find** an account: a subtree search under `ldap.base_dn` with
//!   `ldap.user_filter`, `{username}` replaced by the name escaped per RFC 4515
//!   (`ldap3::ldap_escape`: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
//!   `\29`, `\5c`, `\00`), as the service account (`ldap.bind_dn`). Exactly one
//!   entry is the account; none, or several (a filter that is too loose), is
//!   no account. Disabled or locked entries (OpenLDAP ppolicy's
//!   `pwdAccountLockedTime`; AD's ACCOUNTDISABLE bit of `userAccountControl`
//!   or a `lockoutTime`) are reported as not enabled, which the gateway treats
//!   exactly like unknown names (decoys).
//! - **Authenticate**: a bind as the entry's DN on a connection of its own.
//!   An empty password is refused before anything is sent (an empty simple
//!   bind is an anonymous bind, which servers accept). For a name with no
//!   usable entry a bind to a DN that does not exist is made instead, so the
//!   answer costs the same round trips.
//! - **Set the password**: OpenLDAP — the Password Modify extended operation
//!   (RFC 3062) as the service account, so the directory applies its own
//!   policy (ppolicy: quality, length, history) and hashing; Active Directory —
//!   a replace of `unicodePwd` (the password in double quotes, UTF-16LE) over
//!   the protected connection, with the policy-hints control so that AD
//!   applies its history and minimum age. The directory's policy refusing the
//!   password ([`is_policy_refusal`]) is [`DirectoryError::Rejected`] with a
//!   fixed reason for the person (the server's text is logged); anything else
//!   is unavailable. An entry disabled meanwhile is [`DirectoryError::Disabled`].
//! - **Names**: an entry is the account only if its naming attribute (`uid`,
//!   `sAMAccountName`) is the name asked for, so a filter that also matches
//!   mail addresses cannot give one entry a second identity here (its own
//!   factors, lock and counters).
//! - **Reuse**: the directory's own history (ppolicy `pwdInHistory`, AD's
//!   password history through the policy hints) decides when the password is
//!   set; the gateway does not try binds with candidate passwords (failed
//!   binds would count towards the account's lockout).
//! - The service connection is one multiplexed ldap3 handle shared by all
//!   requests, re-opened after any failure; every operation is bounded by
//!   `ldap.timeout`.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry, ldap_escape};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Mutex;

use super::{Account, Directory, DirectoryError};
use crate::account::AccountName;
use crate::config::{self, LdapFlavor};

/// LDAP result codes the connector tells apart (RFC 4511 appendix A).
mod rc {
    pub const SUCCESS: u32 = 0;
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
}

/// AD's `userAccountControl` ACCOUNTDISABLE bit.
const AD_ACCOUNT_DISABLE: u64 = 0x2;

/// The directory over LDAP.
pub struct LdapDirectory {
    config: config::Ldap,
    url: String,
    bind_password: SecretString,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The service account's connection, bound; `None` until first use or
    /// after a failure.
    service: Mutex<Option<Ldap>>,
}

/// An account's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    /// The naming attribute's value as an account name: the entry is the
    /// account asked for only if this is that name (not an alias that the
    /// filter also matched, such as a mail address).
    pub name: Option<AccountName>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub enabled: bool,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(format!("LDAP {what}: {e}"))
}

impl LdapDirectory {
    /// The connector for `[ldap]` (already validated). Nothing is opened yet.
    pub fn new(config: &config::Ldap) -> anyhow::Result<Self> {
        let url = config
            .url
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("ldap.url is required"))?
            .to_string();
        let bind_password = config
            .bind_password
            .clone()
            .ok_or_else(|| anyhow::anyhow!("ldap.bind_password is required"))?;
        let tls = match &config.ca_file {
            Some(path) => Some(Arc::new(tls_with_roots(path)?)),
            None => None,
        };
        Ok(Self {
            config: config.clone(),
            url,
            bind_password,
            tls,
            service: Mutex::new(None),
        })
    }

    fn settings(&self) -> LdapConnSettings {
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(self.config.timeout)
            .set_starttls(self.url.starts_with("ldap://") && self.config.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        settings
    }

    /// A new connection, not bound.
    async fn connect(&self) -> Result<Ldap, DirectoryError> {
        let (conn, ldap) = LdapConnAsync::with_settings(self.settings(), &self.url)
            .await
            .map_err(|e| unavailable("connect", e))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// Run `op` within `ldap.timeout`.
    async fn bounded<T>(
        &self,
        what: &str,
        op: impl Future<Output = Result<T, DirectoryError>>,
    ) -> Result<T, DirectoryError> {
        tokio::time::timeout(self.config.timeout, op)
            .await
            .unwrap_or_else(|_| {
                Err(unavailable(
                    what,
                    format!("no answer within {:?}", self.config.timeout),
                ))
            })
    }

    /// The service connection, opened and bound when needed.
    async fn service(&self) -> Result<Ldap, DirectoryError> {
        let mut slot = self.service.lock().await;
        if let Some(ldap) = slot.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let mut ldap = self.connect().await?;
        let bound = ldap
            .simple_bind(&self.config.bind_dn, self.bind_password.expose_secret())
            .await
            .map_err(|e| unavailable("service bind", e))?;
        if bound.rc != rc::SUCCESS {
            return Err(unavailable(
                "service bind",
                format!("result {} {}", bound.rc, bound.text),
            ));
        }
        *slot = Some(ldap.clone());
        Ok(ldap)
    }

    /// Forget the service connection after a failure; the next call reconnects.
    async fn reset(&self) {
        let taken = self.service.lock().await.take();
        // Unbound without holding the lock, and without waiting for it: a
        // connection that is stuck must not hold up the next request.
        if let Some(mut ldap) = taken {
            let timeout = self.config.timeout;
            tokio::spawn(async move {
                let _ = tokio::time::timeout(timeout, ldap.unbind()).await;
            });
        }
    }

    /// With the service connection: on a failure it is dropped.
    async fn with_service<T, F, Fut>(&self, what: &str, op: F) -> Result<T, DirectoryError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: Future<Output = Result<T, DirectoryError>>,
    {
        let result = self
            .bounded(what, async { op(self.service().await?).await })
            .await;
        if matches!(result, Err(DirectoryError::Unavailable(_))) {
            self.reset().await;
        }
        result
    }

    /// The filter for `name`.
    pub fn filter(&self, name: &AccountName) -> String {
        self.config
            .filter_template()
            .replace("{username}", &ldap_escape(name.as_str()))
    }

    fn attributes(&self) -> Vec<String> {
        let mut attrs = vec![
            self.config.name_attribute().to_owned(),
            self.config.email_attribute.clone(),
            self.config.mobile_attribute.clone(),
        ];
        match self.config.flavor {
            LdapFlavor::Openldap => attrs.push("pwdAccountLockedTime".into()),
            LdapFlavor::Ad => attrs.extend(["userAccountControl".into(), "lockoutTime".into()]),
        }
        attrs
    }

    /// The account's entry, if exactly one matches.
    pub async fn find(&self, name: &AccountName) -> Result<Option<Entry>, DirectoryError> {
        let filter = self.filter(name);
        let attrs = self.attributes();
        let base = self.config.base_dn.clone();
        let found = self
            .with_service("search", |mut ldap| async move {
                let (entries, result) = ldap
                    .search(&base, Scope::Subtree, &filter, attrs)
                    .await
                    .map_err(|e| unavailable("search", e))?
                    .non_error()
                    .map_err(|e| unavailable("search", e))?;
                let _ = result;
                Ok(entries)
            })
            .await?;
        if found.len() > 1 {
            tracing::warn!(
                matches = found.len(),
                "ldap.user_filter matches several entries for one name; treated as no account"
            );
            return Ok(None);
        }
        Ok(found
            .into_iter()
            .next()
            .map(|e| self.entry(SearchEntry::construct(e)))
            .filter(|e| e.name.as_ref() == Some(name)))
    }

    fn entry(&self, e: SearchEntry) -> Entry {
        let first = |attr: &str| {
            e.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attr))
                .and_then(|(_, v)| v.first().cloned())
                .filter(|v| !v.trim().is_empty())
        };
        let enabled = match self.config.flavor {
            LdapFlavor::Openldap => first("pwdAccountLockedTime").is_none(),
            LdapFlavor::Ad => ad_enabled(
                first("userAccountControl").as_deref(),
                first("lockoutTime").as_deref(),
            ),
        };
        Entry {
            name: first(self.config.name_attribute()).and_then(|n| AccountName::parse(&n).ok()),
            email: first(&self.config.email_attribute),
            mobile: first(&self.config.mobile_attribute),
            dn: e.dn,
            enabled,
        }
    }

    /// Bind as `dn` with `password` on a connection of its own.
    async fn bind_as(&self, dn: &str, password: &str) -> Result<bool, DirectoryError> {
        self.bounded("bind", async {
            let mut ldap = self.connect().await?;
            let result = ldap
                .simple_bind(dn, password)
                .await
                .map_err(|e| unavailable("bind", e))?;
            let _ = ldap.unbind().await;
            match result.rc {
                rc::SUCCESS => Ok(true),
                rc::INVALID_CREDENTIALS => Ok(false),
                other => Err(unavailable(
                    "bind",
                    format!("result {other} {}", result.text),
                )),
            }
        })
        .await
    }

    /// The directory's minimum password length (ppolicy `pwdMinLength` of
    /// `ldap.password_policy_dn`), if configured and set.
    pub async fn min_length(&self) -> Result<Option<usize>, DirectoryError> {
        let Some(dn) = self.config.password_policy_dn.clone() else {
            return Ok(None);
        };
        let entries = self
            .with_service("policy read", |mut ldap| async move {
                let (entries, _) = ldap
                    .search(&dn, Scope::Base, "(objectClass=*)", vec!["pwdMinLength"])
                    .await
                    .map_err(|e| unavailable("policy read", e))?
                    .non_error()
                    .map_err(|e| unavailable("policy read", e))?;
                Ok(entries)
            })
            .await?;
        Ok(entries.into_iter().next().and_then(|e| {
            SearchEntry::construct(e)
                .attrs
                .get("pwdMinLength")
                .and_then(|v| v.first())
                .and_then(|v| v.parse().ok())
        }))
    }
}

/// An AD account is enabled unless ACCOUNTDISABLE is set or it is locked out
/// (`lockoutTime` other than 0).
pub fn ad_enabled(user_account_control: Option<&str>, lockout_time: Option<&str>) -> bool {
    let disabled = user_account_control
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|flags| flags & AD_ACCOUNT_DISABLE != 0);
    let locked = lockout_time
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|t| t != 0);
    !disabled && !locked
}

/// AD's `unicodePwd` value: the password in double quotes, UTF-16LE.
pub fn ad_password_value(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// The modification that sets an AD password.
pub fn ad_password_change(password: &str) -> Vec<Mod<Vec<u8>>> {
    vec![Mod::Replace(
        b"unicodePwd".to_vec(),
        HashSet::from([ad_password_value(password)]),
    )]
}

/// The directory refused a password: the reason, in words a person can act on.
pub fn refusal(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let reason = if lower.contains("history") || lower.contains("existing value") {
        "it was used before (the directory remembers earlier passwords)"
    } else if lower.contains("too short") || lower.contains("length") {
        "it is shorter than the directory allows"
    } else if lower.contains("too young") || lower.contains("minimum password age") {
        "the password was changed too recently; try again later"
    } else if lower.contains("quality") || lower.contains("complexity") {
        "it does not meet the directory's password quality rules"
    } else {
        "the directory's password policy refused it"
    };
    reason.to_owned()
}

/// Whether a failed password write is the directory's policy refusing the
/// password (shown to the person) rather than a fault (503): OpenLDAP's
/// constraint violation (ppolicy); AD's constraint violation, or unwilling to
/// perform with the password-restrictions code `0000052D`. An AD "unwilling"
/// without it is a setup problem (e.g. a connection that is not protected).
pub fn is_policy_refusal(flavor: LdapFlavor, code: u32, text: &str) -> bool {
    match flavor {
        LdapFlavor::Openldap => code == rc::CONSTRAINT_VIOLATION,
        LdapFlavor::Ad => {
            code == rc::CONSTRAINT_VIOLATION
                || (code == rc::UNWILLING_TO_PERFORM && text.contains("0000052D"))
        }
    }
}

/// AD's `LDAP_SERVER_POLICY_HINTS` control (`1.2.840.113556.1.4.2239`, value
/// `SEQUENCE { flags INTEGER 1 }`): apply the password history and minimum
/// age to this reset of `unicodePwd`, which AD otherwise treats as an
/// administrator's reset that skips them. Windows Server 2012 and later (2008
/// R2 knows it as `1.2.840.113556.1.4.2066`, the same value).
pub fn ad_policy_hints() -> ldap3::controls::RawControl {
    ldap3::controls::RawControl {
        ctype: "1.2.840.113556.1.4.2239".to_owned(),
        crit: false,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x01]),
    }
}

/// A rustls client configuration trusting the certificates of `path` (PEM).
fn tls_with_roots(path: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("ldap.ca_file {}: {e}", path.display()))?
    {
        let cert = cert.map_err(|e| anyhow::anyhow!("ldap.ca_file {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("ldap.ca_file {}: {e}", path.display()))?;
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[async_trait]
impl Directory for LdapDirectory {
    async fn lookup(&self, name: &AccountName) -> Result<Option<Account>, DirectoryError> {
        Ok(self.find(name).await?.map(|e| Account {
            name: name.clone(),
            email: e.email,
            mobile: e
                .mobile
                .filter(|m| self.config.mobile_as_factor && crate::factors::sms::is_e164(m)),
            enabled: e.enabled,
        }))
    }

    async fn authenticate(
        &self,
        name: &AccountName,
        password: &str,
    ) -> Result<bool, DirectoryError> {
        if password.is_empty() || password.chars().any(char::is_control) {
            // An empty simple bind is an anonymous bind: never a sign-in; a
            // NUL or control character is no password anyone typed.
            return Ok(false);
        }
        match self.find(name).await? {
            Some(entry) if entry.enabled => self.bind_as(&entry.dn, password).await,
            _ => {
                // The same round trips for a name with no usable entry.
                let nobody = format!("cn=resetgate-no-such-entry,{}", self.config.base_dn);
                let _ = self.bind_as(&nobody, password).await?;
                Ok(false)
            }
        }
    }

    async fn reused(&self, _name: &AccountName, _password: &str) -> Result<bool, DirectoryError> {
        // The directory's own history decides, when the password is set.
        Ok(false)
    }

    async fn set_password(&self, name: &AccountName, password: &str) -> Result<(), DirectoryError> {
        let entry = self
            .find(name)
            .await?
            .ok_or_else(|| unavailable("set password", "the account's entry is gone"))?;
        if !entry.enabled {
            return Err(DirectoryError::Disabled);
        }
        let flavor = self.config.flavor;
        let password = zeroize::Zeroizing::new(password.to_owned());
        let result = self
            .with_service("set password", |mut ldap| async move {
                let result = match flavor {
                    LdapFlavor::Openldap => {
                        ldap.extended(ldap3::exop::PasswordModify {
                            user_id: Some(&entry.dn),
                            old_pass: None,
                            new_pass: Some(&password),
                        })
                        .await
                        .map_err(|e| unavailable("password modify", e))?
                        .1
                    }
                    LdapFlavor::Ad => ldap
                        .with_controls(ad_policy_hints())
                        .modify(&entry.dn, ad_password_change(&password))
                        .await
                        .map_err(|e| unavailable("unicodePwd", e))?,
                };
                Ok(result)
            })
            .await?;
        if result.rc == rc::SUCCESS {
            return Ok(());
        }
        if is_policy_refusal(flavor, result.rc, &result.text) {
            // The directory's own words stay in the log (they may name DNs or
            // internal codes); the person gets a fixed reason.
            tracing::info!(rc = result.rc, text = %result.text, "the directory refused a new password");
            return Err(DirectoryError::Rejected(refusal(&result.text)));
        }
        Err(unavailable(
            "set password",
            format!("result {} {}", result.rc, result.text),
        ))
    }

    async fn min_password_length(&self) -> Result<Option<usize>, DirectoryError> {
        self.min_length().await
    }
}

#[cfg(test)]
mod tests;
