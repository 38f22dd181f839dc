//! Directory connectors: where accounts and their passwords live. The reset core
//! hands the new password to a [`Directory`]; sign-in for enrolment checks the
//! current password against it.
//!
//! Passwords arrive here already NFKC-normalised (see `reset_core::password`).
//!
//! # Layout
//! - [`builtin`](Builtin): accounts in the durable store, argon2id, history.
//! - [`ldap`]: OpenLDAP (Password Modify, ppolicy) and Active Directory
//!   (`unicodePwd`) over StartTLS or ldaps.
//! - [`hasher`]: argon2id on the blocking pool behind a semaphore.

mod builtin;
pub mod hasher;
pub mod ldap;
pub mod provision;

use async_trait::async_trait;

use crate::account::AccountName;

pub use builtin::{Builtin, account_of};
pub use ldap::LdapDirectory;

/// What the gateway needs to know about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: AccountName,
    pub email: Option<String>,
    /// A mobile number the directory holds (E.164), used as an
    /// administrator-provisioned SMS factor.
    pub mobile: Option<String>,
    /// Disabled or locked accounts are treated exactly like unknown ones.
    pub enabled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory cannot be reached or failed; callers answer 503.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// The directory refused the new password (its own policy); shown to the user.
    #[error("directory refused the password: {0}")]
    Rejected(String),
    /// The account was disabled or locked in the directory meanwhile.
    #[error("the account is disabled in the directory")]
    Disabled,
}

impl From<crate::store::durable::DurableError> for DirectoryError {
    fn from(e: crate::store::durable::DurableError) -> Self {
        DirectoryError::Unavailable(e.0)
    }
}

#[async_trait]
pub trait Directory: Send + Sync {
    /// Whether the accounts are the durable store's user rows (the built-in
    /// directory): a reset start then reads the row with the account's other
    /// records ([`crate::store::durable::Durable::attempt`]) and makes it an
    /// account with [`account_of`] instead of calling [`Directory::lookup`].
    fn accounts_in_store(&self) -> bool {
        false
    }

    /// The account, if it exists (enabled or not).
    async fn lookup(&self, name: &AccountName) -> Result<Option<Account>, DirectoryError>;

    /// Does `password` sign this account in? False for unknown and disabled
    /// accounts too, at the same cost, so the answer's timing reveals nothing.
    async fn authenticate(
        &self,
        name: &AccountName,
        password: &str,
    ) -> Result<bool, DirectoryError>;

    /// Is `password` the current one or one of the remembered earlier ones?
    async fn reused(&self, name: &AccountName, password: &str) -> Result<bool, DirectoryError>;

    /// Make `password` the account's password.
    async fn set_password(&self, name: &AccountName, password: &str) -> Result<(), DirectoryError>;

    /// The directory's own minimum password length, when it has one the
    /// gateway can read (checked with the gateway's rules, before anything
    /// is written).
    async fn min_password_length(&self) -> Result<Option<usize>, DirectoryError> {
        Ok(None)
    }
}
