//! [`risk::Signals`] → a fixed vector of numbers: the one code path that both
//! training and serving go through, so the model sees at serving time exactly
//! what it was trained on.
//!
//! Every feature is a plain function of the signals and the attempt's time; a
//! lookup that found nothing gives the feature's neutral value (unknown is never
//! risky on its own, as in `risk`). Counts and durations go through `log1p` so
//! that a burst of 1 000 attempts is a few units away from 1, not a thousand: the
//! estimators measure distances and a raw count would drown everything else.
//! Hours and weekdays are cyclic (sin, cos), so 23:59 sits next to 00:00; they
//! are taken at the *local solar* time of the client's location (UTC + longitude
//! / 15 h) when the address was located, which makes "three in the morning" mean
//! the same for an account in Tokyo and one in Paris without a time-zone database.
//!
//! | # | name | value |
//! |---|---|---|
//! | 0, 1 | `hour_sin`, `hour_cos` | sin, cos of 2π·h/24, h = local solar hour of day (fractional) |
//! | 2, 3 | `weekday_sin`, `weekday_cos` | sin, cos of 2π·w/7, w = days since Monday 00:00 local solar time (fractional, 0..7) |
//! | 4 | `log_km_from_usual` | ln(1 + effective km to the nearest usual location) ([`risk::travel::nearest_usual`]); 0 when the location or the usual places are unknown |
//! | 5 | `new_country` | 1 when the account has history, the country is known and not among its countries (ASCII case ignored) |
//! | 6 | `new_asn` | 1 when the account has history, the ASN is known and not among its ASNs |
//! | 7 | `new_browser` | 1 when the account has history, the UA family is known and not among its browsers |
//! | 8 | `new_device` | 1 when the account has history and no device cookie bound to it was presented |
//! | 9 | `no_history` | 1 when the account has no successes on record (`events == 0`) |
//! | 10–18 | `log_<counter>` | ln(1 + counter) for each [`risk::Velocity`] counter, in [`risk::VelocitySignal::ALL`] order |
//! | 19 | `anon_tor` | 1 for a Tor exit |
//! | 20 | `anon_vpn` | 1 for a VPN exit |
//! | 21 | `anon_hosting` | 1 for a hosting provider or data centre |
//! | 22 | `anon_proxy` | 1 for a residential or public proxy |
//! | 23 | `automation` | 1 when the request shows automation markers |
//! | 24 | `log_hours_since_success` | ln(1 + hours since the last success), capped at one year; one year when there is none; 0 for a success in the future |
//! | 25 | `contact_change_recency` | exp(−age / 7 days) of the last phone/e-mail change (1 = just now or in the future); 0 when none |
//! | 26 | `history_log10_lr` | [`risk::history::log10_ratio`] clamped to ±10; 0 without Freeman counts |
//!
//! Novelty features follow `risk`'s novelty signals exactly (see `risk::context`):
//! they fire only for an account with history, so a first reset is not "new
//! everything"; `no_history` tells the model which case it is in.
//!
//! The list is versioned: [`SCHEMA`] names the features in order and
//! [`SCHEMA_VERSION`] changes whenever a definition changes without its name
//! changing. A saved model records both and is refused by a build whose features
//! differ (`crate::model::load`).
//!
//! [`features`] does not allocate: it runs for every reset attempt, inside the
//! scoring budget.

use std::f64::consts::TAU;
use std::time::SystemTime;

use risk::Signals;
use risk::history::log10_ratio;
use risk::travel::{is_valid, nearest_usual};

/// Bump when a feature's definition changes without its name changing.
pub const SCHEMA_VERSION: u32 = 1;

/// The feature names, in vector order.
pub const SCHEMA: &[&str] = &[
    "hour_sin",
    "hour_cos",
    "weekday_sin",
    "weekday_cos",
    "log_km_from_usual",
    "new_country",
    "new_asn",
    "new_browser",
    "new_device",
    "no_history",
    "log_account_attempts_1h",
    "log_account_attempts_24h",
    "log_address_attempts_1h",
    "log_account_failures_1h",
    "log_address_failures_1h",
    "log_subnet_attempts_1h",
    "log_asn_attempts_1h",
    "log_address_accounts_1h",
    "log_asn_accounts_1h",
    "anon_tor",
    "anon_vpn",
    "anon_hosting",
    "anon_proxy",
    "automation",
    "log_hours_since_success",
    "contact_change_recency",
    "history_log10_lr",
];

