//! Tests of the password rules and the breached-password list.

use super::*;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as ValueError, StrDeserializer};
use std::fmt::Write as _;
use std::io::Cursor;
use std::path::Path;

use sha1::{Digest, Sha1};

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
    let policy = PasswordPolicy::with_breached(&PasswordRules::default(), list).expect("policy");
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
    let err = BreachedPasswords::from_reader(Cursor::new(&cases[0]), Path::new("/srv/pwned.txt"))
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
