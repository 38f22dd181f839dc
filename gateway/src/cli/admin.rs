//! `admin create NAME`: a new administrator. The password comes from standard
//! input (one line; a terminal does not echo it if the caller turns echo off,
//! and it never appears in the process list or shell history); the TOTP
//! secret of the second factor is printed once. `admin disable|enable NAME`;
//! `admin api-key create|list|revoke` (`crate::api_keys`).

use std::io::Read as _;
use std::process::ExitCode;

use crate::account::AccountName;
use crate::config::Config;

pub async fn create(config: &Config, name: &str) -> anyhow::Result<ExitCode> {
    let name = AccountName::parse(name)?;
    let mut input = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .map_err(|e| anyhow::anyhow!("reading the password from standard input: {e}"))?;
    let password = input.lines().next().unwrap_or_default();
    if password.is_empty() {
        anyhow::bail!("no password on standard input (one line)");
    }
    let store = crate::app::open_durable(config).await?;
    let key = crate::app::load_key(config)?;
    let passwords = crate::app::load_passwords(config)?;
    let now = std::time::SystemTime::now();
    let created =
        crate::admin::create(store.as_ref(), &key, &passwords, &name, password, now).await?;
    let log = crate::audit::AuditLog::spawn(store.clone(), key);
    log.record(crate::audit::AuditEvent::new(
        now,
        "admin.created",
        name.as_str(),
        serde_json::json!({"by": "cli"}),
    ))
    .await?;
    println!("administrator {name} created");
    println!("TOTP secret (add it to an authenticator app now; it is not shown again):");
    println!("  {}", created.secret);
    println!("  {}", created.otpauth_uri);
    Ok(ExitCode::SUCCESS)
}

/// `admin disable NAME` / `admin enable NAME`, audited before it takes effect.
pub async fn set_disabled(config: &Config, name: &str, disabled: bool) -> anyhow::Result<ExitCode> {
    let name = AccountName::parse(name)?;
    let store = crate::app::open_durable(config).await?;
    if store.admin(name.as_str()).await?.is_none() {
        eprintln!("no administrator named {name}");
        return Ok(ExitCode::from(1));
    }
    let key = crate::app::load_existing_key(config)?;
    let log = crate::audit::AuditLog::spawn(store.clone(), key);
    let kind = if disabled {
        "admin.disabled"
    } else {
        "admin.enabled"
    };
    log.record(crate::audit::AuditEvent::new(
        std::time::SystemTime::now(),
        kind,
        name.as_str(),
        serde_json::json!({"by": "cli"}),
    ))
    .await?;
    store.set_admin_disabled(name.as_str(), disabled).await?;
    println!(
        "administrator {name} {}",
        if disabled { "disabled" } else { "enabled" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `admin api-key create NAME --scope S… | list | revoke ID`, audited as by `cli`.
pub async fn api_key(config: &Config, verb: super::ApiKeyVerb) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_durable(config).await?;
    let now = std::time::SystemTime::now();
    let fail = |e: crate::http::error::ApiError| anyhow::anyhow!("{}", e.message);
    let (kind, data) = match verb {
        super::ApiKeyVerb::List => {
            for key in crate::api_keys::list(store.as_ref()).await.map_err(fail)? {
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                println!(
                    "{}  {}  [{}]  by {} at {}{}",
                    key.id,
                    key.name,
                    scopes.join(" "),
                    key.created_by,
                    key.created_at,
                    key.revoked_at
                        .map(|at| format!("  REVOKED {at}"))
                        .unwrap_or_default()
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        super::ApiKeyVerb::Create { name, scopes } => {
            // The audit record is keyed by the server key: an existing one,
            // checked before anything changes.
            crate::app::load_existing_key(config)?;
            let scopes = crate::api_keys::scopes_from(&scopes).map_err(fail)?;
            let (view, key) = crate::api_keys::create(
                store.as_ref(),
                &name,
                &scopes,
                "cli",
                crate::time::unix(now),
            )
            .await
            .map_err(fail)?;
            println!(
                "API key {} ({}) created; it is not shown again:",
                view.name, view.id
            );
            println!("  {key}");
            (
                "api_key.created",
                serde_json::json!({"id": view.id, "name": view.name, "scopes": view.scopes, "by": "cli"}),
            )
        }
        super::ApiKeyVerb::Revoke { id } => {
            crate::app::load_existing_key(config)?;
            crate::api_keys::revoke(store.as_ref(), &id, crate::time::unix(now))
                .await
                .map_err(fail)?;
            println!("API key {id} revoked");
            (
                "api_key.revoked",
                serde_json::json!({"id": id, "by": "cli"}),
            )
        }
    };
    let key = crate::app::load_existing_key(config)?;
    let log = crate::audit::AuditLog::spawn(store.clone(), key);
    log.record(crate::audit::AuditEvent::new(now, kind, "cli", data))
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// `admin remove-passkeys NAME`: audited before it takes effect.
pub async fn remove_passkeys(config: &Config, name: &str) -> anyhow::Result<ExitCode> {
    let name = AccountName::parse(name)?;
    let store = crate::app::open_durable(config).await?;
    if store.admin(name.as_str()).await?.is_none() {
        eprintln!("no administrator named {name}");
        return Ok(ExitCode::from(1));
    }
    let key = crate::app::load_existing_key(config)?;
    let log = crate::audit::AuditLog::spawn(store.clone(), key.clone());
    log.record(crate::audit::AuditEvent::new(
        std::time::SystemTime::now(),
        "admin.passkeys_removed",
        name.as_str(),
        serde_json::json!({"by": "cli"}),
    ))
    .await?;
    let count = crate::admin_webauthn::remove_all(store.as_ref(), &key, name.as_str()).await?;
    println!("administrator {name}: {count} passkeys removed; sign-in needs the TOTP code");
    Ok(ExitCode::SUCCESS)
}
