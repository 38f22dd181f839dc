//! Labelled attacks, mixed into the legitimate traffic.
//!
//! The attack share is a share of all events: with `L` legitimate events and
//! rate `r`, about `L·r/(1−r)` attack events are made, split by the
//! [`AttackMix`]; campaigns of a kind are added until its budget is spent, at
//! least one per kind.
//!
//! - **Targeted takeover**: the attacker knows the password and poses as the
//!   owner: a residential (sometimes mobile or residential-proxy) address in the
//!   victim's country, often their city; the most common browser or the
//!   victim's own; no device cookie; mostly at night, victim's time. Signs in,
//!   or after a stale password tries a reset; sometimes changes the phone.
//! - **Naive takeover**: the password from a leak, used from abroad: hosting,
//!   VPN, Tor or a foreign ISP; any browser, a new device cookie; any hour.
//! - **Credential stuffing**: a pool of hosting, public-proxy, residential-proxy
//!   and Tor addresses tries leaked pairs for many names (about half are not
//!   accounts here), one or two tries each, in fast bursts; one automation or
//!   browser user agent, or a rotation of outdated ones; ~1.5 % hit.
//! - **Password spraying**: one to five addresses of one hosting, VPN or Tor
//!   network try one password per round against hundreds of accounts, slowly
//!   (a try every 20 s to 4 min), rounds hours apart; a hit is rare.
//! - **SIM swap**: the victim's phone number is changed (a contact change from a
//!   residential or the victim's own carrier's address, no cookie), then within
//!   hours a reset from a new phone on the victim's carrier elsewhere in the
//!   country, then a sign-in with the new password.

mod guessing;
mod takeover;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha20Rng;

use super::agents;
use super::legit::Profile;
use super::world::{Access, CITIES, networks};
use super::{AttackMix, Client, DAY, Gen, GenerateConfig, to_u32};
use crate::dataset::Label;
use guessing::{spraying_campaign, stuffing_campaign};
use takeover::{naive, sim_swap_attack, targeted};

/// Adds the attacks to `g`, given `legit` legitimate events.
pub(super) fn all(
    g: &mut Gen<'_>,
    config: &GenerateConfig,
    profiles: &[Profile],
    legit: usize,
    rng: &mut ChaCha20Rng,
) {
    let rate = config.attack_rate.clamp(0.0, 0.9);
    if rate == 0.0 || legit == 0 || g.days == 0 {
        return;
    }
    let AttackMix {
        targeted_takeover,
        naive_takeover,
        stuffing,
        spraying,
        sim_swap,
    } = config.attack_mix;
    let kinds = [
        (Label::Stuffing, stuffing),
        (Label::Spraying, spraying),
        (Label::TargetedTakeover, targeted_takeover),
        (Label::NaiveTakeover, naive_takeover),
        (Label::SimSwap, sim_swap),
    ];
    let weights: f64 = kinds.iter().map(|(_, w)| w.max(0.0)).sum();
    if weights <= 0.0 {
        return;
    }
    #[allow(clippy::cast_precision_loss)] // event counts are far below 2^52
    let total = legit as f64 * rate / (1.0 - rate);
    for (label, weight) in kinds {
        if weight <= 0.0 || (profiles.is_empty() && label != Label::Stuffing) {
            continue;
        }
        let budget = to_u32(total * weight / weights).max(1) as usize;
        let before = g.events.len();
        for _ in 0..budget + 10 {
            // At most a third of the budget per campaign, so each kind has several.
            let left = (budget + before)
                .saturating_sub(g.events.len())
                .min(budget.div_ceil(3).max(30));
            match label {
                Label::Stuffing => stuffing_campaign(g, profiles, left, rng),
                Label::Spraying => spraying_campaign(g, profiles, left, rng),
                Label::TargetedTakeover => targeted(g, profiles, rng),
                Label::NaiveTakeover => naive(g, profiles, rng),
                _ => sim_swap_attack(g, profiles, rng),
            }
            if g.events.len() >= before + budget {
                break;
            }
        }
    }
}

/// A time in the period, leaving `span` seconds after it.
pub(super) fn some_time(g: &Gen<'_>, span: i64, rng: &mut ChaCha20Rng) -> i64 {
    let period = i64::from(g.days) * DAY;
    g.start + rng.random_range(0..(period - span).max(1))
}

/// A time between 01:00 and 05:00 in `city`.
pub(super) fn night_in(g: &Gen<'_>, city: u16, rng: &mut ChaCha20Rng) -> i64 {
    let day = i64::from(rng.random_range(0..g.days));
    let offset = i64::from(CITIES[usize::from(city)].utc_offset_min) * 60;
    g.start + day * DAY - offset + rng.random_range(3600..5 * 3600)
}

/// A client on a residential network (`access`) of `country`, in a random city of it.
pub(super) fn residential(
    g: &Gen<'_>,
    country: &str,
    access: Access,
    ua: u16,
    device: u64,
    rng: &mut ChaCha20Rng,
) -> Client {
    // Not every country has every kind of network: fall back to its other one.
    let mut nets: Vec<u16> = networks(access, Some(country)).collect();
    if nets.is_empty() {
        nets.extend(networks(Access::Fixed, Some(country)));
        nets.extend(networks(Access::Mobile, Some(country)));
    }
    if nets.is_empty() {
        nets.extend(networks(Access::Fixed, None));
    }
    let net = *nets.choose(rng).expect("networks");
    let city = *g.world.served[usize::from(net)]
        .choose(rng)
        .expect("cities");
    g.client(
        net,
        city,
        g.world.ipv4(net, city, rng.random()),
        ua,
        device,
        city,
        rng,
    )
}

/// A client at a random site of a random network of `access` (hosting, VPN, Tor).
pub(super) fn datacentre(g: &Gen<'_>, access: Access, ua: u16, rng: &mut ChaCha20Rng) -> Client {
    let nets: Vec<u16> = networks(access, None).collect();
    let net = *nets.choose(rng).expect("networks");
    let city = *g.world.served[usize::from(net)].choose(rng).expect("sites");
    g.client(
        net,
        city,
        g.world.ipv4(net, city, rng.random()),
        ua,
        0,
        city,
        rng,
    )
}

/// A browser a person would have on `day`: `family`, a release or two behind at most.
pub(super) fn browser(g: &Gen<'_>, family: u8, day: u32, rng: &mut ChaCha20Rng) -> u16 {
    let newest = agents::newest(family, day, g.days);
    g.agents
        .of(family, newest.saturating_sub(rng.random_range(0..2)))
}

pub(super) fn day_of(g: &Gen<'_>, at: i64) -> u32 {
    u32::try_from(((at - g.start) / DAY).max(0)).unwrap_or(0)
}

/// A random account and its profile.
pub(super) fn pick<'p>(profiles: &'p [Profile], rng: &mut ChaCha20Rng) -> (u32, &'p Profile) {
    let victim = &profiles[rng.random_range(0..profiles.len())];
    (victim.user, victim)
}
