//! The seeded generator of realistic sign-in and reset traffic, with labelled
//! attacks: what the anomaly model is trained and evaluated on when no real
//! traffic is at hand (`resetgate generate`, documented in `data/README.md`).
//!
//! # What it models
//!
//! - A world (`world.rs`): 36 cities in 14 countries where accounts live (plus
//!   attack origins and data-centre cities), with real coordinates, geolocation
//!   accuracy radii and UTC offsets; residential fixed and mobile ISPs per
//!   country, hosting providers, VPN and Tor exits, with illustrative prefixes.
//! - People (`legit/`): each account has a home city and ISP, one to three
//!   devices (each a cookie id and a browser that updates itself), a daily
//!   rhythm (preferred hours, weekends), a sign-in rate from daily to weekly,
//!   trips (hotel Wi-Fi, home-routed mobile roaming), a work network, new devices,
//!   cleared cookies, typos, forgotten passwords (failed sign-ins, then a reset)
//!   and rare contact changes; a few use a VPN.
//! - Attacks (`attacks/`), labelled: targeted and naive takeovers, credential
//!   stuffing, password spraying and SIM swaps, in a configurable share.
//!
//! # Determinism and cost
//!
//! Output depends only on the [`GenerateConfig`]: every account draws from its
//! own `ChaCha20` stream (`seed`, stream `1 + account`) and the attacks from
//! stream 0, so nothing reads the clock or an unseeded RNG. Events are kept in
//! a compact form (~64 bytes), sorted once by time, and turned into
//! [`Attempt`]s one at a time as the [`Traffic`] iterator is read.

mod agents;
mod attacks;
mod events;
mod legit;
mod names;
mod world;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::dataset::Attempt;
use agents::UserAgents;
use events::{
    Client, Event, Gen, Geo, HOSTING, NO_RTT, PUBLIC_PROXY, RESIDENTIAL_PROXY, TOR, VPN,
    exponential, poisson, secs, to_u32,
};
use names::Names;
use world::{CITIES, NETWORKS, World};

/// One day, in seconds.
const DAY: i64 = 86_400;

/// Where the gateway runs, for round-trip times.
const SERVER: &str = "Frankfurt am Main";

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Number of (legitimate) accounts.
    pub accounts: u32,
    /// Length of the period, days.
    pub days: u32,
    /// Start of the period, Unix seconds (UTC).
    pub start: i64,
    /// Share of all events that are attacks, `0..=0.9` (clamped).
    pub attack_rate: f64,
    /// How the attack events are split between the attack kinds.
    pub attack_mix: AttackMix,
}

impl Default for GenerateConfig {
    /// 2,000 accounts over the 60 days from 2026-03-01, seed 42, 3 % attacks:
    /// about 60,000 events.
    fn default() -> Self {
        Self {
            seed: 42,
            accounts: 2000,
            days: 60,
            start: 1_772_323_200, // 2026-03-01T00:00:00Z
            attack_rate: 0.03,
            attack_mix: AttackMix::default(),
        }
    }
}

impl GenerateConfig {
    /// About how many events one account makes per day (legitimate traffic).
    pub const EVENTS_PER_ACCOUNT_DAY: f64 = 0.515;

    /// The number of accounts that gives about `attempts` events over `days`
    /// days at `attack_rate`.
    pub fn accounts_for(attempts: u64, days: u32, attack_rate: f64) -> u32 {
        #[allow(clippy::cast_precision_loss)] // an estimate
        let legit = attempts as f64 * (1.0 - attack_rate.clamp(0.0, 0.9));
        let per_account = Self::EVENTS_PER_ACCOUNT_DAY * f64::from(days.max(1));
        to_u32((legit / per_account).ceil())
    }
}

/// Relative weights of the attack kinds in the attack events (any scale; a zero
/// weight turns that kind off). Every kind with a weight appears at least once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackMix {
    /// [`Label::TargetedTakeover`](crate::dataset::Label::TargetedTakeover).
    pub targeted_takeover: f64,
    /// [`Label::NaiveTakeover`](crate::dataset::Label::NaiveTakeover).
    pub naive_takeover: f64,
    /// [`Label::Stuffing`](crate::dataset::Label::Stuffing).
    pub stuffing: f64,
    /// [`Label::Spraying`](crate::dataset::Label::Spraying).
    pub spraying: f64,
    /// [`Label::SimSwap`](crate::dataset::Label::SimSwap).
    pub sim_swap: f64,
}

