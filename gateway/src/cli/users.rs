//! `users import CSV`: seed the built-in directory.

use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;

use crate::account::AccountName;
use crate::config::Config;
pub use crate::directory::provision::{NewUser, create};
use crate::factors::sms;

/// One CSV row; the header must be exactly `username,password,email,phone`.
#[derive(Debug, Deserialize)]
pub struct Row {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Parse and validate the whole file before anything is written.
pub fn parse(text: &[u8]) -> anyhow::Result<Vec<NewUser>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text);
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    if header != ["username", "password", "email", "phone"] {
        anyhow::bail!(
            "line 1: the header must be exactly username,password,email,phone (found {})",
            header.join(",")
        );
    }
    let mut users = Vec::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| anyhow::anyhow!("line {line}: {e}"))?;
        let name =
            AccountName::parse(&row.username).map_err(|e| anyhow::anyhow!("line {line}: {e}"))?;
        if row.password.is_empty() {
            anyhow::bail!("line {line}: password is empty");
        }
        let phone = row.phone.filter(|p| !p.is_empty());
        if let Some(p) = &phone
            && !sms::is_e164(p)
        {
            anyhow::bail!("line {line}: phone must be E.164, e.g. +15550100001");
        }
        users.push(NewUser {
            name,
            password: crate::reset_core::password::normalize(&row.password),
            email: row.email.filter(|e| !e.is_empty()),
            phone,
        });
    }
    Ok(users)
}

pub async fn import(config: &Config, path: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let users = parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let store = crate::app::open_durable(config).await?;
    let now = crate::time::unix(std::time::SystemTime::now());
    let (mut created, mut skipped) = (0, 0);
    for user in &users {
        if create(store.as_ref(), user, now).await? {
            created += 1;
        } else {
            skipped += 1;
            eprintln!("skipped {}: already exists", user.name);
        }
    }
    println!("imported {created} users ({skipped} already existed)");
    Ok(ExitCode::SUCCESS)
}

/// `users unlock NAME`: let the account's resets through again.
pub async fn unlock(config: &Config, username: &str) -> anyhow::Result<ExitCode> {
    let name = AccountName::parse(username)?;
    let store = crate::app::open_durable(config).await?;
    let Some(lock) = store.account_lock(name.as_str()).await? else {
        eprintln!("{name}: its resets are not locked");
        return Ok(ExitCode::from(1));
    };
    let key = crate::app::load_existing_key(config)?;
    // On record first: an unlock that cannot be audited does not happen.
    let log = crate::audit::AuditLog::spawn(store.clone(), key);
    log.record(crate::audit::AuditEvent::new(
        std::time::SystemTime::now(),
        "account.unlocked",
        name.as_str(),
        serde_json::json!({"locked_at": lock.locked_at, "reason": lock.reason, "by": "cli"}),
    ))
    .await?;
    store.unlock_account(name.as_str()).await?;
    println!(
        "{name}: resets unlocked (locked at {} because {})",
        crate::time::rfc3339(crate::time::from_unix(lock.locked_at)),
        lock.reason
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let ok = parse(b"username,password,email,phone\nAlice,pw-one,a@example.org,+15550100001\nbob,pw-two,,\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].name.as_str(), "alice");
        assert_eq!(ok[1].phone, None);
        let bad = parse(b"user,password,email,phone\n")
            .err()
            .unwrap()
            .to_string();
        assert!(bad.contains("line 1"), "{bad}");
        let bad = parse(b"username,password,email,phone\nann,pw,,5550100\n")
            .err()
            .unwrap()
            .to_string();
        assert!(bad.contains("line 2") && bad.contains("E.164"), "{bad}");
    }
}
