//! Impossible travel and distance from the usual places, on GeoIP locations.
//!
//! Distances are great-circle distances by the haversine formula on a sphere of
//! the Earth's mean radius (6 371.0088 km, IUGG); the error against the ellipsoid
//! (< 0.5 %) is far below GeoIP's own. GeoIP places an address somewhere within
//! `accuracy_km` of its point (MaxMind's `accuracy_radius`), so two locations are
//! taken to be at least
//!
//! ```text
//! effective(a, b) = max(0, haversine(a, b) - a.accuracy_km - b.accuracy_km)
//! ```
//!
//! apart, never more: a coarse lookup (a country centroid with a 1 000 km radius)
//! never makes a journey look longer than it can have been.
//!
//! **Impossible travel** compares the attempt with the account's last success:
//! skipped when either location is missing or the effective distance is below
//! `[travel] min_distance_km`; otherwise speed = distance / hours since that
//! success (a distance with no time elapsed, or since a success in the future,
//! is infinitely fast; no distance is speed 0 however little time passed), and
//! it fires when the speed is above `[travel] max_speed_kmh` (900 km/h by default,
//! an airliner's cruising speed).
//!
//! **Distance** is the effective distance to the nearest of the account's usual
//! locations; the `distance` signal scores it beyond [`HOME_RADIUS_KM`].
//!
//! A location whose latitude or longitude is not a finite number in range counts
//! as missing; an accuracy that is not a finite, non-negative number counts as 0
//! (the strictest reading).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::reason::{Elapsed, Km, Place, Thousands, whole};
use crate::signals::{Location, PastEvent};

/// The Earth's mean radius in km (IUGG).
pub const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// Distances up to this far from a usual location add nothing (`distance` signal).
pub const HOME_RADIUS_KM: f64 = 100.0;

/// The `[travel]` table of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TravelLimits {
    /// Faster than this (km/h) between the last success and this attempt is impossible.
    pub max_speed_kmh: u32,
    /// Journeys shorter than this (effective km) are never impossible.
    pub min_distance_km: u32,
}

impl Default for TravelLimits {
    /// 900 km/h, 50 km.
    fn default() -> Self {
        Self {
            max_speed_kmh: 900,
            min_distance_km: 50,
        }
    }
}

/// Great-circle distance between two points, in km (accuracy not considered).
pub fn haversine_km(a: &Location, b: &Location) -> f64 {
    let (lat_a, lat_b) = (a.lat.to_radians(), b.lat.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.lon - a.lon).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// The least the two places can be apart given their accuracy radii, in km.
pub fn effective_km(a: &Location, b: &Location) -> f64 {
    (haversine_km(a, b) - accuracy(a) - accuracy(b)).max(0.0)
}

/// Whether GeoIP gave a usable point: finite latitude and longitude in range.
pub fn is_valid(at: &Location) -> bool {
    at.lat.is_finite() && at.lon.is_finite() && at.lat.abs() <= 90.0 && at.lon.abs() <= 180.0
}

fn accuracy(at: &Location) -> f64 {
    if at.accuracy_km.is_finite() && at.accuracy_km > 0.0 {
        at.accuracy_km
    } else {
        0.0
    }
}

/// A journey from the last success to this attempt that is too fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Travel {
    /// Where the last success came from.
    pub from: Location,
    /// Where this attempt comes from.
    pub to: Location,
    /// The effective distance, km.
    pub distance_km: f64,
    /// Time since the last success; zero when none elapsed (or it lies in the future).
    pub elapsed: Duration,
    /// Effective distance over elapsed time, km/h; infinite when no time elapsed.
    pub speed_kmh: f64,
}

