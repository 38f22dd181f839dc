//! The user-agent parser (`resetgate::signals::device::parse`) on arbitrary
//! text: the `User-Agent` header is entirely client-written.
//!
//! Properties: it never panics and is deterministic; only the first 512 bytes
//! count (cut at a character boundary); a missing or blank header is
//! automation; an automation marker within those bytes is automation; known
//! values are never empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resetgate::signals::device::parse;

const LOOKED_AT: usize = 512;

const MARKERS: &[&str] = &["headlesschrome", "selenium", "curl/", "python-requests"];

fuzz_target!(|raw: &str| {
    let ua = parse(Some(raw));
    assert_eq!(ua, parse(Some(raw)), "deterministic");
    let mut end = raw.len().min(LOOKED_AT);
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    let head = &raw[..end];
    assert_eq!(
        ua,
        parse(Some(head)),
        "only the first {LOOKED_AT} bytes count"
    );
    if head.trim().is_empty() {
        assert!(ua.automation, "a blank user agent is automation");
        assert_eq!((&ua.browser, &ua.os, &ua.class), (&None, &None, &None));
    }
    let lower = head.to_ascii_lowercase();
    if MARKERS.iter().any(|m| lower.contains(m)) {
        assert!(ua.automation, "a marker is automation: {head:?}");
    }
    for value in [&ua.browser, &ua.os, &ua.class].into_iter().flatten() {
        assert!(!value.is_empty());
    }
    let none = parse(None);
    assert!(none.automation && none.browser.is_none());
});
