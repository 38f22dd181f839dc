//! Hard rules: deny or allow by country, ASN, network (CIDR) or anonymiser kind.
//!
//! `[[hard_rules]]` are checked in file order and the first that matches decides:
//!
//! - `action = "deny"`: the level is `Deny`, whatever the score;
//! - `action = "allow"`: the level is `Low` instead of the score's level. The score
//!   and every reason are kept for the record. Hard limits still deny (they bound
//!   guessing, which an allow-listed network must not lift), and the account must
//!   still meet the `low` rung.
//!
//! A rule matches when ANY of its lists (`countries`, `asns`, `cidrs`,
//! `anonymous`) matches; it must have at least one non-empty list. An allow rule
//! cannot list `anonymous` kinds: an anonymiser must never lower the risk (and so
//! setting a risky flag can never lower a level). A lookup miss matches nothing.
//! The reason's code is `hard_rule:<name>`; its weight, 100 for deny and 0 for
//! allow, is for display and does not add to the score.
//!
//! CIDR matching is done here on `std::net` types rather than with `ipnet`: it is
//! twenty lines, and it keeps `risk` free of dependencies the decision does not
//! need. A client address is canonicalised first (`::ffff:192.0.2.1` is
//! `192.0.2.1`), and IPv4-mapped IPv6 networks are stored as IPv4.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Deserialize;

use crate::policy::PolicyError;
use crate::reason::{Reason, sentence};
use crate::signals::{AnonymousKind, Geo};

/// The code prefix of a hard rule's reason; the rule's name follows it.
pub const HARD_RULE_PREFIX: &str = "hard_rule:";

/// What a matching hard rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Level `Deny`, whatever the score.
    Deny,
    /// Level `Low` instead of the score's level (hard limits still deny).
    Allow,
}

impl Action {
    /// `"deny"` or `"allow"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Allow => "allow",
        }
    }
}

/// One validated `[[hard_rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardRule {
    /// Unique within the policy; letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// What it does when it matches.
    pub action: Action,
    /// ISO 3166-1 alpha-2 codes, upper case.
    pub countries: Vec<String>,
    /// Autonomous system numbers.
    pub asns: Vec<u32>,
    /// Networks.
    pub cidrs: Vec<Cidr>,
    /// Anonymiser kinds (deny rules only).
    pub anonymous: Vec<AnonymousKind>,
}

/// What made a hard rule match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedOn<'a> {
    /// The address is in this country.
    Country(&'a str),
    /// The address is in this autonomous system.
    Asn(u32),
    /// The address is in this network.
    Cidr(IpAddr, Cidr),
    /// The address is an anonymiser of this kind.
    Anonymous(AnonymousKind),
}

/// The first hard rule that matched, and on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// The rule.
    pub rule: &'a HardRule,
    /// What matched.
    pub on: MatchedOn<'a>,
}

impl HardRule {
    /// What in `geo` this rule matches, checking countries, ASNs, CIDRs, then anonymity.
    pub fn matches<'a>(&self, geo: &'a Geo) -> Option<MatchedOn<'a>> {
        if let Some(country) = geo.country.as_deref()
            && self
                .countries
                .iter()
                .any(|c| c.eq_ignore_ascii_case(country))
        {
            return Some(MatchedOn::Country(country));
        }
        if let Some(asn) = geo.asn.filter(|asn| self.asns.contains(asn)) {
            return Some(MatchedOn::Asn(asn));
        }
        if let Some(ip) = geo.ip
            && let Some(cidr) = self.cidrs.iter().find(|cidr| cidr.contains(ip))
        {
            return Some(MatchedOn::Cidr(ip, *cidr));
        }
        self.anonymous
            .iter()
            .find(|kind| geo.anonymous.get(**kind))
            .map(|kind| MatchedOn::Anonymous(*kind))
    }
}

/// The first rule, in policy order, that matches `geo`.
pub fn first_match<'a>(rules: &'a [HardRule], geo: &'a Geo) -> Option<Match<'a>> {
    rules
        .iter()
        .find_map(|rule| rule.matches(geo).map(|on| Match { rule, on }))
}

