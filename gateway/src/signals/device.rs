//! Device signals: a long-lived signed device cookie, the parsed user agent, and
//! automation markers.
//!
//! The cookie is `<id>.<mac>`: 128 random bits and the first 128 bits of an
//! HMAC of the id under the server key, both base64url. It identifies a browser,
//! not a person; it is bound to an account after a completed reset
//! (see `signals::account`), and a bound device lowers nothing by itself — its
//! absence is what raises the risk. `HttpOnly`, `SameSite=Lax`, 400 days (the
//! longest browsers keep); over https it is `__Host-rg_device` and `Secure`.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::{self, ServerKey};
use crate::http::pages::cookie::Cookie;

/// The cookie's name over http (development).
pub const COOKIE: &str = "rg_device";
/// The cookie's name over https: browsers accept a `__Host-` cookie only when it
/// is `Secure`, `Path=/` and has no `Domain`, so a sibling subdomain or a
/// plain-http page cannot plant (fixate) a device id in the person's browser.
pub const HOST_COOKIE: &str = "__Host-rg_device";

/// The cookie name for a deployment served over https (`secure`) or not.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { HOST_COOKIE } else { COOKIE }
}

/// The cookie's attributes (names and `Set-Cookie` come from the shared helper;
/// `Lax`, unlike the pages' cookies, so that arriving from a link still counts).
const DEVICE: Cookie = Cookie {
    name: COOKIE,
    path: "/",
    same_site: "Lax",
};

/// 400 days, in seconds.
const MAX_AGE: u64 = 400 * 86_400;

/// The device id a valid cookie carries (only the name for this deployment:
/// over https the unprefixed name, which anyone can set, is ignored).
pub fn read(headers: &HeaderMap, key: &ServerKey, secure: bool) -> Option<String> {
    DEVICE
        .values(headers, secure)
        .find_map(|value| verify(value, key))
}

/// The device id a cookie value carries, if its MAC is right.
pub fn verify(value: &str, key: &ServerKey) -> Option<String> {
    let (id, mac) = value.split_once('.')?;
    if id.len() != 22 || mac.len() != 22 {
        return None;
    }
    crypto::ct_eq(mac.as_bytes(), sign(id, key).as_bytes()).then(|| id.to_owned())
}

fn sign(id: &str, key: &ServerKey) -> String {
    URL_SAFE_NO_PAD.encode(&key.mac(&[b"device-cookie", id.as_bytes()])[..16])
}

/// A new device id and its cookie value.
pub fn issue(key: &ServerKey) -> (String, String) {
    let id = URL_SAFE_NO_PAD.encode(crypto::random_bytes::<16>());
    let value = format!("{id}.{}", sign(&id, key));
    (id, value)
}

/// The `Set-Cookie` header for `value`.
pub fn set_cookie(value: &str, secure: bool) -> HeaderValue {
    DEVICE.set(value, Some(MAX_AGE), secure)
}

/// The user agent, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserAgent {
    /// Browser family, e.g. "Chrome"; `None` when unknown.
    pub browser: Option<String>,
    /// Operating system with version when known, e.g. "Windows 10".
    pub os: Option<String>,
    /// woothee's category: pc, smartphone, mobilephone, appliance, crawler, misc.
    pub class: Option<String>,
    /// Headless browsers, automation frameworks, scripting HTTP clients, and a
    /// missing or blank User-Agent (every browser sends one).
    pub automation: bool,
}

/// Markers of automation, matched case-insensitively in the raw UA.
const AUTOMATION: &[&str] = &[
    "headlesschrome",
    "phantomjs",
    "selenium",
    "webdriver",
    "puppeteer",
    "playwright",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "curl/",
    "wget/",
    "libwww-perl",
    "okhttp",
    "java/",
];

/// Parse `raw` (at most 512 bytes are looked at).
pub fn parse(raw: Option<&str>) -> UserAgent {
    let Some(raw) = raw
        .map(|r| truncate(r, 512))
        .filter(|r| !r.trim().is_empty())
    else {
        return UserAgent {
            automation: true,
            ..UserAgent::default()
        };
    };
    let lower = raw.to_ascii_lowercase();
    let automation = AUTOMATION.iter().any(|m| lower.contains(m));
    let known =
        |s: &str| (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned());
    match woothee::parser::Parser::new().parse(raw) {
        Some(r) => {
            let os = known(r.os).map(|os| match known(&r.os_version) {
                Some(v) if !os.contains(&v) => format!("{os} {v}"),
                _ => os,
            });
            UserAgent {
                browser: known(r.name),
                os,
                class: known(r.category),
                automation: automation || r.category == "crawler",
            }
        }
        None => UserAgent {
            automation,
            ..UserAgent::default()
        },
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    #[test]
    fn cookie_round_trip_and_tamper() {
        let key = ServerKey::from_master(&[5; 32]);
        let (id, value) = issue(&key);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("other=1; {COOKIE}={value}").parse().unwrap(),
        );
        assert_eq!(read(&headers, &key, false), Some(id.clone()));
        assert_eq!(
            read(&headers, &key, true),
            None,
            "over https only the __Host- name counts"
        );
        let mut forged = value.clone();
        forged.replace_range(0..1, if value.starts_with('A') { "B" } else { "A" });
        headers.insert(
            header::COOKIE,
            format!("{COOKIE}={forged}").parse().unwrap(),
        );
        assert_eq!(read(&headers, &key, false), None);
        let other_key = ServerKey::from_master(&[6; 32]);
        headers.insert(header::COOKIE, format!("{COOKIE}={value}").parse().unwrap());
        assert_eq!(read(&headers, &other_key, false), None);
        let set = set_cookie(&value, true);
        let text = set.to_str().unwrap();
        assert!(
            text.starts_with("__Host-rg_device=") && text.contains("Path=/"),
            "{text}"
        );
        headers.insert(
            header::COOKIE,
            format!("{HOST_COOKIE}={value}").parse().unwrap(),
        );
        assert_eq!(read(&headers, &key, true), Some(id));
        assert!(
            text.contains("HttpOnly") && text.contains("Secure") && text.contains("SameSite=Lax")
        );
    }

    #[test]
    fn user_agents() {
        let ua = parse(Some(CHROME_WIN));
        assert_eq!(ua.browser.as_deref(), Some("Chrome"));
        assert_eq!(ua.class.as_deref(), Some("pc"));
        assert!(
            ua.os.as_deref().is_some_and(|os| os.starts_with("Windows")),
            "{ua:?}"
        );
        assert!(!ua.automation);
        let headless = CHROME_WIN.replace("Chrome/", "HeadlessChrome/");
        assert!(parse(Some(&headless)).automation);
        assert!(parse(Some("curl/8.5.0")).automation);
        for missing in [None, Some(""), Some("   ")] {
            let ua = parse(missing);
            assert!(ua.automation && ua.browser.is_none(), "{missing:?}: {ua:?}");
        }
        let long = "é".repeat(1000);
        assert!(!parse(Some(&long)).automation);
    }
}