impl Default for AttackMix {
    fn default() -> Self {
        Self {
            targeted_takeover: 0.13,
            naive_takeover: 0.12,
            stuffing: 0.40,
            spraying: 0.25,
            sim_swap: 0.10,
        }
    }
}

/// Generates the traffic `config` describes, in time order.
pub fn generate(config: &GenerateConfig) -> Traffic {
    let world = World::new();
    let agents = UserAgents::new();
    let mut generator = Gen {
        world: &world,
        agents: &agents,
        server: world::city_named(SERVER),
        start: config.start,
        days: config.days,
        end: config.start + i64::from(config.days) * DAY,
        names: Names::with_capacity(config.accounts as usize),
        events: Vec::with_capacity(config.accounts as usize * config.days as usize / 2),
    };
    let mut profiles = Vec::with_capacity(config.accounts as usize);
    for account in 0..config.accounts {
        let mut rng = stream(config.seed, 1 + u64::from(account));
        profiles.push(legit::account(&mut generator, &mut rng));
    }
    let legit = generator.events.len();
    attacks::all(
        &mut generator,
        config,
        &profiles,
        legit,
        &mut stream(config.seed, 0),
    );
    let mut events = generator.events;
    events.sort_unstable_by_key(|e| (e.at, e.seq));
    Traffic {
        names: generator.names.all,
        agents,
        events: events.into_iter(),
        index: 0,
    }
}

/// The generated attempts, in time order, indexed from 0.
pub struct Traffic {
    names: Vec<String>,
    agents: UserAgents,
    events: std::vec::IntoIter<Event>,
    index: u64,
}

impl Iterator for Traffic {
    type Item = Attempt;

    fn next(&mut self) -> Option<Attempt> {
        let e = self.events.next()?;
        let index = self.index;
        self.index += 1;
        let city = &CITIES[usize::from(e.city)];
        let hub = &CITIES[usize::from(hub(city.country))];
        let (country, place, point, accuracy) = match e.geo {
            Geo::Full => (Some(city.country), Some(city), Some(city), e.accuracy_km),
            // A country-level record: MaxMind puts it near the middle, 1000 km wide.
            Geo::Country => (Some(city.country), None, Some(hub), 1000),
            Geo::Miss => (None, None, None, 0),
        };
        let bit = |b: u8| e.anonymous & b != 0;
        Some(Attempt {
            index,
            at: e.at,
            kind: e.kind,
            user: self.names[e.user as usize].clone(),
            ip: e.ip,
            country: country.map(str::to_owned),
            region: place
                .map(|c| c.region)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            city: place.map(|c| c.name.to_owned()),
            lat: point.map(|c| c.lat),
            lon: point.map(|c| c.lon),
            accuracy_km: point.map(|_| f64::from(accuracy)),
            asn: Some(NETWORKS[usize::from(e.net)].asn),
            anonymous: risk::Anonymous {
                vpn: bit(VPN),
                tor: bit(TOR),
                hosting: bit(HOSTING),
                residential_proxy: bit(RESIDENTIAL_PROXY),
                public_proxy: bit(PUBLIC_PROXY),
            },
            user_agent: self.agents.strings[usize::from(e.ua)].clone(),
            device_id: (e.device != 0).then(|| format!("{:016x}", e.device)),
            rtt_ms: (e.rtt != NO_RTT).then_some(u32::from(e.rtt)),
            success: e.success,
            label: e.label,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.events.size_hint()
    }
}

impl ExactSizeIterator for Traffic {}

/// The first city of `country`: where a country-level record points.
fn hub(country: &str) -> u16 {
    let i = CITIES
        .iter()
        .position(|c| c.country == country)
        .unwrap_or(0);
    u16::try_from(i).expect("few cities")
}

/// A `ChaCha20` generator on `stream` of `seed`.
fn stream(seed: u64, stream: u64) -> ChaCha20Rng {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[cfg(test)]
mod tests;
