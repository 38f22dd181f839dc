//! Password policy: may this new password be set?
//!
//! The reset core calls [`PasswordPolicy::check`] before it touches the
//! directory. It returns every [`Rejection`] that applies (empty means
//! acceptable), so the person sees all problems at once. The rules follow
//! NIST SP 800-63B-4 §3.1.1.2 (password verifiers) and OWASP ASVS 5.0 V6.2:
//!
//! 1. **Normalise.** The password is put in Unicode NFKC ([`normalize`]), as
//!    NIST recommends before hashing, so that one password typed on two
//!    keyboards (fullwidth letters, ligatures such as "ﬁ", composed or
//!    decomposed accents) is one secret. The directory must hash the
//!    normalised form: hand [`normalize`]'s output, not the raw input, to the
//!    connector. Nothing else changes: no trimming, no truncation, no case
//!    folding of the stored secret (ASVS 6.2.8).
//! 2. **Length**, in Unicode code points after NFKC (NIST counts each code
//!    point as one character): at least `min_length` (default 15, NIST's
//!    minimum for a password used alone; never below 8, ASVS 6.2.1) and at most
//!    `max_length` (default 128; never below 64, ASVS 6.2.9). The upper bound
//!    only caps the cost of hashing.
//! 3. **Blocklist** (NIST SHALL; ASVS 6.2.4, 6.2.11, 6.2.12), compared on the
//!    NFKC form, lowercased:
//!    - `common`: in the bundled list of the 10,000 most common passwords
//!      (`data/common-passwords.txt`, from zxcvbn, see
//!      `data/NOTICE-common-passwords.md`), as a whole, or once a trailing run
//!      of non-letters (digits, punctuation, symbols, spaces) is stripped and
//!      at least 4 code points remain: "Password2024!!" is "password".
//!    - `breached`: in the operator's Pwned Passwords SHA-1 file, see
//!      [`BreachedPasswords`]; hashed from the exact NFKC form, not lowercased.
//!    - `contains_username`: contains the account name (3 or more code
//!      points), or the part before `@` of an e-mail-style name.
//!    - `context_word`: contains one of [`BUILTIN_CONTEXT_WORDS`] or of the
//!      caller's words (organisation, host name, the person's name...) of 4 or
//!      more code points: the documented list ASVS 6.1.2 asks for.
//!    - `repetitive`: the whole password is one character or a block of up to
//!      4 characters repeated ("abcabcabc"), or a run of consecutive characters
//!      up or down ("abcdef", "987654"; digits wrap, so "1234567890" is a run).
//!
//! # Why no composition rules
//!
//! NIST SP 800-63B-4 says verifiers SHALL NOT impose composition rules, and
//! ASVS 6.2.5 forbids them: "one upper case, one digit, one symbol" pushes
//! people to the same predictable shapes ("Password1!"), adds little guessing
//! cost, and gets in the way of passphrases and password managers. Length plus
//! a blocklist of what attackers actually try first does the work instead.
//!
//! # Memory
//!
//! The common list is parsed once per process into a set of 10,000 borrowed
//! strings. A breached list costs about 2.25 bytes per distinct hash while
//! resident (`BinaryFuse16`: 18 bits per entry). Loading needs about 30
//! bytes per hash at its peak (the key array and the filter's construction
//! buffers; 150 MB for 5 million hashes) and reads a few million lines a
//! second, so the whole Pwned Passwords corpus wants a large machine or a
//! trimmed file (e.g. only hashes seen at least N times).

mod breached;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

pub use breached::{BreachedFileProblem, BreachedPasswords};

/// Default fewest code points: NIST's minimum for a password used alone.
pub const DEFAULT_MIN_LENGTH: usize = 15;
/// Default most code points.
pub const DEFAULT_MAX_LENGTH: usize = 128;
/// Lowest `min_length` allowed (ASVS 6.2.1; NIST's floor with MFA).
pub const LOWEST_MIN_LENGTH: usize = 8;
/// Lowest `max_length` allowed (ASVS 6.2.9).
pub const LOWEST_MAX_LENGTH: usize = 64;
/// Context words that always apply, whatever the caller passes.
pub const BUILTIN_CONTEXT_WORDS: &[&str] = &["resetgate"];

