//! Device signals: a long-lived signed device cookie, the parsed user agent, and
//! automation markers.
//!
//! The cookie is `<id>.<mac>`: 128 random bits and the first 128 bits of an
//! HMAC of the id under the server key, both base64url. It identifies a browser,
//! not a person; it is bound to an account after a completed reset
//! (see `signals::account`), and a bound device lowers nothing by itself — its
//! absence is what raises the risk. `HttpOnly`, `SameSite=Lax`, 400 days (the
//! longest browsers keep); over https it is `__Host-rg_device` and `Secure`.

use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hashlink::LruCache;

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

/// User agents parsed lately, by their first 512 bytes: [`UA_SHARDS`] ×
/// [`UA_PER_SHARD`], the least recently used going first. Most starts come
/// from a browser whose string was seen a moment ago, and woothee's parse
/// (some dozens of regular expressions) was 3 % of a start's CPU under load
/// (`bench/RESULTS.md`); a string never seen costs what it did.
static PARSED: std::sync::LazyLock<[UaShard; UA_SHARDS]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|_| Mutex::new(LruCache::new(UA_PER_SHARD))));
type UaShard = Mutex<LruCache<Box<str>, UserAgent>>;
const UA_SHARDS: usize = 8;
const UA_PER_SHARD: usize = 256;

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
    let shard = &PARSED[usize::try_from(fnv1a(raw) % UA_SHARDS as u64).unwrap_or(0)];
    let locked = || shard.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(parsed) = locked().get(raw) {
        return parsed.clone();
    }
    let parsed = parse_uncached(raw);
    locked().insert(raw.into(), parsed.clone());
    parsed
}

/// A shard for `raw` (FNV-1a: the shard need not be unpredictable, since
/// each is bounded on its own).
fn fnv1a(raw: &str) -> u64 {
    raw.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// [`parse`] without the cache, for a non-blank `raw`.
fn parse_uncached(raw: &str) -> UserAgent {
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

    /// The cache answers what parsing does, again and again, for strings
    /// that share a shard and for more strings than it keeps.
    #[test]
    fn parsed_agents_are_kept_and_answer_alike() {
        let agents: Vec<String> = (0..3 * UA_SHARDS * UA_PER_SHARD)
            .map(|i| match i % 3 {
                0 => CHROME_WIN.replace("120.0", &format!("{i}.0")),
                1 => format!("curl/{i}"),
                _ => format!("Mozilla/5.0 (iPhone; CPU iPhone OS 17_{i} like Mac OS X)"),
            })
            .collect();
        for round in 0..2 {
            for ua in &agents {
                assert_eq!(parse(Some(ua)), parse_uncached(ua), "round {round}: {ua}");
            }
        }
        let kept: usize = PARSED.iter().map(|shard| shard.lock().unwrap().len()).sum();
        assert!(kept <= UA_SHARDS * UA_PER_SHARD, "{kept} kept");
    }
}
