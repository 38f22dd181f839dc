//! Attackers who guess: credential stuffing and password spraying campaigns
//! (see the parent module for what each looks like).

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;

use super::super::agents::COMMON;
use super::super::legit::Profile;
use super::super::world::Access;
use super::super::{Client, DAY, Gen, PUBLIC_PROXY, RESIDENTIAL_PROXY, exponential, secs};
use super::{browser, datacentre, day_of, pick, residential, some_time};
use crate::dataset::{Kind, Label};

pub(super) fn stuffing_campaign(
    g: &mut Gen<'_>,
    profiles: &[Profile],
    left: usize,
    rng: &mut ChaCha20Rng,
) {
    let at = some_time(g, DAY, rng);
    let day = day_of(g, at);
    let uas: Vec<u16> = match rng.random_range(0..100) {
        0..=39 => vec![rng.random_range(g.agents.bots.clone())],
        40..=74 => vec![browser(g, COMMON, day, rng)],
        _ => (0..rng.random_range(3..=8))
            .map(|_| rng.random_range(g.agents.outdated.clone()))
            .collect(),
    };
    let pool: Vec<Client> = (0..rng.random_range(10..=80))
        .map(|_| match rng.random_range(0..100) {
            0..=39 => datacentre(g, Access::Hosting, uas[0], rng),
            40..=59 => {
                let country = *["BR", "IN", "ID", "VN", "RU"]
                    .choose(rng)
                    .expect("countries");
                let mut c = residential(g, country, Access::Fixed, uas[0], 0, rng);
                c.anonymous |= PUBLIC_PROXY;
                c
            }
            60..=89 => {
                let (country, _) = g.world.countries.choose(rng).expect("countries");
                let access = if rng.random_bool(0.7) {
                    Access::Fixed
                } else {
                    Access::Mobile
                };
                let mut c = residential(g, country, access, uas[0], 0, rng);
                c.anonymous |= RESIDENTIAL_PROXY;
                c
            }
            _ => datacentre(g, Access::Tor, uas[0], rng),
        })
        .collect();
    let targets = rng.random_range(150..=2500).min(left.max(30));
    let bursts = rng.random_range(1..=3);
    let gap = rng.random_range(0.5..6.0);
    let mut t = at;
    for target in 0..targets {
        if target % (targets / bursts + 1) == 0 && target > 0 {
            t += rng.random_range(3600..6 * 3600); // the next burst
        }
        let account =
            (!profiles.is_empty() && rng.random_bool(0.55)).then(|| pick(profiles, rng).0);
        let user = account.unwrap_or_else(|| g.names.fresh(rng));
        let tries = if rng.random_bool(0.15) { 2 } else { 1 };
        for _ in 0..tries {
            let mut client = *pool.choose(rng).expect("pool");
            client.ua = *uas.choose(rng).expect("user agents");
            let (kind, success) = if rng.random_bool(0.1) {
                (Kind::Reset, false)
            } else {
                (Kind::Login, account.is_some() && rng.random_bool(0.015))
            };
            g.push(user, t, kind, success, Label::Stuffing, &client, rng);
            t += secs(exponential(gap, rng));
        }
    }
}

pub(super) fn spraying_campaign(
    g: &mut Gen<'_>,
    profiles: &[Profile],
    left: usize,
    rng: &mut ChaCha20Rng,
) {
    let rounds = rng.random_range(1..=3);
    let per_round = rng.random_range(100..=600).min((left / rounds).max(20));
    let span = i64::try_from(rounds).unwrap_or(3) * DAY * 2;
    let mut t = some_time(g, span, rng);
    let ua = match rng.random_range(0..100) {
        0..=49 => browser(g, COMMON, day_of(g, t), rng),
        50..=69 => rng.random_range(g.agents.outdated.clone()),
        _ => rng.random_range(g.agents.bots.clone()),
    };
    let access = match rng.random_range(0..100) {
        0..=49 => Access::Hosting,
        50..=79 => Access::Vpn,
        _ => Access::Tor,
    };
    let first = datacentre(g, access, ua, rng);
    let pool: Vec<Client> = (0..rng.random_range(1..=5))
        .map(|_| {
            let city = *g.world.served[usize::from(first.net)]
                .choose(rng)
                .expect("sites");
            let ip = g.world.ipv4(first.net, city, rng.random());
            g.client(first.net, city, ip, ua, 0, city, rng)
        })
        .collect();
    let gap = rng.random_range(20.0..240.0);
    for _ in 0..rounds {
        for _ in 0..per_round {
            let account = rng.random_bool(0.9).then(|| pick(profiles, rng).0);
            let user = account.unwrap_or_else(|| g.names.fresh(rng));
            let client = *pool.choose(rng).expect("pool");
            let success = account.is_some() && rng.random_bool(0.004);
            g.push(user, t, Kind::Login, success, Label::Spraying, &client, rng);
            t += secs(exponential(gap, rng)) + 1;
        }
        t += rng.random_range(6 * 3600..30 * 3600);
    }
}
