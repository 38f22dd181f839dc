//! The [`Signals`] value: everything the decision looks at, gathered by the gateway.
//!
//! Gather, then decide: the gateway's signal sources (velocity counters, GeoIP,
//! the device cookie and user agent, the account's history, the anomaly model)
//! fill in this plain value and never decide anything; [`crate::evaluate`] decides
//! and never gathers. Nothing here is computed by `risk`.
//!
//! A lookup that found nothing is `None` (or `false`, or empty): unknown is never
//! risky on its own. Novelty signals (`new_country`, `new_asn`, `new_device`,
//! `new_browser`) compare with [`History`] and fire only for an account with
//! history (`events > 0`) and a known current value. Every struct here reads
//! missing fields as their default when deserialised, so recorded signals stay
//! readable as fields are added.
//!
//! The field names are the contract with the gateway (`docs/risk-signals-v2.md`,
//! issue 3): extend, never rename.

pub mod velocity;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::UnknownName;
use crate::ladder::Factor;

pub use velocity::{Velocity, VelocitySignal};

/// What the gateway knows about one reset attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Signals {
    /// Recent activity counters for the account, the client address and its networks.
    pub velocity: Velocity,
    /// Factors the account can use to authorise a reset (enrolled, confirmed, out of cool-off).
    pub enrolled: Vec<Factor>,
    /// Where the attempt comes from (lookup misses are `None`).
    pub geo: Geo,
    /// The browser or device making the attempt.
    pub device: Device,
    /// What the account's own past says.
    pub history: History,
    /// The ML anomaly score in `[0, 1]`: the share of the model's training
    /// attempts that were less unusual. `None` = not available: neutral, adds
    /// nothing.
    pub anomaly: Option<f64>,
    /// The version of the model that gave [`Self::anomaly`] (shown in its
    /// reason and in the assessment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly_model: Option<String>,
}

/// Where the attempt comes from: the client address and what GeoIP says about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Geo {
    /// The client address (for CIDR hard rules).
    pub ip: Option<IpAddr>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Option<String>,
    /// The city-level location, with its accuracy.
    pub location: Option<Location>,
    /// The autonomous system number of the network the address belongs to.
    pub asn: Option<u32>,
    /// Anonymiser flags from the Anonymous IP database.
    pub anonymous: Anonymous,
}

/// A place on Earth, as GeoIP locates an address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees, `-90..=90`.
    pub lat: f64,
    /// Longitude in degrees, `-180..=180`.
    pub lon: f64,
    /// MaxMind's `accuracy_radius`: the address is within this many km of the point.
    pub accuracy_km: f64,
}

/// The Anonymous IP database's flags for the client address.
// Independent flags of one database record, fixed by the contract with the
// gateway; they are not the states of one thing, so no enum fits them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Anonymous {
    /// A VPN provider's exit.
    pub vpn: bool,
    /// A Tor exit node.
    pub tor: bool,
    /// A hosting provider or data centre.
    pub hosting: bool,
    /// A residential proxy network.
    pub residential_proxy: bool,
    /// An open public proxy.
    pub public_proxy: bool,
}

impl Anonymous {
    /// Whether the flag of `kind` is set.
    pub fn get(&self, kind: AnonymousKind) -> bool {
        match kind {
            AnonymousKind::Vpn => self.vpn,
            AnonymousKind::Tor => self.tor,
            AnonymousKind::Hosting => self.hosting,
            AnonymousKind::ResidentialProxy => self.residential_proxy,
            AnonymousKind::PublicProxy => self.public_proxy,
        }
    }

    /// The names of the flags that are set, in the policy's spelling.
    pub fn names(&self) -> Vec<&'static str> {
        AnonymousKind::ALL
            .into_iter()
            .filter(|k| self.get(*k))
            .map(AnonymousKind::as_str)
            .collect()
    }

    /// Whether any flag is set.
    pub fn any(&self) -> bool {
        AnonymousKind::ALL.into_iter().any(|k| self.get(k))
    }

    /// This value with the flag of `kind` set to `on`.
    #[must_use]
    pub fn with(mut self, kind: AnonymousKind, on: bool) -> Self {
        let flag = match kind {
            AnonymousKind::Vpn => &mut self.vpn,
            AnonymousKind::Tor => &mut self.tor,
            AnonymousKind::Hosting => &mut self.hosting,
            AnonymousKind::ResidentialProxy => &mut self.residential_proxy,
            AnonymousKind::PublicProxy => &mut self.public_proxy,
        };
        *flag = on;
        self
    }
}

/// One kind of anonymiser, as hard rules (`anonymous = ["tor"]`) and signal
/// weights (`anonymous_tor`) name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnonymousKind {
    /// `vpn`
    Vpn,
    /// `tor`
    Tor,
    /// `hosting`
    Hosting,
    /// `residential_proxy`
    ResidentialProxy,
    /// `public_proxy`
    PublicProxy,
}

impl AnonymousKind {
    /// Every kind, in [`Anonymous`] field order.
    pub const ALL: [Self; 5] = [
        Self::Vpn,
        Self::Tor,
        Self::Hosting,
        Self::ResidentialProxy,
        Self::PublicProxy,
    ];

    /// The name in policies: the [`Anonymous`] field name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vpn => "vpn",
            Self::Tor => "tor",
            Self::Hosting => "hosting",
            Self::ResidentialProxy => "residential_proxy",
            Self::PublicProxy => "public_proxy",
        }
    }

    /// What an address of this kind is, for a reason's sentence.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Vpn => "a VPN exit",
            Self::Tor => "a Tor exit node",
            Self::Hosting => "a hosting provider or data centre",
            Self::ResidentialProxy => "a residential proxy",
            Self::PublicProxy => "an open public proxy",
        }
    }
}

