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

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use unicode_normalization::UnicodeNormalization;
use xorf::{BinaryFuse16, Filter};

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
    include_str!("../../../data/common-passwords.txt")
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

/// What is wrong with a breached-password file.
#[derive(Debug, thiserror::Error)]
pub enum BreachedFileProblem {
    #[error("cannot read it: {0}")]
    Io(#[from] io::Error),
    /// `line` counts from 1.
    #[error("line {line}: {reason}; expected `HEX40` or `HEX40:COUNT` (SHA-1)")]
    Malformed { line: u64, reason: &'static str },
    #[error("it holds no hashes")]
    Empty,
    #[error("cannot build the filter: {0}")]
    Filter(&'static str),
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

/// A compact set of breached-password SHA-1 hashes.
///
/// Each hash is cut to its first 8 bytes (a big-endian `u64`) and the distinct
/// keys go into a `BinaryFuse16` filter: about 2.25 bytes per entry, no false
/// negatives, and a false-positive rate near 1/65,536 (about one good password
/// in 65,536 is wrongly refused as `breached`).
pub struct BreachedPasswords {
    filter: BinaryFuse16,
    len: usize,
}

impl fmt::Debug for BreachedPasswords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreachedPasswords")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl BreachedPasswords {
    /// Reads a Pwned Passwords SHA-1 file, streaming it line by line.
    ///
    /// Lines are `HEX40:COUNT` or bare `HEX40` (hex in either case); blank
    /// lines are skipped. This blocks: call it at start-up or from a blocking
    /// task.
    ///
    /// # Errors
    /// [`PasswordPolicyError::BreachedFile`] naming the path and the
    /// [`BreachedFileProblem`] (a malformed line gives its number).
    pub fn load(path: &Path) -> Result<Self, PasswordPolicyError> {
        File::open(path)
            .map_err(BreachedFileProblem::Io)
            .and_then(|file| Self::read(BufReader::with_capacity(1 << 20, file)))
            .map_err(|problem| in_file(path, problem))
    }

    /// As [`load`](Self::load), from any reader; `path` names it in errors.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_reader(reader: impl BufRead, path: &Path) -> Result<Self, PasswordPolicyError> {
        Self::read(reader).map_err(|problem| in_file(path, problem))
    }

    fn read(reader: impl BufRead) -> Result<Self, BreachedFileProblem> {
        let mut keys = read_keys(reader)?;
        if keys.is_empty() {
            return Err(BreachedFileProblem::Empty);
        }
        // The filter must be built from distinct keys.
        keys.sort_unstable();
        keys.dedup();
        let filter = BinaryFuse16::try_from(&keys).map_err(BreachedFileProblem::Filter)?;
        let len = keys.len();
        Ok(Self { filter, len })
    }

    /// Whether the password (normalised here) is in the set.
    #[must_use]
    pub fn contains(&self, password: &str) -> bool {
        self.filter.contains(&key_of(&normalize(password)))
    }

    /// Number of distinct keys (8-byte hash prefixes) in the set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty (never, once loaded).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The filter key of a normalised password: its SHA-1's first 8 bytes.
fn key_of(normalized: &str) -> u64 {
    let digest = Sha1::digest(normalized.as_bytes());
    let mut prefix = [0; 8];
    prefix.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(prefix)
}

fn in_file(path: &Path, problem: BreachedFileProblem) -> PasswordPolicyError {
    let path = path.to_path_buf();
    PasswordPolicyError::BreachedFile { path, problem }
}

/// Streams the keys out of a Pwned Passwords file.
fn read_keys(mut reader: impl BufRead) -> Result<Vec<u64>, BreachedFileProblem> {
    let (mut keys, mut line, mut number) = (Vec::new(), Vec::with_capacity(64), 0);
    while reader.read_until(b'\n', &mut line)? > 0 {
        number += 1;
        let key = parse_line(&line).map_err(|reason| BreachedFileProblem::Malformed {
            line: number,
            reason,
        })?;
        keys.extend(key);
        line.clear();
    }
    Ok(keys)
}

/// One line: `None` when blank, else the key from the hash's first 16 hex digits.
fn parse_line(line: &[u8]) -> Result<Option<u64>, &'static str> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(None);
    }
    let (hash, count) = match line.iter().position(|&b| b == b':') {
        Some(colon) => (&line[..colon], Some(&line[colon + 1..])),
        None => (line, None),
    };
    if hash.len() != 40 {
        return Err("the hash is not 40 hex digits long");
    }
    if !hash.iter().all(u8::is_ascii_hexdigit) {
        return Err("the hash has a character that is not a hex digit");
    }
    if count.is_some_and(|c| c.is_empty() || !c.iter().all(u8::is_ascii_digit)) {
        return Err("the count after ':' is not a whole number");
    }
    let key = hash[..16].iter().fold(0, |key, &digit| {
        key << 4 | u64::from(char::from(digit).to_digit(16).unwrap_or(0))
    });
    Ok(Some(key))
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
            .is_some_and(|list| list.filter.contains(&key_of(&normalized)));
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
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as ValueError, StrDeserializer};
    use std::fmt::Write as _;
    use std::io::Cursor;

