//! Legitimate accounts and how their owners sign in, day by day.
//!
//! Each account is a person with a home (city, fixed-line ISP, a household IPv4
//! address that changes now and then, sometimes an IPv6 /64), a mobile carrier,
//! one to three devices, a daily rhythm and a sign-in rate. Each day they sign
//! in a Poisson number of times around their preferred hours (later and more
//! or less often at weekends), from home Wi-Fi, the mobile network, the office
//! (weekday working hours, computers) or a VPN (a few people). On trips the
//! phone roams on the home carrier (home-routed, so geolocation still says home) or
//! joins the hotel's Wi-Fi. Now and then a device is replaced, a cookie is
//! cleared or a private window has none, a password is mistyped, a password is
//! forgotten (a few failed sign-ins, then a reset, then a sign-in with the new
//! one), or the phone number is changed.

mod day;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;

use super::agents::{self, FAMILIES};
use super::world::{Access, CITIES, networks};
use super::{Gen, poisson};

/// What the attacks need to know of an account.
pub(super) struct Profile {
    /// The account's name id.
    pub user: u32,
    pub home: u16,
    pub mobile: u16,
    /// The family of the first device's browser.
    pub family: u8,
}

/// Chance per day of a forgotten password.
const P_FORGET: f64 = 1.0 / 300.0;
/// Chance per day of a phone or e-mail change.
const P_CONTACT: f64 = 1.0 / 2500.0;
/// Chance per day of a new device.
const P_NEW_DEVICE: f64 = 1.0 / 400.0;
/// Chance per day that the household's IPv4 address changes.
const P_NEW_ADDRESS: f64 = 1.0 / 40.0;

#[derive(Clone, Copy)]
struct Device {
    id: u64,
    family: u8,
    born: u32,
    lag: u8,
    phone: bool,
    portable: bool,
}

#[derive(Clone, Copy)]
struct Trip {
    from: u32,
    to: u32,
    city: u16,
    abroad: bool,
    /// The hotel's network and address.
    wifi: (u16, u32),
}

/// What a session is for, besides signing in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Errand {
    SignIn,
    Forgot,
    ChangeContact,
}

struct Person {
    user: u32,
    home: u16,
    fixed: u16,
    mobile: u16,
    household: u32,
    household6: Option<u16>,
    work: Option<(u16, u32)>,
    vpn: Option<(u16, u16)>,
    devices: Vec<Device>,
    peaks: [f64; 2],
    second_peak: f64,
    spread: f64,
    weekend: f64,
    rate: f64,
    trips: Vec<Trip>,
}

/// Generates one account's traffic into `generator`.
pub(super) fn account(generator: &mut Gen<'_>, rng: &mut ChaCha20Rng) -> Profile {
    let mut person = Person::new(generator, rng);
    let profile = Profile {
        user: person.user,
        home: person.home,
        mobile: person.mobile,
        family: person.devices[0].family,
    };
    let mut times = Vec::new();
    for day in 0..generator.days {
        person.live(generator, day, &mut times, rng);
    }
    profile
}

