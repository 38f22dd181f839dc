//! The operator's breached-password list (HIBP Pwned Passwords, SHA-1 format)
//! in a compact filter: streamed from the file, cut to 64-bit keys, deduplicated
//! and held in a `BinaryFuse16` (about 2.25 bytes per hash).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use sha1::{Digest, Sha1};
use xorf::{BinaryFuse16, Filter};

use super::{PasswordPolicyError, normalize};

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
        self.contains_normalized(&normalize(password))
    }

    /// [`BreachedPasswords::contains`] for a password already in NFKC.
    pub(super) fn contains_normalized(&self, normalized: &str) -> bool {
        self.filter.contains(&key_of(normalized))
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
