//! The generator's working parts: the compact [`Event`] every attempt is kept
//! as until it is read out, the [`Client`] a session comes from (address,
//! network, browser, cookie, round-trip time), and [`Gen`], which makes clients
//! and records events; plus the few random draws the generator needs.

use std::net::IpAddr;

use rand::Rng;

use super::agents::UserAgents;
use super::names::Names;
use super::world::{self, Access, CITIES, NETWORKS, World};
use crate::dataset::{Kind, Label};

/// Anonymiser flags, as bits of [`Event::anonymous`].
pub(super) const VPN: u8 = 1;
pub(super) const TOR: u8 = 2;
pub(super) const HOSTING: u8 = 4;
pub(super) const RESIDENTIAL_PROXY: u8 = 8;
pub(super) const PUBLIC_PROXY: u8 = 16;

/// [`Event::rtt`] when none was measured.
pub(super) const NO_RTT: u16 = u16::MAX;

/// How much geolocation knows of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Geo {
    /// The city.
    Full,
    /// Only the country.
    Country,
    /// Nothing (the ASN is still known).
    Miss,
}

/// One attempt in compact form; strings are looked up when it is read out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Event {
    pub(super) at: i64,
    /// Generation order: the tie-break that keeps sorting deterministic.
    pub(super) seq: u32,
    pub(super) user: u32,
    pub(super) ip: IpAddr,
    /// Device-cookie id; 0 = none presented.
    pub(super) device: u64,
    /// Where geolocation places the address.
    pub(super) city: u16,
    pub(super) net: u16,
    pub(super) ua: u16,
    pub(super) rtt: u16,
    pub(super) accuracy_km: u16,
    pub(super) geo: Geo,
    pub(super) anonymous: u8,
    pub(super) kind: Kind,
    pub(super) label: Label,
    pub(super) success: bool,
}

/// Where one session comes from: address, network, browser and cookie.
#[derive(Debug, Clone, Copy)]
pub(super) struct Client {
    pub(super) ip: IpAddr,
    pub(super) city: u16,
    pub(super) net: u16,
    pub(super) ua: u16,
    pub(super) device: u64,
    pub(super) anonymous: u8,
    pub(super) geo: Geo,
    pub(super) accuracy_km: u16,
    /// Typical round-trip time, ms; `None` = not measured this session.
    pub(super) rtt: Option<f64>,
}

/// The state shared while generating: the world and the events so far.
pub(super) struct Gen<'w> {
    pub(super) world: &'w World,
    pub(super) agents: &'w UserAgents,
    /// The city of [`super::SERVER`].
    pub(super) server: u16,
    pub(super) start: i64,
    pub(super) days: u32,
    pub(super) end: i64,
    pub(super) names: Names,
    pub(super) events: Vec<Event>,
}

impl Gen<'_> {
    /// A client at `ip` of `net`, placed by geolocation in `city`, for a person
    /// physically in `person` (they differ when roaming or tunnelling).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn client(
        &self,
        net: u16,
        city: u16,
        ip: IpAddr,
        ua: u16,
        device: u64,
        person: u16,
        rng: &mut impl Rng,
    ) -> Client {
        let access = NETWORKS[usize::from(net)].access;
        let (anonymous, country_only, access_ms) = match access {
            Access::Fixed => (0, 0.0, 12.0),
            Access::Mobile => (0, 0.05, 45.0),
            Access::Hosting => (HOSTING, 0.1, 2.0),
            Access::Vpn => (VPN, 0.1, 30.0),
            Access::Tor => (TOR, 0.1, 180.0),
        };
        let roll: f64 = rng.random();
        let geo = if roll < 0.003 {
            Geo::Miss
        } else if roll < 0.003 + country_only {
            Geo::Country
        } else {
            Geo::Full
        };
        let place = &CITIES[usize::from(city)];
        let accuracy_km = if access == Access::Mobile {
            100
        } else {
            place.accuracy_km
        };
        let server = &CITIES[usize::from(self.server)];
        let path_km = world::distance_km(&CITIES[usize::from(person)], place)
            + world::distance_km(place, server);
        // Light in fibre: ~100 km per ms of round trip, routes ~1.4 times the great circle.
        let rtt = rng
            .random_bool(0.88)
            .then(|| path_km * 1.4 / 100.0 + access_ms * rng.random_range(0.7..1.6));
        Client {
            ip,
            city,
            net,
            ua,
            device,
            anonymous,
            geo,
            accuracy_km,
            rtt,
        }
    }

    /// Records one attempt of `user` from `client` (dropped outside the period).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        user: u32,
        at: i64,
        kind: Kind,
        success: bool,
        label: Label,
        client: &Client,
        rng: &mut impl Rng,
    ) {
        if at < self.start || at >= self.end {
            return;
        }
        let rtt = client.rtt.map_or(NO_RTT, |ms| {
            to_u16(ms * rng.random_range(0.9..1.25)).min(NO_RTT - 1)
        });
        self.events.push(Event {
            at,
            seq: u32::try_from(self.events.len()).expect("fewer than 4 billion events"),
            user,
            ip: client.ip,
            device: client.device,
            city: client.city,
            net: client.net,
            ua: client.ua,
            rtt,
            accuracy_km: client.accuracy_km,
            geo: client.geo,
            anonymous: client.anonymous,
            kind,
            label,
            success,
        });
    }
}

/// A Poisson draw with mean `lambda` (Knuth's method; `lambda` is small here).
pub(super) fn poisson(lambda: f64, rng: &mut impl Rng) -> u32 {
    let limit = (-lambda).exp();
    let mut product: f64 = rng.random();
    let mut n = 0;
    while product > limit && n < 1000 {
        product *= rng.random::<f64>();
        n += 1;
    }
    n
}

/// An exponential draw with mean `mean`.
pub(super) fn exponential(mean: f64, rng: &mut impl Rng) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// `x` rounded to the nearest whole number of seconds.
#[allow(clippy::cast_possible_truncation)] // simulated durations are far below i64::MAX
pub(super) fn secs(x: f64) -> i64 {
    x.round() as i64
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // saturating casts
pub(super) fn to_u32(x: f64) -> u32 {
    x.max(0.0) as u32
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // saturating casts
pub(super) fn to_u16(x: f64) -> u16 {
    x.max(0.0) as u16
}