impl Person {
    fn new(generator: &mut Gen<'_>, rng: &mut ChaCha20Rng) -> Self {
        let world = generator.world;
        let total: u32 = CITIES.iter().map(|c| c.people).sum();
        let mut roll = rng.random_range(0..total);
        let home = CITIES
            .iter()
            .position(|c| {
                let here = roll < c.people;
                roll = roll.saturating_sub(c.people);
                here
            })
            .expect("the roll is below the total");
        let home = u16::try_from(home).expect("few cities");
        let country = CITIES[usize::from(home)].country;
        let fixed_nets: Vec<u16> = networks(Access::Fixed, Some(country)).collect();
        let fixed = *fixed_nets
            .choose(rng)
            .expect("every home country has an ISP");
        let mobile = networks(Access::Mobile, Some(country))
            .next()
            .unwrap_or(fixed);
        let vpns: Vec<u16> = networks(Access::Vpn, None).collect();
        let vpn = rng.random_bool(0.04).then(|| {
            let net = *vpns.choose(rng).expect("VPNs");
            (
                net,
                *world.served[usize::from(net)].choose(rng).expect("sites"),
            )
        });
        let mut person = Self {
            user: generator.names.fresh(rng),
            home,
            fixed,
            mobile,
            household: rng.random(),
            household6: (world.ipv6(fixed, home, 0, 0).is_some() && rng.random_bool(0.5))
                .then(|| rng.random()),
            work: rng
                .random_bool(0.3)
                .then(|| (*fixed_nets.choose(rng).expect("ISP"), rng.random())),
            vpn,
            devices: Vec::with_capacity(3),
            peaks: [peak_hour(rng), peak_hour(rng)],
            second_peak: if rng.random_bool(0.4) { 0.35 } else { 0.0 },
            spread: rng.random_range(0.8..2.5),
            weekend: rng.random_range(0.3..1.3),
            rate: (0.35 * (0.9 * standard_normal(rng)).exp()).clamp(0.05, 4.0),
            trips: Vec::new(),
        };
        let first_phone = rng.random_bool(0.6);
        let count = 1 + usize::from(rng.random_bool(0.55)) + usize::from(rng.random_bool(0.2));
        for i in 0..count {
            let phone = if i == 1 { !first_phone } else { first_phone };
            let lag = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3][rng.random_range(0..10)];
            person.devices.push(new_device(phone, 0, lag, rng));
        }
        person.plan_trips(generator, rng);
        person
    }

    fn plan_trips(&mut self, generator: &Gen<'_>, rng: &mut ChaCha20Rng) {
        let days = generator.days;
        let mean_gap = if rng.random_bool(0.3) { 45.0 } else { 180.0 };
        let home = &CITIES[usize::from(self.home)];
        for _ in 0..poisson(f64::from(days) / mean_gap, rng) {
            let from = rng.random_range(0..days);
            let to = from + rng.random_range(2..=12);
            if self
                .trips
                .iter()
                .any(|t| from < t.to + 1 && t.from < to + 1)
            {
                continue;
            }
            let domestic: Vec<u16> = generator
                .world
                .cities_of(home.country)
                .iter()
                .copied()
                .filter(|c| *c != self.home && CITIES[usize::from(*c)].people > 0)
                .collect();
            let city = if rng.random_bool(0.6) && !domestic.is_empty() {
                *domestic.choose(rng).expect("not empty")
            } else {
                let abroad: Vec<u16> = (0..CITIES.len())
                    .filter(|c| CITIES[*c].people > 0 && CITIES[*c].country != home.country)
                    .map(|c| u16::try_from(c).expect("few cities"))
                    .collect();
                *abroad
                    .choose_weighted(rng, |c| CITIES[usize::from(*c)].people)
                    .expect("other countries")
            };
            let there = CITIES[usize::from(city)].country;
            let nets: Vec<u16> = networks(Access::Fixed, Some(there)).collect();
            let wifi = (*nets.choose(rng).expect("ISP"), rng.random());
            let abroad = there != home.country;
            self.trips.push(Trip {
                from,
                to,
                city,
                abroad,
                wifi,
            });
        }
    }
}

fn new_device(phone: bool, born: u32, lag: u8, rng: &mut ChaCha20Rng) -> Device {
    let family = agents::pick_family(phone, rng);
    debug_assert_eq!(FAMILIES[usize::from(family)].phone, phone);
    Device {
        id: fresh_id(rng),
        family,
        born,
        lag,
        phone,
        portable: phone || rng.random_bool(0.55),
    }
}

/// A new device-cookie id (never 0, which means "no cookie").
pub(super) fn fresh_id(rng: &mut impl Rng) -> u64 {
    rng.random::<u64>() | 1
}

/// A preferred hour: mornings, lunch, evenings or late nights.
fn peak_hour(rng: &mut ChaCha20Rng) -> f64 {
    let centre = match rng.random_range(0..100) {
        0..=24 => 8.0,
        25..=44 => 12.5,
        45..=84 => 20.0,
        _ => 23.0,
    };
    centre + 0.75 * standard_normal(rng)
}

/// A standard normal draw (Box-Muller).
pub(super) fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}
