//! The policy's `[signals]` weights and `[travel]` limits, and how they are read.
//!
//! Every key is optional. A weight left out is 0, which disables its signal, so a
//! policy written before a signal existed keeps deciding as it did;
//! `contact_change_window` defaults to `"7d"`, `anomaly_from` to 0 and `[travel]`
//! to 900 km/h and 50 km.
//! Each weight is at most 100 (it is a number of points); `distance_max` must be
//! at least `distance_per_1000km` when that is set (as a rule's `max` is at least
//! its `weight`); a duration is a whole number and a unit, `s`, `m`, `h` or `d`
//! (`"30m"`, `"24h"`, `"7d"`), longer than zero.

use std::time::Duration;

use serde::Deserialize;

use crate::policy::PolicyError;
use crate::signals::AnonymousKind;
use crate::travel::TravelLimits;

/// The `[signals]` table: points each non-counter signal adds when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalWeights {
    /// The attempt's country is not among the account's known countries.
    pub new_country: u8,
    /// The attempt's ASN is not among the account's known ASNs.
    pub new_asn: u8,
    /// No device cookie, or one not bound to the account (account with history).
    pub new_device: u8,
    /// A UA family never seen on the account's successes.
    pub new_browser: u8,
    /// Automation markers in the request.
    pub automation: u8,
    /// A VPN exit.
    pub anonymous_vpn: u8,
    /// A Tor exit node.
    pub anonymous_tor: u8,
    /// A hosting provider or data centre.
    pub anonymous_hosting: u8,
    /// A residential proxy.
    pub anonymous_residential_proxy: u8,
    /// An open public proxy.
    pub anonymous_public_proxy: u8,
    /// Faster than `[travel] max_speed_kmh` since the last success.
    pub impossible_travel: u8,
    /// A phone or e-mail factor added or changed within `contact_change_window`.
    pub recent_contact_change: u8,
    /// How long after a contact change `recent_contact_change` fires.
    pub contact_change_window: Duration,
    /// Points per 1000 km from the nearest usual location, beyond 100 km.
    pub distance_per_1000km: u8,
    /// The most points `distance` adds.
    pub distance_max: u8,
    /// The most points the Freeman likelihood ratio adds.
    pub history_lr: u8,
    /// Points at an anomaly score of 0.999 or more; see [`Self::anomaly_share`].
    pub anomaly: u8,
    /// The anomaly score below which the model adds nothing, in ten-thousandths
    /// (`anomaly_from = 0.9` is 9000): the model's score is its training
    /// distribution's CDF, so without a floor the median attempt would add half
    /// the weight. [`Self::anomaly_share`] applies it.
    pub anomaly_from: u16,
}

impl Default for SignalWeights {
    /// Every signal disabled; a 7-day contact-change window.
    fn default() -> Self {
        Self {
            new_country: 0,
            new_asn: 0,
            new_device: 0,
            new_browser: 0,
            automation: 0,
            anonymous_vpn: 0,
            anonymous_tor: 0,
            anonymous_hosting: 0,
            anonymous_residential_proxy: 0,
            anonymous_public_proxy: 0,
            impossible_travel: 0,
            recent_contact_change: 0,
            contact_change_window: DEFAULT_CONTACT_CHANGE_WINDOW,
            distance_per_1000km: 0,
            distance_max: 0,
            history_lr: 0,
            anomaly: 0,
            anomaly_from: 0,
        }
    }
}

/// The tail (`1 − anomaly score`) at which the anomaly weight is earned in
/// full: 1 in 1,000.
pub const ANOMALY_FULL_TAIL: f64 = 1e-3;

/// `contact_change_window` when the policy leaves it out: 7 days.
pub const DEFAULT_CONTACT_CHANGE_WINDOW: Duration = Duration::from_hours(7 * 24);

