//! API keys: how machines (a SIEM reading decisions, a CI job uploading a
//! policy, an existing SSPR asking for a risk decision) use the gateway
//! without a person's sign-in.
//!
//! A key is `rgk_` followed by 256 random bits (base64url); it is shown once,
//! when made, and only its SHA-256 is stored (a random key of that size needs
//! no slow hash: there is no dictionary to try). Each key has scopes:
//!
//! | scope      | allows |
//! |------------|--------|
//! | `evaluate` | `POST /v1/risk/evaluate` |
//! | `read`     | the admin API's reads: policy, versions, diff, validate, simulate, decisions, audit, webhooks |
//! | `admin`    | everything `read` allows, and changes: policy upload and activation, labels, webhooks |
//!
//! Keys are made and revoked by a signed-in administrator (`/v1/admin/api-keys`,
//! never with a key: a leaked key cannot mint more) or on the command line
//! (`resetgate admin api-key create|list|revoke`). A revoked key is refused at
//! once on every node (each request reads the store), and so is every key of
//! an administrator who is disabled (`admin disable`). Names are unique among
//! keys in use; every change made with a key is audited under the subject
//! `key:NAME`, and `risk.evaluated` records name the key that asked.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::account::AccountName;
use crate::crypto;
use crate::http::error::{ApiError, ApiResult};
use crate::store::durable::{ApiKeyRecord, Durable};

/// Every key starts with this, so a bearer token is told apart from a session.
pub const PREFIX: &str = "rgk_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Evaluate,
    Read,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Evaluate, Scope::Read, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Evaluate => "evaluate",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether holding `self` allows what `needed` guards (`admin` includes `read`).
    pub fn allows(self, needed: Scope) -> bool {
        self == needed || (self == Scope::Admin && needed == Scope::Read)
    }
}

/// A key as shown to administrators (never the key itself, nor its hash).
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<&ApiKeyRecord> for KeyView {
    fn from(r: &ApiKeyRecord) -> Self {
        let at = |t: i64| crate::time::rfc3339(crate::time::from_unix(t));
        KeyView {
            id: r.id.clone(),
            name: r.name.clone(),
            scopes: parse_scopes(&r.scopes),
            created_by: r.created_by.clone(),
            created_at: at(r.created_at),
            revoked_at: r.revoked_at.map(at),
        }
    }
}

fn parse_scopes(stored: &str) -> Vec<Scope> {
    stored.split_whitespace().filter_map(Scope::parse).collect()
}

/// A key's name: 1 to 64 printable characters without spaces.
fn check_name(name: &str) -> ApiResult<()> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "name: 1 to 64 characters of letters, digits, '-', '_' and '.'",
        ))
    }
}

/// Scopes from what a client sent: known names, at least one.
pub fn scopes_from(names: &[String]) -> ApiResult<BTreeSet<Scope>> {
    let mut scopes = BTreeSet::new();
    for name in names {
        let scope = Scope::parse(name).ok_or_else(|| {
            ApiError::invalid(format!(
                "scopes: unknown scope {name:?} (known: evaluate, read, admin)"
            ))
        })?;
        scopes.insert(scope);
    }
    if scopes.is_empty() {
        return Err(ApiError::invalid("scopes: at least one scope is required"));
    }
    Ok(scopes)
}

/// Make a key `name` with `scopes`, by `by`; returns its view and the key,
/// which is never shown again.
pub async fn create(
    store: &dyn Durable,
    name: &str,
    scopes: &BTreeSet<Scope>,
    by: &str,
    now: i64,
) -> ApiResult<(KeyView, String)> {
    check_name(name)?;
    // Names are unique among keys in use: the audit log tells keys apart by them.
    let taken = store
        .api_keys()
        .await?
        .iter()
        .any(|k| k.revoked_at.is_none() && k.name.eq_ignore_ascii_case(name));
    if taken {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "api_key_exists",
            format!("a key named {name} is in use; revoke it first or choose another name"),
        ));
    }
    let key = format!("{PREFIX}{}", crypto::random_token());
    let record = ApiKeyRecord {
        id: ulid::Ulid::new().to_string(),
        name: name.to_owned(),
        key_hash: crypto::sha256_hex(key.as_bytes()),
        scopes: scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        created_by: by.to_owned(),
        created_at: now,
        revoked_at: None,
    };
    if !store.create_api_key(&record).await? {
        return Err(ApiError::internal("a fresh API key id or hash collided"));
    }
    Ok((KeyView::from(&record), key))
}

/// The holder of a valid, unrevoked key: its audit subject (`key:NAME`) and
/// scopes. Every refusal is the same 401.
pub async fn authenticate(store: &dyn Durable, key: &str) -> ApiResult<(AccountName, Vec<Scope>)> {
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "a valid API key is required",
        )
    };
    if !key.starts_with(PREFIX) || key.len() > 128 {
        return Err(refused());
    }
    // Looked up by its hash: the comparison is the index's equality on a
    // digest of the presented key, which tells nothing about a stored key.
    let record = store
        .api_key_by_hash(&crypto::sha256_hex(key.as_bytes()))
        .await?
        .filter(|r| r.revoked_at.is_none())
        .ok_or_else(refused)?;
    // A key made by an administrator who is disabled since stops with them.
    if record.created_by != "cli"
        && store
            .admin(&record.created_by)
            .await?
            .is_none_or(|admin| admin.disabled)
    {
        return Err(refused());
    }
    let subject =
        AccountName::parse(&format!("key:{}", record.name)).map_err(ApiError::internal)?;
    Ok((subject, parse_scopes(&record.scopes)))
}

/// Every key, oldest first.
pub async fn list(store: &dyn Durable) -> ApiResult<Vec<KeyView>> {
    Ok(store.api_keys().await?.iter().map(KeyView::from).collect())
}

/// Revoke key `id`; 404 when there is no such unrevoked key.
pub async fn revoke(store: &dyn Durable, id: &str, now: i64) -> ApiResult<()> {
    if store.revoke_api_key(id, now).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such API key, or it is revoked already",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_includes_read_and_nothing_else_includes_more() {
        assert!(Scope::Admin.allows(Scope::Read));
        assert!(Scope::Admin.allows(Scope::Admin));
        assert!(!Scope::Admin.allows(Scope::Evaluate));
        assert!(!Scope::Read.allows(Scope::Admin));
        assert!(!Scope::Evaluate.allows(Scope::Read));
        assert!(Scope::Evaluate.allows(Scope::Evaluate));
    }

    #[test]
    fn scopes_are_known_names_and_at_least_one() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            scopes_from(&names(&["read", "evaluate", "read"]))
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            [Scope::Evaluate, Scope::Read]
        );
        assert!(scopes_from(&names(&["root"])).is_err());
        assert!(scopes_from(&[]).is_err());
        assert_eq!(
            parse_scopes("read admin bogus"),
            [Scope::Read, Scope::Admin]
        );
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(check_name("siem-reader_1.0").is_ok());
        for bad in ["", "has space", "key:x", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
