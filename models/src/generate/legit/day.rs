//! One day of a person's life: how many sessions, when, from which device and
//! network, and what happens in each (see the parent module).

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;

use super::super::world::CITIES;
use super::super::{Client, DAY, Gen, agents, exponential, poisson, secs};
use super::{
    Device, Errand, P_CONTACT, P_FORGET, P_NEW_ADDRESS, P_NEW_DEVICE, Person, Trip, fresh_id,
    new_device, standard_normal,
};
use crate::dataset::{Kind, Label};

impl Person {
    /// One day of the person's life.
    pub(super) fn live(
        &mut self,
        g: &mut Gen<'_>,
        day: u32,
        times: &mut Vec<i64>,
        rng: &mut ChaCha20Rng,
    ) {
        if rng.random_bool(P_NEW_ADDRESS) {
            self.household = rng.random();
        }
        if rng.random_bool(P_NEW_DEVICE) {
            self.replace_device(day, rng);
        }
        let trip = self
            .trips
            .iter()
            .find(|t| (t.from..t.to).contains(&day))
            .copied();
        let here = trip.map_or(self.home, |t| t.city);
        let midnight = g.start + i64::from(day) * DAY
            - i64::from(CITIES[usize::from(here)].utc_offset_min) * 60;
        let weekend = (g.start.div_euclid(DAY) + i64::from(day) + 3).rem_euclid(7) >= 5;
        let mut lambda = self.rate * if weekend { self.weekend } else { 1.0 };
        if trip.is_some() {
            lambda *= 0.7;
        }
        let forgot = rng.random_bool(P_FORGET);
        let change = rng.random_bool(P_CONTACT);
        let sessions = poisson(lambda, rng).max(u32::from(forgot || change));
        times.clear();
        for _ in 0..sessions {
            let peak = self.peaks[usize::from(rng.random_bool(self.second_peak))];
            let hour = peak + self.spread * standard_normal(rng) + if weekend { 1.5 } else { 0.0 };
            times.push(secs(hour.rem_euclid(24.0) * 3600.0));
        }
        times.sort_unstable();
        for (i, &local) in times.iter().enumerate() {
            let errand = match i {
                0 if forgot => Errand::Forgot,
                i if change && i + 1 == times.len() => Errand::ChangeContact,
                _ => Errand::SignIn,
            };
            let office = !weekend && (8 * 3600..18 * 3600).contains(&local);
            self.session(g, midnight + local, day, trip, office, errand, rng);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn session(
        &mut self,
        g: &mut Gen<'_>,
        at: i64,
        day: u32,
        trip: Option<Trip>,
        office: bool,
        errand: Errand,
        rng: &mut ChaCha20Rng,
    ) {
        // Phones a little more often; on trips only what fits in a bag.
        let weight = |d: &Device| match (trip.is_some() && !d.portable, d.phone) {
            (true, _) => 0,
            (false, true) => 3,
            (false, false) => 2,
        };
        let total: u32 = self.devices.iter().map(weight).sum();
        let mut roll = rng.random_range(0..total.max(1));
        let pick = self
            .devices
            .iter()
            .position(|d| {
                let this = roll < weight(d);
                roll = roll.saturating_sub(weight(d));
                this
            })
            .unwrap_or(0);
        let roll: f64 = rng.random();
        let cookie = if roll < 0.006 {
            self.devices[pick].id = fresh_id(rng); // cookies cleared: a new id from now on
            0
        } else if roll < 0.016 {
            0 // a private window
        } else {
            self.devices[pick].id
        };
        let device = self.devices[pick];
        let ua = g.agents.of(
            device.family,
            agents::version_on(device.family, device.born, device.lag, day, g.days),
        );
        let client = self.client(g, device, cookie, ua, trip, office, rng);
        let user = self.user;
        let push = |g: &mut Gen<'_>, at: i64, kind, success, rng: &mut ChaCha20Rng| {
            g.push(user, at, kind, success, Label::Legit, &client, rng);
        };
        let mut t = at;
        match errand {
            Errand::SignIn => {
                let typos = match rng.random_range(0..100) {
                    0..=1 => 2,
                    2..=5 => 1,
                    _ => 0,
                };
                for _ in 0..typos {
                    push(g, t, Kind::Login, false, rng);
                    t += rng.random_range(4..40);
                }
                push(g, t, Kind::Login, true, rng);
            }
            Errand::Forgot => {
                let tries = if rng.random_bool(0.4) {
                    0
                } else {
                    rng.random_range(1..=4)
                };
                for _ in 0..tries {
                    push(g, t, Kind::Login, false, rng);
                    t += rng.random_range(8..60);
                }
                t += rng.random_range(20..240);
                let done = rng.random_bool(0.93);
                push(g, t, Kind::Reset, done, rng);
                if done {
                    push(g, t + rng.random_range(60..600), Kind::Login, true, rng);
                }
            }
            Errand::ChangeContact => {
                push(g, t, Kind::Login, true, rng);
                t += secs(exponential(180.0, rng)) + 30;
                push(g, t, Kind::ContactChange, true, rng);
            }
        }
    }

    /// Where this session connects from.
    #[allow(clippy::too_many_arguments)]
    fn client(
        &self,
        g: &Gen<'_>,
        device: Device,
        cookie: u64,
        ua: u16,
        trip: Option<Trip>,
        office: bool,
        rng: &mut ChaCha20Rng,
    ) -> Client {
        let w = g.world;
        let here = trip.map_or(self.home, |t| t.city);
        if let Some((net, site)) = self.vpn
            && rng.random_bool(0.5)
        {
            let site = if rng.random_bool(0.7) {
                site
            } else {
                *w.served[usize::from(net)].choose(rng).expect("sites")
            };
            return g.client(
                net,
                site,
                w.ipv4(net, site, rng.random()),
                ua,
                cookie,
                here,
                rng,
            );
        }
        let (net, city, ip) = match trip {
            // Roaming is home-routed: the address is the home carrier's, placed at home.
            Some(t) if device.phone && rng.random_bool(0.45) => {
                let city = if t.abroad { self.home } else { t.city };
                (self.mobile, city, w.ipv4(self.mobile, city, rng.random()))
            }
            Some(t) => (t.wifi.0, t.city, w.ipv4(t.wifi.0, t.city, t.wifi.1)),
            None => match self.work {
                Some((net, host)) if office && !device.phone && rng.random_bool(0.7) => {
                    (net, self.home, w.ipv4(net, self.home, host))
                }
                _ if device.phone && rng.random_bool(0.35) => (
                    self.mobile,
                    self.home,
                    w.ipv4(self.mobile, self.home, rng.random()),
                ),
                _ => {
                    let v6 = self
                        .household6
                        .filter(|_| rng.random_bool(0.6))
                        .and_then(|h| w.ipv6(self.fixed, self.home, h, rng.random()));
                    let ip = v6.unwrap_or_else(|| w.ipv4(self.fixed, self.home, self.household));
                    (self.fixed, self.home, ip)
                }
            },
        };
        g.client(net, city, ip, ua, cookie, here, rng)
    }

    /// A new phone or computer, usually of the same brand as the one it replaces.
    fn replace_device(&mut self, day: u32, rng: &mut ChaCha20Rng) {
        let phone = rng.random_bool(0.6);
        let old = self.devices.iter().position(|d| d.phone == phone);
        let mut device = new_device(phone, day, 0, rng);
        match old {
            Some(i) => {
                if rng.random_bool(0.75) {
                    device.family = self.devices[i].family;
                }
                self.devices[i] = device;
            }
            None if self.devices.len() < 3 => self.devices.push(device),
            None => self.devices[0] = device,
        }
    }
}
