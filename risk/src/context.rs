//! The context signals: every `[signals]` weight applied to geo, device, history
//! and the anomaly score (the counters are [`crate::rules`]' business).
//!
//! | code | fires when | points |
//! |---|---|---|
//! | `new_country` | history, country known, not among `known_countries` | weight |
//! | `new_asn` | history, ASN known, not among `known_asns` | weight |
//! | `new_device` | history, and no device cookie, or one not bound to the account | weight |
//! | `new_browser` | history, UA family known, not among `known_browsers` | weight |
//! | `automation` | `device.automation` | weight |
//! | `anonymous_<kind>` | that flag of `geo.anonymous` | weight, per flag |
//! | `impossible_travel` | see [`crate::travel`] | weight |
//! | `distance` | nearest usual location > 100 km away | `distance_per_1000km` per 1000 km beyond, ≤ `distance_max` |
//! | `recent_contact_change` | `contact_changed_at` within `contact_change_window` (or in the future) | weight |
//! | `history_lr` | see [`crate::history`] | up to weight |
//! | `anomaly` | `anomaly` is a number (always explained, 0 points too) | weight × `SignalWeights::anomaly_share` (0 up to `anomaly_from`, then log-scaled in the tail's rarity, all at 0.999) |
//!
//! "History" means `history.events > 0`: an account with none has nothing to be
//! new against. Country and browser names compare without regard to ASCII case.
//! A weight of 0 disables its signal, and a signal whose points round to 0 leaves
//! no reason. Every signal here can only add points, so a riskier value never
//! lowers the score.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::history;
use crate::reason::{Centi, Elapsed, Km, Listed, Place, Reason, sentence, whole};
use crate::signals::{AnonymousKind, Signals};
use crate::travel::{self, HOME_RADIUS_KM, TravelLimits};
use crate::weights::SignalWeights;

/// Adds a reason for every context signal that fires to `reasons`, and returns the
/// sum of their points (not yet capped at 100).
pub fn score(
    weights: &SignalWeights,
    travel: TravelLimits,
    signals: &Signals,
    now: SystemTime,
    reasons: &mut Vec<Reason>,
) -> u32 {
    let before = reasons.len();
    novelty(weights, signals, reasons);
    device_and_network(weights, signals, reasons);
    places(weights, travel, signals, now, reasons);
    let history = &signals.history;
    if weights.recent_contact_change > 0
        && let Some(changed) = history.contact_changed_at
    {
        let age = now.duration_since(changed).unwrap_or(Duration::ZERO);
        if age < weights.contact_change_window {
            reasons.push(Reason::new(
                "recent_contact_change",
                weights.recent_contact_change,
                sentence(format_args!(
                    "a phone or e-mail factor was added or changed {} ago, within the {} \
                     window (a SIM swap or account takeover shows this way)",
                    Elapsed(age),
                    Window(weights.contact_change_window)
                )),
            ));
        }
    }
    reasons.extend(history::score(weights.history_lr, history));
    if let Some(anomaly) = signals.anomaly.filter(|a| !a.is_nan()) {
        // Always explained when the model answered, with 0 points too: which
        // model scored the attempt, and how far it is from adding anything.
        let share = anomaly.clamp(0.0, 1.0);
        let points = u8::try_from(whole(
            f64::from(weights.anomaly) * weights.anomaly_share(share),
        ))
        .unwrap_or(weights.anomaly);
        let model = signals.anomaly_model.as_deref().unwrap_or("(unnamed)");
        reasons.push(Reason::new(
            "anomaly",
            points,
            sentence(format_args!(
                "the anomaly model {model} scores this attempt {} (the share of its training \
                 attempts less unusual; none up to {}, {} points from 0.999)",
                Centi(share),
                Centi(f64::from(weights.anomaly_from) / 10_000.0),
                weights.anomaly,
            )),
        ));
    }
    reasons[before..]
        .iter()
        .map(|reason| u32::from(reason.weight))
        .sum()
}