/// Fewest code points of a common-password stem, an account name, a context word.
const SHORTEST_STEM: usize = 4;
const SHORTEST_USERNAME: usize = 3;
const SHORTEST_CONTEXT_WORD: usize = 4;
/// Longest block whose repetition makes a password `repetitive`.
const LONGEST_REPEATED_BLOCK: usize = 4;

/// The bundled list: lowercase, NFKC, one password per line.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../../../data/common-passwords.txt")
        .lines()
        .filter(|line| !line.is_empty())
        .collect()
});

/// The operator's password rules, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordRules {
    /// Fewest code points after NFKC; at least [`LOWEST_MIN_LENGTH`].
    pub min_length: usize,
    /// Most code points after NFKC; at least [`LOWEST_MAX_LENGTH`].
    pub max_length: usize,
    /// A Have I Been Pwned SHA-1 file (`HEX40[:COUNT]` lines), if any.
    pub breached_file: Option<PathBuf>,
}

impl Default for PasswordRules {
    fn default() -> Self {
        Self {
            min_length: DEFAULT_MIN_LENGTH,
            max_length: DEFAULT_MAX_LENGTH,
            breached_file: None,
        }
    }
}

impl PasswordRules {
    /// Checks the length bounds; does not read `breached_file`.
    ///
    /// # Errors
    /// A bound below its floor, or `min_length > max_length`.
    pub fn validate(&self) -> Result<(), PasswordPolicyError> {
        let (min, max) = (self.min_length, self.max_length);
        if min < LOWEST_MIN_LENGTH {
            Err(PasswordPolicyError::MinLengthTooLow { min })
        } else if max < LOWEST_MAX_LENGTH {
            Err(PasswordPolicyError::MaxLengthTooLow { max })
        } else if min > max {
            Err(PasswordPolicyError::LengthsInverted { min, max })
        } else {
            Ok(())
        }
    }
}

/// Why a password was refused. Serialises as its [`code`](Self::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Fewer code points than `min_length`.
    TooShort,
    /// More code points than `max_length`.
    TooLong,
    /// In the bundled common-password list.
    Common,
    /// In the operator's breached-password list.
    Breached,
    /// Contains the account name.
    ContainsUsername,
    /// Contains a word tied to the service.
    ContextWord,
    /// One repeated character or block, or a simple run.
    Repetitive,
}

impl Rejection {
    /// The `snake_case` code sent to clients in `reasons`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::Common => "common",
            Self::Breached => "breached",
            Self::ContainsUsername => "contains_username",
            Self::ContextWord => "context_word",
            Self::Repetitive => "repetitive",
        }
    }

    /// A short sentence for the person choosing the password.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::TooShort => "The password is shorter than the minimum length.",
            Self::TooLong => "The password is longer than the maximum length.",
            Self::Common => "The password is one of the most commonly used passwords.",
            Self::Breached => "The password has appeared in a known data breach.",
            Self::ContainsUsername => "The password contains your account name.",
            Self::ContextWord => "The password contains a word tied to this service.",
            Self::Repetitive => "The password is a repeated pattern or a simple sequence.",
        }
    }
}

/// Everything that can go wrong building a [`PasswordPolicy`].
#[derive(Debug, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("password min_length is {min}; it must be at least {LOWEST_MIN_LENGTH}")]
    MinLengthTooLow { min: usize },
    #[error("password max_length is {max}; it must be at least {LOWEST_MAX_LENGTH}")]
    MaxLengthTooLow { max: usize },
    #[error("password min_length {min} is greater than max_length {max}")]
    LengthsInverted { min: usize, max: usize },
    #[error("breached-password file {}: {problem}", .path.display())]
    BreachedFile {
        path: PathBuf,
        problem: BreachedFileProblem,
    },
}

/// Puts a password in Unicode NFKC, the form that is checked and hashed.
#[must_use]
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// NFKC, then lowercase: the form the blocklist comparisons use.
fn fold(text: &str) -> String {
    normalize(text).to_lowercase()
}

/// The password policy the reset core enforces.
#[derive(Debug)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
    breached: Option<BreachedPasswords>,
}

impl PasswordPolicy {
    /// Validates the rules and loads the breached file, if one is named.
    ///
    /// # Errors
    /// See [`PasswordRules::validate`] and [`BreachedPasswords::load`].
    pub fn load(rules: &PasswordRules) -> Result<Self, PasswordPolicyError> {
        let breached = rules.breached_file.as_deref();
        Self::build(rules, breached.map(BreachedPasswords::load).transpose()?)
    }

