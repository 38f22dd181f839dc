//! Searching captured output for secrets.
//!
//! Passwords, tokens and TOTP secrets are long and distinctive, so a substring
//! match is enough. One-time codes are six digits and occur by chance inside longer
//! numbers, so a code only counts as leaked when it stands alone (no digit on either
//! side) and is not the fraction of a decimal number such as the microseconds of a
//! timestamp (`09:44:12.123456Z`).

/// A secret and what it is (for the failure message).
pub struct Secret {
    pub what: String,
    pub value: String,
    pub kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Matched as a substring.
    Text,
    /// Matched as a standalone digit run (see the module docs).
    Code,
}

impl Secret {
    pub fn text(what: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            value: value.into(),
            kind: Kind::Text,
        }
    }

    pub fn code(what: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            value: value.into(),
            kind: Kind::Code,
        }
    }
}

/// Descriptions of every secret found in `haystack`, each with the line it is on.
pub fn find_leaks(haystack: &str, secrets: &[Secret]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        assert!(!secret.value.is_empty(), "empty secret: {}", secret.what);
        let hit = haystack.lines().find(|line| match secret.kind {
            Kind::Text => line.contains(&secret.value),
            Kind::Code => contains_code(line, &secret.value),
        });
        if let Some(line) = hit {
            found.push(format!("{} ({}) in: {line}", secret.what, secret.value));
        }
    }
    found
}

/// Whether `code` appears in `text` as a whole digit run that is not the fraction
/// of a decimal number.
pub fn contains_code(text: &str, code: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start].is_ascii_digit() {
            start += 1;
            continue;
        }
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |len| start + len);
        let is_fraction =
            start >= 2 && bytes[start - 1] == b'.' && bytes[start - 2].is_ascii_digit();
        if &text[start..end] == code && !is_fraction {
            return true;
        }
        start = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::{Secret, contains_code, find_leaks};

    #[test]
    fn codes_match_only_standalone_runs() {
        let cases = [
            ("code=123456", true),
            ("\"code\":\"123456\"", true),
            ("your code is 123456.", true),
            ("id 91234567", false),
            ("1234567", false),
            ("2026-11-26T09:44:12.123456Z", false),
            ("latency 0.123456 s", false),
            ("v.123456", true),
        ];
        for (text, expected) in cases {
            assert_eq!(contains_code(text, "123456"), expected, "{text}");
        }
    }

    #[test]
    fn reports_the_line() {
        let log = "INFO start\nDEBUG token=abc-def\n";
        let leaks = find_leaks(log, &[Secret::text("token", "abc-def")]);
        assert_eq!(leaks, ["token (abc-def) in: DEBUG token=abc-def"]);
        assert!(find_leaks(log, &[Secret::code("code", "654321")]).is_empty());
    }
}