impl SignalWeights {
    /// The share of [`Self::anomaly`] an anomaly score earns. The score is the
    /// share of the model's training attempts less unusual, so what matters
    /// is its tail, `1 − score` ("1 in 100", "1 in 1,000"): nothing up to
    /// `anomaly_from`, then growing with the logarithm of the tail's rarity,
    /// all of it at a tail of 1 in 1,000 ([`ANOMALY_FULL_TAIL`]) or rarer. With
    /// `anomaly_from = 0.9`: 0.95 earns 15 %, 0.99 half, 0.999 all. A linear
    /// scale would spend its range where ordinary attempts live and squeeze
    /// the rare ones, where takeovers are, into its last few points.
    /// Out-of-range scores are clamped to `[0, 1]`; NaN earns nothing.
    pub fn anomaly_share(&self, score: f64) -> f64 {
        if score.is_nan() {
            return 0.0;
        }
        let from_tail = (1.0 - f64::from(self.anomaly_from) / 10_000.0).max(ANOMALY_FULL_TAIL);
        let tail = (1.0 - score.clamp(0.0, 1.0)).max(ANOMALY_FULL_TAIL);
        let span = (from_tail / ANOMALY_FULL_TAIL).log10();
        if span <= 0.0 {
            // `anomaly_from` at or past 0.999: all or nothing.
            return if tail <= ANOMALY_FULL_TAIL { 1.0 } else { 0.0 };
        }
        ((from_tail / tail).log10() / span).clamp(0.0, 1.0)
    }

    /// The weight of `anonymous_<kind>`.
    pub fn anonymous(&self, kind: AnonymousKind) -> u8 {
        match kind {
            AnonymousKind::Vpn => self.anonymous_vpn,
            AnonymousKind::Tor => self.anonymous_tor,
            AnonymousKind::Hosting => self.anonymous_hosting,
            AnonymousKind::ResidentialProxy => self.anonymous_residential_proxy,
            AnonymousKind::PublicProxy => self.anonymous_public_proxy,
        }
    }
}

/// The `[signals]` table as written. Numbers are read wide so that an
/// out-of-range value is reported against its key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSignals {
    new_country: u32,
    new_asn: u32,
    new_device: u32,
    new_browser: u32,
    automation: u32,
    anonymous_vpn: u32,
    anonymous_tor: u32,
    anonymous_hosting: u32,
    anonymous_residential_proxy: u32,
    anonymous_public_proxy: u32,
    impossible_travel: u32,
    recent_contact_change: u32,
    contact_change_window: Option<String>,
    distance_per_1000km: u32,
    distance_max: u32,
    history_lr: u32,
    anomaly: u32,
    anomaly_from: Option<f64>,
}

impl RawSignals {
    pub(crate) fn validate(self) -> Result<SignalWeights, PolicyError> {
        let weight = |name: &str, value: u32| {
            u8::try_from(value)
                .ok()
                .filter(|&v| v <= 100)
                .ok_or_else(|| {
                    PolicyError::invalid(
                        format!("signals.{name}"),
                        format!("must be at most 100, is {value}"),
                    )
                })
        };
        let contact_change_window = match &self.contact_change_window {
            None => DEFAULT_CONTACT_CHANGE_WINDOW,
            Some(text) => parse_duration(text).map_err(|problem| {
                PolicyError::invalid("signals.contact_change_window", problem)
            })?,
        };
        let weights = SignalWeights {
            new_country: weight("new_country", self.new_country)?,
            new_asn: weight("new_asn", self.new_asn)?,
            new_device: weight("new_device", self.new_device)?,
            new_browser: weight("new_browser", self.new_browser)?,
            automation: weight("automation", self.automation)?,
            anonymous_vpn: weight("anonymous_vpn", self.anonymous_vpn)?,
            anonymous_tor: weight("anonymous_tor", self.anonymous_tor)?,
            anonymous_hosting: weight("anonymous_hosting", self.anonymous_hosting)?,
            anonymous_residential_proxy: weight(
                "anonymous_residential_proxy",
                self.anonymous_residential_proxy,
            )?,
            anonymous_public_proxy: weight("anonymous_public_proxy", self.anonymous_public_proxy)?,
            impossible_travel: weight("impossible_travel", self.impossible_travel)?,
            recent_contact_change: weight("recent_contact_change", self.recent_contact_change)?,
            contact_change_window,
            distance_per_1000km: weight("distance_per_1000km", self.distance_per_1000km)?,
            distance_max: weight("distance_max", self.distance_max)?,
            history_lr: weight("history_lr", self.history_lr)?,
            anomaly: weight("anomaly", self.anomaly)?,
            anomaly_from: match self.anomaly_from {
                None => 0,
                Some(from) if (0.0..1.0).contains(&from) => {
                    // In [0, 1): at most 9999.99…, rounded to at most 10000.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let from = (from * 10_000.0).round().min(9_999.0) as u16;
                    from
                }
                Some(from) => {
                    return Err(PolicyError::invalid(
                        "signals.anomaly_from",
                        format!("must be at least 0 and less than 1, is {from}"),
                    ));
                }
            },
        };
        if weights.distance_max < weights.distance_per_1000km {
            return Err(PolicyError::invalid(
                "signals.distance_max",
                format!(
                    "must be at least distance_per_1000km ({}), is {}",
                    weights.distance_per_1000km, weights.distance_max
                ),
            ));
        }
        Ok(weights)
    }
}