    const ALL: [Rejection; 7] = [
        Rejection::TooShort,
        Rejection::TooLong,
        Rejection::Common,
        Rejection::Breached,
        Rejection::ContainsUsername,
        Rejection::ContextWord,
        Rejection::Repetitive,
    ];

    fn policy_with_min(min_length: usize) -> PasswordPolicy {
        let rules = PasswordRules {
            min_length,
            ..PasswordRules::default()
        };
        PasswordPolicy::load(&rules).expect("valid rules")
    }

    fn sha1_hex(text: &str) -> String {
        Sha1::digest(text.as_bytes())
            .iter()
            .fold(String::new(), |mut hex, byte| {
                write!(hex, "{byte:02X}").expect("write to a String");
                hex
            })
    }

    /// A file in the temp directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str, contents: &str) -> Self {
            let file = format!("resetgate-password-{}-{name}", std::process::id());
            let path = std::env::temp_dir().join(file);
            std::fs::write(&path, contents).expect("write temp file");
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn problem(text: &str) -> BreachedFileProblem {
        match BreachedPasswords::from_reader(Cursor::new(text), Path::new("pwned.txt")) {
            Err(PasswordPolicyError::BreachedFile { problem, .. }) => problem,
            other => panic!("expected a breached-file error, got {other:?}"),
        }
    }

    #[test]
    fn rules_are_validated() {
        let ok = |min_length, max_length| {
            let rules = PasswordRules {
                min_length,
                max_length,
                breached_file: None,
            };
            rules.validate().map_err(|e| e.to_string())
        };
        assert_eq!(ok(15, 128), Ok(()));
        assert_eq!(ok(8, 64), Ok(()));
        assert!(ok(7, 128).unwrap_err().contains("at least 8"));
        assert!(ok(15, 63).unwrap_err().contains("at least 64"));
        assert!(ok(100, 64).unwrap_err().contains("greater than"));
        assert_eq!(PasswordRules::default().validate().ok(), Some(()));
    }

