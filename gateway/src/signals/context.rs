//! The context of one attempt: where it comes from (address, geo), what makes
//! it (user agent, device cookie). Gathered once at the start of a flow, kept in
//! the flow, and recorded as account history when the flow succeeds.

use serde::{Deserialize, Serialize};

use super::device::UserAgent;
use crate::store::durable::SuccessEvent;

/// Longest user agent kept, in bytes.
const MAX_UA: usize = 256;

/// Where an attempt comes from and what makes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    pub ip: String,
    pub country: Option<String>,
    pub city: Option<String>,
    pub location: Option<risk::signals::Location>,
    pub asn: Option<u32>,
    pub anonymous: risk::signals::Anonymous,
    pub ua_raw: Option<String>,
    pub ua: UserAgent,
    /// The verified device cookie's id (a new one when the client had none).
    pub device_id: Option<String>,
    /// The client presented a valid device cookie.
    pub had_cookie: bool,
}

impl Context {
    /// The context of a request from `client`, with its geo lookup and parsed UA.
    pub fn of(client: &crate::http::client::Client, geo: &dyn super::geo::GeoLookup) -> Self {
        let info = geo.lookup(client.ip);
        Context {
            ip: client.ip.to_string(),
            country: info.country,
            city: info.city,
            location: info.location,
            asn: info.asn,
            anonymous: info.anonymous,
            ua: super::device::parse(client.user_agent.as_deref()),
            ua_raw: client.user_agent.as_deref().map(|ua| clip(ua, MAX_UA)),
            device_id: Some(client.device_id.clone()),
            had_cookie: client.had_cookie,
        }
    }

    /// This context as a success of `username` at `at`.
    pub fn success(&self, username: &str, kind: &str, at: i64) -> SuccessEvent {
        SuccessEvent {
            username: username.to_owned(),
            kind: kind.to_owned(),
            at,
            ip: Some(self.ip.clone()),
            asn: self.asn.map(i64::from),
            country: self.country.clone(),
            city: self.city.clone(),
            lat: self.location.map(|l| l.lat),
            lon: self.location.map(|l| l.lon),
            accuracy_km: self.location.map(|l| l.accuracy_km),
            ua: self.ua_raw.as_ref().map(|ua| clip(ua, MAX_UA)),
            browser: self.ua.browser.clone(),
            os: self.ua.os.clone(),
            class: self.ua.class.clone(),
            device_id: self.device_id.clone(),
        }
    }

    /// The values of the history model's hierarchy levels.
    pub fn features(&self) -> Vec<(&'static str, Option<String>)> {
        self.success("", "", 0).features()
    }

    /// The geo part of the signals.
    pub fn geo(&self) -> risk::signals::Geo {
        risk::signals::Geo {
            ip: self.ip.parse().ok(),
            country: self.country.clone(),
            location: self.location,
            asn: self.asn,
            anonymous: self.anonymous,
        }
    }

    /// The device part of the signals; `known` = bound to the account.
    pub fn device(&self, known: bool) -> risk::signals::Device {
        risk::signals::Device {
            known,
            has_cookie: self.had_cookie,
            browser: self.ua.browser.clone(),
            os: self.ua.os.clone(),
            class: self.ua.class.clone(),
            automation: self.ua.automation,
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
