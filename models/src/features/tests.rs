use std::time::{Duration, SystemTime};

use risk::{
    Anonymous, Device, FeatureCounts, Geo, History, LevelCounts, Location, PastEvent, Signals,
    Velocity, VelocitySignal,
};

use super::*;

fn at(rfc3339: &str) -> SystemTime {
    SystemTime::from(rfc3339.parse::<jiff::Timestamp>().unwrap())
}

fn get(x: &[f64; N], name: &str) -> f64 {
    x[index(name).unwrap_or_else(|| panic!("no feature {name}"))]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn located(lat: f64, lon: f64) -> Signals {
    Signals {
        geo: Geo {
            location: Some(Location {
                lat,
                lon,
                accuracy_km: 0.0,
            }),
            ..Geo::default()
        },
        ..Signals::default()
    }
}

fn with_history() -> History {
    History {
        events: 4,
        known_countries: vec!["FR".into()],
        known_asns: vec![3215],
        known_browsers: vec!["Firefox".into()],
        ..History::default()
    }
}

#[test]
fn the_schema_is_unique_and_names_every_velocity_counter_in_order() {
    assert_eq!(N, 27);
    for (i, name) in SCHEMA.iter().enumerate() {
        assert_eq!(index(name), Some(i), "{name} twice");
    }
    let first = index("log_account_attempts_1h").unwrap();
    for (i, signal) in VelocitySignal::ALL.into_iter().enumerate() {
        assert_eq!(SCHEMA[first + i], format!("log_{}", signal.as_str()));
    }
}

#[test]
fn the_hour_is_cyclic_and_06_00_is_opposite_18_00() {
    let none = Signals::default();
    let six = features(&none, at("2024-03-05T06:00:00Z"));
    let eighteen = features(&none, at("2024-03-05T18:00:00Z"));
    assert!(close(get(&six, "hour_sin"), 1.0) && close(get(&six, "hour_cos"), 0.0));
    assert!(close(get(&eighteen, "hour_sin"), -1.0) && close(get(&eighteen, "hour_cos"), 0.0));
    let before = features(&none, at("2024-03-05T23:59:00Z"));
    let after = features(&none, at("2024-03-06T00:01:00Z"));
    let gap = (get(&before, "hour_sin") - get(&after, "hour_sin"))
        .hypot(get(&before, "hour_cos") - get(&after, "hour_cos"));
    assert!(gap < 0.01, "23:59 and 00:01 are neighbours: {gap}");
}

#[test]
fn a_known_longitude_shifts_hour_and_weekday_to_local_solar_time() {
    let now = at("2024-01-01T00:00:00Z"); // a Monday, midnight UTC
    let utc = features(&Signals::default(), now);
    assert!(close(get(&utc, "hour_sin"), 0.0) && close(get(&utc, "hour_cos"), 1.0));
    assert!(close(get(&utc, "weekday_sin"), 0.0) && close(get(&utc, "weekday_cos"), 1.0));
    // 90°E is 06:00 local; 90°W is 18:00 on Sunday.
    let east = features(&located(0.0, 90.0), now);
    assert!(close(get(&east, "hour_sin"), 1.0), "{east:?}");
    let west = features(&located(0.0, -90.0), now);
    assert!(close(get(&west, "hour_sin"), -1.0), "{west:?}");
    let sunday_evening = (6.0 + 18.0 / 24.0) / 7.0 * TAU;
    assert!(close(get(&west, "weekday_sin"), sunday_evening.sin()));
    assert!(close(get(&west, "weekday_cos"), sunday_evening.cos()));
    // An unusable location is no location: UTC.
    let nowhere = features(&located(91.0, 90.0), now);
    assert_eq!(nowhere.map(f64::to_bits), utc.map(f64::to_bits));
    // Thursday 1970-01-01 00:00 UTC: three days into the week.
    let epoch = features(&Signals::default(), SystemTime::UNIX_EPOCH);
    assert!(close(get(&epoch, "weekday_sin"), (3.0 / 7.0 * TAU).sin()));
    // Before the epoch still works: Wednesday 1969-12-31 12:00 UTC.
    let before = features(&Signals::default(), at("1969-12-31T12:00:00Z"));
    assert!(close(get(&before, "weekday_sin"), (2.5 / 7.0 * TAU).sin()));
    assert!(close(get(&before, "hour_cos"), -1.0));
}

#[test]
fn novelty_fires_only_with_history_and_a_known_value() {
    let now = at("2024-01-01T12:00:00Z");
    let mut signals = Signals {
        geo: Geo {
            country: Some("US".into()),
            asn: Some(7018),
            ..Geo::default()
        },
        device: Device {
            browser: Some("Chrome".into()),
            ..Device::default()
        },
        ..Signals::default()
    };
    let novelty = ["new_country", "new_asn", "new_browser", "new_device"];
    let first = features(&signals, now);
    for name in novelty {
        assert!(close(get(&first, name), 0.0), "{name} without history");
    }
    assert!(close(get(&first, "no_history"), 1.0));

    signals.history = with_history();
    let new = features(&signals, now);
    for name in novelty {
        assert!(close(get(&new, name), 1.0), "{name} with history");
    }
    assert!(close(get(&new, "no_history"), 0.0));

    signals.geo.country = Some("fr".into()); // case ignored
    signals.geo.asn = Some(3215);
    signals.device = Device {
        known: true,
        has_cookie: true,
        browser: Some("FIREFOX".into()),
        ..Device::default()
    };
    let known = features(&signals, now);
    for name in novelty {
        assert!(close(get(&known, name), 0.0), "{name} when known");
    }

    // Unknown values are never new.
    signals.geo = Geo::default();
    signals.device.browser = Some(String::new());
    signals.device.known = false; // a cookie not bound to the account is new
    let unknown = features(&signals, now);
    for name in ["new_country", "new_asn", "new_browser"] {
        assert!(close(get(&unknown, name), 0.0), "{name} when unknown");
    }
    assert!(close(get(&unknown, "new_device"), 1.0));
}

#[test]
fn distance_counts_from_the_nearest_usual_place() {
    let now = at("2024-01-01T12:00:00Z");
    let paris = Location {
        lat: 48.8566,
        lon: 2.3522,
        accuracy_km: 0.0,
    };
    let mut signals = located(51.5074, -0.1278); // London
    assert!(close(
        get(&features(&signals, now), "log_km_from_usual"),
        0.0
    ));
    signals.history = History {
        events: 1,
        usual_locations: vec![paris],
        ..History::default()
    };
    let km = risk::travel::haversine_km(&signals.geo.location.unwrap(), &paris);
    let x = features(&signals, now);
    assert!(close(get(&x, "log_km_from_usual"), km.ln_1p()), "{x:?}");
    signals.geo.location = None;
    assert!(close(
        get(&features(&signals, now), "log_km_from_usual"),
        0.0
    ));
}

#[test]
fn counters_flags_and_times() {
    let now = at("2024-01-10T00:00:00Z");
    let signals = Signals {
        velocity: Velocity::default()
            .with(VelocitySignal::AccountAttempts1h, 3)
            .with(VelocitySignal::AsnAccounts1h, 99),
        geo: Geo {
            anonymous: Anonymous {
                tor: true,
                residential_proxy: true,
                ..Anonymous::default()
            },
            ..Geo::default()
        },
        device: Device {
            automation: true,
            ..Device::default()
        },
        history: History {
            events: 2,
            last_success: Some(PastEvent {
                at: now - Duration::from_hours(10),
                location: None,
            }),
            contact_changed_at: Some(now - Duration::from_hours(7 * 24)),
            ..History::default()
        },
        ..Signals::default()
    };
    let x = features(&signals, now);
    assert!(close(get(&x, "log_account_attempts_1h"), 4_f64.ln()));
    assert!(close(get(&x, "log_asn_accounts_1h"), 100_f64.ln()));
    assert!(close(get(&x, "log_address_attempts_1h"), 0.0));
    let flags = [
        ("anon_tor", 1.0),
        ("anon_vpn", 0.0),
        ("anon_hosting", 0.0),
        ("anon_proxy", 1.0),
        ("automation", 1.0),
    ];
    for (name, value) in flags {
        assert!(close(get(&x, name), value), "{name}");
    }
    assert!(close(get(&x, "log_hours_since_success"), 11_f64.ln()));
    assert!(close(get(&x, "contact_change_recency"), (-1.0_f64).exp()));

    // None, capped, in the future.
    let year = MAX_HOURS_SINCE_SUCCESS.ln_1p();
    assert!(close(
        get(
            &features(&Signals::default(), now),
            "log_hours_since_success"
        ),
        year
    ));
    assert!(close(
        get(
            &features(&Signals::default(), now),
            "contact_change_recency"
        ),
        0.0
    ));
    let mut old = signals.clone();
    old.history.last_success = Some(PastEvent::default()); // 1970
    old.history.contact_changed_at = Some(now + Duration::from_mins(1));
    let x = features(&old, now);
    assert!(close(get(&x, "log_hours_since_success"), year));
    assert!(close(get(&x, "contact_change_recency"), 1.0));
    old.history.last_success = Some(PastEvent {
        at: now + Duration::from_mins(1),
        location: None,
    });
    assert!(close(
        get(&features(&old, now), "log_hours_since_success"),
        0.0
    ));
}

#[test]
fn the_history_ratio_is_risk_s_clamped() {
    let now = at("2024-01-01T12:00:00Z");
    let level = |account_seen, account_total| LevelCounts {
        level: "ip".into(),
        account_seen,
        account_total,
        global_seen: 5,
        global_total: 1_000,
    };
    let mut signals = Signals::default();
    assert!(close(
        get(&features(&signals, now), "history_log10_lr"),
        0.0
    ));
    signals.history.features = vec![FeatureCounts {
        name: "network".into(),
        levels: vec![level(0, 9)],
    }];
    let expected = risk::history::log10_ratio(&signals.history.features);
    assert!(expected > 0.5);
    assert!(close(
        get(&features(&signals, now), "history_log10_lr"),
        expected
    ));
    signals.history.features = vec![
        FeatureCounts {
            name: "network".into(),
            levels: vec![level(0, u32::MAX)],
        };
        2
    ];
    assert!(close(
        get(&features(&signals, now), "history_log10_lr"),
        MAX_ABS_LOG10_LR
    ));
}

#[test]
fn every_feature_is_finite_for_extreme_inputs() {
    let mut signals = located(-90.0, 180.0);
    signals.velocity = VelocitySignal::ALL
        .into_iter()
        .fold(Velocity::default(), |v, s| v.with(s, u32::MAX));
    signals.history = with_history();
    signals.history.usual_locations = vec![Location {
        lat: 90.0,
        lon: -180.0,
        accuracy_km: f64::NAN,
    }];
    for now in [
        SystemTime::UNIX_EPOCH - Duration::from_secs(1 << 40),
        at("2999-12-31T23:59:59Z"),
    ] {
        let x = features(&signals, now);
        assert!(x.iter().all(|v| v.is_finite()), "{x:?}");
    }
}
