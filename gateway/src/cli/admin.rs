//! `admin create NAME`: a new administrator. The password comes from standard
//! input (one line; a terminal does not echo it if the caller turns echo off,
//! and it never appears in the process list or shell history); the TOTP
//! secret of the second factor is printed once.

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