fn novelty(weights: &SignalWeights, signals: &Signals, reasons: &mut Vec<Reason>) {
    let (history, geo, device) = (&signals.history, &signals.geo, &signals.device);
    if history.events == 0 {
        return;
    }
    if weights.new_country > 0
        && let Some(country) = geo.country.as_deref().filter(|c| !c.is_empty())
        && !history
            .known_countries
            .iter()
            .any(|c| c.eq_ignore_ascii_case(country))
    {
        reasons.push(Reason::new(
            "new_country",
            weights.new_country,
            sentence(format_args!(
                "{country} is new for this account (its past successes came from: {})",
                Listed(&history.known_countries, SHOWN, "")
            )),
        ));
    }
    if weights.new_asn > 0
        && let Some(asn) = geo.asn
        && !history.known_asns.contains(&asn)
    {
        reasons.push(Reason::new(
            "new_asn",
            weights.new_asn,
            sentence(format_args!(
                "AS{asn} is new for this account (its past successes came from: {})",
                Listed(&history.known_asns, SHOWN, "AS")
            )),
        ));
    }
    if weights.new_device > 0 && !(device.known && device.has_cookie) {
        let what = if device.has_cookie {
            "the device cookie presented is not bound to this account"
        } else {
            "no device cookie (a first visit, or cookies cleared)"
        };
        reasons.push(Reason::new(
            "new_device",
            weights.new_device,
            sentence(format_args!(
                "{what}; the account has {} past success{}",
                history.events,
                if history.events == 1 { "" } else { "es" }
            )),
        ));
    }
    if weights.new_browser > 0
        && let Some(browser) = device.browser.as_deref().filter(|b| !b.is_empty())
        && !history
            .known_browsers
            .iter()
            .any(|b| b.eq_ignore_ascii_case(browser))
    {
        reasons.push(Reason::new(
            "new_browser",
            weights.new_browser,
            sentence(format_args!(
                "{browser} is new for this account (its past successes used: {})",
                Listed(&history.known_browsers, SHOWN, "")
            )),
        ));
    }
}

fn device_and_network(weights: &SignalWeights, signals: &Signals, reasons: &mut Vec<Reason>) {
    let (geo, device) = (&signals.geo, &signals.device);
    if weights.automation > 0 && device.automation {
        let reported = device
            .browser
            .as_deref()
            .map_or_else(String::new, |b| format!("; browser reported: {b}"));
        reasons.push(Reason::new(
            "automation",
            weights.automation,
            sentence(format_args!(
                "the request shows automation markers (headless browser, webdriver, or an \
                 empty or implausible user agent){reported}"
            )),
        ));
    }
    for kind in AnonymousKind::ALL {
        let weight = weights.anonymous(kind);
        if weight > 0 && geo.anonymous.get(kind) {
            let what = kind.describe();
            let detail = match geo.ip {
                Some(ip) => sentence(format_args!("{ip} is {what} (Anonymous IP database)")),
                None => sentence(format_args!(
                    "the client address is {what} (Anonymous IP database)"
                )),
            };
            reasons.push(Reason::new(anonymous_code(kind), weight, detail));
        }
    }
}

fn places(
    weights: &SignalWeights,
    limits: TravelLimits,
    signals: &Signals,
    now: SystemTime,
    reasons: &mut Vec<Reason>,
) {
    let (geo, history) = (&signals.geo, &signals.history);
    let Some(current) = geo.location else {
        return;
    };
    if weights.impossible_travel > 0
        && let Some(last) = &history.last_success
        && let Some(journey) = travel::impossible_travel(limits, last, &current, now)
    {
        reasons.push(Reason::new(
            "impossible_travel",
            weights.impossible_travel,
            journey.detail(geo.country.as_deref(), limits),
        ));
    }
    if weights.distance_per_1000km > 0
        && let Some((distance, nearest)) = travel::nearest_usual(&current, &history.usual_locations)
    {
        let beyond = (distance - HOME_RADIUS_KM).max(0.0);
        let points = whole(f64::from(weights.distance_per_1000km) * beyond / 1_000.0)
            .min(u64::from(weights.distance_max));
        let points = u8::try_from(points).unwrap_or(weights.distance_max);
        if points > 0 {
            let usual = history.usual_locations.len();
            reasons.push(Reason::new(
                "distance",
                points,
                sentence(format_args!(
                    "{} from the nearest of the account's {usual} usual location{}, {} \
                     ({} per 1,000 km beyond {}, at most {})",
                    Km(distance),
                    if usual == 1 { "" } else { "s" },
                    Place(nearest),
                    weights.distance_per_1000km,
                    Km(HOME_RADIUS_KM),
                    weights.distance_max,
                )),
            ));
        }
    }
}

/// The reason code (and `[signals]` key) of an anonymiser kind.
fn anonymous_code(kind: AnonymousKind) -> &'static str {
    match kind {
        AnonymousKind::Vpn => "anonymous_vpn",
        AnonymousKind::Tor => "anonymous_tor",
        AnonymousKind::Hosting => "anonymous_hosting",
        AnonymousKind::ResidentialProxy => "anonymous_residential_proxy",
        AnonymousKind::PublicProxy => "anonymous_public_proxy",
    }
}

/// How many known values a novelty reason lists before "and N more".
const SHOWN: usize = 5;

/// A window as a policy writes it: `7 d`, `24 h`, `30 min`, `90 s`.
struct Window(Duration);

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        if secs.is_multiple_of(86_400) {
            write!(f, "{} d", secs / 86_400)
        } else if secs.is_multiple_of(3_600) {
            write!(f, "{} h", secs / 3_600)
        } else if secs.is_multiple_of(60) {
            write!(f, "{} min", secs / 60)
        } else {
            write!(f, "{secs} s")
        }
    }
}