impl fmt::Display for AnonymousKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AnonymousKind {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownName::new("anonymous kind", name, Self::ALL.map(Self::as_str)))
    }
}

/// The browser or device making the attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Device {
    /// A valid device cookie was presented and it is bound to this account.
    pub known: bool,
    /// A valid device cookie was presented at all (false = first visit / cookie cleared).
    pub has_cookie: bool,
    /// UA family, e.g. `"Chrome"`.
    pub browser: Option<String>,
    /// Operating system, e.g. `"Windows 10"`.
    pub os: Option<String>,
    /// `"pc"`, `"smartphone"`, `"mobilephone"`, `"appliance"`, `"crawler"` or `"misc"`.
    pub class: Option<String>,
    /// Automation markers: headless UA, webdriver, empty or implausible UA.
    pub automation: bool,
}

/// What the account's own past says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct History {
    /// How many successful events (resets, sign-ins) the account has on record.
    /// 0 = no history: novelty signals do not fire (nothing to compare to).
    pub events: u32,
    /// Countries (ISO 3166-1 alpha-2) of past successes.
    pub known_countries: Vec<String>,
    /// ASNs of past successes.
    pub known_asns: Vec<u32>,
    /// UA families seen on successes.
    pub known_browsers: Vec<String>,
    /// The account's usual locations (one per distinct city seen on successes),
    /// most recent first, at most 10.
    pub usual_locations: Vec<Location>,
    /// The latest success.
    pub last_success: Option<PastEvent>,
    /// When a phone (or e-mail) factor was last added or changed by the person
    /// (SIM-swap signal).
    pub contact_changed_at: Option<SystemTime>,
    /// Freeman et al. counts, see [`crate::history`]. Empty = no history model input.
    pub features: Vec<FeatureCounts>,
}

/// A past successful event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PastEvent {
    /// When it happened.
    pub at: SystemTime,
    /// Where it came from, when GeoIP knew.
    pub location: Option<Location>,
}

impl Default for PastEvent {
    /// An event at the Unix epoch, nowhere known.
    fn default() -> Self {
        Self {
            at: SystemTime::UNIX_EPOCH,
            location: None,
        }
    }
}

/// One feature hierarchy of Freeman et al. (NDSS 2016), e.g. IP -> ASN -> country
/// or UA -> browser -> OS -> device class; levels ordered from most specific to least.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureCounts {
    /// The hierarchy's name, e.g. `"network"` or `"user_agent"`.
    pub name: String,
    /// Counts for the current attempt's value at each level, most specific first.
    pub levels: Vec<LevelCounts>,
}

/// Success counts for the current attempt's value at one level of a hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelCounts {
    /// `"ip"`, `"asn"`, `"country"`, `"ua"`, `"browser"`, `"os"`, `"class"`.
    pub level: String,
    /// Successes of this account with the current value at this level.
    pub account_seen: u32,
    /// Successes of this account with any value.
    pub account_total: u32,
    /// Successes of all accounts with the current value.
    pub global_seen: u32,
    /// Successes of all accounts.
    pub global_total: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_kinds_are_the_anonymous_field_names() {
        let as_value = toml::Value::try_from(Anonymous::default()).unwrap();
        let fields: Vec<&str> = as_value
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut names = AnonymousKind::ALL.map(AnonymousKind::as_str).to_vec();
        let mut sorted = fields.clone();
        sorted.sort_unstable();
        names.sort_unstable();
        assert_eq!(sorted, names);
        for kind in AnonymousKind::ALL {
            assert_eq!(kind.as_str().parse::<AnonymousKind>().unwrap(), kind);
            let flagged = Anonymous::default().with(kind, true);
            for other in AnonymousKind::ALL {
                assert_eq!(
                    flagged.get(other),
                    other == kind,
                    "{kind} set, {other} read"
                );
            }
        }
        assert_eq!(
            "proxy".parse::<AnonymousKind>().unwrap_err().to_string(),
            "unknown anonymous kind \"proxy\" (known: vpn, tor, hosting, residential_proxy, \
             public_proxy)"
        );
    }

    #[test]
    fn old_signals_without_the_new_fields_still_read() {
        let old = r#"{"velocity": {"account_attempts_1h": 2}, "enrolled": ["totp"]}"#;
        let signals: Signals = serde_json::from_str(old).unwrap();
        assert_eq!(
            signals,
            Signals {
                velocity: Velocity {
                    account_attempts_1h: 2,
                    ..Velocity::default()
                },
                enrolled: vec![Factor::Totp],
                ..Signals::default()
            }
        );
    }

    #[test]
    fn signals_round_trip_through_json() {
        let signals = Signals {
            geo: Geo {
                ip: Some("2001:db8::1".parse().unwrap()),
                country: Some("FR".into()),
                location: Some(Location {
                    lat: 48.86,
                    lon: 2.35,
                    accuracy_km: 20.0,
                }),
                asn: Some(64_496),
                anonymous: Anonymous::default().with(AnonymousKind::Vpn, true),
            },
            history: History {
                events: 3,
                last_success: Some(PastEvent::default()),
                features: vec![FeatureCounts {
                    name: "network".into(),
                    levels: vec![LevelCounts {
                        level: "ip".into(),
                        account_seen: 1,
                        account_total: 3,
                        global_seen: 4,
                        global_total: 90,
                    }],
                }],
                ..History::default()
            },
            anomaly: Some(0.25),
            ..Signals::default()
        };
        let json = serde_json::to_string(&signals).unwrap();
        assert_eq!(serde_json::from_str::<Signals>(&json).unwrap(), signals);
    }
}
