//! Attackers who know the password or hold the phone: targeted and naive
//! takeovers, SIM swaps (see the parent module for what each looks like).

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;

use super::super::agents::{self, COMMON};
use super::super::legit::{Profile, fresh_id};
use super::super::world::{Access, CITIES, networks};
use super::super::{DAY, Gen, RESIDENTIAL_PROXY, exponential, secs};
use super::{browser, datacentre, day_of, night_in, pick, residential, some_time};
use crate::dataset::{Kind, Label};

pub(super) fn targeted(g: &mut Gen<'_>, profiles: &[Profile], rng: &mut ChaCha20Rng) {
    let (user, victim) = pick(profiles, rng);
    let country = CITIES[usize::from(victim.home)].country;
    let at = if rng.random_bool(0.7) {
        night_in(g, victim.home, rng)
    } else {
        some_time(g, DAY, rng)
    };
    let family = if rng.random_bool(0.7) {
        COMMON
    } else {
        victim.family
    };
    let ua = browser(g, family, day_of(g, at), rng);
    let mut client = match rng.random_range(0..100) {
        0..=69 => residential(g, country, Access::Fixed, ua, 0, rng),
        70..=84 => residential(g, country, Access::Mobile, ua, 0, rng),
        _ => {
            let mut c = residential(g, country, Access::Fixed, ua, 0, rng);
            c.anonymous |= RESIDENTIAL_PROXY;
            c
        }
    };
    if rng.random_bool(0.5) {
        // The victim's own city: same network block as their neighbours.
        let net = client.net;
        if g.world.served[usize::from(net)].contains(&victim.home) {
            client = g.client(
                net,
                victim.home,
                g.world.ipv4(net, victim.home, rng.random()),
                ua,
                0,
                victim.home,
                rng,
            );
        }
    }
    let label = Label::TargetedTakeover;
    let mut t = at;
    if rng.random_bool(0.7) {
        if rng.random_bool(0.2) {
            g.push(user, t, Kind::Login, false, label, &client, rng);
            t += rng.random_range(10..90);
        }
        g.push(user, t, Kind::Login, true, label, &client, rng);
        if rng.random_bool(0.25) {
            t += secs(exponential(300.0, rng)) + 30;
            g.push(user, t, Kind::ContactChange, true, label, &client, rng);
        }
    } else {
        // The password was changed since it leaked: try it, then reset.
        for _ in 0..rng.random_range(1..=2) {
            g.push(user, t, Kind::Login, false, label, &client, rng);
            t += rng.random_range(10..90);
        }
        g.push(
            user,
            t + rng.random_range(30..600),
            Kind::Reset,
            rng.random_bool(0.4),
            label,
            &client,
            rng,
        );
    }
}

pub(super) fn naive(g: &mut Gen<'_>, profiles: &[Profile], rng: &mut ChaCha20Rng) {
    let (user, victim) = pick(profiles, rng);
    let home = CITIES[usize::from(victim.home)].country;
    let at = some_time(g, DAY, rng);
    let ua = if rng.random_bool(0.2) {
        rng.random_range(g.agents.outdated.clone())
    } else {
        let family = agents::pick_family(rng.random_bool(0.3), rng);
        browser(g, family, day_of(g, at), rng)
    };
    let mut client = match rng.random_range(0..100) {
        0..=29 => datacentre(g, Access::Hosting, ua, rng),
        30..=54 => datacentre(g, Access::Vpn, ua, rng),
        55..=59 => datacentre(g, Access::Tor, ua, rng),
        _ => {
            let foreign: Vec<&str> = g
                .world
                .countries
                .iter()
                .map(|(code, _)| *code)
                .filter(|code| {
                    *code != home && networks(Access::Fixed, Some(code)).next().is_some()
                })
                .collect();
            let country = if rng.random_bool(0.5) {
                *["RU", "VN", "NG", "ID"].choose(rng).expect("origins")
            } else {
                *foreign.choose(rng).expect("other countries")
            };
            let access = if rng.random_bool(0.7) {
                Access::Fixed
            } else {
                Access::Mobile
            };
            residential(g, country, access, ua, 0, rng)
        }
    };
    client.device = fresh_id(rng);
    let label = Label::NaiveTakeover;
    let mut t = at;
    for _ in 0..rng.random_range(0..=2) {
        g.push(user, t, Kind::Login, false, label, &client, rng);
        t += rng.random_range(5..60);
    }
    g.push(user, t, Kind::Login, true, label, &client, rng);
    if rng.random_bool(0.3) {
        t += rng.random_range(60..1800);
        g.push(
            user,
            t,
            Kind::Reset,
            rng.random_bool(0.5),
            label,
            &client,
            rng,
        );
    }
    if rng.random_bool(0.15) {
        t += rng.random_range(60..1800);
        g.push(user, t, Kind::ContactChange, true, label, &client, rng);
    }
}

pub(super) fn sim_swap_attack(g: &mut Gen<'_>, profiles: &[Profile], rng: &mut ChaCha20Rng) {
    let (user, victim) = pick(profiles, rng);
    let country = CITIES[usize::from(victim.home)].country;
    let at = if rng.random_bool(0.5) {
        night_in(g, victim.home, rng)
    } else {
        some_time(g, DAY, rng)
    };
    let day = day_of(g, at);
    let label = Label::SimSwap;
    let ua = browser(g, COMMON, day, rng);
    let change = if rng.random_bool(0.5) {
        residential(g, country, Access::Fixed, ua, 0, rng)
    } else {
        let city = *g.world.served[usize::from(victim.mobile)]
            .choose(rng)
            .expect("cities");
        let ip = g.world.ipv4(victim.mobile, city, rng.random());
        g.client(victim.mobile, city, ip, ua, 0, city, rng)
    };
    g.push(user, at, Kind::ContactChange, true, label, &change, rng);
    // Hours later, from a new phone holding the victim's number.
    let phone = agents::pick_family(true, rng);
    let ua = browser(g, phone, day, rng);
    let city = *g.world.served[usize::from(victim.mobile)]
        .choose(rng)
        .expect("cities");
    let ip = g.world.ipv4(victim.mobile, city, rng.random());
    let reset = g.client(victim.mobile, city, ip, ua, fresh_id(rng), city, rng);
    let t = at + rng.random_range(1800..8 * 3600);
    let done = rng.random_bool(0.85);
    g.push(user, t, Kind::Reset, done, label, &reset, rng);
    if done {
        g.push(
            user,
            t + rng.random_range(60..1200),
            Kind::Login,
            true,
            label,
            &reset,
            rng,
        );
    }
}