    #[test]
    fn each_reason_is_reported() {
        let the_fox = "The quick brown fox jumps over the lazy dog. ".repeat(3);
        let long_ok: String = the_fox.chars().take(128).collect();
        let too_long: String = the_fox.chars().take(129).collect();
        let cases: &[(&str, &str, &[Rejection])] = &[
            ("Tr4in-sky", "alice", &[Rejection::TooShort]),
            (&long_ok, "alice", &[]),
            (&too_long, "alice", &[Rejection::TooLong]),
            ("password1234567890!", "alice", &[Rejection::Common]),
            ("Sunshine!!2024-05-17", "alice", &[Rejection::Common]),
            ("abc1234567890!!!!", "alice", &[]),
            (
                "Alice-likes-long-walks",
                "alice",
                &[Rejection::ContainsUsername],
            ),
            (
                "bob.smith wrote this phrase",
                "Bob.Smith@example.com",
                &[Rejection::ContainsUsername],
            ),
            ("always-alert-walrus-9", "al", &[]),
            (
                "my ResetGate passphrase here",
                "alice",
                &[Rejection::ContextWord],
            ),
            (
                "ACME-staff-lounge-coffee",
                "alice",
                &[Rejection::ContextWord],
            ),
            ("zz-ab-staff-lounge-coffee", "alice", &[]),
            ("aaaaaaaaaaaaaaaa", "alice", &[Rejection::Repetitive]),
            ("1234567890123456", "alice", &[Rejection::Repetitive]),
            ("9876543210987654", "alice", &[Rejection::Repetitive]),
            ("abcdefghijklmnop", "alice", &[Rejection::Repetitive]),
            ("ZYXWVUTSRQPONMLK", "alice", &[Rejection::Repetitive]),
            ("abababababababab", "alice", &[Rejection::Repetitive]),
            ("xyz!xyz!xyz!xyz!", "alice", &[Rejection::Repetitive]),
            ("abcde12345abcde1", "alice", &[]),
        ];
        let policy = policy_with_min(DEFAULT_MIN_LENGTH);
        for (password, username, expected) in cases {
            let got = policy.check(password, username, &["Acme", "ab"]);
            assert_eq!(&got, expected, "{password:?} for {username:?}");
        }
    }

    #[test]
    fn all_reasons_are_returned_together() {
        let policy = policy_with_min(DEFAULT_MIN_LENGTH);
        let got = policy.check("password", "alice", &[]);
        assert_eq!(got, [Rejection::TooShort, Rejection::Common]);
        let got = policy.check("aaaa", "aaa", &["aaaa"]);
        let expected = [Rejection::TooShort, Rejection::ContainsUsername];
        assert_eq!(
            got,
            [
                &expected[..],
                &[Rejection::ContextWord, Rejection::Repetitive]
            ]
            .concat()
        );
    }

    #[test]
    fn common_list_is_exact_or_stem_and_case_insensitive() {
        let policy = policy_with_min(LOWEST_MIN_LENGTH);
        for password in ["password", "PassWord", "dragon12", "letmein!", "qwerty123"] {
            assert_eq!(
                policy.check(password, "", &[]),
                [Rejection::Common],
                "{password}"
            );
        }
        // A 4-code-point stem counts; the list has no shorter entries.
        assert_eq!(policy.check("love2024!!", "", &[]), [Rejection::Common]);
        assert!(policy.check("zq12345678", "", &[]).is_empty());
    }

    #[test]
    fn a_64_character_passphrase_is_accepted() {
        let passphrase = "maple tractor whispers over the quiet harbour at dawn, 1987 styl";
        assert_eq!(passphrase.chars().count(), 64);
        let policy = policy_with_min(DEFAULT_MIN_LENGTH);
        assert!(
            policy
                .check(passphrase, "alice", &["Example Corp"])
                .is_empty()
        );
    }

    #[test]
    fn nfkc_normalises_before_checking() {
        assert_eq!(normalize("ｐａｓｓｗｏｒｄ"), "password");
        assert_eq!(normalize("ﬁsh"), "fish");
        assert_eq!(normalize("cafe\u{301}"), "café");
        let policy = policy_with_min(LOWEST_MIN_LENGTH);
        assert_eq!(
            policy.check("ＰＡＳＳＷＯＲＤ", "", &[]),
            [Rejection::Common]
        );
        // 13 code points as typed, 16 once each ligature becomes two letters.
        let ligatures = "ﬁreﬂy ﬁeld ok";
        assert_eq!(ligatures.chars().count(), 13);
        assert!(
            policy_with_min(15)
                .check(ligatures, "alice", &[])
                .is_empty()
        );
    }

