//! The cookies the gateway sets, in one place: their names, how they are read
//! and how `Set-Cookie` is written.
//!
//! Every cookie is `HttpOnly`. Over https (`server.public_url` is https) every
//! cookie is `Secure`, and its name gets a prefix browsers enforce: `__Host-`
//! for `Path=/` cookies (no `Domain`, so a sibling subdomain or a plain-http
//! page cannot plant one — no fixation), `__Secure-` for narrower paths, where
//! `__Host-` is not allowed. Only the prefixed name is read over https: the
//! bare name is one anyone on a sibling subdomain could have set.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::app::AppState;

/// A cookie's fixed attributes.
#[derive(Debug, Clone, Copy)]
pub struct Cookie {
    /// The bare name (over http).
    pub name: &'static str,
    pub path: &'static str,
    /// `Strict` or `Lax`.
    pub same_site: &'static str,
}

/// The reset flow id (never in a URL: URLs get logged).
pub const FLOW: Cookie = Cookie::strict("rg_flow", "/");
/// The enrolment session's bearer token.
pub const SESSION: Cookie = Cookie::strict("rg_session", "/");
/// An administrator's console sign-in (the admin API's bearer token). Path
/// `/` so that over https it gets the `__Host-` prefix (a sibling subdomain
/// cannot plant one); only the console's pages read it.
pub const ADMIN: Cookie = Cookie::strict("rg_admin", "/");
/// The random half of the signed double-submit CSRF token.
pub const CSRF: Cookie = Cookie::strict("rg_csrf", "/");
/// The reset token once the factors are passed: a bearer secret kept out of
/// the HTML, sent only to `/reset…`.
pub const RESET: Cookie = Cookie::strict("rg_reset", "/reset");

/// Is the deployment served over https?
pub fn secure(state: &AppState) -> bool {
    state.config.server.public_url.scheme() == "https"
}

impl Cookie {
    pub const fn strict(name: &'static str, path: &'static str) -> Self {
        Self {
            name,
            path,
            same_site: "Strict",
        }
    }

    /// The name on the wire for this deployment.
    pub fn wire_name(&self, secure: bool) -> String {
        match (secure, self.path) {
            (false, _) => self.name.to_owned(),
            (true, "/") => format!("__Host-{}", self.name),
            (true, _) => format!("__Secure-{}", self.name),
        }
    }

    /// Every value the request carries under this cookie's name.
    pub fn values<'a>(
        &self,
        headers: &'a HeaderMap,
        secure: bool,
    ) -> impl Iterator<Item = &'a str> {
        let name = self.wire_name(secure);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(move |pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name).then_some(value)
            })
    }

    /// The first non-empty value.
    pub fn get<'a>(&self, headers: &'a HeaderMap, secure: bool) -> Option<&'a str> {
        self.values(headers, secure).find(|v| !v.is_empty())
    }

    /// `Set-Cookie` for `value`; without `max_age` it lasts the browser session.
    /// Values are tokens the gateway made (base64url), never user input.
    pub fn set(&self, value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
        let age = max_age
            .map(|s| format!("; Max-Age={s}"))
            .unwrap_or_default();
        let text = format!(
            "{}={value}{age}; Path={}; HttpOnly; SameSite={}{}",
            self.wire_name(secure),
            self.path,
            self.same_site,
            if secure { "; Secure" } else { "" },
        );
        HeaderValue::from_str(&text).expect("cookie values are ASCII tokens")
    }

    /// `Set-Cookie` that deletes the cookie.
    pub fn clear(&self, secure: bool) -> HeaderValue {
        self.set("", Some(0), secure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_attributes_and_reading() {
        let set = FLOW.set("abc", Some(600), true);
        assert_eq!(
            set.to_str().unwrap(),
            "__Host-rg_flow=abc; Max-Age=600; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(
            RESET
                .set("t", None, true)
                .to_str()
                .unwrap()
                .starts_with("__Secure-rg_reset=t; Path=/reset;")
        );
        assert_eq!(FLOW.wire_name(false), "rg_flow");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "rg_flow=plain; __Host-rg_flow=hosted; rg_flowx=no"
                .parse()
                .unwrap(),
        );
        assert_eq!(FLOW.get(&headers, false), Some("plain"));
        assert_eq!(FLOW.get(&headers, true), Some("hosted"));
        assert_eq!(SESSION.get(&headers, false), None);
        assert!(FLOW.clear(false).to_str().unwrap().contains("Max-Age=0"));
    }
}