/// The `[travel]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTravel {
    max_speed_kmh: Option<u32>,
    min_distance_km: Option<u32>,
}

/// Half the Earth's circumference, rounded down: no two places are farther apart.
const HALF_CIRCUMFERENCE_KM: u32 = 20_015;

impl RawTravel {
    pub(crate) fn validate(self) -> Result<TravelLimits, PolicyError> {
        let defaults = TravelLimits::default();
        let max_speed_kmh = self.max_speed_kmh.unwrap_or(defaults.max_speed_kmh);
        let min_distance_km = self.min_distance_km.unwrap_or(defaults.min_distance_km);
        if max_speed_kmh == 0 {
            return Err(PolicyError::invalid(
                "travel.max_speed_kmh",
                "must be greater than 0",
            ));
        }
        if min_distance_km > HALF_CIRCUMFERENCE_KM {
            return Err(PolicyError::invalid(
                "travel.min_distance_km",
                format!(
                    "must be at most {HALF_CIRCUMFERENCE_KM} (no two places are farther apart), \
                     is {min_distance_km}"
                ),
            ));
        }
        Ok(TravelLimits {
            max_speed_kmh,
            min_distance_km,
        })
    }
}

/// Parses `"7d"`, `"24h"`, `"30m"` or `"90s"`: a whole number and one unit, > 0.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let refuse = || {
        format!(
            "\"{text}\" is not a duration: write a whole number and a unit, s, m, h or d \
             (e.g. \"7d\", \"24h\", \"30m\")"
        )
    };
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(refuse)?;
    let (number, unit) = text.split_at(unit_at);
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(refuse()),
    };
    let number: u64 = number.parse().map_err(|_| refuse())?;
    let seconds = number
        .checked_mul(seconds_per_unit)
        .ok_or_else(|| format!("\"{text}\" is too long"))?;
    if seconds == 0 {
        return Err(format!("\"{text}\" must be longer than 0"));
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_whole_number_and_one_unit() {
        let ok = [
            ("7d", 7 * 86_400),
            ("24h", 86_400),
            ("30m", 1_800),
            ("90s", 90),
            ("1d", 86_400),
        ];
        for (text, secs) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        let refused = [
            "", "7", "d", "7 d", "7days", "1.5h", "-1h", "7D", "1h30m", "+7d", "7d ",
        ];
        for text in refused {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("is not a duration"), "{text:?}: {err}");
        }
        assert_eq!(
            parse_duration("0d").unwrap_err(),
            "\"0d\" must be longer than 0"
        );
        assert_eq!(
            parse_duration("99999999999999999999d").unwrap_err(),
            "\"99999999999999999999d\" is not a duration: write a whole number and a unit, s, \
             m, h or d (e.g. \"7d\", \"24h\", \"30m\")"
        );
        assert_eq!(
            parse_duration("999999999999999999d").unwrap_err(),
            "\"999999999999999999d\" is too long"
        );
    }

    #[test]
    fn left_out_keys_disable_their_signals() {
        let weights = RawSignals::default().validate().unwrap();
        assert_eq!(weights, SignalWeights::default());
        assert_eq!(weights.contact_change_window, Duration::from_hours(168));
        let travel = RawTravel::default().validate().unwrap();
        assert_eq!(travel, TravelLimits::default());
        assert_eq!((travel.max_speed_kmh, travel.min_distance_km), (900, 50));
    }

    #[test]
    fn anonymous_weights_follow_their_kind() {
        let weights = SignalWeights {
            anonymous_vpn: 1,
            anonymous_tor: 2,
            anonymous_hosting: 3,
            anonymous_residential_proxy: 4,
            anonymous_public_proxy: 5,
            ..SignalWeights::default()
        };
        assert_eq!(
            AnonymousKind::ALL.map(|k| weights.anonymous(k)),
            [1, 2, 3, 4, 5]
        );
    }
}