    /// Validates the rules and uses `breached` (ignoring `rules.breached_file`).
    ///
    /// # Errors
    /// See [`PasswordRules::validate`].
    pub fn with_breached(
        rules: &PasswordRules,
        breached: BreachedPasswords,
    ) -> Result<Self, PasswordPolicyError> {
        Self::build(rules, Some(breached))
    }

    fn build(
        rules: &PasswordRules,
        breached: Option<BreachedPasswords>,
    ) -> Result<Self, PasswordPolicyError> {
        rules.validate()?;
        let (min_length, max_length) = (rules.min_length, rules.max_length);
        Ok(Self {
            min_length,
            max_length,
            breached,
        })
    }

    /// Fewest code points accepted.
    #[must_use]
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// Most code points accepted.
    #[must_use]
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Every reason to refuse `password` for account `username`, in a fixed
    /// order; empty when it is acceptable. `context_words` adds to
    /// [`BUILTIN_CONTEXT_WORDS`].
    #[must_use]
    pub fn check(&self, password: &str, username: &str, context_words: &[&str]) -> Vec<Rejection> {
        let normalized = normalize(password);
        let folded = normalized.to_lowercase();
        let length = normalized.chars().count();
        let breached = self
            .breached
            .as_ref()
            .is_some_and(|list| list.contains_normalized(&normalized));
        let has_username = contains_username(&folded, username);
        let context = BUILTIN_CONTEXT_WORDS.iter().chain(context_words).copied();
        let has_context_word = contains_context_word(&folded, context);
        [
            (length < self.min_length, Rejection::TooShort),
            (length > self.max_length, Rejection::TooLong),
            (is_common(&folded), Rejection::Common),
            (breached, Rejection::Breached),
            (has_username, Rejection::ContainsUsername),
            (has_context_word, Rejection::ContextWord),
            (is_repetitive(&folded), Rejection::Repetitive),
        ]
        .into_iter()
        .filter_map(|(applies, rejection)| applies.then_some(rejection))
        .collect()
    }
}

/// In the common list, as a whole or once a trailing run of non-letters is gone.
fn is_common(folded: &str) -> bool {
    let stem = folded.trim_end_matches(|c: char| !c.is_alphabetic());
    COMMON_PASSWORDS.contains(folded)
        || (stem.len() < folded.len()
            && stem.chars().count() >= SHORTEST_STEM
            && COMMON_PASSWORDS.contains(stem))
}

fn contains_username(folded: &str, username: &str) -> bool {
    let name = fold(username.trim());
    let local_part = name.split_once('@').map(|(local, _)| local);
    [Some(name.as_str()), local_part]
        .into_iter()
        .flatten()
        .any(|part| part.chars().count() >= SHORTEST_USERNAME && folded.contains(part))
}

fn contains_context_word<'a>(folded: &str, words: impl Iterator<Item = &'a str>) -> bool {
    words
        .map(|word| fold(word.trim()))
        .any(|word| word.chars().count() >= SHORTEST_CONTEXT_WORD && folded.contains(word.as_str()))
}

/// One repeated block of up to 4 characters, or one run up or down.
fn is_repetitive(folded: &str) -> bool {
    let chars: Vec<char> = folded.chars().collect();
    chars.len() >= 3 && (is_repeated_block(&chars) || is_run(&chars, true) || is_run(&chars, false))
}

fn is_repeated_block(chars: &[char]) -> bool {
    (1..=LONGEST_REPEATED_BLOCK.min(chars.len() / 2))
        .any(|block| (block..chars.len()).all(|i| chars[i] == chars[i - block]))
}

fn is_run(chars: &[char], ascending: bool) -> bool {
    chars
        .windows(2)
        .all(|pair| next_in_run(pair[0], ascending) == Some(pair[1]))
}

/// The next character of a run; ASCII digits wrap (9 -> 0, 0 -> 9).
fn next_in_run(c: char, ascending: bool) -> Option<char> {
    if let Some(digit) = c.to_digit(10) {
        return char::from_digit((digit + if ascending { 1 } else { 9 }) % 10, 10);
    }
    let step = if ascending { 1 } else { -1 };
    u32::from(c)
        .checked_add_signed(step)
        .and_then(char::from_u32)
}

#[cfg(test)]
mod tests;