/// The journey from `last` to `current` at `now`, if it is impossible under `limits`.
pub fn impossible_travel(
    limits: TravelLimits,
    last: &PastEvent,
    current: &Location,
    now: SystemTime,
) -> Option<Travel> {
    let from = last.location?;
    if !is_valid(&from) || !is_valid(current) {
        return None;
    }
    let distance_km = effective_km(&from, current);
    if distance_km < f64::from(limits.min_distance_km) {
        return None;
    }
    // Whole seconds: recorded events carry whole seconds, and the reason's text
    // must show the same elapsed time the speed was computed from.
    let elapsed = Duration::from_secs(now.duration_since(last.at).map_or(0, |d| d.as_secs()));
    let speed_kmh = if distance_km <= 0.0 {
        0.0
    } else if elapsed.is_zero() {
        f64::INFINITY
    } else {
        distance_km / (elapsed.as_secs_f64() / 3_600.0)
    };
    (speed_kmh > f64::from(limits.max_speed_kmh)).then_some(Travel {
        from,
        to: *current,
        distance_km,
        elapsed,
        speed_kmh,
    })
}

impl Travel {
    /// The sentence of an `impossible_travel` reason, e.g. `"51.51°N 0.13°W (±10 km)
    /// → 33.87°S 151.21°E (±10 km) AU: 16,970 km in 1 h 0 min = 16,970 km/h, above
    /// 900 km/h (since the last success; distance net of accuracy radii)"`.
    pub fn detail(&self, country: Option<&str>, limits: TravelLimits) -> String {
        let mut detail = String::with_capacity(200);
        // Writing to a String cannot fail.
        let _ = write!(detail, "{} → {}", Place(&self.from), Place(&self.to));
        if let Some(country) = country {
            let _ = write!(detail, " {country}");
        }
        let _ = write!(
            detail,
            ": {} in {} = ",
            Km(self.distance_km),
            Elapsed(self.elapsed)
        );
        if self.speed_kmh.is_finite() {
            let _ = write!(detail, "{} km/h", Thousands(whole(self.speed_kmh)));
        } else {
            detail.push_str("no time elapsed");
        }
        let _ = write!(
            detail,
            ", above {} km/h (since the last success; distance net of accuracy radii)",
            Thousands(u64::from(limits.max_speed_kmh)),
        );
        detail
    }
}

