//! Reading the SMS messages a gateway sends to a test receiver (the end-to-end
//! tests' receiver, `tests/src/sms.rs`, and the load driver's,
//! `bench/src/bin/load/sms.rs`): which code a message carries, and phone
//! numbers compared on their digits.

/// Phone numbers are matched on their digits, so `+1 555 0100001` and
/// `+15550100001` are the same number.
pub fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// The first run of 6 to 10 ASCII digits in `message` (a run of another length is
/// not a code and is passed over). Links are passed over too: a notice's lock
/// link carries a random token that may hold such a run by chance.
pub fn extract_code(message: &str) -> Option<String> {
    message
        .split_whitespace()
        .filter(|word| !word.contains("://"))
        .flat_map(|word| word.split(|c: char| !c.is_ascii_digit()))
        .find(|run| (6..=10).contains(&run.len()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::extract_code;

    #[test]
    fn extracts_the_first_six_to_ten_digit_run() {
        let cases = [
            ("Your resetgate code is 123456", Some("123456")),
            ("Code: 0012345678. Expires in 10 min", Some("0012345678")),
            ("Ref 42: code 987654 (valid 600 s)", Some("987654")),
            ("12345 then 12345678901 then 7654321", Some("7654321")),
            ("no code here", None),
            ("café 654321", Some("654321")),
            (
                "stop resets at http://localhost:8080/lock?t=ab1234567cd now",
                None,
            ),
            (
                "see https://x.example/9876543 or use 123456",
                Some("123456"),
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(extract_code(message).as_deref(), expected, "{message}");
        }
    }
}