/// The number of features.
pub const N: usize = SCHEMA.len();

/// Hours since the last success are capped here (one year); no success at all
/// reads as this too.
pub const MAX_HOURS_SINCE_SUCCESS: f64 = 365.0 * 24.0;

/// The time constant of `contact_change_recency`, in seconds (7 days).
pub const CONTACT_CHANGE_TAU_SECS: f64 = 7.0 * 86_400.0;

/// `history_log10_lr` is clamped to `±` this.
pub const MAX_ABS_LOG10_LR: f64 = 10.0;

const DAY_SECS: f64 = 86_400.0;

/// The position of the feature called `name` in [`SCHEMA`].
pub fn index(name: &str) -> Option<usize> {
    SCHEMA.iter().position(|n| *n == name)
}

/// The feature vector of one attempt at `now` (see the module table).
pub fn features(signals: &Signals, now: SystemTime) -> [f64; N] {
    let (geo, device, history, v) = (
        &signals.geo,
        &signals.device,
        &signals.history,
        &signals.velocity,
    );
    let location = geo.location.filter(is_valid);
    // Local solar time: 15° of longitude per hour east of Greenwich.
    let local_secs = unix_secs(now) + location.map_or(0.0, |at| at.lon / 15.0 * 3_600.0);
    let hour = local_secs.rem_euclid(DAY_SECS) / DAY_SECS * TAU;
    // 1970-01-01 was a Thursday: Monday 00:00 is 3 days earlier.
    let week = ((local_secs / DAY_SECS + 3.0).rem_euclid(7.0)) / 7.0 * TAU;
    let km = location
        .and_then(|at| nearest_usual(&at, &history.usual_locations))
        .map_or(0.0, |(km, _)| km.ln_1p());

    let seen = history.events > 0;
    let new_country = seen
        && geo
            .country
            .as_deref()
            .filter(|c| !c.is_empty())
            .is_some_and(|c| {
                !history
                    .known_countries
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(c))
            });
    let new_asn = seen && geo.asn.is_some_and(|a| !history.known_asns.contains(&a));
    let new_browser = seen
        && device
            .browser
            .as_deref()
            .filter(|b| !b.is_empty())
            .is_some_and(|b| {
                !history
                    .known_browsers
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(b))
            });
    let new_device = seen && !(device.known && device.has_cookie);

    let hours_since_success = history
        .last_success
        .map_or(MAX_HOURS_SINCE_SUCCESS, |last| {
            now.duration_since(last.at)
                .map_or(0.0, |d| d.as_secs_f64() / 3_600.0)
                .min(MAX_HOURS_SINCE_SUCCESS)
        });
    let contact_change = history.contact_changed_at.map_or(0.0, |at| {
        let age = now.duration_since(at).map_or(0.0, |d| d.as_secs_f64());
        (-age / CONTACT_CHANGE_TAU_SECS).exp()
    });
    let lr = if history.features.is_empty() {
        0.0
    } else {
        let lr = log10_ratio(&history.features);
        if lr.is_nan() {
            0.0
        } else {
            lr.clamp(-MAX_ABS_LOG10_LR, MAX_ABS_LOG10_LR)
        }
    };
    let anonymous = geo.anonymous;

    [
        hour.sin(),
        hour.cos(),
        week.sin(),
        week.cos(),
        km,
        flag(new_country),
        flag(new_asn),
        flag(new_browser),
        flag(new_device),
        flag(!seen),
        count(v.account_attempts_1h),
        count(v.account_attempts_24h),
        count(v.address_attempts_1h),
        count(v.account_failures_1h),
        count(v.address_failures_1h),
        count(v.subnet_attempts_1h),
        count(v.asn_attempts_1h),
        count(v.address_accounts_1h),
        count(v.asn_accounts_1h),
        flag(anonymous.tor),
        flag(anonymous.vpn),
        flag(anonymous.hosting),
        flag(anonymous.residential_proxy || anonymous.public_proxy),
        flag(device.automation),
        hours_since_success.ln_1p(),
        contact_change,
        lr,
    ]
}

/// Seconds since the Unix epoch, negative before it.
fn unix_secs(at: SystemTime) -> f64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

fn count(n: u32) -> f64 {
    f64::from(n).ln_1p()
}

#[cfg(test)]
mod tests;
