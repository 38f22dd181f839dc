//! `serve --demo`: demo users with enrolled factors, and how to try a reset.
//!
//! Seeding is idempotent: existing users are kept, and their TOTP secrets are
//! read back (decrypted) so that every start prints working instructions.

use std::net::SocketAddr;

use risk::Factor;

use crate::app::AppState;
use crate::cli::users::{NewUser, create};
use crate::factors::totp;
use crate::store::durable::FactorRecord;

/// The demo users: name, password, phone.
const USERS: &[(&str, &str, Option<&str>)] = &[
    ("alice", "alice-demo-passphrase-1", Some("+15550100001")),
    ("bob", "bob-demo-passphrase-22", None),
    ("carol", "carol-demo-passphrase-333", Some("+15550100003")),
];

pub async fn seed_and_print(s: &AppState, local: SocketAddr) -> anyhow::Result<()> {
    let now = s.now();
    let mut lines = Vec::new();
    for (name, password, phone) in USERS {
        let user = NewUser {
            name: crate::account::AccountName::parse(name)?,
            password: (*password).to_owned(),
            email: Some(format!("{name}@example.org")),
            phone: phone.map(str::to_owned),
        };
        create(s.durable.as_ref(), &user, now).await?;
        let secret = ensure_totp(s, name, now).await?;
        let sms = phone.map_or_else(|| "-".to_owned(), |p| format!("SMS {p}"));
        lines.push(format!("  {name:<6} {password:<27} TOTP {secret}  {sms}"));
    }
    let base = format!("http://{local}");
    println!("resetgate demo: built-in directory seeded with enrolled users");
    println!("  user   initial password            factors");
    for line in lines {
        println!("{line}");
    }
    println!();
    println!("Try a reset (TOTP codes: `oathtool --totp -b SECRET`, or any authenticator app):");
    println!(
        "  curl -s {base}/v1/reset -H 'content-type: application/json' -d '{{\"username\":\"alice\"}}'"
    );
    println!(
        "  curl -s {base}/v1/reset/FLOW_ID/verify -H 'content-type: application/json' -d '{{\"factor\":\"totp\",\"code\":\"123456\"}}'"
    );
    println!("  curl -s {base}/v1/reset/FLOW_ID/complete -H 'content-type: application/json' \\");
    println!(
        "       -d '{{\"reset_token\":\"TOKEN\",\"new_password\":\"a long passphrase of your own\"}}'"
    );
    println!("SMS codes (sms.provider = log) appear at {base}/dev/outbox");
    Ok(())
}

/// The user's TOTP secret, enrolling one (provisioned: no cool-off) if missing.
async fn ensure_totp(s: &AppState, name: &str, now: i64) -> anyhow::Result<String> {
    let records = s.durable.factors(name).await?;
    if let Some(r) = records.iter().find(|r| r.kind == Factor::Totp.as_str()) {
        let sealed = r.secret.as_deref().unwrap_or_default();
        let seed = s
            .key
            .open(sealed, &totp::seal_context(&r.id))
            .ok_or_else(|| {
                anyhow::anyhow!("cannot decrypt {name}'s TOTP seed: was secrets.key_file replaced?")
            })?;
        return Ok(totp::base32(&seed));
    }
    let seed = totp::new_seed();
    let id = ulid::Ulid::new().to_string();
    s.durable
        .add_factor(&FactorRecord {
            id: id.clone(),
            username: name.to_owned(),
            kind: Factor::Totp.as_str().to_owned(),
            label: "Authenticator app".into(),
            secret: Some(s.key.seal(&seed, &totp::seal_context(&id))),
            phone: None,
            provisioned: true,
            created_at: now,
            last_used_at: None,
        })
        .await?;
    Ok(totp::base32(&seed))
}
