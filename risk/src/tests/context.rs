//! Every context signal through [`evaluate`] on the bundled policy: one change at a
//! time to a quiet attempt by an account with a settled history.

use std::time::{Duration, SystemTime};

use super::at;
use crate::signals::{FeatureCounts, LevelCounts, Location, PastEvent};
use crate::{Device, Factor, Geo, History, Policy, Signals, evaluate};

pub(super) const LONDON: Location = Location {
    lat: 51.5074,
    lon: -0.1278,
    accuracy_km: 10.0,
};
pub(super) const PARIS: Location = Location {
    lat: 48.8566,
    lon: 2.3522,
    accuracy_km: 10.0,
};
pub(super) const SYDNEY: Location = Location {
    lat: -33.8688,
    lon: 151.2093,
    accuracy_km: 10.0,
};

fn hours(n: u64) -> Duration {
    Duration::from_hours(n)
}

/// `at()` minus `ago`.
pub(super) fn before(ago: Duration) -> SystemTime {
    at() - ago
}

/// A hierarchy where the account has seen the current value `seen` of 10 times
/// at every level.
pub(super) fn feature(name: &str, levels: &[&str], seen: u32) -> FeatureCounts {
    FeatureCounts {
        name: name.to_owned(),
        levels: levels
            .iter()
            .map(|level| LevelCounts {
                level: (*level).to_owned(),
                account_seen: seen,
                account_total: 10,
                global_seen: 500,
                global_total: 10_000,
            })
            .collect(),
    }
}

/// A quiet attempt from London, on a known device, by an account with 12 past
/// successes from there: the bundled policy scores it 0.
pub(super) fn settled() -> Signals {
    Signals {
        enrolled: vec![Factor::Totp, Factor::Sms],
        geo: Geo {
            ip: Some("81.2.69.142".parse().unwrap()),
            country: Some("GB".into()),
            location: Some(LONDON),
            asn: Some(2856),
            anonymous: crate::Anonymous::default(),
        },
        device: Device {
            known: true,
            has_cookie: true,
            browser: Some("Chrome".into()),
            os: Some("Windows 10".into()),
            class: Some("pc".into()),
            automation: false,
        },
        history: History {
            events: 12,
            known_countries: vec!["GB".into(), "FR".into()],
            known_asns: vec![2856],
            known_browsers: vec!["Chrome".into()],
            usual_locations: vec![LONDON],
            last_success: Some(PastEvent {
                at: before(hours(24)),
                location: Some(LONDON),
            }),
            contact_changed_at: None,
            features: vec![
                feature("network", &["ip", "asn", "country"], 10),
                feature("user_agent", &["ua", "browser"], 10),
            ],
        },
        ..Signals::default()
    }
}

pub(super) type Edit = fn(&mut Signals);

/// (what, edit, expected reasons as (code, weight)).
type Case = (&'static str, Edit, Vec<(&'static str, u8)>);

fn cases() -> Vec<Case> {
    [
        novelty_cases(),
        network_cases(),
        place_cases(),
        other_cases(),
    ]
    .concat()
}

/// Novelty against the history: country, ASN, device, browser.
fn novelty_cases() -> Vec<Case> {
    vec![
        ("nothing changed", |_| {}, vec![]),
        (
            "new country",
            |s| s.geo.country = Some("AU".into()),
            vec![("new_country", 20)],
        ),
        (
            "known country in lower case",
            |s| s.geo.country = Some("gb".into()),
            vec![],
        ),
        ("country lookup miss", |s| s.geo.country = None, vec![]),
        (
            "new country, no history",
            |s| {
                s.geo.country = Some("AU".into());
                s.history.events = 0;
            },
            vec![],
        ),
        ("new ASN", |s| s.geo.asn = Some(1221), vec![("new_asn", 10)]),
        ("ASN lookup miss", |s| s.geo.asn = None, vec![]),
        (
            "cookie not bound to the account",
            |s| s.device.known = false,
            vec![("new_device", 15)],
        ),
        (
            "no cookie",
            |s| {
                s.device.known = false;
                s.device.has_cookie = false;
            },
            vec![("new_device", 15)],
        ),
        (
            "bound to the account but no cookie (inconsistent): counted as no cookie",
            |s| s.device.has_cookie = false,
            vec![("new_device", 15)],
        ),
        (
            "no cookie, no history",
            |s| {
                s.device = Device::default();
                s.history.events = 0;
            },
            vec![],
        ),
        (
            "new browser",
            |s| s.device.browser = Some("Firefox".into()),
            vec![("new_browser", 10)],
        ),
        (
            "known browser in another case",
            |s| s.device.browser = Some("chrome".into()),
            vec![],
        ),
        ("browser unknown", |s| s.device.browser = None, vec![]),
    ]
}

/// Automation and anonymisers.
fn network_cases() -> Vec<Case> {
    vec![
        (
            "automation",
            |s| s.device.automation = true,
            vec![("automation", 40)],
        ),
        (
            "VPN",
            |s| s.geo.anonymous.vpn = true,
            vec![("anonymous_vpn", 20)],
        ),
        (
            "Tor",
            |s| s.geo.anonymous.tor = true,
            vec![("anonymous_tor", 50)],
        ),
        (
            "hosting",
            |s| s.geo.anonymous.hosting = true,
            vec![("anonymous_hosting", 25)],
        ),
        (
            "residential proxy",
            |s| s.geo.anonymous.residential_proxy = true,
            vec![("anonymous_residential_proxy", 25)],
        ),
        (
            "public proxy",
            |s| s.geo.anonymous.public_proxy = true,
            vec![("anonymous_public_proxy", 30)],
        ),
    ]
}

