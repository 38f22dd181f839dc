//! Account names: normalised once, on construction, so that `Alice`, `alice` and
//! `ａｌｉｃｅ` (fullwidth) are one account everywhere (directory, factors,
//! counters, audit).

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest accepted account name, in bytes after normalisation.
pub const MAX_LEN: usize = 256;

/// A normalised account name: NFKC, trimmed, lower-cased, 1..=256 bytes, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountName(String);

/// Why a string is not an account name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountNameError {
    #[error("username is empty")]
    Empty,
    #[error("username is longer than 256 bytes")]
    TooLong,
    #[error("username contains control characters")]
    Control,
}

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self, AccountNameError> {
        if raw.len() > 4 * MAX_LEN {
            return Err(AccountNameError::TooLong);
        }
        let name: String = raw.nfkc().collect::<String>().trim().to_lowercase();
        if name.is_empty() {
            return Err(AccountNameError::Empty);
        }
        if name.len() > MAX_LEN {
            return Err(AccountNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(AccountNameError::Control);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        for raw in ["alice", " Alice ", "ＡＬＩＣＥ"] {
            assert_eq!(AccountName::parse(raw).unwrap().as_str(), "alice");
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(AccountName::parse("  "), Err(AccountNameError::Empty));
        assert_eq!(
            AccountName::parse(&"a".repeat(257)),
            Err(AccountNameError::TooLong)
        );
        assert_eq!(
            AccountName::parse("a\u{0}b"),
            Err(AccountNameError::Control)
        );
    }
}