/// The usual location nearest to `current` and its effective distance, km;
/// `None` when `current` is unusable or there is no usable usual location.
pub fn nearest_usual<'a>(current: &Location, usual: &'a [Location]) -> Option<(f64, &'a Location)> {
    if !is_valid(current) {
        return None;
    }
    usual
        .iter()
        .filter(|at| is_valid(at))
        .map(|at| (effective_km(current, at), at))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: Location = Location {
        lat: 51.5074,
        lon: -0.1278,
        accuracy_km: 10.0,
    };
    const PARIS: Location = Location {
        lat: 48.8566,
        lon: 2.3522,
        accuracy_km: 10.0,
    };
    const SYDNEY: Location = Location {
        lat: -33.8688,
        lon: 151.2093,
        accuracy_km: 10.0,
    };

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn last(location: Option<Location>) -> PastEvent {
        PastEvent {
            at: at(0),
            location,
        }
    }

    fn with_accuracy(at: Location, accuracy_km: f64) -> Location {
        Location { accuracy_km, ..at }
    }

    #[test]
    fn haversine_matches_known_distances() {
        // (a, b, km, tolerance km) — reference great-circle distances.
        let cases = [
            (LONDON, PARIS, 343.5, 1.0),
            (LONDON, SYDNEY, 16_994.0, 10.0),
            (LONDON, LONDON, 0.0, 1e-9),
            // Antipodes: half the circumference.
            (
                Location {
                    lat: 0.0,
                    lon: 0.0,
                    accuracy_km: 0.0,
                },
                Location {
                    lat: 0.0,
                    lon: 180.0,
                    accuracy_km: 0.0,
                },
                20_015.1,
                0.1,
            ),
        ];
        for (a, b, expected, tolerance) in cases {
            let d = haversine_km(&a, &b);
            assert!((d - expected).abs() <= tolerance, "{a:?} {b:?}: {d}");
            assert!((haversine_km(&b, &a) - d).abs() < 1e-9, "symmetric");
        }
        // Accuracy radii come off the distance, never below zero.
        assert!(
            (effective_km(&LONDON, &PARIS) - (haversine_km(&LONDON, &PARIS) - 20.0)).abs() < 1e-9
        );
        let coarse = with_accuracy(PARIS, 500.0);
        assert!(effective_km(&LONDON, &coarse).abs() < f64::EPSILON);
    }

    #[test]
    fn impossible_travel_cases() {
        let limits = TravelLimits::default();
        let hour = 3_600;
        // (name, last location, current, seconds since the last success, fires)
        let cases = [
            ("London -> Sydney in 1 h", Some(LONDON), SYDNEY, hour, true),
            (
                "London -> Paris in 3 h",
                Some(LONDON),
                PARIS,
                3 * hour,
                false,
            ),
            ("London -> Paris in 10 min", Some(LONDON), PARIS, 600, true),
            (
                "London -> Paris in 10 min, accuracy 200 km each",
                Some(with_accuracy(LONDON, 200.0)),
                with_accuracy(PARIS, 200.0),
                600,
                false,
            ),
            ("no last location", None, SYDNEY, 60, false),
            (
                "40 km in 1 min: under min_distance_km",
                Some(LONDON),
                Location {
                    lat: 51.5074 + 0.54,
                    lon: -0.1278,
                    accuracy_km: 10.0,
                },
                60,
                false,
            ),
            (
                "London -> Sydney, no time at all",
                Some(LONDON),
                SYDNEY,
                0,
                true,
            ),
            (
                "London -> Sydney in 20 h (845 km/h)",
                Some(LONDON),
                SYDNEY,
                20 * hour,
                false,
            ),
            (
                "unusable current location",
                Some(LONDON),
                Location {
                    lat: f64::NAN,
                    lon: 0.0,
                    accuracy_km: 0.0,
                },
                60,
                false,
            ),
        ];
        for (name, from, to, secs, fires) in cases {
            let travel = impossible_travel(limits, &last(from), &to, at(secs));
            assert_eq!(travel.is_some(), fires, "{name}: {travel:?}");
        }
        // No distance at all is no speed, even in no time (with min_distance_km = 0).
        let anywhere = TravelLimits {
            min_distance_km: 0,
            ..limits
        };
        assert_eq!(
            impossible_travel(anywhere, &last(Some(LONDON)), &LONDON, at(0)),
            None
        );
        let coarse = with_accuracy(PARIS, 400.0);
        assert_eq!(
            impossible_travel(anywhere, &last(Some(LONDON)), &coarse, at(0)),
            None
        );
        // A success "in the future" (clock skew) counts as no time elapsed.
        let future = PastEvent {
            at: at(60),
            location: Some(LONDON),
        };
        let travel = impossible_travel(limits, &future, &SYDNEY, at(0)).unwrap();
        assert_eq!(
            (travel.elapsed, travel.speed_kmh),
            (Duration::ZERO, f64::INFINITY)
        );
    }

    #[test]
    fn the_detail_names_both_places_the_distance_the_time_and_the_speed() {
        let limits = TravelLimits::default();
        let travel = impossible_travel(limits, &last(Some(LONDON)), &SYDNEY, at(3_600)).unwrap();
        assert_eq!(
            travel.detail(Some("AU"), limits),
            "51.51°N 0.13°W (±10 km) → 33.87°S 151.21°E (±10 km) AU: 16,974 km in 1 h 0 min \
             = 16,974 km/h, above 900 km/h (since the last success; distance net of accuracy radii)"
        );
        let instant = impossible_travel(limits, &last(Some(LONDON)), &PARIS, at(0)).unwrap();
        assert_eq!(
            instant.detail(None, limits),
            "51.51°N 0.13°W (±10 km) → 48.86°N 2.35°E (±10 km): 324 km in 0 s = no time elapsed, \
             above 900 km/h (since the last success; distance net of accuracy radii)"
        );
    }

    #[test]
    fn nearest_usual_picks_the_closest_usable_place() {
        let nowhere = Location {
            lat: 91.0,
            lon: 0.0,
            accuracy_km: 0.0,
        };
        let usual = [SYDNEY, nowhere, PARIS];
        let (distance, place) = nearest_usual(&LONDON, &usual).unwrap();
        assert_eq!(*place, PARIS);
        assert!((distance - effective_km(&LONDON, &PARIS)).abs() < 1e-9);
        assert_eq!(nearest_usual(&LONDON, &[nowhere]), None);
        assert_eq!(nearest_usual(&LONDON, &[]), None);
        assert_eq!(nearest_usual(&nowhere, &usual), None);
    }
}
