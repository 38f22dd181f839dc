//! Adding accounts to the built-in directory: `users import CSV` and
//! `POST /v1/admin/users`. A phone given here is an administrator-provisioned
//! SMS factor (no cool-off: the administrator vouches for it).

use serde_json::json;

use crate::account::AccountName;
use crate::app::AppState;
use crate::directory::hasher;
use crate::factors::sms;
use crate::http::error::{ApiError, ApiResult};
use crate::store::durable::{FactorRecord, FactorStore, UserRecord, UserStore};

/// A validated row, ready to store.
pub struct NewUser {
    pub name: AccountName,
    pub password: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Store one user (skipped when the name exists); true when created.
pub async fn create<S: UserStore + FactorStore + ?Sized>(
    store: &S,
    user: &NewUser,
    now: i64,
) -> anyhow::Result<bool> {
    let password = zeroize::Zeroizing::new(user.password.clone());
    let hash = tokio::task::spawn_blocking(move || hasher::hash_blocking(&password)).await?;
    let created = store
        .create_user(&UserRecord {
            username: user.name.to_string(),
            password_hash: hash,
            email: user.email.clone(),
            disabled: false,
            created_at: now,
            password_changed_at: now,
        })
        .await?;
    if created && let Some(phone) = &user.phone {
        store
            .add_factor(&FactorRecord {
                id: ulid::Ulid::new().to_string(),
                username: user.name.to_string(),
                kind: "sms".into(),
                label: format!("SMS {}", sms::mask(phone)),
                secret: None,
                phone: Some(phone.clone()),
                provisioned: true,
                created_at: now,
                last_used_at: None,
            })
            .await?;
    }
    Ok(created)
}

/// `POST /v1/admin/users` by `by`: the name, the initial password (the
/// password rules apply, all reasons at once), an e-mail address and a
/// phone. Audited (`user.created`, phone masked) before it is written.
pub async fn add(s: &AppState, by: &AccountName, user: NewUser) -> ApiResult<()> {
    if s.config.directory.kind != crate::config::DirectoryKind::Builtin {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "directory_not_builtin",
            "accounts live in the LDAP directory here; add them there",
        ));
    }
    if let Some(email) = &user.email
        && (email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace))
    {
        return Err(ApiError::invalid("email: not an e-mail address"));
    }
    if let Some(phone) = &user.phone
        && !sms::is_e164(phone)
    {
        return Err(ApiError::invalid("phone: must be E.164, e.g. +15550100001"));
    }
    if user.password.len() > crate::reset_core::MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid("password: too long"));
    }
    let reasons: Vec<String> = s
        .passwords
        .check(
            &user.password,
            user.name.as_str(),
            crate::reset_core::CONTEXT_WORDS,
        )
        .iter()
        .map(|r| r.code().to_owned())
        .collect();
    if !reasons.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "password_rejected",
            format!("choose another password: {}", reasons.join(", ")),
        )
        .with("reasons", reasons));
    }
    if s.durable.user(user.name.as_str()).await?.is_some() {
        return Err(exists());
    }
    crate::admin::audit(
        s,
        s.clock.now(),
        "user.created",
        by,
        json!({"username": user.name.as_str(), "email": user.email.is_some(),
               "phone": user.phone.as_deref().map(sms::mask)}),
    )
    .await?;
    // A store that fails is 503 `store_unavailable`, as everywhere.
    let created = create(s.durable.as_ref(), &user, s.now())
        .await
        .map_err(
            |e| match e.downcast::<crate::store::durable::DurableError>() {
                Ok(store) => ApiError::from(store),
                Err(other) => ApiError::internal(other),
            },
        )?;
    if created {
        Ok(())
    } else {
        // Created by someone else between the check and the write.
        Err(exists())
    }
}

fn exists() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        "user_exists",
        "an account with this name exists",
    )
}