impl Match<'_> {
    /// The `hard_rule:<name>` reason.
    pub fn reason(&self) -> Reason {
        let what = match self.on {
            MatchedOn::Country(country) => format!("the address is in {country}"),
            MatchedOn::Asn(asn) => format!("the address is in AS{asn}"),
            MatchedOn::Cidr(ip, cidr) => format!("{ip} is in {cidr}"),
            MatchedOn::Anonymous(kind) => format!("the address is {}", kind.describe()),
        };
        let (weight, effect) = match self.rule.action {
            Action::Deny => (100, "deny: refused whatever the score"),
            Action::Allow => (
                0,
                "allow: level low whatever the score; hard limits still apply",
            ),
        };
        Reason::new(
            format!("{HARD_RULE_PREFIX}{}", self.rule.name),
            weight,
            sentence(format_args!(
                "{what}, listed by hard rule \"{}\" ({effect})",
                self.rule.name
            )),
        )
    }
}

/// An IPv4 or IPv6 network: an address with its host bits zero, and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` (canonicalised: IPv4-mapped IPv6 is IPv4) is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && masked(ip, self.prefix) == self.network
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

/// `ip` with every bit after the first `prefix` cleared (`prefix` <= the address width).
fn masked(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `"198.51.100.0/24"`, `"2001:db8::/32"`, or a bare address (a single host).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("\"{text}\" is not an IP network (e.g. \"198.51.100.0/24\")"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let mut prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= bits)
                .ok_or_else(|| format!("\"{text}\": the prefix length must be 0 to {bits}"))?,
        };
        let mut address = address;
        // An IPv4-mapped IPv6 network is an IPv4 network.
        if let IpAddr::V6(v6) = address
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            (address, prefix) = (IpAddr::V4(v4), prefix - 96);
        }
        let network = masked(address, prefix);
        if network != address {
            return Err(format!(
                "\"{text}\" has host bits set; the network is {network}/{prefix}"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

/// A `[[hard_rules]]` entry as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHardRule {
    name: String,
    action: Action,
    #[serde(default)]
    countries: Vec<String>,
    #[serde(default)]
    asns: Vec<u32>,
    #[serde(default)]
    cidrs: Vec<String>,
    #[serde(default)]
    anonymous: Vec<AnonymousKind>,
}

/// Validates `[[hard_rules]]` in order; names must be unique.
pub(crate) fn validate(raw: Vec<RawHardRule>) -> Result<Vec<HardRule>, PolicyError> {
    let mut rules: Vec<HardRule> = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("hard_rules[{index}].{field}");
        let name_ok = !raw.name.is_empty()
            && raw.name.len() <= 64
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(PolicyError::invalid(
                key("name"),
                format!(
                    "\"{}\" must be 1 to 64 letters, digits, '-', '_' or '.' (it becomes the \
                     reason code hard_rule:<name>)",
                    raw.name
                ),
            ));
        }
        if let Some(first) = rules.iter().position(|r| r.name == raw.name) {
            return Err(PolicyError::invalid(
                key("name"),
                format!("hard_rules[{first}] is already named \"{}\"", raw.name),
            ));
        }
        for (i, country) in raw.countries.iter().enumerate() {
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(PolicyError::invalid(
                    key(&format!("countries[{i}]")),
                    format!(
                        "\"{country}\" is not an ISO 3166-1 alpha-2 code in upper case (e.g. \"KP\")"
                    ),
                ));
            }
        }
        if let Some(i) = raw.asns.iter().position(|&asn| asn == 0) {
            return Err(PolicyError::invalid(
                key(&format!("asns[{i}]")),
                "AS0 is reserved and never announced",
            ));
        }
        let cidrs = raw
            .cidrs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.parse::<Cidr>()
                    .map_err(|problem| PolicyError::invalid(key(&format!("cidrs[{i}]")), problem))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if raw.action == Action::Allow && !raw.anonymous.is_empty() {
            return Err(PolicyError::invalid(
                key("anonymous"),
                "an allow rule cannot match on anonymisers (they must never lower the risk); \
                 use cidrs or asns",
            ));
        }
        if raw.countries.is_empty()
            && raw.asns.is_empty()
            && cidrs.is_empty()
            && raw.anonymous.is_empty()
        {
            return Err(PolicyError::invalid(
                format!("hard_rules[{index}]"),
                "matches nothing: give at least one of countries, asns, cidrs, anonymous",
            ));
        }
        rules.push(HardRule {
            name: raw.name,
            action: raw.action,
            countries: raw.countries,
            asns: raw.asns,
            cidrs,
            anonymous: raw.anonymous,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests;