    #[test]
    fn length_counts_code_points_not_bytes() {
        let emoji = "🐴🔋📎🌵🎸🦊🍋🚲🧭🎲🌊🍄🛶🧩🔭";
        assert_eq!((emoji.chars().count(), emoji.len()), (15, 60));
        let policy = policy_with_min(DEFAULT_MIN_LENGTH);
        assert!(policy.check(emoji, "alice", &[]).is_empty());
        let fourteen: String = emoji.chars().skip(1).collect();
        assert_eq!(policy.check(&fourteen, "alice", &[]), [Rejection::TooShort]);
    }

    #[test]
    fn bundled_common_list_is_large_lowercase_and_nfkc() {
        assert!(
            COMMON_PASSWORDS.len() >= 10_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
        assert!(COMMON_PASSWORDS.contains("password"));
        assert!(COMMON_PASSWORDS.iter().all(|entry| fold(entry) == *entry));
    }

    #[test]
    fn breached_file_is_loaded_and_checked() {
        let staple = "correct horse battery staple";
        let contents = format!(
            "{}:3861493\r\n\n{}\n{}:1\n",
            sha1_hex(staple),
            sha1_hex("Tr0ub4dor&3").to_lowercase(),
            sha1_hex(staple),
        );
        let file = TempFile::new("breached.txt", &contents);
        let rules = PasswordRules {
            breached_file: Some(file.0.clone()),
            ..PasswordRules::default()
        };
        let policy = PasswordPolicy::load(&rules).expect("breached file loads");
        let breached = policy.breached.as_ref().expect("breached list");
        assert_eq!(breached.len(), 2);
        assert!(breached.contains("Tr0ub4dor&3"));
        assert_eq!(policy.check(staple, "alice", &[]), [Rejection::Breached]);
        // NFKC first: a fullwidth letter is the same password.
        assert_eq!(
            policy.check("ｃorrect horse battery staple", "", &[]),
            [Rejection::Breached]
        );
        // SHA-1 is case sensitive, as in the Pwned Passwords list.
        assert!(
            policy
                .check("Correct horse battery staple", "", &[])
                .is_empty()
        );
    }

    #[test]
    fn with_breached_uses_the_given_list() {
        let text = format!("{}\n", sha1_hex("lighthouse keeper at the edge"));
        let list = BreachedPasswords::from_reader(Cursor::new(text), Path::new("t")).expect("list");
        let policy =
            PasswordPolicy::with_breached(&PasswordRules::default(), list).expect("policy");
        let got = policy.check("lighthouse keeper at the edge", "", &[]);
        assert_eq!(got, [Rejection::Breached]);
    }

    #[test]
    fn malformed_breached_lines_are_errors_naming_the_line() {
        let good = sha1_hex("x");
        let cases = [
            format!("{good}\n\n{}\n", &good[..32]),
            format!("{good}\n\n{}G\n", &good[..39]),
            format!("{good}\n\n{good}:lots\n"),
            format!("{good}\n\n{good}:\n"),
        ];
        for text in &cases {
            let problem = problem(text);
            assert!(
                matches!(problem, BreachedFileProblem::Malformed { line: 3, .. }),
                "{text:?}"
            );
        }
        let err =
            BreachedPasswords::from_reader(Cursor::new(&cases[0]), Path::new("/srv/pwned.txt"))
                .expect_err("malformed");
        let message = err.to_string();
        assert!(
            message.contains("/srv/pwned.txt") && message.contains("line 3"),
            "{message}"
        );
    }

    #[test]
    fn empty_or_missing_breached_files_are_errors() {
        assert!(matches!(problem("\n\r\n"), BreachedFileProblem::Empty));
        let path = std::env::temp_dir().join("resetgate-password-does-not-exist.txt");
        let err = BreachedPasswords::load(&path).expect_err("missing file");
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    }

    #[test]
    fn codes_match_serde_names_and_messages_are_sentences() {
        for rejection in ALL {
            let name: StrDeserializer<'_, ValueError> = rejection.code().into_deserializer();
            assert_eq!(Rejection::deserialize(name), Ok(rejection));
            assert!(rejection.message().ends_with('.'));
        }
    }
}