/// Impossible travel and distance.
fn place_cases() -> Vec<Case> {
    vec![
        (
            "London -> Sydney in 1 h",
            |s| {
                s.geo.location = Some(SYDNEY);
                s.history.last_success = Some(PastEvent {
                    at: before(hours(1)),
                    location: Some(LONDON),
                });
            },
            vec![("impossible_travel", 50), ("distance", 25)],
        ),
        (
            "London -> Paris in 3 h",
            |s| {
                s.geo.location = Some(PARIS);
                s.history.last_success = Some(PastEvent {
                    at: before(hours(3)),
                    location: Some(LONDON),
                });
            },
            vec![("distance", 1)],
        ),
        (
            "London -> Paris in 10 min, accuracy 500 km",
            |s| {
                s.geo.location = Some(Location {
                    accuracy_km: 500.0,
                    ..PARIS
                });
                s.history.last_success = Some(PastEvent {
                    at: before(Duration::from_mins(10)),
                    location: Some(LONDON),
                });
            },
            vec![],
        ),
        (
            "no location",
            |s| {
                s.geo.location = None;
                s.history.last_success = Some(PastEvent {
                    at: before(Duration::from_mins(1)),
                    location: Some(SYDNEY),
                });
            },
            vec![],
        ),
        (
            "last success without a location",
            |s| {
                s.geo.location = Some(SYDNEY);
                s.history.last_success = Some(PastEvent {
                    at: before(Duration::from_mins(1)),
                    location: None,
                });
                s.history.usual_locations.clear();
            },
            vec![],
        ),
        (
            "40 km in 1 min: under 50 km",
            |s| {
                s.geo.location = Some(Location {
                    lat: 51.5074 + 0.54,
                    ..LONDON
                });
                s.history.last_success = Some(PastEvent {
                    at: before(Duration::from_mins(1)),
                    location: Some(LONDON),
                });
            },
            vec![],
        ),
        (
            "5,000 km from the usual place, a week later",
            |s| {
                s.geo.location = Some(Location {
                    lat: 51.5074 - 45.0,
                    ..LONDON
                });
                s.history.last_success = Some(PastEvent {
                    at: before(hours(24 * 7)),
                    location: Some(LONDON),
                });
            },
            vec![("distance", 24)],
        ),
    ]
}

/// Contact change, the history likelihood ratio, the anomaly score.
fn other_cases() -> Vec<Case> {
    vec![
        (
            "contact changed 2 days ago",
            |s| s.history.contact_changed_at = Some(before(hours(48))),
            vec![("recent_contact_change", 30)],
        ),
        (
            "contact changed 8 days ago",
            |s| s.history.contact_changed_at = Some(before(hours(24 * 8))),
            vec![],
        ),
        (
            "contact changed in the future",
            |s| s.history.contact_changed_at = Some(at() + hours(1)),
            vec![("recent_contact_change", 30)],
        ),
        (
            "novel network and user agent",
            |s| {
                s.history.features = vec![
                    feature("network", &["ip", "asn", "country"], 0),
                    feature("user_agent", &["ua", "browser"], 0),
                ];
            },
            vec![("history_lr", 7)],
        ),
        (
            "novel context, no history",
            |s| {
                s.history.events = 0;
                s.history.features = vec![feature("network", &["ip", "asn", "country"], 0)];
                for level in &mut s.history.features[0].levels {
                    level.account_total = 0;
                }
            },
            vec![],
        ),
        (
            "anomaly 0.7: below anomaly_from (0.75), explained with 0 points",
            |s| s.anomaly = Some(0.7),
            vec![("anomaly", 0)],
        ),
        (
            "anomaly 0.99: 1 in 100, log 25 / log 250 of the way from 1 in 4 to 1 in 1,000",
            |s| s.anomaly = Some(0.99),
            vec![("anomaly", 50)],
        ),
        (
            "anomaly 1.0",
            |s| s.anomaly = Some(1.0),
            vec![("anomaly", 85)],
        ),
        (
            "anomaly 3.0 is clamped",
            |s| s.anomaly = Some(3.0),
            vec![("anomaly", 85)],
        ),
        (
            "anomaly 0.751 rounds to nothing",
            |s| s.anomaly = Some(0.751),
            vec![("anomaly", 0)],
        ),
        ("anomaly NaN", |s| s.anomaly = Some(f64::NAN), vec![]),
        (
            "anomaly negative is clamped to 0",
            |s| s.anomaly = Some(-1.0),
            vec![("anomaly", 0)],
        ),
    ]
}

#[test]
fn every_context_signal_fires_alone_with_its_weight() {
    let policy = Policy::bundled();
    for (what, edit, expected) in cases() {
        let mut signals = settled();
        edit(&mut signals);
        let assessment = evaluate(&policy, &signals, at());
        let got: Vec<(&str, u8)> = assessment
            .reasons
            .iter()
            .map(|r| (r.code.as_str(), r.weight))
            .collect();
        assert_eq!(got, expected, "{what}: {:#?}", assessment.reasons);
        let sum: u32 = expected.iter().map(|(_, w)| u32::from(*w)).sum();
        assert_eq!(u32::from(assessment.score.get()), sum.min(100), "{what}");
        assert!(
            assessment.reasons.iter().all(|r| r.detail.len() > 20),
            "{what}: every reason has a sentence"
        );
    }
}
