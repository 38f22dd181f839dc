//! `resetgate users import`'s CSV parser (`resetgate::cli::users::parse`) on
//! arbitrary bytes.
//!
//! Properties: it never panics; every accepted user has a name that is
//! already in its normal form (parsing it again gives it back), a non-empty
//! password, an E.164 phone or none, a non-empty e-mail or none; and there are
//! no more users than lines after the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resetgate::account::AccountName;
use resetgate::cli::users::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(users) = parse(data) else {
        return;
    };
    // A record may span lines (quotes), never less than one line each.
    let lines = data.split(|&b| b == b'\n' || b == b'\r').count();
    assert!(
        users.len() < lines.max(1),
        "{} users from {lines} lines",
        users.len()
    );
    for user in &users {
        let name = user.name.as_str();
        assert!(!name.is_empty());
        let again = AccountName::parse(name).expect("an accepted name parses again");
        assert_eq!(
            again.as_str(),
            name,
            "an accepted name is in its normal form"
        );
        assert!(!user.password.is_empty());
        if let Some(phone) = &user.phone {
            let digits = phone.strip_prefix('+').expect("E.164 starts with +");
            assert!((8..=15).contains(&digits.len()));
            assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(user.email.as_ref().is_none_or(|e| !e.is_empty()));
    }
});
